import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { simpleParser } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/databases.js';
import { CookieJar, followAuthorization, startOAuthServer, type FollowAuthorizationResult, type OAuthServer } from '../support/oauth-server.js';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

// The brief's Dropbox walkthrough, end to end on loopback: Credence listening on a real
// port, a real oidc-provider standing in for Dropbox, and a real SMTP server receiving
// the customer's email.

const API = '/api/v1';
const SCOPES = 'files.read offline_access';
const CLIENT_ID = 'credence-dropbox-app';
const CLIENT_SECRET = randomBytes(24).toString('base64url');
const DAY_MS = 24 * 3600 * 1000;
const COMPLETE_TEXT = 'Authorization complete — you can close this window';

const sortedScopes = (value: unknown): string[] => String(value ?? '').split(/\s+/).filter(Boolean).sort();
const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const linkPattern = (baseUrl: string): RegExp => new RegExp(`${escapeRegExp(baseUrl)}/oauth2/authorize/([A-Za-z0-9_-]{43})(?![A-Za-z0-9_-])`);

const extractLink = (text: string | undefined, baseUrl: string): { url: string; token: string } => {
  const match = linkPattern(baseUrl).exec(text ?? '');
  expect(match, 'the message carries an authorization link under the public URL').not.toBeNull();
  return { url: match?.[0] ?? '', token: match?.[1] ?? '' };
};

/** The callback hop of a followed flow: the URL the provider sent the browser back to. */
const callbackOf = (followed: FollowAuthorizationResult, baseUrl: string): URL => {
  const hop = followed.responses.find((response) => response.url.startsWith(`${baseUrl}/oauth2/callback?`));
  expect(hop?.status).toBe(303);
  return new URL(hop?.url ?? 'http://invalid/');
};

describe.each(ENGINES)('the OAuth 2.0 authorization flow on %s', (engine) => {
  let sink: SmtpSink;
  let t: TestApp;
  let outboxApp: TestApp;
  let server: OAuthServer;
  let customerId: string;
  let runtimeToken: string;
  /** Link tokens, codes, states and access tokens seen by the tests, for the log check. */
  const secrets: string[] = [];

  const createCustomer = async (app: TestApp, name: string): Promise<string> => {
    const response = await app.request('POST', `${API}/customers`, { token: app.adminToken, body: { name } });
    expect(response.status).toBe(201);
    return response.body.id as string;
  };

  const createDropboxCredential = async (app: TestApp, customer: string, label: string) => {
    const response = await app.request('POST', `${API}/credentials`, {
      token: app.adminToken,
      body: {
        label,
        authMethod: 'oauth2',
        customerId: customer,
        provider: 'dropbox',
        // Explicit fields win over the preset's Dropbox URLs: here they point at the loopback provider.
        fields: { client_id: CLIENT_ID, client_secret: CLIENT_SECRET, auth_uri: server.authorizationEndpoint, token_uri: server.tokenEndpoint, scopes: SCOPES },
      },
    });
    expect(response.status, response.text).toBe(201);
    return response.body;
  };

  const getCredential = async (app: TestApp, id: string) => {
    const response = await app.request('GET', `${API}/credentials/${id}`, { token: app.adminToken });
    expect(response.status).toBe(200);
    return response.body;
  };

  /** Checks the stored authorization, then resolves and introspects the token. */
  const expectAuthorized = async (app: TestApp, id: string, startedAt: number, token: string) => {
    const credential = await getCredential(app, id);
    expect(credential.status).toBe('authorized');
    expect(credential.authorizedAt).toEqual(expect.any(String));
    expect(Date.parse(credential.authorizedAt)).toBeGreaterThanOrEqual(startedAt - 1000);
    expect(Date.parse(credential.authorizedAt)).toBeLessThanOrEqual(Date.now());
    expect(credential.oauth2.authorizedAt).toBe(credential.authorizedAt);
    expect(sortedScopes(credential.oauth2.grantedScopes)).toEqual(['files.read', 'offline_access']);
    expect(Math.abs(Date.parse(credential.oauth2.tokenExpiresAt) - (Date.now() + 3600_000))).toBeLessThan(60_000);

    const audit = await app.request('GET', `${API}/audit-events?action=oauth.authorized&targetId=${id}`, { token: app.adminToken });
    expect(audit.status).toBe(200);
    expect(audit.body.items).toHaveLength(1);
    expect(audit.body.items[0]).toMatchObject({ action: 'oauth.authorized', targetType: 'credential', targetId: id, customerId: credential.customerId });

    const resolved = await app.request('POST', `${API}/credentials/${id}/resolve`, { token });
    expect(resolved.status).toBe(200);
    expect(resolved.body.status).toBe('authorized');
    const accessToken: unknown = resolved.body.token?.accessToken;
    expect(typeof accessToken).toBe('string');
    secrets.push(String(accessToken));
    expect(resolved.body.fields.access_token).toBe(accessToken);
    expect(resolved.body.fields.client_id).toBe(CLIENT_ID);
    expect(resolved.body.token.expiresAt).toBe(credential.oauth2.tokenExpiresAt);
    expect(resolved.body.token.tokenType.toLowerCase()).toBe('bearer');

    const introspection = await server.introspect(String(accessToken));
    expect(introspection).toMatchObject({ active: true, client_id: CLIENT_ID, sub: 'customer-1' });
    expect(sortedScopes(introspection['scope'])).toEqual(['files.read', 'offline_access']);
  };

  /** Follows a link through the provider's login and consent to Credence's final page. */
  const completeThroughBrowser = async (app: TestApp, link: string): Promise<FollowAuthorizationResult> => {
    const followed = await followAuthorization(link);
    expect(followed.finalStatus, followed.finalBody).toBe(200);
    expect(followed.finalUrl).toBe(`${app.baseUrl}/oauth2/complete`);
    expect(followed.finalBody).toContain(COMPLETE_TEXT);
    // The browser ends on a page of its own: neither code nor state is left in its address bar.
    expect(new URL(followed.finalUrl).search).toBe('');
    const callback = callbackOf(followed, app.baseUrl);
    for (const name of ['code', 'state'] as const) secrets.push(callback.searchParams.get(name) ?? '');
    return followed;
  };

  beforeAll(async () => {
    sink = await startSmtpSink();
    const env = { CREDENCE_ALLOW_INSECURE_LOOPBACK: 'true' };
    t = await startTestApp(engine, { listen: true, env: { ...env, CREDENCE_SMTP_URL: `smtp://127.0.0.1:${sink.port}` } });
    outboxApp = await startTestApp(engine, { listen: true, env });
    server = await startOAuthServer({
      clients: [{ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUris: [`${t.baseUrl}/oauth2/callback`, `${outboxApp.baseUrl}/oauth2/callback`] }],
    });
    customerId = await createCustomer(t, 'Northwind Traders');
    runtimeToken = await t.token('runtime');
  });

  afterAll(async () => {
    await Promise.all([t?.close(), outboxApp?.close(), server?.close(), sink?.close()]);
  });

  it('connects a customer\'s Dropbox account through a received email, ending on "Authorization complete" with a token the provider accepts', async () => {
    const credential = await createDropboxCredential(t, customerId, 'Northwind Dropbox');
    expect(credential.status).toBe('pending_authorization');
    expect(credential.authorizedAt).toBeNull();
    expect(credential.oauth2).toMatchObject({
      grantType: 'authorization_code',
      provider: 'dropbox',
      redirectUri: `${t.baseUrl}/oauth2/callback`,
      issuer: server.issuer,
      authorizedAt: null,
    });
    expect(credential.fields.auth_uri).toEqual({ set: true, value: server.authorizationEndpoint });
    const redirect = await t.request('GET', `${API}/oauth2/redirect-uri`, { token: t.adminToken });
    expect(redirect.body).toEqual({ redirectUri: `${t.baseUrl}/oauth2/callback` });

    const address = 'it-team@northwind.example';
    const startedAt = Date.now();
    const tokenRequestsBefore = server.tokenRequests;
    const sent = await t.request('POST', `${API}/credentials/${credential.id}/authorization-emails`, { token: t.adminToken, body: { email: address } });
    expect(sent.status, sent.text).toBe(202);
    expect(sent.body).toEqual({ sentTo: address, expiresAt: expect.any(String), delivery: { via: 'smtp', messageId: expect.any(String) } });
    expect(Math.abs(Date.parse(sent.body.expiresAt) - (startedAt + 7 * DAY_MS))).toBeLessThan(60_000);

    const mail = await sink.waitForMessage((message) => message.messageId === sent.body.delivery.messageId, 10_000);
    expect(sink.deliveries.find((delivery) => delivery.mail === mail)?.to).toEqual([address]);
    expect(mail.subject).toBe('Acme Integrations asks you to connect Dropbox');
    expect(mail.text).toContain('Hello Northwind Traders,');
    expect(mail.text).toContain('Acme Integrations asks you to connect your Dropbox account');
    const link = extractLink(mail.text, t.baseUrl);
    secrets.push(link.url, link.token);
    expect(mail.html || '').toContain(link.url);

    const status = await t.request('GET', `${API}/credentials/${credential.id}/authorization-link`, { token: t.adminToken });
    expect(status.body).toEqual({ active: true, expiresAt: sent.body.expiresAt, createdAt: expect.any(String) });

    const followed = await completeThroughBrowser(t, link.url);
    const callback = callbackOf(followed, t.baseUrl);
    expect(callback.searchParams.get('iss')).toBe(server.issuer);
    expect(callback.searchParams.get('code')).toMatch(/^[\w-]{20,}$/);
    expect(server.tokenRequests).toBe(tokenRequestsBefore + 1);
    expect(server.tokenRequestLog.at(-1)).toEqual({ grantType: 'authorization_code', status: 200, overridden: false });

    await expectAuthorized(t, credential.id, startedAt, runtimeToken);
    const used = await t.request('GET', `${API}/credentials/${credential.id}/authorization-link`, { token: t.adminToken });
    expect(used.body).toEqual({ active: false, expiresAt: null, createdAt: null });
  });

  it('authorizes through a link a customer user issues by API, valid for 7 days by default', async () => {
    const credential = await createDropboxCredential(t, customerId, 'Northwind Dropbox (link)');
    const userToken = await t.token('customer_user', customerId);
    const startedAt = Date.now();
    const issued = await t.request('POST', `${API}/credentials/${credential.id}/authorization-link`, { token: userToken });
    expect(issued.status, issued.text).toBe(201);
    expect(Object.keys(issued.body).sort()).toEqual(['expiresAt', 'url']);
    const link = extractLink(issued.body.url, t.baseUrl);
    expect(link.url).toBe(issued.body.url);
    secrets.push(link.url, link.token);
    expect(Math.abs(Date.parse(issued.body.expiresAt) - (startedAt + 7 * DAY_MS))).toBeLessThan(60_000);

    const tokenRequestsBefore = server.tokenRequests;
    await completeThroughBrowser(t, link.url);
    expect(server.tokenRequests).toBe(tokenRequestsBefore + 1);
    await expectAuthorized(t, credential.id, startedAt, runtimeToken);
  });

  it('sends the provider a PKCE S256 request with the exact redirect URI, a fresh state and the preset\'s extras, binding the browser with a __Host- cookie', async () => {
    const credential = await createDropboxCredential(t, customerId, 'Northwind Dropbox (PKCE)');
    const issued = await t.request('POST', `${API}/credentials/${credential.id}/authorization-link`, { token: t.adminToken, body: {} });
    const link = extractLink(issued.body.url, t.baseUrl);
    secrets.push(link.url, link.token);

    const first = await fetch(link.url, { redirect: 'manual' });
    expect(first.status).toBe(302);
    expect(first.headers.get('referrer-policy')).toBe('no-referrer');
    const location = new URL(first.headers.get('location') ?? '');
    expect(`${location.origin}${location.pathname}`).toBe(server.authorizationEndpoint);
    const params = location.searchParams;
    expect(Object.fromEntries(params)).toEqual({
      response_type: 'code',
      client_id: CLIENT_ID,
      redirect_uri: `${t.baseUrl}/oauth2/callback`,
      scope: SCOPES,
      state: expect.stringMatching(/^[\w-]{43,}$/),
      code_challenge: expect.stringMatching(/^[\w-]{43}$/),
      code_challenge_method: 'S256',
      token_access_type: 'offline',
    });
    expect(params.getAll('code_challenge_method')).toEqual(['S256']);
    expect([...params.values()]).not.toContain('plain');
    secrets.push(params.get('state') ?? '');

    const cookies = first.headers.getSetCookie();
    expect(cookies).toHaveLength(1);
    const cookie = cookies[0] ?? '';
    expect(cookie).toMatch(/^__Host-credence-oauth=[\w-]{20,};/);
    const attributes = cookie.split(';').slice(1).map((part) => part.trim().toLowerCase());
    expect(attributes).toEqual(expect.arrayContaining(['path=/', 'httponly', 'secure', 'samesite=lax']));
    expect(attributes.some((attribute) => attribute.startsWith('domain='))).toBe(false);

    // Each visit is its own attempt: a new state and a new PKCE challenge.
    const second = await fetch(link.url, { redirect: 'manual' });
    const again = new URL(second.headers.get('location') ?? '').searchParams;
    await Promise.all([first.body?.cancel(), second.body?.cancel()]);
    expect(again.get('state')).not.toBe(params.get('state'));
    expect(again.get('code_challenge')).not.toBe(params.get('code_challenge'));
    secrets.push(again.get('state') ?? '');

    // The browser that holds the first cookie finishes the first attempt: the state round-trips.
    const jar = new CookieJar();
    jar.store(link.url, cookies);
    const followed = await followAuthorization(location.href, { jar });
    expect(followed.finalUrl).toBe(`${t.baseUrl}/oauth2/complete`);
    expect(callbackOf(followed, t.baseUrl).searchParams.get('state')).toBe(params.get('state'));
    secrets.push(callbackOf(followed, t.baseUrl).searchParams.get('code') ?? '');
    expect(jar.cookiesFor(t.baseUrl)).toEqual({});

    const complete = await fetch(`${t.baseUrl}/oauth2/complete`);
    expect(complete.status).toBe(200);
    expect(complete.headers.get('referrer-policy')).toBe('no-referrer');
    expect(complete.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await complete.text()).toContain(COMPLETE_TEXT);
  });

  it('writes the email as an .eml file under <data dir>/outbox when no SMTP server is configured, and its link completes the flow', async () => {
    const customer = await createCustomer(outboxApp, 'Contoso');
    const credential = await createDropboxCredential(outboxApp, customer, 'Contoso Dropbox');
    const address = 'ops@contoso.example';
    const messagesBefore = sink.messages.length;
    const sent = await outboxApp.request('POST', `${API}/credentials/${credential.id}/authorization-emails`, { token: outboxApp.adminToken, body: { email: address } });
    expect(sent.status, sent.text).toBe(202);
    expect(sent.body).toEqual({
      sentTo: address,
      expiresAt: expect.any(String),
      delivery: { via: 'outbox', messageId: expect.any(String), file: expect.stringMatching(/\.eml$/) },
    });
    const file = String(sent.body.delivery.file);
    expect(file.startsWith(`${join(outboxApp.config.dataDir, 'outbox')}${sep}`)).toBe(true);

    const mail = await simpleParser(await readFile(file));
    expect(mail.messageId).toBe(sent.body.delivery.messageId);
    expect(mail.subject).toBe('Acme Integrations asks you to connect Dropbox');
    expect(mail.text).toContain('Hello Contoso,');
    const link = extractLink(mail.text, outboxApp.baseUrl);
    secrets.push(link.url, link.token);
    expect(sink.messages).toHaveLength(messagesBefore);

    const startedAt = Date.now();
    await completeThroughBrowser(outboxApp, link.url);
    await expectAuthorized(outboxApp, credential.id, startedAt, await outboxApp.token('runtime'));
  });

  it('lists provider presets with their URLs and extra parameters', async () => {
    const response = await t.request('GET', `${API}/oauth2/providers`, { token: t.adminToken });
    expect(response.status).toBe(200);
    const byKey = new Map<string, any>(response.body.items.map((preset: { key: string }) => [preset.key, preset]));
    for (const key of ['dropbox', 'google', 'microsoft', 'slack', 'github', 'salesforce', 'hubspot', 'box', 'zoom', 'atlassian', 'xero', 'intuit']) {
      expect(byKey.has(key), key).toBe(true);
    }
    expect(byKey.get('dropbox')).toMatchObject({ name: 'Dropbox', authUri: 'https://www.dropbox.com/oauth2/authorize', extraAuthParams: { token_access_type: 'offline' } });
    expect(byKey.get('google')).toMatchObject({ extraAuthParams: { access_type: 'offline', prompt: 'consent' }, clientAuth: 'client_secret_post' });
  });

  it('never writes link tokens, authorization codes, states or access tokens to its logs', () => {
    const logs = [...t.logs, ...outboxApp.logs].join('\n');
    expect(logs.length).toBeGreaterThan(0);
    expect(logs).toContain('/oauth2/authorize/[redacted]');
    const present = secrets.filter((secret) => secret.length >= 16).filter((secret) => logs.includes(secret));
    // Count only, so a failure does not print what leaked.
    expect(secrets.length).toBeGreaterThan(10);
    expect(present.length).toBe(0);
  });
});
