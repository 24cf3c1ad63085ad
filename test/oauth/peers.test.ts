import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as oauth from 'oauth4webapi';
import nodemailer from 'nodemailer';
import { followAuthorization, startOAuthServer, type OAuthServer, type OAuthServerOptions } from '../support/oauth-server.js';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink.js';

// Self-tests of the test peers, without Credence: a plain OAuth 2.0 client (oauth4webapi)
// against the oidc-provider server, and nodemailer against the SMTP sink.

const REDIRECT_URI = 'http://127.0.0.1:59999/oauth2/callback';
const BASIC = { clientId: 'basic-client', clientSecret: 'basic-secret', redirectUris: [REDIRECT_URI] };
const POST = { clientId: 'post-client', clientSecret: 'post-secret', redirectUris: [REDIRECT_URI], tokenEndpointAuthMethod: 'client_secret_post' as const };
const insecure = { [oauth.allowInsecureRequests]: true } as const;

const scopesOf = (value: unknown): string[] => String(value ?? '').split(' ').filter(Boolean).sort();

const servers: OAuthServer[] = [];
const start = async (options: Partial<OAuthServerOptions> = {}): Promise<OAuthServer> => {
  const server = await startOAuthServer({ clients: [BASIC, POST], ...options });
  servers.push(server);
  return server;
};
afterAll(async () => {
  await Promise.all(servers.map((server) => server.close()));
});

interface Authorized {
  callbackUrl: string;
  params: URLSearchParams;
  codeVerifier: string;
}

/** Builds the authorization URL by hand and walks the provider side with a cookie jar. */
const authorize = async (
  server: OAuthServer,
  clientId: string,
  scope = 'files.read offline_access',
  extra: Record<string, string> = {},
): Promise<Authorized> => {
  const codeVerifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  const url = new URL(server.authorizationEndpoint);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: REDIRECT_URI,
    scope,
    state,
    code_challenge: await oauth.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    ...extra,
  }).toString();
  const followed = await followAuthorization(url.href, { stopAt: REDIRECT_URI });
  expect(followed.callbackUrl, followed.finalBody).toBeDefined();
  const callbackUrl = followed.callbackUrl ?? '';
  const params = oauth.validateAuthResponse(server.metadata, { client_id: clientId }, new URL(callbackUrl), state);
  return { callbackUrl, params, codeVerifier };
};

const exchange = async (server: OAuthServer, client: typeof BASIC, authorized: Authorized) => {
  const response = await oauth.authorizationCodeGrantRequest(
    server.metadata,
    { client_id: client.clientId },
    oauth.ClientSecretBasic(client.clientSecret),
    authorized.params,
    REDIRECT_URI,
    authorized.codeVerifier,
    insecure,
  );
  return oauth.processAuthorizationCodeResponse(server.metadata, { client_id: client.clientId }, response);
};

const refresh = async (server: OAuthServer, refreshToken: string) => {
  const response = await oauth.refreshTokenGrantRequest(
    server.metadata,
    { client_id: BASIC.clientId },
    oauth.ClientSecretBasic(BASIC.clientSecret),
    refreshToken,
    insecure,
  );
  return oauth.processRefreshTokenResponse(server.metadata, { client_id: BASIC.clientId }, response);
};

describe('the oidc-provider test authorization server', () => {
  let server: OAuthServer;
  beforeAll(async () => {
    server = await start();
  });

  it('lets a plain OAuth 2.0 client without openid obtain opaque, introspectable tokens through the code flow', async () => {
    const authorized = await authorize(server, BASIC.clientId);
    expect(authorized.callbackUrl.startsWith(`${REDIRECT_URI}?`)).toBe(true);
    expect(authorized.params.get('iss')).toBe(server.issuer);
    expect(authorized.params.get('code')).toMatch(/^[\w-]{20,}$/);

    const tokens = await exchange(server, BASIC, authorized);
    expect(tokens.token_type).toBe('bearer');
    expect(tokens.expires_in).toBe(3600);
    expect(scopesOf(tokens.scope)).toEqual(['files.read', 'offline_access']);
    expect(tokens.refresh_token).toEqual(expect.any(String));
    expect(tokens.id_token).toBeUndefined();
    expect(tokens.access_token.split('.')).toHaveLength(1);

    const introspection = await server.introspect(tokens.access_token);
    expect(introspection).toMatchObject({ active: true, client_id: BASIC.clientId, sub: 'customer-1', token_type: 'Bearer' });
    expect(scopesOf(introspection['scope'])).toEqual(['files.read', 'offline_access']);
    expect(await server.introspect('not-a-token')).toEqual({ active: false });
  });

  it('rotates the refresh token on refresh and treats reuse of the old one as a replay that revokes the grant', async () => {
    const tokens = await exchange(server, BASIC, await authorize(server, BASIC.clientId));
    const first = tokens.refresh_token ?? '';

    const refreshed = await refresh(server, first);
    expect(refreshed.refresh_token).toEqual(expect.any(String));
    expect(refreshed.refresh_token).not.toBe(first);
    expect(refreshed.access_token).not.toBe(tokens.access_token);
    expect(scopesOf(refreshed.scope)).toEqual(['files.read', 'offline_access']);
    expect((await server.introspect(refreshed.access_token)).active).toBe(true);

    await expect(refresh(server, first)).rejects.toMatchObject({ error: 'invalid_grant' });
    await expect(refresh(server, refreshed.refresh_token ?? '')).rejects.toMatchObject({ error: 'invalid_grant' });
    expect((await server.introspect(refreshed.access_token)).active).toBe(false);
  });

  it('counts every POST to the token endpoint, per grant type', async () => {
    const own = await start();
    expect(own.tokenRequests).toBe(0);
    const tokens = await exchange(own, BASIC, await authorize(own, BASIC.clientId));
    await refresh(own, tokens.refresh_token ?? '');
    await expect(refresh(own, 'bogus')).rejects.toMatchObject({ error: 'invalid_grant' });
    expect(own.tokenRequests).toBe(3);
    expect(own.tokenRequestsByGrantType).toEqual({ authorization_code: 1, refresh_token: 2 });
    expect(own.tokenRequestLog.map((entry) => entry.status)).toEqual([200, 200, 400]);
  });

  it('answers the next token request with a canned 429 and Retry-After, then serves normally again', async () => {
    const tokens = await exchange(server, BASIC, await authorize(server, BASIC.clientId));
    const before = server.tokenRequests;
    server.setNextTokenResponse({ status: 429, headers: { 'Retry-After': '7' }, body: { error: 'slow_down' } });

    const limited = await oauth.refreshTokenGrantRequest(
      server.metadata,
      { client_id: BASIC.clientId },
      oauth.ClientSecretBasic(BASIC.clientSecret),
      tokens.refresh_token ?? '',
      insecure,
    );
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('7');
    expect(await limited.json()).toEqual({ error: 'slow_down' });
    expect(server.tokenRequests).toBe(before + 1);
    expect(server.tokenRequestLog.at(-1)).toEqual({ grantType: 'refresh_token', status: 429, overridden: true });

    // The canned answer never reached oidc-provider: the refresh token is still good.
    const refreshed = await refresh(server, tokens.refresh_token ?? '');
    expect(refreshed.access_token).toEqual(expect.any(String));
  });

  it('applies a canned response only to the grant type it names', async () => {
    server.setNextTokenResponse({ status: 500, body: 'boom', grantType: 'refresh_token' });
    const tokens = await exchange(server, BASIC, await authorize(server, BASIC.clientId));
    expect(tokens.access_token).toEqual(expect.any(String));
    await expect(refresh(server, tokens.refresh_token ?? '')).rejects.toThrow();
    expect(server.tokenRequestLog.at(-1)).toEqual({ grantType: 'refresh_token', status: 500, overridden: true });
  });

  it('answers invalid_grant to a refresh after revokeRefreshTokens', async () => {
    const tokens = await exchange(server, BASIC, await authorize(server, BASIC.clientId));
    server.revokeRefreshTokens();
    await expect(refresh(server, tokens.refresh_token ?? '')).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('issues an introspectable access token through client_credentials with client_secret_post', async () => {
    const response = await oauth.clientCredentialsGrantRequest(
      server.metadata,
      { client_id: POST.clientId },
      oauth.ClientSecretPost(POST.clientSecret),
      { scope: 'files.read' },
      insecure,
    );
    const tokens = await oauth.processClientCredentialsResponse(server.metadata, { client_id: POST.clientId }, response);
    expect(tokens.scope).toBe('files.read');
    expect(tokens.expires_in).toBe(3600);
    expect(tokens.refresh_token).toBeUndefined();
    expect(await server.introspect(tokens.access_token)).toMatchObject({ active: true, client_id: POST.clientId, scope: 'files.read' });
  });

  it('rejects an authorization request without a PKCE challenge at the redirect URI', async () => {
    const url = new URL(server.authorizationEndpoint);
    url.search = new URLSearchParams({ response_type: 'code', client_id: BASIC.clientId, redirect_uri: REDIRECT_URI, scope: 'files.read', state: 's1' }).toString();
    const followed = await followAuthorization(url.href, { stopAt: REDIRECT_URI });
    const params = new URL(followed.callbackUrl ?? '').searchParams;
    expect(params.get('error')).toBe('invalid_request');
    expect(params.get('error_description')).toMatch(/PKCE/);
    expect(params.get('state')).toBe('s1');
  });

  it('returns access_denied at the redirect URI when the customer declines', async () => {
    server.denyNextAuthorization('access_denied', 'the customer said no');
    const url = new URL(server.authorizationEndpoint);
    url.search = new URLSearchParams({
      response_type: 'code', client_id: BASIC.clientId, redirect_uri: REDIRECT_URI, scope: 'files.read', state: 's2',
      code_challenge: await oauth.calculatePKCECodeChallenge(oauth.generateRandomCodeVerifier()), code_challenge_method: 'S256',
    }).toString();
    const params = new URL((await followAuthorization(url.href, { stopAt: REDIRECT_URI })).callbackUrl ?? '').searchParams;
    expect(params.get('error')).toBe('access_denied');
    expect(params.get('error_description')).toBe('the customer said no');
    expect(params.get('state')).toBe('s2');
  });

  it('adds an id_token only when openid is requested', async () => {
    const tokens = await exchange(server, BASIC, await authorize(server, BASIC.clientId, 'openid files.read'));
    expect(tokens.id_token).toEqual(expect.any(String));
    expect(scopesOf(tokens.scope)).toEqual(['files.read', 'openid']);
  });

  it('serves RFC 8414 metadata as well as OpenID discovery', async () => {
    const response = await fetch(`${server.issuer}/.well-known/oauth-authorization-server`);
    const metadata = (await response.json()) as Record<string, unknown>;
    expect(metadata).toMatchObject({
      issuer: server.issuer,
      authorization_endpoint: server.authorizationEndpoint,
      token_endpoint: server.tokenEndpoint,
      introspection_endpoint: server.introspectionEndpoint,
      code_challenge_methods_supported: ['S256'],
      authorization_response_iss_parameter_supported: true,
    });
    expect(metadata['grant_types_supported']).toEqual(expect.arrayContaining(['authorization_code', 'refresh_token', 'client_credentials']));
  });
});

describe('the test authorization server options', () => {
  it('applies the access token lifetime, and can keep refresh tokens unrotated', async () => {
    const server = await start({ accessTokenTtlSeconds: 120, rotateRefreshTokens: false });
    const tokens = await exchange(server, BASIC, await authorize(server, BASIC.clientId));
    expect(tokens.expires_in).toBe(120);
    const refreshed = await refresh(server, tokens.refresh_token ?? '');
    expect(refreshed.refresh_token).toBe(tokens.refresh_token);
    expect(refreshed.expires_in).toBe(120);
  });

  it('can stop issuing refresh tokens even when offline_access is requested', async () => {
    const server = await start({ issueRefreshTokens: false });
    const tokens = await exchange(server, BASIC, await authorize(server, BASIC.clientId));
    expect(tokens.refresh_token).toBeUndefined();
  });

  it('issues a refresh token without offline_access by default', async () => {
    const server = await start();
    const tokens = await exchange(server, BASIC, await authorize(server, BASIC.clientId, 'files.read'));
    expect(tokens.refresh_token).toEqual(expect.any(String));
    expect(tokens.scope).toBe('files.read');
  });

  it('can leave the iss parameter out of the authorization response', async () => {
    const server = await start({ authorizationResponseIssParameter: false });
    const authorized = await authorize(server, BASIC.clientId);
    expect(authorized.params.has('iss')).toBe(false);
    const discovery = (await (await fetch(`${server.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(discovery['authorization_response_iss_parameter_supported']).toBe(false);
  });
});

describe('followAuthorization', () => {
  let callbackServer: Server;
  let callbackBase: string;
  const seenCookies: Array<string | undefined> = [];
  beforeAll(async () => {
    callbackServer = createServer((req, res) => {
      seenCookies.push(req.headers.cookie);
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      if (url.pathname === '/start') {
        res.writeHead(302, { location: '/oauth2/callback?code=abc', 'set-cookie': ['flow=1; Path=/; HttpOnly', '__Host-x=2; Secure; Path=/'] });
      } else {
        res.writeHead(200, { 'content-type': 'text/plain', 'set-cookie': 'flow=; Max-Age=0; Path=/' });
      }
      res.end(url.pathname === '/start' ? '' : `callback ${url.searchParams.get('code') ?? ''}`);
    });
    await new Promise<void>((resolve) => callbackServer.listen(0, '127.0.0.1', () => resolve()));
    callbackBase = `http://127.0.0.1:${(callbackServer.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => callbackServer.close(() => resolve()));
  });

  it('continues through the callback without stopAt, keeping cookies per host:port and honouring deletion', async () => {
    const server = await start();
    const followed = await followAuthorization(`${callbackBase}/start`);
    expect(followed.finalUrl).toBe(`${callbackBase}/oauth2/callback?code=abc`);
    expect(followed.finalBody).toBe('callback abc');
    expect(followed.finalStatus).toBe(200);
    expect(followed.responses.map((r) => r.status)).toEqual([302, 200]);
    expect(seenCookies.at(-1)).toBe('flow=1; __Host-x=2');
    expect(followed.jar.cookiesFor(callbackBase)).toEqual({ '__Host-x': '2' });
    expect(followed.jar.cookiesFor(server.issuer)).toEqual({});
  });
});

describe('the SMTP sink', () => {
  let sink: SmtpSink;
  beforeAll(async () => {
    sink = await startSmtpSink();
  });
  afterAll(async () => {
    await sink.close();
  });

  it('receives a message sent by nodemailer over plain SMTP and parses it', async () => {
    const waiting = sink.waitForMessage((mail) => mail.subject === 'Connect your account');
    const transport = nodemailer.createTransport({ host: '127.0.0.1', port: sink.port, secure: false, ignoreTLS: true });
    await transport.sendMail({
      from: 'credence@example.test',
      to: 'customer@example.test',
      subject: 'Connect your account',
      text: 'Open http://127.0.0.1/authorize?x=1 to connect.',
    });
    transport.close();

    const mail = await waiting;
    expect(mail.text).toContain('http://127.0.0.1/authorize?x=1');
    expect(mail.from?.text).toBe('credence@example.test');
    expect(sink.messages).toHaveLength(1);
    expect(sink.deliveries[0]).toMatchObject({ from: 'credence@example.test', to: ['customer@example.test'], user: undefined });
    await expect(sink.waitForMessage((m) => m.subject === 'never', 50)).rejects.toThrow(/no matching message/);
  });
});
