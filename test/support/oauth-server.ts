import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateKeyPairSync, randomBytes } from 'node:crypto';

/**
 * A real OAuth 2.0 authorization server (oidc-provider 9) on 127.0.0.1 for tests: code grant with
 * PKCE (S256 only, always required), refresh_token and client_credentials grants, opaque access
 * tokens, introspection and revocation. `openid` is NOT required, but oidc-provider silently drops
 * scopes it does not know, so non-OIDC scopes are registered through `scopes` (DEFAULT_SCOPES plus
 * `options.scopes`). Login and consent need no browser: GET /interaction/:uid finishes each prompt
 * for a fixed account, so following redirects with a cookie jar (followAuthorization) completes it.
 */

export interface OAuthTestClient {
  clientId: string;
  clientSecret: string;
  redirectUris: string[];
  tokenEndpointAuthMethod?: 'client_secret_basic' | 'client_secret_post'; // default client_secret_basic
}

export interface OAuthServerOptions {
  clients: OAuthTestClient[];
  accessTokenTtlSeconds?: number; // access and client_credentials tokens; default 3600
  rotateRefreshTokens?: boolean; // new refresh token on every refresh, the old one consumed; default true
  issueRefreshTokens?: boolean; // on every code exchange, with or without offline_access; default true
  authorizationResponseIssParameter?: boolean; // `iss` in the authorization response and discovery; default true
  scopes?: string[]; // known scopes on top of DEFAULT_SCOPES
  accountId?: string; // every login completes as this account; default 'customer-1'
}

export interface TokenResponseOverride {
  status: number;
  body?: unknown; // an object is sent as JSON, a string as-is
  headers?: Record<string, string>;
  grantType?: string; // only for the next request of this grant type (e.g. 'refresh_token')
}

export interface TokenRequestRecord { grantType: string | undefined; status: number; overridden: boolean }
export interface IntrospectionResult { active: boolean; [claim: string]: unknown }

export interface OAuthServer {
  issuer: string;
  port: number;
  authorizationEndpoint: string;
  tokenEndpoint: string;
  introspectionEndpoint: string;
  revocationEndpoint: string;
  /** Authorization server metadata, usable as an oauth4webapi `AuthorizationServer`. */
  metadata: {
    issuer: string; authorization_endpoint: string; token_endpoint: string; introspection_endpoint: string;
    revocation_endpoint: string; code_challenge_methods_supported: string[]; authorization_response_iss_parameter_supported: boolean;
  };
  /** Live count of POSTs to the token endpoint. */
  readonly tokenRequests: number;
  /** Live per-grant-type counts of POSTs to the token endpoint ('unknown' when absent). */
  readonly tokenRequestsByGrantType: Readonly<Record<string, number>>;
  /** Every token endpoint request in order. */
  readonly tokenRequestLog: readonly TokenRequestRecord[];
  introspect(token: string): Promise<IntrospectionResult>;
  /** Queue a canned answer for the next token request (FIFO; each is used once). */
  setNextTokenResponse(override: TokenResponseOverride): void;
  /** Forget every refresh token issued so far: the next refresh answers invalid_grant. */
  revokeRefreshTokens(): void;
  /** Logins from now on complete as this account (another person at the provider). */
  setAccount(accountId: string): void;
  /** Make the next authorization end with `error` at the redirect URI (the customer declines). */
  denyNextAuthorization(error?: string, description?: string): void;
  close(): Promise<void>;
}

export const DEFAULT_SCOPES = ['openid', 'offline_access', 'files.read', 'files.write', 'read', 'write'];
export const DEFAULT_ACCOUNT_ID = 'customer-1';
const INTROSPECTOR_ID = 'test-introspector';
const INTROSPECTOR_SECRET = randomBytes(24).toString('base64url');

// oidc-provider ships no type declarations; load it untyped and describe what is used.
const OIDC_PROVIDER_MODULE: string = 'oidc-provider';

interface KoaContext {
  method: string; path: string; querystring: string; status: number; body: unknown;
  req: IncomingMessage & { body?: unknown }; res: ServerResponse;
  set(field: string, value: string): void;
  redirect(url: string): void;
  oidc?: { params?: Record<string, unknown>; body?: Record<string, unknown> };
}
type KoaNext = () => Promise<void>;
interface GrantInstance { addOIDCScope(scope: string): void; addOIDCClaims(claims: string[]): void; save(): Promise<string> }

interface ProviderInstance {
  use(middleware: (ctx: KoaContext, next: KoaNext) => Promise<void>): void;
  callback(): (req: IncomingMessage, res: ServerResponse) => void;
  on(event: string, listener: (...args: any[]) => void): void;
  interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<{
    prompt: { name: string; details: Record<string, unknown> }; params: Record<string, unknown>; session?: { accountId?: string }; grantId?: string;
  }>;
  interactionResult(req: IncomingMessage, res: ServerResponse, result: Record<string, unknown>, options?: { mergeWithLastSubmission?: boolean }): Promise<string>;
  Grant: { new (init: { accountId: string; clientId: string }): GrantInstance; find(id: string): Promise<GrantInstance | undefined> };
}
type ProviderConstructor = new (issuer: string, configuration: Record<string, unknown>) => ProviderInstance;

let signingKey: Record<string, unknown> | undefined;
const jwks = () => {
  signingKey ??= { ...generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' }), kid: 'test-rs256', use: 'sig', alg: 'RS256' };
  return { keys: [signingKey] };
};

/**
 * A per-server in-memory oidc-provider adapter (the built-in one is a process-wide LRU of 1000
 * entries shared by every provider), so tokens can be enumerated and revoked per server.
 */
class MemoryStore {
  readonly entries = new Map<string, { payload: Record<string, unknown>; expiresAt: number }>();

  adapterFor(model: string) {
    const key = (id: string) => `${model}:${id}`;
    const read = (k: string) => {
      const entry = this.entries.get(k);
      if (entry && entry.expiresAt > Date.now()) return entry.payload;
      this.entries.delete(k);
      return undefined;
    };
    const findBy = (field: string, value: string) =>
      read([...this.entries].find(([k, entry]) => k.startsWith(`${model}:`) && entry.payload[field] === value)?.[0] ?? '');
    return {
      upsert: async (id: string, payload: Record<string, unknown>, expiresIn?: number) => {
        this.entries.set(key(id), { payload, expiresAt: typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : Infinity });
      },
      find: async (id: string) => read(key(id)),
      findByUid: async (uid: string) => findBy('uid', uid),
      findByUserCode: async (userCode: string) => findBy('userCode', userCode),
      consume: async (id: string) => {
        const payload = read(key(id));
        if (payload) payload['consumed'] = Math.floor(Date.now() / 1000);
      },
      destroy: async (id: string) => void this.entries.delete(key(id)),
      revokeByGrantId: async (grantId: string) => {
        for (const [k, entry] of this.entries) if (entry.payload['grantId'] === grantId && !k.startsWith('Grant:')) this.entries.delete(k);
      },
    };
  }

  deleteModel(model: string): void {
    for (const k of [...this.entries.keys()]) if (k.startsWith(`${model}:`)) this.entries.delete(k);
  }
}

const readRawBody = async (req: IncomingMessage): Promise<string> => {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
};

export const startOAuthServer = async (options: OAuthServerOptions): Promise<OAuthServer> => {
  const { accessTokenTtlSeconds = 3600, rotateRefreshTokens = true, issueRefreshTokens = true } = options;
  const { authorizationResponseIssParameter = true } = options;
  let accountId = options.accountId ?? DEFAULT_ACCOUNT_ID;

  const server: Server = createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const issuer = `http://127.0.0.1:${port}`;

  const { default: Provider } = (await import(OIDC_PROVIDER_MODULE)) as { default: ProviderConstructor };
  const store = new MemoryStore();

  const provider = new Provider(issuer, {
    adapter: (model: string) => store.adapterFor(model),
    clients: [
      ...options.clients.map((client) => ({
        client_id: client.clientId,
        client_secret: client.clientSecret,
        redirect_uris: client.redirectUris,
        grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
        response_types: ['code'],
        token_endpoint_auth_method: client.tokenEndpointAuthMethod ?? 'client_secret_basic',
      })),
      // A resource-server client only used by introspect().
      { client_id: INTROSPECTOR_ID, client_secret: INTROSPECTOR_SECRET, redirect_uris: [], grant_types: [], response_types: [] },
    ],
    jwks: jwks(),
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    findAccount: async (_ctx: unknown, sub: string) => ({ accountId: sub, claims: async () => ({ sub }) }),
    scopes: [...new Set([...DEFAULT_SCOPES, ...(options.scopes ?? [])])],
    responseTypes: ['code'],
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: {
        enabled: true,
        allowedPolicy: async (_ctx: unknown, client: { clientId: string }, token: { clientId?: string }) =>
          client.clientId === INTROSPECTOR_ID || client.clientId === token.clientId,
      },
      revocation: { enabled: true },
    },
    ttl: {
      AccessToken: accessTokenTtlSeconds, ClientCredentials: accessTokenTtlSeconds, AuthorizationCode: 600, IdToken: 3600,
      Interaction: 3600, RefreshToken: 14 * 86400, Grant: 14 * 86400, Session: 14 * 86400,
    },
    issueRefreshToken: async (_ctx: unknown, client: { grantTypeAllowed(type: string): boolean }) =>
      issueRefreshTokens && client.grantTypeAllowed('refresh_token'),
    rotateRefreshToken: () => rotateRefreshTokens,
    // Tokens must outlive the provider-side login session (there is no logout in tests).
    expiresWithSession: async () => false,
  });

  if (!authorizationResponseIssParameter) {
    // Emitted with the response parameters just before they are serialised into the redirect.
    provider.on('authorization.success', (_ctx: unknown, out: Record<string, unknown>) => {
      delete out['iss'];
    });
  }
  provider.on('server_error', (_ctx: unknown, error: unknown) => {
    console.error('oidc-provider server_error', error);
  });

  const overrides: TokenResponseOverride[] = [];
  const byGrantType: Record<string, number> = {};
  const log: TokenRequestRecord[] = [];
  let denial: { error: string; error_description?: string } | undefined;
  const record = (grantType: string | undefined, status: number, overridden: boolean) => {
    const name = grantType ?? 'unknown';
    byGrantType[name] = (byGrantType[name] ?? 0) + 1;
    log.push({ grantType, status, overridden });
  };

  // Discovery: also serve RFC 8414 metadata, and reflect the iss-parameter setting.
  provider.use(async (ctx, next) => {
    const wellKnown = ctx.path === '/.well-known/oauth-authorization-server' || ctx.path === '/.well-known/openid-configuration';
    if (!wellKnown) return next();
    ctx.path = '/.well-known/openid-configuration';
    await next();
    if (ctx.body && typeof ctx.body === 'object') {
      (ctx.body as Record<string, unknown>)['authorization_response_iss_parameter_supported'] = authorizationResponseIssParameter;
    }
  });

  // oidc-provider drops offline_access unless prompt=consent is requested (the OIDC rule). A plain
  // OAuth 2.0 client never sends prompt, so ask for consent on its behalf to keep the scope granted.
  provider.use(async (ctx, next) => {
    if (ctx.method === 'GET' && ctx.path === '/auth') {
      const query = new URLSearchParams(ctx.querystring);
      if (!query.has('prompt') && (query.get('scope') ?? '').split(' ').includes('offline_access')) {
        query.set('prompt', 'consent');
        ctx.querystring = query.toString();
      }
    }
    return next();
  });

  // Token endpoint: count every POST, and answer canned responses when queued.
  provider.use(async (ctx, next) => {
    if (ctx.method !== 'POST' || ctx.path !== '/token') return next();
    let grantType: string | undefined;
    const pending = overrides[0];
    if (pending) {
      const raw = await readRawBody(ctx.req);
      grantType = new URLSearchParams(raw).get('grant_type') ?? undefined;
      if (pending.grantType === undefined || pending.grantType === grantType) {
        overrides.shift();
        ctx.status = pending.status;
        for (const [name, value] of Object.entries(pending.headers ?? {})) ctx.set(name, value);
        if (typeof pending.body === 'string') ctx.body = pending.body;
        else if (pending.body !== undefined) {
          ctx.body = JSON.stringify(pending.body);
          ctx.set('Content-Type', 'application/json; charset=utf-8');
        }
        ctx.set('Cache-Control', 'no-store');
        record(grantType, ctx.status, true);
        return;
      }
      // Not for this request: hand the already-read body on to oidc-provider.
      ctx.req.body = raw;
    }
    try {
      await next();
    } finally {
      const fromProvider = ctx.oidc?.params?.['grant_type'] ?? ctx.oidc?.body?.['grant_type'];
      record(grantType ?? (typeof fromProvider === 'string' ? fromProvider : undefined), ctx.status, false);
    }
  });

  // Interactions: no UI, every login and consent prompt is finished on GET.
  provider.use(async (ctx, next) => {
    if (ctx.method !== 'GET' || !ctx.path.startsWith('/interaction/')) return next();
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    let result: Record<string, unknown>;
    if (denial) {
      result = { ...denial };
      denial = undefined;
    } else if (details.prompt.name === 'login') {
      result = { login: { accountId } };
    } else if (details.prompt.name === 'consent') {
      const clientId = String(details.params['client_id']);
      const existing = details.grantId ? await provider.Grant.find(details.grantId) : undefined;
      const grant = existing ?? new provider.Grant({ accountId: details.session?.accountId ?? accountId, clientId });
      // Grant whatever is missing (resource indicators are off, so there are no resource scopes).
      const { missingOIDCScope, missingOIDCClaims } = details.prompt.details;
      if (Array.isArray(missingOIDCScope)) grant.addOIDCScope(missingOIDCScope.join(' '));
      if (Array.isArray(missingOIDCClaims)) grant.addOIDCClaims(missingOIDCClaims as string[]);
      result = { consent: { grantId: await grant.save() } };
    } else {
      throw new Error(`test OAuth server: unexpected interaction prompt ${details.prompt.name}`);
    }
    const returnTo = await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: true });
    ctx.status = 303;
    ctx.redirect(returnTo);
  });

  server.on('request', provider.callback());

  const endpoint = (path: string) => `${issuer}${path}`;
  const metadata = {
    issuer,
    authorization_endpoint: endpoint('/auth'),
    token_endpoint: endpoint('/token'),
    introspection_endpoint: endpoint('/token/introspection'),
    revocation_endpoint: endpoint('/token/revocation'),
    code_challenge_methods_supported: ['S256'],
    authorization_response_iss_parameter_supported: authorizationResponseIssParameter,
  };

  return {
    issuer,
    port,
    authorizationEndpoint: metadata.authorization_endpoint,
    tokenEndpoint: metadata.token_endpoint,
    introspectionEndpoint: metadata.introspection_endpoint,
    revocationEndpoint: metadata.revocation_endpoint,
    metadata,
    get tokenRequests() { return log.length; },
    tokenRequestsByGrantType: byGrantType,
    tokenRequestLog: log,
    async introspect(token) {
      const authorization = `Basic ${Buffer.from(`${INTROSPECTOR_ID}:${INTROSPECTOR_SECRET}`).toString('base64')}`;
      const response = await fetch(metadata.introspection_endpoint, { method: 'POST', headers: { authorization }, body: new URLSearchParams({ token }) });
      if (!response.ok) throw new Error(`introspection failed: ${response.status} ${await response.text()}`);
      return (await response.json()) as IntrospectionResult;
    },
    setNextTokenResponse: (override) => void overrides.push(override),
    revokeRefreshTokens: () => store.deleteModel('RefreshToken'),
    setAccount: (next: string) => void (accountId = next),
    denyNextAuthorization(error = 'access_denied', description) {
      denial = description === undefined ? { error } : { error, error_description: description };
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
};

// ---------------------------------------------------------------------------------------------
// A browserless user agent: follows redirects with a cookie jar.

/** Cookies per host:port (name → value). Path, Domain and Secure are deliberately ignored. */
export class CookieJar {
  readonly #byHost = new Map<string, Map<string, string>>();

  cookiesFor(url: string | URL): Record<string, string> {
    return Object.fromEntries(this.#byHost.get(new URL(url).host) ?? []);
  }

  header(url: string | URL): string | undefined {
    const cookies = this.#byHost.get(new URL(url).host);
    if (!cookies || cookies.size === 0) return undefined;
    return [...cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }

  store(url: string | URL, setCookieHeaders: readonly string[]): void {
    const host = new URL(url).host;
    const cookies = this.#byHost.get(host) ?? new Map<string, string>();
    this.#byHost.set(host, cookies);
    for (const header of setCookieHeaders) {
      const [pair = '', ...attributes] = header.split(';');
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attributes.some((attribute) => {
        const [key = '', val = ''] = attribute.split('=').map((part) => part.trim());
        if (key.toLowerCase() === 'max-age') return Number(val) <= 0;
        if (key.toLowerCase() === 'expires') return Date.parse(val) <= Date.now();
        return false;
      });
      if (expired) cookies.delete(name);
      else cookies.set(name, value);
    }
  }
}

export interface FollowAuthorizationOptions {
  fetch?: typeof fetch;
  stopAt?: string; // stop, without requesting it, at the first Location starting with this prefix
  jar?: CookieJar; // default: a fresh jar
  maxHops?: number; // redirects to follow; default 20
}

export interface FollowAuthorizationResult {
  finalUrl: string; // the last URL requested, or the callback URL when stopped at it
  callbackUrl: string | undefined; // the Location that matched `stopAt` (never requested)
  responses: Array<{ url: string; status: number }>;
  finalBody: string | undefined; // body of the last, non-redirect response (callback answer or error page)
  finalStatus: number | undefined;
  jar: CookieJar;
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

export const followAuthorization = async (
  startUrl: string,
  options: FollowAuthorizationOptions = {},
): Promise<FollowAuthorizationResult> => {
  const doFetch = options.fetch ?? fetch;
  const jar = options.jar ?? new CookieJar();
  const maxHops = options.maxHops ?? 20;
  const responses: Array<{ url: string; status: number }> = [];
  let url = startUrl;
  for (let hop = 0; hop <= maxHops; hop += 1) {
    const cookie = jar.header(url);
    const response = await doFetch(url, {
      redirect: 'manual',
      headers: { accept: 'text/html,application/json', ...(cookie ? { cookie } : {}) },
    });
    responses.push({ url, status: response.status });
    jar.store(url, response.headers.getSetCookie());
    const location = response.headers.get('location');
    if (!REDIRECT_STATUSES.has(response.status) || location === null) {
      return { finalUrl: url, callbackUrl: undefined, responses, finalBody: await response.text(), finalStatus: response.status, jar };
    }
    await response.body?.cancel();
    const next = new URL(location, url).href;
    if (options.stopAt !== undefined && next.startsWith(options.stopAt)) {
      return { finalUrl: next, callbackUrl: next, responses, finalBody: undefined, finalStatus: undefined, jar };
    }
    url = next;
  }
  throw new Error(`followAuthorization: more than ${maxHops} redirects from ${startUrl}: ${responses.map((r) => `${r.status} ${r.url}`).join(', ')}`);
};
