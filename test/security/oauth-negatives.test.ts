import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES, type EngineName } from '../support/databases.js';
import { CookieJar, followAuthorization, startOAuthServer, type FollowAuthorizationResult, type OAuthServerOptions, type OAuthTestClient } from '../support/oauth-server.js';
import { startTestApp } from '../support/test-app.js';

// OAuth 2.0 negatives beyond the flow's own tests (test/oauth/authorization-negatives):
// crossed states between credentials, a replayed code, a PKCE verifier that does not match,
// a missing `iss` from a provider that advertises RFC 9207, no downgrade of PKCE to plain,
// and a client secret that needs form-encoding inside HTTP Basic.

const API = '/api/v1';
const SCOPES = 'files.read offline_access';

const expectRefused = (result: FollowAuthorizationResult, status: number, sentence: string): void => {
  expect(result.finalStatus).toBe(status);
  expect(result.finalBody).toContain('<h1>Authorization not completed</h1>');
  expect(result.finalBody).toContain(sentence);
};

/** Credence listening on loopback, and a real provider whose client knows Credence's callback. */
const startPeers = async (engine: EngineName, options: Partial<OAuthServerOptions> & { secret?: string } = {}) => {
  const t = await startTestApp(engine, { listen: true, env: { CREDENCE_ALLOW_INSECURE_LOOPBACK: 'true' } });
  const client: OAuthTestClient = {
    clientId: `credence-${randomBytes(4).toString('hex')}`,
    clientSecret: options.secret ?? randomBytes(24).toString('base64url'),
    redirectUris: [`${t.baseUrl}/oauth2/callback`],
  };
  const server = await startOAuthServer({ ...options, clients: [client] });
  const runtimeToken = await t.token('runtime');
  const callbackPrefix = `${t.baseUrl}/oauth2/callback`;
  /** Every authorization URL Credence sent a browser to. */
  const authorizationUrls: URL[] = [];

  const newCredential = async (extra: { issuer?: string; authUri?: string; tokenUri?: string } = {}): Promise<string> => {
    const response = await t.request('POST', `${API}/credentials`, {
      token: t.adminToken,
      body: {
        label: `Files ${randomBytes(4).toString('hex')}`,
        authMethod: 'oauth2',
        ...(extra.issuer ? { issuer: extra.issuer } : {}),
        fields: { client_id: client.clientId, client_secret: client.clientSecret, auth_uri: extra.authUri ?? server.authorizationEndpoint, token_uri: extra.tokenUri ?? server.tokenEndpoint, scopes: SCOPES },
      },
    });
    expect(response.status, response.text).toBe(201);
    return response.body.id as string;
  };

  const newLink = async (id: string): Promise<string> => {
    const response = await t.request('POST', `${API}/credentials/${id}/authorization-link`, { token: t.adminToken, body: {} });
    expect(response.status, response.text).toBe(201);
    return response.body.url as string;
  };

  /** Follows a link in a browser of its own through login and consent, stopping before Credence's callback. */
  const toCallback = async (link: string, stopAt = callbackPrefix): Promise<{ callback: URL; jar: CookieJar }> => {
    const followed = await followAuthorization(link, { stopAt });
    expect(followed.callbackUrl, followed.finalBody).toBeDefined();
    const first = followed.responses[1]?.url;
    if (first) authorizationUrls.push(new URL(first));
    return { callback: new URL(followed.callbackUrl ?? ''), jar: followed.jar };
  };

  const credential = async (id: string) => (await t.request('GET', `${API}/credentials/${id}`, { token: t.adminToken })).body;
  const resolved = async (id: string) => (await t.request('POST', `${API}/credentials/${id}/resolve`, { token: runtimeToken })).body;
  const events = async (action: string, id: string) =>
    (await t.request('GET', `${API}/audit-events?action=${action}&targetId=${id}`, { token: t.adminToken })).body.items as unknown[];

  const expectNothingStored = async (id: string): Promise<void> => {
    expect((await credential(id)).status).toBe('pending_authorization');
    expect((await resolved(id)).token).toBeNull();
    expect(await events('oauth.authorized', id)).toEqual([]);
  };

  return {
    t, server, client, authorizationUrls, newCredential, newLink, toCallback, credential, resolved, events, expectNothingStored,
    close: async () => {
      await server.close();
      await t.close();
    },
  };
};

type Peers = Awaited<ReturnType<typeof startPeers>>;

const expectS256 = (urls: URL[]): void => {
  expect(urls.length).toBeGreaterThan(0);
  for (const url of urls) {
    expect(url.searchParams.getAll('code_challenge_method')).toEqual(['S256']);
    expect(url.searchParams.getAll('code_challenge')).toHaveLength(1);
    expect(url.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
  }
};

describe.each(ENGINES)('OAuth negatives on %s', (engine) => {
  let p: Peers;
  beforeAll(async () => {
    p = await startPeers(engine);
  });
  afterAll(async () => p?.close());

  it('refuses credential A\'s state on the callback carrying credential B\'s code, both ways, before any token request', async () => {
    const [a, b] = [await p.newCredential(), await p.newCredential()];
    const flowA = await p.toCallback(await p.newLink(a));
    const flowB = await p.toCallback(await p.newLink(b));
    const before = p.server.tokenRequests;
    for (const [target, source] of [[flowB, flowA], [flowA, flowB]] as const) {
      const crossed = new URL(target.callback);
      crossed.searchParams.set('state', source.callback.searchParams.get('state') ?? '');
      expectRefused(await followAuthorization(crossed.href, { jar: target.jar }), 400, 'was started in another browser');
    }
    expect(p.server.tokenRequests).toBe(before);
    await p.expectNothingStored(a);
    await p.expectNothingStored(b);
    // A crossed state is refused before it is spent: each browser still completes its own flow, once.
    for (const flow of [flowA, flowB]) {
      expect((await followAuthorization(flow.callback.href, { jar: flow.jar })).finalUrl).toBe(`${p.t.baseUrl}/oauth2/complete`);
    }
    expect(p.server.tokenRequests).toBe(before + 2);
    expect((await p.credential(a)).status).toBe('authorized');
    expect((await p.credential(b)).status).toBe('authorized');
  });

  it('refuses a code replayed with a new, valid state: the provider rejects it, a plain page says so, and nothing new is stored', async () => {
    const id = await p.newCredential();
    const first = await p.toCallback(await p.newLink(id));
    expect((await followAuthorization(first.callback.href, { jar: first.jar })).finalUrl).toBe(`${p.t.baseUrl}/oauth2/complete`);
    const authorized = await p.credential(id);
    const token = (await p.resolved(id)).token.accessToken as string;

    const second = await p.toCallback(await p.newLink(id));
    const replay = new URL(second.callback);
    replay.searchParams.set('code', first.callback.searchParams.get('code') ?? '');
    const before = p.server.tokenRequests;
    expectRefused(await followAuthorization(replay.href, { jar: second.jar }), 502, 'The provider did not accept the authorization');
    expect(p.server.tokenRequests).toBe(before + 1);
    expect(p.server.tokenRequestLog.at(-1)).toMatchObject({ grantType: 'authorization_code', status: 400, overridden: false });

    const after = await p.credential(id);
    expect(after.oauth2.authorizedAt).toBe(authorized.oauth2.authorizedAt);
    expect(after.oauth2.tokenExpiresAt).toBe(authorized.oauth2.tokenExpiresAt);
    expect((await p.resolved(id)).token.accessToken).toBe(token);
    expect(await p.events('oauth.authorized', id)).toHaveLength(1);
    expect(await p.events('oauth.exchange_failed', id)).toHaveLength(1);
  });

  it('sends flow 1\'s code with flow 2\'s verifier once, the provider refuses the PKCE check, nothing is stored, and flow 1 still completes', async () => {
    const id = await p.newCredential();
    const link = await p.newLink(id);
    const flow1 = await p.toCallback(link);
    const flow2 = await p.toCallback(link);
    const tampered = new URL(flow2.callback);
    tampered.searchParams.set('code', flow1.callback.searchParams.get('code') ?? '');
    const before = p.server.tokenRequests;
    expectRefused(await followAuthorization(tampered.href, { jar: flow2.jar }), 502, 'invalid_grant');
    expect(p.server.tokenRequests).toBe(before + 1);
    expect(p.server.tokenRequestLog.at(-1)).toMatchObject({ grantType: 'authorization_code', status: 400 });
    await p.expectNothingStored(id);

    // The code itself was fine: with its own state (and so its own verifier) it is accepted.
    expect((await followAuthorization(flow1.callback.href, { jar: flow1.jar })).finalUrl).toBe(`${p.t.baseUrl}/oauth2/complete`);
    expect((await p.credential(id)).status).toBe('authorized');
    expectS256(p.authorizationUrls);
  });
});

describe('OAuth protocol negatives on sqlite', () => {
  const peers: Peers[] = [];
  let fake: Server | undefined;
  afterAll(async () => {
    await Promise.all(peers.map((p) => p.close()));
    if (fake) {
      fake.closeAllConnections();
      await new Promise<void>((resolve) => fake?.close(() => resolve()));
    }
  });

  it('refuses an authorization response without iss from a provider that advertises RFC 9207, before any token request', async () => {
    const p = await startPeers('sqlite', { authorizationResponseIssParameter: true });
    peers.push(p);
    const metadata = (await (await fetch(`${p.server.issuer}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
    expect(metadata['authorization_response_iss_parameter_supported']).toBe(true);
    const id = await p.newCredential({ issuer: p.server.issuer });
    const { callback, jar } = await p.toCallback(await p.newLink(id));
    expect(callback.searchParams.get('iss')).toBe(p.server.issuer);
    callback.searchParams.delete('iss');
    const before = p.server.tokenRequests;
    const answer = await followAuthorization(callback.href, { jar });
    expect(p.server.tokenRequests).toBe(before);
    expectRefused(answer, 400, 'Authorization was not completed');
    await p.expectNothingStored(id);
  });

  it('always asks for S256, even of a provider that lists only plain through an authorization URL that asks for plain', async () => {
    let metadataRequests = 0;
    fake = createServer((request, response) => {
      if (request.url?.startsWith('/.well-known/')) metadataRequests += 1;
      response.setHeader('content-type', 'application/json');
      response.end(JSON.stringify({ issuer: 'http://127.0.0.1', code_challenge_methods_supported: ['plain'] }));
    });
    await new Promise<void>((resolve) => fake?.listen(0, '127.0.0.1', resolve));
    const origin = `http://127.0.0.1:${(fake.address() as AddressInfo).port}`;
    const p = await startPeers('sqlite');
    peers.push(p);
    const id = await p.newCredential({ authUri: `${origin}/authorize?code_challenge_method=plain&code_challenge=attacker-chosen-challenge`, tokenUri: `${origin}/token` });
    const { callback } = await p.toCallback(await p.newLink(id), `${origin}/authorize`);
    expectS256([callback]);
    expect(callback.searchParams.get('code_challenge')).not.toBe('attacker-chosen-challenge');
    expect(metadataRequests).toBe(0);
  });

  it('completes a flow with client_secret_basic for a client secret holding a colon, a plus, a percent sign and a space', async () => {
    const secret = `p:a+s%20s w%rd:${randomBytes(6).toString('hex')}`;
    const p = await startPeers('sqlite', { secret });
    peers.push(p);
    const id = await p.newCredential();
    const { callback, jar } = await p.toCallback(await p.newLink(id));
    expect((await followAuthorization(callback.href, { jar })).finalUrl).toBe(`${p.t.baseUrl}/oauth2/complete`);
    expect(p.server.tokenRequestLog.at(-1)).toMatchObject({ grantType: 'authorization_code', status: 200 });
    expect((await p.credential(id)).status).toBe('authorized');
    const token = (await p.resolved(id)).token.accessToken as string;
    expect(await p.server.introspect(token)).toMatchObject({ active: true, client_id: p.client.clientId });
  });
});
