import * as oauth from 'oauth4webapi';
import type { Redacted } from '../common/redacted.js';
import { outboundRefusal } from '../net/guarded-fetch.js';

/** What Credence needs to talk to one provider for one credential. */
export interface ProviderEndpoint {
  /** Expected `iss` of authorization responses (RFC 9207). */
  issuer: string;
  /** The provider sends `iss` in authorization responses, so a response without it is refused. */
  requireIss?: boolean;
  authUri: string | undefined;
  tokenUri: string;
  clientId: string;
  clientSecret: Redacted<string>;
  clientAuth: 'client_secret_basic' | 'client_secret_post';
}

/** A token endpoint's answer, as Credence keeps it. */
export interface TokenSet {
  accessToken: string;
  refreshToken: string | undefined;
  tokenType: string;
  expiresIn: number | undefined;
  scope: string | undefined;
  /** The `sub` of the validated ID token, when the provider issued one (OpenID Connect). */
  subject?: string | undefined;
}

export type TokenFailureKind =
  /** The grant is gone (revoked, expired, used): only a new authorization helps. */
  | 'invalid_grant'
  /** The provider refused the request for another reason (client, scope, configuration). */
  | 'rejected'
  /** Worth retrying later: network, timeout, 5xx, 429. */
  | 'transient';

/** A failed token request. The message names the OAuth error code or HTTP status, never a token. */
export class TokenRequestError extends Error {
  override readonly name = 'TokenRequestError';
  readonly kind: TokenFailureKind;
  readonly oauthError: string | undefined;
  readonly status: number | undefined;
  /** From `Retry-After`, when the provider sent one. */
  readonly retryAfterMs: number | undefined;

  constructor(kind: TokenFailureKind, message: string, details: { oauthError?: string; status?: number; retryAfterMs?: number } = {}) {
    super(message);
    this.kind = kind;
    this.oauthError = details.oauthError;
    this.status = details.status;
    this.retryAfterMs = details.retryAfterMs;
  }
}

/** An authorization response Credence must refuse: a provider error, or a response that does not check out. */
export class CallbackRejectedError extends Error {
  override readonly name = 'CallbackRejectedError';
  readonly providerError: string | undefined;
  readonly providerDescription: string | undefined;

  constructor(message: string, providerError?: string, providerDescription?: string) {
    super(message);
    this.providerError = providerError;
    this.providerDescription = providerDescription;
  }
}

export interface OAuthClientOptions {
  fetch: typeof fetch;
  /** Allow http:// endpoints (only ever loopback: validation refuses anything else). */
  allowInsecureLoopback: boolean;
  timeoutMs: number;
}

/** True when the error, or one it wraps, is the request's deadline passing (headers or body). */
const timedOut = (error: unknown): boolean => {
  for (let current = error, depth = 0; current instanceof Object && depth < 6; depth++) {
    if ((current as { name?: unknown }).name === 'TimeoutError') return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
};

const parseRetryAfter = (value: string | null, now: number): number | undefined => {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
};

/**
 * The OAuth 2.0 protocol steps, each done by oauth4webapi: build the request, then
 * process the response. Token requests never follow redirects and always time out; the
 * injected fetch (createOAuthFetch in production) also refuses metadata addresses and
 * bounds the answer's size.
 */
export const createOAuthClient = (options: OAuthClientOptions) => {
  const serverOf = (provider: ProviderEndpoint): oauth.AuthorizationServer => ({
    issuer: provider.issuer,
    ...(provider.requireIss ? { authorization_response_iss_parameter_supported: true } : {}),
    token_endpoint: provider.tokenUri,
    ...(provider.authUri ? { authorization_endpoint: provider.authUri } : {}),
  });
  const clientOf = (provider: ProviderEndpoint): oauth.Client => ({ client_id: provider.clientId });
  const authOf = (provider: ProviderEndpoint): oauth.ClientAuth =>
    provider.clientAuth === 'client_secret_post'
      ? oauth.ClientSecretPost(provider.clientSecret.reveal())
      : oauth.ClientSecretBasic(provider.clientSecret.reveal());

  /** Runs one token request, turning every failure into a TokenRequestError. */
  const tokenRequest = async (
    send: (requestOptions: oauth.TokenEndpointRequestOptions) => Promise<Response>,
    process: (response: Response) => Promise<oauth.TokenEndpointResponse>,
  ): Promise<TokenSet> => {
    let lastResponse: Response | undefined;
    const requestOptions: oauth.TokenEndpointRequestOptions = {
      [oauth.customFetch]: async (url, init) => {
        lastResponse = await options.fetch(url, { ...init, redirect: 'manual' });
        return lastResponse;
      },
      [oauth.allowInsecureRequests]: options.allowInsecureLoopback,
      signal: AbortSignal.timeout(options.timeoutMs),
    };
    let body: oauth.TokenEndpointResponse;
    try {
      body = await process(await send(requestOptions));
    } catch (error) {
      throw classify(error, lastResponse);
    }
    const subject = body.id_token ? oauth.getValidatedIdTokenClaims(body)?.sub : undefined;
    return {
      accessToken: body.access_token,
      refreshToken: body.refresh_token,
      tokenType: body.token_type,
      expiresIn: body.expires_in,
      scope: body.scope,
      ...(subject ? { subject } : {}),
    };
  };

  const classify = (error: unknown, response: Response | undefined): TokenRequestError => {
    const status = response?.status;
    const retryAfterMs = parseRetryAfter(response?.headers.get('retry-after') ?? null, Date.now());
    const details = { ...(status !== undefined ? { status } : {}), ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
    // A refused address or an oversized answer will not change by retrying.
    const refusal = outboundRefusal(error);
    if (refusal) return new TokenRequestError('rejected', `The token endpoint was not called or its answer not read: ${refusal.message}`, details);
    if (error instanceof oauth.OperationProcessingError && error.code === oauth.HTTP_REQUEST_FORBIDDEN) {
      return new TokenRequestError('rejected', 'The token endpoint was not called: it is not https', details);
    }
    if (timedOut(error)) return new TokenRequestError('transient', 'The token endpoint did not answer in time', details);
    if (error instanceof oauth.ResponseBodyError) {
      const kind: TokenFailureKind =
        error.error === 'invalid_grant' ? 'invalid_grant' : error.status === 429 || error.status >= 500 ? 'transient' : 'rejected';
      return new TokenRequestError(kind, `The token endpoint answered ${error.status} ${error.error}`, { ...details, oauthError: error.error });
    }
    if (status !== undefined && (status === 429 || status >= 500)) {
      return new TokenRequestError('transient', `The token endpoint answered ${status}`, details);
    }
    if (status !== undefined && status >= 300 && status < 400) {
      return new TokenRequestError('rejected', `The token endpoint answered with a redirect (${status}), which is not followed`, details);
    }
    if (status !== undefined && status !== 200) {
      return new TokenRequestError('rejected', `The token endpoint answered ${status}`, details);
    }
    if (response === undefined) return new TokenRequestError('transient', 'The token endpoint could not be reached', details);
    return new TokenRequestError('rejected', 'The token endpoint answered with something that is not a valid token response', details);
  };

  return {
    /** The provider's authorization URL for a PKCE (S256) authorization-code request. */
    authorizationUrl(
      provider: ProviderEndpoint,
      request: { redirectUri: string; scope: string; state: string; codeChallenge: string; extraParams: Record<string, string> },
    ): URL {
      if (!provider.authUri) throw new Error('This credential has no authorization URL');
      const url = new URL(provider.authUri);
      for (const [name, value] of Object.entries(request.extraParams)) url.searchParams.set(name, value);
      url.searchParams.set('response_type', 'code');
      url.searchParams.set('client_id', provider.clientId);
      url.searchParams.set('redirect_uri', request.redirectUri);
      if (request.scope) url.searchParams.set('scope', request.scope);
      url.searchParams.set('state', request.state);
      url.searchParams.set('code_challenge', request.codeChallenge);
      url.searchParams.set('code_challenge_method', 'S256');
      return url;
    },

    /** Checks state and `iss` and surfaces a provider error; returns the parameters to exchange. */
    validateCallback(provider: ProviderEndpoint, parameters: URLSearchParams, expectedState: string): URLSearchParams {
      try {
        return oauth.validateAuthResponse(serverOf(provider), clientOf(provider), parameters, expectedState);
      } catch (error) {
        if (error instanceof oauth.AuthorizationResponseError) {
          throw new CallbackRejectedError('The provider did not grant access', error.error, error.error_description);
        }
        const text = error instanceof Error ? error.message : '';
        const message = !/"iss"/.test(text)
          ? 'The authorization response is not valid'
          : /missing/.test(text)
            ? 'The response did not say which provider sent it (no iss), and this provider always does'
            : 'The response did not come from the expected provider (iss mismatch)';
        throw new CallbackRejectedError(message);
      }
    },

    async exchangeCode(provider: ProviderEndpoint, callback: URLSearchParams, redirectUri: string, codeVerifier: string): Promise<TokenSet> {
      const as = serverOf(provider);
      const client = clientOf(provider);
      return tokenRequest(
        (o) => oauth.authorizationCodeGrantRequest(as, client, authOf(provider), callback, redirectUri, codeVerifier, o),
        (response) => oauth.processAuthorizationCodeResponse(as, client, response),
      );
    },

    async refresh(provider: ProviderEndpoint, refreshToken: string): Promise<TokenSet> {
      const as = serverOf(provider);
      const client = clientOf(provider);
      return tokenRequest(
        (o) => oauth.refreshTokenGrantRequest(as, client, authOf(provider), refreshToken, o),
        (response) => oauth.processRefreshTokenResponse(as, client, response),
      );
    },

    /**
     * The id of the account an access token belongs to, from the provider's identity
     * endpoint (`field` of its JSON answer); undefined when it does not say. The caller has
     * checked that `url` is one of the credential's destinations.
     */
    async accountOf(url: URL, request: { method: 'GET' | 'POST'; body?: string | undefined; field: string }, accessToken: Redacted<string>): Promise<string | undefined> {
      const response = await options.fetch(url, {
        method: request.method,
        headers: { authorization: `Bearer ${accessToken.reveal()}`, accept: 'application/json', ...(request.body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(request.body !== undefined ? { body: request.body } : {}),
        redirect: 'manual',
        signal: AbortSignal.timeout(options.timeoutMs),
      });
      if (!response.ok) return undefined;
      const answer = (await response.json().catch(() => undefined)) as Record<string, unknown> | undefined;
      const id = answer?.[request.field];
      return typeof id === 'string' || typeof id === 'number' ? String(id) : undefined;
    },

    async clientCredentials(provider: ProviderEndpoint, scope: string): Promise<TokenSet> {
      const as = serverOf(provider);
      const client = clientOf(provider);
      const parameters = new URLSearchParams(scope ? { scope } : {});
      return tokenRequest(
        (o) => oauth.clientCredentialsGrantRequest(as, client, authOf(provider), parameters, o),
        (response) => oauth.processClientCredentialsResponse(as, client, response),
      );
    },
  };
};

export type OAuthClient = ReturnType<typeof createOAuthClient>;

export const generateCodeVerifier = (): string => oauth.generateRandomCodeVerifier();
export const codeChallengeOf = (verifier: string): Promise<string> => oauth.calculatePKCECodeChallenge(verifier);
