import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { EngineName } from '../support/databases.js';
import { CookieJar, followAuthorization, startOAuthServer, type FollowAuthorizationResult, type OAuthServer } from '../support/oauth-server.js';
import { startTestApp, type ApiResponse, type TestApp } from '../support/test-app.js';

// Every way an authorization attempt can go wrong is refused with a plain page, stores
// nothing and never reaches the provider's token endpoint.

const API = '/api/v1';
const CLIENT_ID = 'credence-negatives';
const CLIENT_SECRET = randomBytes(24).toString('base64url');
const MAX_LINK_SECONDS = 30 * 24 * 3600;

const randomValue = (): string => randomBytes(32).toString('base64url');

const expectError = (response: ApiResponse, status: number, code: string): void => {
  expect({ status: response.status, code: response.body?.error?.code }).toEqual({ status, code });
};

/** A refusal: a plain HTML page with the status and the sentence a person reads. */
const expectRefused = (result: FollowAuthorizationResult, status: number, sentence: string): void => {
  expect(result.finalStatus).toBe(status);
  expect(result.finalBody).toContain('<h1>Authorization not completed</h1>');
  expect(result.finalBody).toContain(sentence);
};

/** Credence and a loopback provider whose client knows Credence's redirect URI. */
const startPeers = async (engine: EngineName) => {
  const t = await startTestApp(engine, { listen: true, env: { CREDENCE_ALLOW_INSECURE_LOOPBACK: 'true' } });
  const server = await startOAuthServer({ clients: [{ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUris: [`${t.baseUrl}/oauth2/callback`] }] });
  const customerId = (await t.request('POST', `${API}/customers`, { token: t.adminToken, body: { name: 'Northwind Traders' } })).body.id as string;
  const runtimeToken = await t.token('runtime');
  /** Link tokens, states and codes handed out, none of which may reach a log line. */
  const secrets: string[] = [];

  const newCredential = async (options: { issuer?: string; customer?: string } = {}): Promise<string> => {
    const response = await t.request('POST', `${API}/credentials`, {
      token: t.adminToken,
      body: {
        label: `Dropbox ${randomBytes(4).toString('hex')}`,
        authMethod: 'oauth2',
        customerId: options.customer ?? customerId,
        provider: 'dropbox',
        ...(options.issuer ? { issuer: options.issuer } : {}),
        fields: { client_id: CLIENT_ID, client_secret: CLIENT_SECRET, auth_uri: server.authorizationEndpoint, token_uri: server.tokenEndpoint, scopes: 'files.read offline_access' },
      },
    });
    expect(response.status, response.text).toBe(201);
    return response.body.id as string;
  };

  const newLink = async (id: string, body: Record<string, unknown> = {}): Promise<string> => {
    const response = await t.request('POST', `${API}/credentials/${id}/authorization-link`, { token: t.adminToken, body });
    expect(response.status, response.text).toBe(201);
    const url = response.body.url as string;
    secrets.push(url, url.split('/').at(-1) ?? '');
    return url;
  };

  /** Follows a link through the provider, stopping (without requesting it) at Credence's callback. */
  const toCallback = async (link: string): Promise<{ callback: URL; jar: CookieJar }> => {
    const followed = await followAuthorization(link, { stopAt: `${t.baseUrl}/oauth2/callback` });
    expect(followed.callbackUrl, followed.finalBody).toBeDefined();
    const callback = new URL(followed.callbackUrl ?? '');
    for (const name of ['code', 'state'] as const) secrets.push(callback.searchParams.get(name) ?? '');
    return { callback, jar: followed.jar };
  };

  const expectNothingStored = async (id: string): Promise<void> => {
    const credential = await t.request('GET', `${API}/credentials/${id}`, { token: t.adminToken });
    expect(credential.body.status).toBe('pending_authorization');
    expect(credential.body.authorizedAt).toBeNull();
    expect(credential.body.oauth2).toMatchObject({ authorizedAt: null, grantedScopes: null, tokenExpiresAt: null });
    const resolved = await t.request('POST', `${API}/credentials/${id}/resolve`, { token: runtimeToken });
    expect(resolved.status).toBe(200);
    expect(resolved.body.token).toBeNull();
    expect(resolved.body.fields.access_token).toBeUndefined();
    const audit = await t.request('GET', `${API}/audit-events?action=oauth.authorized&targetId=${id}`, { token: t.adminToken });
    expect(audit.body.items).toEqual([]);
  };

  return { t, server, customerId, runtimeToken, secrets, newCredential, newLink, toCallback, expectNothingStored };
};

type Peers = Awaited<ReturnType<typeof startPeers>>;

describe('refused authorization attempts on sqlite', () => {
  let p: Peers;
  beforeAll(async () => {
    p = await startPeers('sqlite');
  });
  afterAll(async () => {
    await Promise.all([p?.t.close(), p?.server.close()]);
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('refuses a callback without state and makes no token request', async () => {
    const id = await p.newCredential();
    const { callback, jar } = await p.toCallback(await p.newLink(id));
    callback.searchParams.delete('state');
    const before = p.server.tokenRequests;
    expectRefused(await followAuthorization(callback.href, { jar }), 400, 'has no state');
    expect(p.server.tokenRequests).toBe(before);
    await p.expectNothingStored(id);
  });

  it('refuses a callback whose state Credence never issued and makes no token request', async () => {
    const id = await p.newCredential();
    const { callback, jar } = await p.toCallback(await p.newLink(id));
    callback.searchParams.set('state', randomValue());
    const before = p.server.tokenRequests;
    expectRefused(await followAuthorization(callback.href, { jar }), 400, 'is not known');
    expect(p.server.tokenRequests).toBe(before);
    await p.expectNothingStored(id);
  });

  it('refuses a replayed callback after a success, with exactly one token request in all', async () => {
    const id = await p.newCredential();
    const { callback, jar } = await p.toCallback(await p.newLink(id));
    const cookie = jar.header(p.t.baseUrl) ?? '';
    expect(cookie).toMatch(/^__Host-credence-oauth=/);
    const before = p.server.tokenRequests;
    const done = await followAuthorization(callback.href, { jar });
    expect(done.finalUrl).toBe(`${p.t.baseUrl}/oauth2/complete`);

    // The exact same request again, the browser cookie included.
    const replay = await fetch(callback.href, { redirect: 'manual', headers: { cookie } });
    expect(replay.status).toBe(400);
    expect(replay.headers.get('location')).toBeNull();
    expect(await replay.text()).toContain('already completed');
    expect(p.server.tokenRequests).toBe(before + 1);
    const credential = await p.t.request('GET', `${API}/credentials/${id}`, { token: p.t.adminToken });
    expect(credential.body.status).toBe('authorized');
  });

  it('lets only one of two simultaneous callbacks with the same state through, with one token request', async () => {
    const id = await p.newCredential();
    const { callback, jar } = await p.toCallback(await p.newLink(id));
    const cookie = jar.header(p.t.baseUrl) ?? '';
    const before = p.server.tokenRequests;
    const answers = await Promise.all([1, 2].map(() => fetch(callback.href, { redirect: 'manual', headers: { cookie } })));
    await Promise.all(answers.map((answer) => answer.body?.cancel()));
    expect(answers.map((answer) => answer.status).sort()).toEqual([303, 400]);
    expect(p.server.tokenRequests).toBe(before + 1);
  });

  it('shows a plain page when the provider refuses the code, storing nothing and never retrying the exchange', async () => {
    const id = await p.newCredential();
    const { callback, jar } = await p.toCallback(await p.newLink(id));
    p.server.setNextTokenResponse({ status: 400, body: { error: 'invalid_grant' }, grantType: 'authorization_code' });
    const before = p.server.tokenRequests;
    const refused = await followAuthorization(callback.href, { jar });
    expectRefused(refused, 502, 'The provider did not accept the authorization');
    expect(refused.finalBody).toContain('invalid_grant');
    expect(p.server.tokenRequests).toBe(before + 1);
    await p.expectNothingStored(id);
  });

  it('refuses a state that outlived its 10 minutes and makes no token request', async () => {
    const id = await p.newCredential();
    const { callback, jar } = await p.toCallback(await p.newLink(id));
    const before = p.server.tokenRequests;
    // Credence runs in this process: moving Date on moves its clock.
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 10 * 60_000 + 5_000 });
    const late = await followAuthorization(callback.href, { jar });
    vi.useRealTimers();
    expectRefused(late, 400, 'took too long and expired');
    expect(p.server.tokenRequests).toBe(before);
    await p.expectNothingStored(id);
  });

  it('shows a link\'s expiry, and refuses the link once it has passed', async () => {
    const id = await p.newCredential();
    const issuedAt = Date.now();
    const link = await p.newLink(id, { expiresInSeconds: 60 });
    const status = await p.t.request('GET', `${API}/credentials/${id}/authorization-link`, { token: p.t.adminToken });
    expect(status.body).toMatchObject({ active: true, createdAt: expect.any(String) });
    expect(Math.abs(Date.parse(status.body.expiresAt) - (issuedAt + 60_000))).toBeLessThan(5_000);

    vi.useFakeTimers({ toFake: ['Date'], now: Date.parse(status.body.expiresAt) + 1_000 });
    const later = await p.t.request('GET', `${API}/credentials/${id}/authorization-link`, { token: p.t.adminToken });
    const followed = await followAuthorization(link);
    vi.useRealTimers();
    expect(later.body).toEqual({ active: false, expiresAt: null, createdAt: null });
    expectRefused(followed, 410, 'has expired');
    await p.expectNothingStored(id);
  });

  it('answers 410 to a link followed again after a successful authorization', async () => {
    const id = await p.newCredential();
    const link = await p.newLink(id);
    expect((await followAuthorization(link)).finalUrl).toBe(`${p.t.baseUrl}/oauth2/complete`);
    const before = p.server.tokenRequests;
    const again = await followAuthorization(link);
    expectRefused(again, 410, 'already used');
    expect(again.responses).toHaveLength(1);
    expect(p.server.tokenRequests).toBe(before);
  });

  it('refuses a revoked link, and a flow begun with it before the revocation', async () => {
    const id = await p.newCredential();
    const link = await p.newLink(id);
    const { callback, jar } = await p.toCallback(link);
    const revoked = await p.t.request('DELETE', `${API}/credentials/${id}/authorization-link`, { token: p.t.adminToken });
    expect(revoked.status).toBe(204);
    expect((await p.t.request('GET', `${API}/credentials/${id}/authorization-link`, { token: p.t.adminToken })).body.active).toBe(false);
    const before = p.server.tokenRequests;
    expectRefused(await followAuthorization(link), 410, 'was revoked');
    expectRefused(await followAuthorization(callback.href, { jar }), 410, 'revoked or already used');
    expect(p.server.tokenRequests).toBe(before);
    await p.expectNothingStored(id);
  });

  it('revokes the previous link when a new one is issued, and only the new one works', async () => {
    const id = await p.newCredential();
    const first = await p.newLink(id);
    const pending = await p.toCallback(first);
    const second = await p.newLink(id);
    const before = p.server.tokenRequests;
    expectRefused(await followAuthorization(first), 410, 'was revoked');
    expectRefused(await followAuthorization(pending.callback.href, { jar: pending.jar }), 410, 'revoked or already used');
    expect(p.server.tokenRequests).toBe(before);
    await p.expectNothingStored(id);
    expect((await followAuthorization(second)).finalUrl).toBe(`${p.t.baseUrl}/oauth2/complete`);
    expect(p.server.tokenRequests).toBe(before + 1);
  });

  it('refuses a response whose iss is not the credential\'s issuer (RFC 9207) and makes no token request', async () => {
    const id = await p.newCredential({ issuer: 'https://evil.example' });
    const created = await p.t.request('GET', `${API}/credentials/${id}`, { token: p.t.adminToken });
    expect(created.body.oauth2.issuer).toBe('https://evil.example');
    const { callback, jar } = await p.toCallback(await p.newLink(id));
    expect(callback.searchParams.get('iss')).toBe(p.server.issuer);
    const before = p.server.tokenRequests;
    expectRefused(await followAuthorization(callback.href, { jar }), 400, 'did not come from the expected provider');
    expect(p.server.tokenRequests).toBe(before);
    await p.expectNothingStored(id);
    const audit = await p.t.request('GET', `${API}/audit-events?action=oauth.authorization_refused&targetId=${id}`, { token: p.t.adminToken });
    expect(audit.body.items).toHaveLength(1);
  });

  it('refuses a callback arriving in a browser that did not follow the link', async () => {
    const id = await p.newCredential();
    const { callback } = await p.toCallback(await p.newLink(id));
    const before = p.server.tokenRequests;
    expectRefused(await followAuthorization(callback.href, { jar: new CookieJar() }), 400, 'started in another browser');
    expect(p.server.tokenRequests).toBe(before);
    await p.expectNothingStored(id);
  });

  it('refuses the right state without the browser\'s cookie without spending it, and the browser that followed the link then completes', async () => {
    const id = await p.newCredential();
    const { callback, jar } = await p.toCallback(await p.newLink(id));
    const before = p.server.tokenRequests;
    // Someone who learned the whole callback URL, state and code included: no cookie, then a made-up one.
    expectRefused(await followAuthorization(callback.href, { jar: new CookieJar() }), 400, 'started in another browser');
    const forged = await fetch(callback.href, { redirect: 'manual', headers: { cookie: `__Host-credence-oauth=${randomValue()}` } });
    expect(forged.status).toBe(400);
    expect(await forged.text()).toContain('started in another browser');
    expect(p.server.tokenRequests).toBe(before);
    await p.expectNothingStored(id);

    const done = await followAuthorization(callback.href, { jar });
    expect(done.finalUrl).toBe(`${p.t.baseUrl}/oauth2/complete`);
    expect(p.server.tokenRequests).toBe(before + 1);
    const credential = await p.t.request('GET', `${API}/credentials/${id}`, { token: p.t.adminToken });
    expect(credential.body.status).toBe('authorized');
  });

  it('shows the provider\'s access_denied and its description plainly, storing nothing', async () => {
    const id = await p.newCredential();
    p.server.denyNextAuthorization('access_denied', 'The customer declined');
    const before = p.server.tokenRequests;
    const followed = await followAuthorization(await p.newLink(id));
    expect(followed.finalUrl.startsWith(`${p.t.baseUrl}/oauth2/callback?`)).toBe(true);
    expectRefused(followed, 400, 'The provider answered: access_denied — The customer declined.');
    expect(p.server.tokenRequests).toBe(before);
    await p.expectNothingStored(id);
  });

  it('escapes markup in a provider\'s error description', async () => {
    const id = await p.newCredential();
    const { callback, jar } = await p.toCallback(await p.newLink(id));
    callback.searchParams.delete('code');
    callback.searchParams.set('error', 'access_denied');
    callback.searchParams.set('error_description', '<script>alert(1)</script>');
    const refused = await followAuthorization(callback.href, { jar });
    expectRefused(refused, 400, 'access_denied — &lt;script&gt;alert(1)&lt;/script&gt;');
    expect(refused.finalBody).not.toContain('<script>');
    await p.expectNothingStored(id);
  });

  it('answers a 404 page, with no cookie, for a link token nobody issued', async () => {
    for (const token of ['junk', randomValue(), 'x'.repeat(150)]) {
      const response = await fetch(`${p.t.baseUrl}/oauth2/authorize/${token}`, { redirect: 'manual' });
      expect(response.status).toBe(404);
      expect(response.headers.get('content-type')).toMatch(/^text\/html/);
      expect(response.headers.get('location')).toBeNull();
      expect(response.headers.getSetCookie()).toEqual([]);
      expect(await response.text()).toContain('This authorization link is not valid.');
    }
  });

  it('refuses authorization links and emails for a credential that is not oauth2 with NOT_OAUTH2', async () => {
    const created = await p.t.request('POST', `${API}/credentials`, {
      token: p.t.adminToken,
      body: { label: 'FTP', authMethod: 'basic', customerId: p.customerId, fields: { username: 'u', password: randomValue() } },
    });
    const path = `${API}/credentials/${created.body.id}`;
    expectError(await p.t.request('POST', `${path}/authorization-link`, { token: p.t.adminToken, body: {} }), 400, 'NOT_OAUTH2');
    expectError(await p.t.request('GET', `${path}/authorization-link`, { token: p.t.adminToken }), 400, 'NOT_OAUTH2');
    expectError(await p.t.request('POST', `${path}/authorization-emails`, { token: p.t.adminToken, body: { email: 'a@example.com' } }), 400, 'NOT_OAUTH2');
  });

  it('answers 404 to a customer user for another customer\'s credential, and lets it manage its own', async () => {
    const other = (await p.t.request('POST', `${API}/customers`, { token: p.t.adminToken, body: { name: 'Globex' } })).body.id as string;
    const theirs = await p.newCredential({ customer: other });
    const ours = await p.newCredential();
    const userToken = await p.t.token('customer_user', p.customerId);
    const path = `${API}/credentials/${theirs}`;
    for (const response of [
      await p.t.request('POST', `${path}/authorization-link`, { token: userToken, body: {} }),
      await p.t.request('GET', `${path}/authorization-link`, { token: userToken }),
      await p.t.request('DELETE', `${path}/authorization-link`, { token: userToken }),
      await p.t.request('POST', `${path}/authorization-emails`, { token: userToken, body: { email: 'a@example.com' } }),
    ]) {
      expectError(response, 404, 'NOT_FOUND');
    }
    expect((await p.t.request('POST', `${API}/credentials/${ours}/authorization-link`, { token: userToken, body: {} })).status).toBe(201);
    expect((await p.t.request('GET', `${API}/credentials/${ours}/authorization-link`, { token: userToken })).body.active).toBe(true);
    expect((await p.t.request('DELETE', `${API}/credentials/${ours}/authorization-link`, { token: userToken })).status).toBe(204);
  });

  it('forbids the runtime role to issue, show, revoke or email links', async () => {
    const path = `${API}/credentials/${await p.newCredential()}`;
    for (const response of [
      await p.t.request('POST', `${path}/authorization-link`, { token: p.runtimeToken, body: {} }),
      await p.t.request('GET', `${path}/authorization-link`, { token: p.runtimeToken }),
      await p.t.request('DELETE', `${path}/authorization-link`, { token: p.runtimeToken }),
      await p.t.request('POST', `${path}/authorization-emails`, { token: p.runtimeToken, body: { email: 'a@example.com' } }),
    ]) {
      expectError(response, 403, 'FORBIDDEN');
    }
  });

  it('refuses an email address that is not one with 400, issuing no link', async () => {
    const id = await p.newCredential();
    for (const email of ['not-an-email', 'a@b', 'two words@example.com', '', 'a@example.com, b@example.com', `${'x'.repeat(250)}@example.com`]) {
      expectError(await p.t.request('POST', `${API}/credentials/${id}/authorization-emails`, { token: p.t.adminToken, body: { email } }), 400, 'VALIDATION_FAILED');
    }
    expect((await p.t.request('GET', `${API}/credentials/${id}/authorization-link`, { token: p.t.adminToken })).body.active).toBe(false);
  });

  it('refuses expiresInSeconds outside 60 seconds to 30 days with 400, and accepts both bounds', async () => {
    const id = await p.newCredential();
    for (const expiresInSeconds of [59, MAX_LINK_SECONDS + 1, 0, -60, 90.5, '3600']) {
      expectError(await p.t.request('POST', `${API}/credentials/${id}/authorization-link`, { token: p.t.adminToken, body: { expiresInSeconds } }), 400, 'VALIDATION_FAILED');
      expectError(
        await p.t.request('POST', `${API}/credentials/${id}/authorization-emails`, { token: p.t.adminToken, body: { email: 'a@example.com', expiresInSeconds } }),
        400,
        'VALIDATION_FAILED',
      );
    }
    expect((await p.t.request('GET', `${API}/credentials/${id}/authorization-link`, { token: p.t.adminToken })).body.active).toBe(false);
    for (const expiresInSeconds of [60, MAX_LINK_SECONDS]) {
      const response = await p.t.request('POST', `${API}/credentials/${id}/authorization-link`, { token: p.t.adminToken, body: { expiresInSeconds } });
      expect(response.status).toBe(201);
      expect(Math.abs(Date.parse(response.body.expiresAt) - (Date.now() + expiresInSeconds * 1000))).toBeLessThan(5_000);
      p.secrets.push(response.body.url as string);
    }
  });

  it('never writes a link, its token, or a callback\'s code or state to the log', () => {
    const logs = p.t.logs.join('\n');
    expect(logs).toContain('/oauth2/callback');
    const secrets = p.secrets.filter((secret) => secret.length >= 16);
    expect(secrets.length).toBeGreaterThan(20);
    // Count only, so a failure does not print what leaked.
    expect(secrets.filter((secret) => logs.includes(secret)).length).toBe(0);
  });
});

describe('refused authorization attempts on postgres', () => {
  let p: Peers;
  beforeAll(async () => {
    p = await startPeers('postgres');
  });
  afterAll(async () => {
    await Promise.all([p?.t.close(), p?.server.close()]);
  });

  it('refuses a replayed callback, a used link and a wrong iss, with one token request in all', async () => {
    const id = await p.newCredential();
    const link = await p.newLink(id);
    const { callback, jar } = await p.toCallback(link);
    const cookie = jar.header(p.t.baseUrl) ?? '';
    const before = p.server.tokenRequests;
    expect((await followAuthorization(callback.href, { jar })).finalUrl).toBe(`${p.t.baseUrl}/oauth2/complete`);
    const replay = await fetch(callback.href, { redirect: 'manual', headers: { cookie } });
    expect(replay.status).toBe(400);
    expect(await replay.text()).toContain('already completed');
    expectRefused(await followAuthorization(link), 410, 'already used');

    const evil = await p.newCredential({ issuer: 'https://evil.example' });
    const wrong = await p.toCallback(await p.newLink(evil));
    expectRefused(await followAuthorization(wrong.callback.href, { jar: wrong.jar }), 400, 'did not come from the expected provider');
    expect(p.server.tokenRequests).toBe(before + 1);
    await p.expectNothingStored(evil);
  });
});
