import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { buildApp } from '../../src/http/app.js';
import { loggerOptions } from '../../src/http/logging.js';
import { openRuntime, type Runtime } from '../../src/runtime.js';
import { ENGINES, createTestDatabase, type EngineName, type TestDatabase } from '../support/databases.js';
import { randomMasterKey, startTestApp, type ApiResponse, type TestApp } from '../support/test-app.js';
import { COOKIE_NAME, addressSource, newEmail, newPassword, send, sessionCookieOf, setCookiesOf, signIn as signInFrom, type Caller } from './session-support.js';
import { API, createCredential, createCustomer, expectError, expectNoSecrets, sampleFor } from './credential-fixtures.js';

// Signing in to the web app: first run, invitations, sign-in, the session cookie with its
// CSRF token, sign-out, and roles seen through a session.

const nextIp = addressSource('10.1');

/** The attributes of the session cookie, lower-cased names, for exact checks. */
const cookieAttributes = (response: ApiResponse): Record<string, string> => {
  const cookie = setCookiesOf(response).find((c) => c.startsWith(`${COOKIE_NAME}=`)) ?? '';
  const attributes: Record<string, string> = {};
  for (const part of cookie.split(';').slice(1)) {
    const [name = '', ...value] = part.trim().split('=');
    attributes[name.toLowerCase()] = value.join('=');
  }
  return attributes;
};

const signIn = (caller: Caller, email: string, password: string, ip = nextIp()) => signInFrom(caller, email, password, ip);

/** An app on a fresh, empty database: no organization yet, so first-run setup is open. */
const openFreshApp = async (engine: EngineName) => {
  const database: TestDatabase = await createTestDatabase(engine);
  const config = loadConfig({
    CREDENCE_DATA_DIR: database.dataDir,
    CREDENCE_MASTER_KEY: randomMasterKey(),
    ...(database.url ? { DATABASE_URL: database.url } : {}),
  });
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logs.push(chunk.toString());
      done();
    },
  });
  const runtime: Runtime = await openRuntime(config, { warn: (message) => logs.push(message) });
  const app = await buildApp({ services: runtime.services, isReady: runtime.isReady, loggerInstance: pino(loggerOptions('trace'), sink), publicUrl: config.publicUrl });
  await app.ready();
  const responses: Array<{ method: string; url: string; text: string }> = [];
  return {
    app,
    logs,
    responses,
    publicUrl: config.publicUrl,
    async close() {
      await app.close();
      await runtime.close();
      await database.drop();
    },
  };
};

describe.each(ENGINES)('first-run setup on %s', (engine) => {
  let fresh: Awaited<ReturnType<typeof openFreshApp>>;
  const password = newPassword();
  const email = newEmail('founder');

  beforeAll(async () => {
    fresh = await openFreshApp(engine);
  });
  afterAll(async () => fresh?.close());

  it('says setup is needed on an empty database', async () => {
    const response = await send(fresh, 'GET', `${API}/setup`);
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ needsSetup: true });
  });

  it('refuses a password shorter than 12 characters with 400 and stays open for setup', async () => {
    const response = await send(fresh, 'POST', `${API}/setup`, { body: { organizationName: 'Acme', email, password: 'short-pw' } });
    expectError(response, 400, 'VALIDATION_FAILED');
    expect(setCookiesOf(response)).toEqual([]);
    expect((await send(fresh, 'GET', `${API}/setup`)).body).toEqual({ needsSetup: true });
  });

  it('refuses an invalid email address and an empty organization name with 400', async () => {
    expectError(await send(fresh, 'POST', `${API}/setup`, { body: { organizationName: 'Acme', email: 'not-an-address', password } }), 400, 'VALIDATION_FAILED');
    expectError(await send(fresh, 'POST', `${API}/setup`, { body: { organizationName: '  ', email, password } }), 400, 'VALIDATION_FAILED');
    expect((await send(fresh, 'GET', `${API}/setup`)).body).toEqual({ needsSetup: true });
  });

  it('creates the organization and its first admin, signed in with a __Host- session cookie', async () => {
    const response = await send(fresh, 'POST', `${API}/setup`, { body: { organizationName: 'Acme Integrations', email: email.toUpperCase(), password } });
    expect(response.status).toBe(201);
    expect(response.body.user).toMatchObject({ email, role: 'org_admin', customerId: null, organizationName: 'Acme Integrations' });
    expect(response.body.user.id).toMatch(/^usr_/);
    expect(response.body.user.organizationId).toMatch(/^org_/);
    expect(typeof response.body.csrfToken).toBe('string');
    expect(response.body.csrfToken.length).toBeGreaterThanOrEqual(32);
    expect(response.headers['cache-control']).toBe('no-store');

    const cookie = sessionCookieOf(response);
    expect(cookie).toMatch(new RegExp(`^${COOKIE_NAME}=[A-Za-z0-9_-]{43}$`));
    expect(cookieAttributes(response)).toEqual({ path: '/', httponly: '', secure: '', samesite: 'Lax', 'max-age': String(12 * 3600) });
    expect(cookieAttributes(response)).not.toHaveProperty('domain');

    const session = await send(fresh, 'GET', `${API}/session`, { cookie });
    expect(session.status).toBe(200);
    expect(session.body).toEqual({ user: response.body.user, csrfToken: response.body.csrfToken });
    expect((await send(fresh, 'GET', `${API}/setup`)).body).toEqual({ needsSetup: false });
  });

  it('refuses a second setup with 409 CONFLICT and sets no cookie', async () => {
    const response = await send(fresh, 'POST', `${API}/setup`, { body: { organizationName: 'Intruder Inc', email: newEmail('intruder'), password: newPassword() } });
    expectError(response, 409, 'CONFLICT');
    expect(setCookiesOf(response)).toEqual([]);
  });

  it('lets the first admin sign in with the email in any letter case', async () => {
    const response = await signIn(fresh, email.replace('founder', 'FOUNDER'), password);
    expect(response.status).toBe(200);
    expect(response.body.user).toMatchObject({ email, role: 'org_admin' });
    const session = await send(fresh, 'GET', `${API}/session`, { cookie: sessionCookieOf(response) });
    expect(session.body.user.email).toBe(email);
  });

  it('never writes the setup password into a response or a log line', () => {
    expectNoSecrets(fresh.responses.map((r) => r.text).join('\n'), [password]);
    expectNoSecrets(fresh.logs.join('\n'), [password]);
  });
});

describe('first-run setup racing itself', () => {
  let fresh: Awaited<ReturnType<typeof openFreshApp>>;
  beforeAll(async () => {
    fresh = await openFreshApp('sqlite');
  });
  afterAll(async () => fresh?.close());

  it('creates one organization when two setups arrive at once, and answers the other 409', async () => {
    const attempts = await Promise.all(
      ['First', 'Second'].map((name) => send(fresh, 'POST', `${API}/setup`, { body: { organizationName: name, email: newEmail(name.toLowerCase()), password: newPassword() } })),
    );
    expect(attempts.map((r) => r.status).sort()).toEqual([201, 409]);
    const winner = attempts.find((r) => r.status === 201);
    const signedIn = await send(fresh, 'GET', `${API}/session`, { cookie: winner ? sessionCookieOf(winner) : '' });
    expect(signedIn.status).toBe(200);
  });
});

describe.each(ENGINES)('sign-in, invitations and session cookies on %s', (engine) => {
  let t: TestApp;
  let customerA: string;
  let customerB: string;
  const ids = { org: '', a: '', b: '' };

  /** Invites a person as the org_admin token; returns the invitation token from the link. */
  const invite = async (email: string, role: string, customerId?: string) => {
    const response = await t.request('POST', `${API}/users`, { token: t.adminToken, body: { email, role, ...(customerId ? { customerId } : {}) } });
    expect(response.status).toBe(201);
    const match = /\/invite\/([A-Za-z0-9_-]+)$/.exec(String(response.body.inviteUrl));
    expect(match).not.toBeNull();
    return { response, inviteToken: match?.[1] ?? '' };
  };

  /** Invites a person and accepts for them: they are signed in with a password of their own. */
  const person = async (role: 'org_admin' | 'org_member' | 'customer_user', customerId?: string) => {
    const email = newEmail(role.replace('_', '-'));
    const password = newPassword();
    const { inviteToken } = await invite(email, role, customerId);
    const accepted = await send(t, 'POST', `${API}/invitations/${inviteToken}/accept`, { body: { password } });
    expect(accepted.status).toBe(200);
    return { email, password, id: accepted.body.user.id as string, cookie: sessionCookieOf(accepted), csrf: accepted.body.csrfToken as string };
  };

  beforeAll(async () => {
    t = await startTestApp(engine);
    customerA = await createCustomer(t, 'Customer A');
    customerB = await createCustomer(t, 'Customer B');
    ids.org = (await createCredential(t, { label: 'Org shared AWS', sample: sampleFor('api_key_secret') })).id;
    ids.a = (await createCredential(t, { label: 'A FTP', sample: sampleFor('basic'), customerId: customerA })).id;
    ids.b = (await createCredential(t, { label: 'B Dropbox', sample: sampleFor('api_key'), customerId: customerB })).id;
  });
  afterAll(async () => t?.close());

  describe('invitations', () => {
    it('invites a team member with a one-time link under the public URL that expires in seven days', async () => {
      const email = newEmail('member');
      const before = Date.now();
      const { response, inviteToken } = await invite(email.toUpperCase(), 'org_member');
      expect(response.body.user).toMatchObject({ email, role: 'org_member', customerId: null, status: 'invited' });
      expect(response.body.inviteUrl).toBe(`${t.baseUrl}/invite/${inviteToken}`);
      expect(inviteToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
      const lifetime = Date.parse(response.body.expiresAt) - before;
      expect(lifetime).toBeGreaterThan(7 * 24 * 3600_000 - 60_000);
      expect(lifetime).toBeLessThanOrEqual(7 * 24 * 3600_000 + 60_000);
      const users = await t.request('GET', `${API}/users`, { token: t.adminToken });
      expect(users.body.items.find((u: { email: string }) => u.email === email)).toMatchObject({ role: 'org_member', status: 'invited' });
    });

    it('signs the invited person in when they choose a password, works once, and lists them as active', async () => {
      const email = newEmail('joiner');
      const password = newPassword();
      const { inviteToken } = await invite(email, 'org_member');

      const accepted = await send(t, 'POST', `${API}/invitations/${inviteToken}/accept`, { body: { password } });
      expect(accepted.status).toBe(200);
      expect(accepted.body.user).toMatchObject({ email, role: 'org_member', customerId: null, organizationId: t.organizationId, organizationName: 'Acme Integrations' });
      expect(cookieAttributes(accepted)).toMatchObject({ path: '/', httponly: '', secure: '', samesite: 'Lax' });
      const session = await send(t, 'GET', `${API}/session`, { cookie: sessionCookieOf(accepted) });
      expect(session.body).toEqual({ user: accepted.body.user, csrfToken: accepted.body.csrfToken });

      const again = await send(t, 'POST', `${API}/invitations/${inviteToken}/accept`, { body: { password: newPassword() } });
      expectError(again, 404, 'NOT_FOUND');
      expect(setCookiesOf(again)).toEqual([]);

      const users = await t.request('GET', `${API}/users`, { token: t.adminToken });
      expect(users.status).toBe(200);
      expect(users.body.items.find((u: { email: string }) => u.email === email)).toMatchObject({ id: accepted.body.user.id, role: 'org_member', status: 'active' });
      expect((await signIn(t, email, password)).status).toBe(200);
    });

    it('keeps the invitation usable after a refused short password', async () => {
      const { inviteToken } = await invite(newEmail('patient'), 'org_member');
      expectError(await send(t, 'POST', `${API}/invitations/${inviteToken}/accept`, { body: { password: 'too-short' } }), 400, 'VALIDATION_FAILED');
      expect((await send(t, 'POST', `${API}/invitations/${inviteToken}/accept`, { body: { password: newPassword() } })).status).toBe(200);
    });

    it('answers 404 for an unknown invitation token', async () => {
      expectError(await send(t, 'POST', `${API}/invitations/${randomBytes(32).toString('base64url')}/accept`, { body: { password: newPassword() } }), 404, 'NOT_FOUND');
    });

    it('refuses sign-in for an invited person who has not chosen a password yet', async () => {
      const email = newEmail('pending');
      await invite(email, 'org_member');
      expectError(await signIn(t, email, ''.padEnd(12, 'x')), 401, 'INVALID_CREDENTIALS');
    });

    it('refuses to invite an existing address, a customer user without a customer, and the runtime role', async () => {
      const email = newEmail('twice');
      await invite(email, 'org_member');
      expectError(await t.request('POST', `${API}/users`, { token: t.adminToken, body: { email, role: 'org_admin' } }), 409, 'CONFLICT');
      expectError(await t.request('POST', `${API}/users`, { token: t.adminToken, body: { email: newEmail('cu'), role: 'customer_user' } }), 400, 'VALIDATION_FAILED');
      expectError(await t.request('POST', `${API}/users`, { token: t.adminToken, body: { email: newEmail('rt'), role: 'runtime' } }), 400, 'VALIDATION_FAILED');
    });
  });

  describe('sign-in', () => {
    it('signs in with the right password: 200, the person, a CSRF token and the session cookie', async () => {
      const someone = await person('org_member');
      const response = await signIn(t, someone.email, someone.password);
      expect(response.status).toBe(200);
      expect(response.body.user).toMatchObject({ id: someone.id, email: someone.email, role: 'org_member', organizationId: t.organizationId });
      expect(response.headers['cache-control']).toBe('no-store');
      expect(cookieAttributes(response)).toEqual({ path: '/', httponly: '', secure: '', samesite: 'Lax', 'max-age': String(12 * 3600) });

      const session = await send(t, 'GET', `${API}/session`, { cookie: sessionCookieOf(response) });
      expect(session.status).toBe(200);
      expect(session.body).toEqual({ user: response.body.user, csrfToken: response.body.csrfToken });
    });

    it('starts a separate session with its own CSRF token on every sign-in', async () => {
      const someone = await person('org_member');
      const first = await signIn(t, someone.email, someone.password);
      const second = await signIn(t, someone.email, someone.password);
      expect(sessionCookieOf(first)).not.toBe(sessionCookieOf(second));
      expect(first.body.csrfToken).not.toBe(second.body.csrfToken);
      expect(first.body.csrfToken).not.toBe(someone.csrf);
    });

    it('answers a wrong password and an unknown email with the same 401 INVALID_CREDENTIALS', async () => {
      const someone = await person('org_member');
      const wrong = await signIn(t, someone.email, newPassword());
      const unknown = await signIn(t, newEmail('nobody'), newPassword());
      expectError(wrong, 401, 'INVALID_CREDENTIALS');
      expectError(unknown, 401, 'INVALID_CREDENTIALS');
      expect(unknown.body).toEqual(wrong.body);
      expect(setCookiesOf(wrong)).toEqual([]);
      expect(setCookiesOf(unknown)).toEqual([]);
    });

    it('refuses an empty password and unexpected body fields with 400', async () => {
      expectError(await send(t, 'POST', `${API}/sessions`, { body: { email: newEmail('x'), password: '' }, ip: nextIp() }), 400, 'VALIDATION_FAILED');
      expectError(await send(t, 'POST', `${API}/sessions`, { body: { email: newEmail('x'), password: newPassword(), role: 'org_admin' }, ip: nextIp() }), 400, 'VALIDATION_FAILED');
    });

    it('answers GET /session with 401 without a cookie and with an unknown cookie', async () => {
      expectError(await send(t, 'GET', `${API}/session`), 401, 'UNAUTHENTICATED');
      expectError(await send(t, 'GET', `${API}/session`, { cookie: `${COOKIE_NAME}=${randomBytes(32).toString('base64url')}` }), 401, 'UNAUTHENTICATED');
      expectError(await send(t, 'GET', `${API}/session`, { cookie: `${COOKIE_NAME}=${'a'.repeat(500)}` }), 401, 'UNAUTHENTICATED');
    });

    it('does not accept the session token under the cookie name without the __Host- prefix', async () => {
      const someone = await person('org_member');
      const bare = someone.cookie.replace(COOKIE_NAME, 'credence-session');
      expectError(await send(t, 'GET', `${API}/session`, { cookie: bare }), 401, 'UNAUTHENTICATED');
      expectError(await send(t, 'GET', `${API}/credentials`, { cookie: bare }), 401, 'UNAUTHENTICATED');
    });
  });

  describe('authentication by session cookie', () => {
    const customerNames = async (): Promise<string[]> => {
      const response = await t.request('GET', `${API}/customers?limit=200`, { token: t.adminToken });
      return response.body.items.map((c: { name: string }) => c.name);
    };

    it('reads with the cookie alone', async () => {
      const admin = await person('org_admin');
      const response = await send(t, 'GET', `${API}/credentials`, { cookie: admin.cookie });
      expect(response.status).toBe(200);
      expect(response.body.items.map((c: { id: string }) => c.id)).toEqual(expect.arrayContaining([ids.org, ids.a, ids.b]));
    });

    it('refuses a change without the X-CSRF-Token header with 403 CSRF_FAILED and changes nothing', async () => {
      const admin = await person('org_admin');
      const name = `No CSRF ${randomBytes(4).toString('hex')}`;
      expectError(await send(t, 'POST', `${API}/customers`, { cookie: admin.cookie, body: { name } }), 403, 'CSRF_FAILED');
      expect(await customerNames()).not.toContain(name);
    });

    it('refuses a change with a wrong CSRF token, or the token of another session, with 403', async () => {
      const admin = await person('org_admin');
      const other = await person('org_admin');
      const name = `Wrong CSRF ${randomBytes(4).toString('hex')}`;
      expectError(await send(t, 'POST', `${API}/customers`, { cookie: admin.cookie, csrf: randomBytes(32).toString('base64url'), body: { name } }), 403, 'CSRF_FAILED');
      expectError(await send(t, 'POST', `${API}/customers`, { cookie: admin.cookie, csrf: other.csrf, body: { name } }), 403, 'CSRF_FAILED');
      expectError(await send(t, 'POST', `${API}/customers`, { cookie: admin.cookie, csrf: '', body: { name } }), 403, 'CSRF_FAILED');
      expect(await customerNames()).not.toContain(name);
    });

    it('makes the change with the session\'s CSRF token: 201', async () => {
      const admin = await person('org_admin');
      const name = `Right CSRF ${randomBytes(4).toString('hex')}`;
      const response = await send(t, 'POST', `${API}/customers`, { cookie: admin.cookie, csrf: admin.csrf, body: { name } });
      expect(response.status).toBe(201);
      expect(response.body.name).toBe(name);
      expect(await customerNames()).toContain(name);
    });

    it('needs the CSRF token for PATCH and DELETE too', async () => {
      const admin = await person('org_admin');
      const id = await createCustomer(t, `Patch me ${randomBytes(4).toString('hex')}`);
      expectError(await send(t, 'PATCH', `${API}/customers/${id}`, { cookie: admin.cookie, body: { name: 'Renamed' } }), 403, 'CSRF_FAILED');
      expectError(await send(t, 'DELETE', `${API}/customers/${id}`, { cookie: admin.cookie }), 403, 'CSRF_FAILED');
      expect((await t.request('GET', `${API}/customers/${id}`, { token: t.adminToken })).body.name).toMatch(/^Patch me /);
    });

    it('needs no CSRF header with a bearer token', async () => {
      const name = `Bearer ${randomBytes(4).toString('hex')}`;
      const response = await t.request('POST', `${API}/customers`, { token: t.adminToken, body: { name } });
      expect(response.status).toBe(201);
      expect(await customerNames()).toContain(name);
    });

    it('refuses an invalid bearer token with 401 even when a valid session cookie comes along', async () => {
      const admin = await person('org_admin');
      const response = await send(t, 'GET', `${API}/credentials`, { cookie: admin.cookie, token: 'not-a-token' });
      expectError(response, 401, 'UNAUTHENTICATED');
    });

    it('signs out with DELETE /session: 204, the cookie is cleared and no longer works', async () => {
      const someone = await person('org_member');
      expectError(await send(t, 'DELETE', `${API}/session`, { cookie: someone.cookie }), 403, 'CSRF_FAILED');
      expect((await send(t, 'GET', `${API}/session`, { cookie: someone.cookie })).status).toBe(200);

      const out = await send(t, 'DELETE', `${API}/session`, { cookie: someone.cookie, csrf: someone.csrf });
      expect(out.status).toBe(204);
      const cleared = cookieAttributes(out);
      expect(sessionCookieOf(out)).toBe(`${COOKIE_NAME}=`);
      expect(cleared).toMatchObject({ path: '/', httponly: '', secure: '', samesite: 'Lax' });
      expect(cleared.expires).toBe(new Date(0).toUTCString());

      expectError(await send(t, 'GET', `${API}/session`, { cookie: someone.cookie }), 401, 'UNAUTHENTICATED');
      expectError(await send(t, 'GET', `${API}/credentials`, { cookie: someone.cookie }), 401, 'UNAUTHENTICATED');
      expectError(await send(t, 'POST', `${API}/customers`, { cookie: someone.cookie, csrf: someone.csrf, body: { name: 'After sign-out' } }), 401, 'UNAUTHENTICATED');
    });

    it('ends only the session signed out of, not the person\'s other sessions', async () => {
      const someone = await person('org_member');
      const other = await signIn(t, someone.email, someone.password);
      expect((await send(t, 'DELETE', `${API}/session`, { cookie: someone.cookie, csrf: someone.csrf })).status).toBe(204);
      expect((await send(t, 'GET', `${API}/session`, { cookie: sessionCookieOf(other) })).status).toBe(200);
    });

    it('ends every session of a person the admin removes', async () => {
      const someone = await person('org_member');
      expect((await t.request('DELETE', `${API}/users/${someone.id}`, { token: t.adminToken })).status).toBe(204);
      expectError(await send(t, 'GET', `${API}/session`, { cookie: someone.cookie }), 401, 'UNAUTHENTICATED');
      expectError(await send(t, 'GET', `${API}/credentials`, { cookie: someone.cookie }), 401, 'UNAUTHENTICATED');
      expectError(await signIn(t, someone.email, someone.password), 401, 'INVALID_CREDENTIALS');
    });
  });

  describe('roles through sessions', () => {
    it('shows a signed-in customer user only its own customer\'s credentials', async () => {
      const user = await person('customer_user', customerA);
      const session = await send(t, 'GET', `${API}/session`, { cookie: user.cookie });
      expect(session.body.user).toMatchObject({ role: 'customer_user', customerId: customerA });

      const list = await send(t, 'GET', `${API}/credentials?limit=200`, { cookie: user.cookie });
      expect(list.status).toBe(200);
      const listed: Array<{ id: string; customerId: string | null }> = list.body.items;
      expect(listed.map((c) => c.id)).toContain(ids.a);
      expect(listed.every((c) => c.customerId === customerA)).toBe(true);
      expect((await send(t, 'GET', `${API}/credentials/${ids.a}`, { cookie: user.cookie })).status).toBe(200);
    });

    it('answers a signed-in customer user 404 for an organization-level or another customer\'s credential', async () => {
      const user = await person('customer_user', customerA);
      for (const id of [ids.org, ids.b]) {
        const response = await send(t, 'GET', `${API}/credentials/${id}`, { cookie: user.cookie });
        expectError(response, 404, 'NOT_FOUND');
        expect(response.text).not.toContain(id === ids.org ? 'Org shared AWS' : 'B Dropbox');
      }
    });

    it('answers a signed-in org member 403 FORBIDDEN for inviting or listing people', async () => {
      const member = await person('org_member');
      const email = newEmail('smuggled');
      expectError(await send(t, 'POST', `${API}/users`, { cookie: member.cookie, csrf: member.csrf, body: { email, role: 'org_admin' } }), 403, 'FORBIDDEN');
      expectError(await send(t, 'GET', `${API}/users`, { cookie: member.cookie }), 403, 'FORBIDDEN');
      const users = await t.request('GET', `${API}/users`, { token: t.adminToken });
      expect(users.body.items.map((u: { email: string }) => u.email)).not.toContain(email);
    });

    it('lets a signed-in org admin invite people with the CSRF token', async () => {
      const admin = await person('org_admin');
      const email = newEmail('by-session');
      const response = await send(t, 'POST', `${API}/users`, { cookie: admin.cookie, csrf: admin.csrf, body: { email, role: 'customer_user', customerId: customerB } });
      expect(response.status).toBe(201);
      expect(response.body.user).toMatchObject({ email, role: 'customer_user', customerId: customerB, status: 'invited' });
    });

    it('answers 404 when inviting a customer user for another organization\'s customer', async () => {
      const other = await t.otherOrganization('Globex');
      const foreign = await send(t, 'POST', `${API}/customers`, { token: other.adminToken, body: { name: 'Globex customer' } });
      expect(foreign.status).toBe(201);
      const response = await t.request('POST', `${API}/users`, { token: t.adminToken, body: { email: newEmail('foreign'), role: 'customer_user', customerId: foreign.body.id } });
      expectError(response, 404, 'NOT_FOUND');
    });
  });
});
