import { randomBytes } from 'node:crypto';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import Fastify, { type FastifyInstance } from 'fastify';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { buildApp } from '../../src/http/app.js';
import { registerErrorHandling } from '../../src/http/errors.js';
import { loggerOptions } from '../../src/http/logging.js';
import { WEB_CSP, registerWebApp } from '../../src/http/web-app.js';
import { registerSecurityHeaders } from '../../src/http/security-headers.js';
import { openRuntime, type Runtime } from '../../src/runtime.js';
import { Redacted } from '../../src/common/redacted.js';
import { ENGINES, createTestDatabase, type EngineName } from '../support/databases.js';
import { randomMasterKey, startTestApp, type ApiResponse, type TestApp } from '../support/test-app.js';
import { addressSource, newEmail, newPassword, send, sessionCookieOf, signIn as signInFrom, type Caller } from './session-support.js';
import { API, expectError, expectNoSecrets } from './credential-fixtures.js';

// Hardening of sign-in (issue 7): lockout with back-off, rate limits, session and
// invitation lifetimes, security headers and Content-Security-Policies, and passwords
// that never show up anywhere.

const MINUTE = 60_000;
const OAUTH_PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const nextIp = addressSource('10.2');

const signIn = (caller: Caller, email: string, password: string, ip = nextIp()) => signInFrom(caller, email, password, ip);

/** Credence on a fresh database with a clock the test moves, set up through POST /setup by an admin whose password is known. */
const openClockedApp = async (engine: EngineName) => {
  const database = await createTestDatabase(engine);
  const config = loadConfig({
    CREDENCE_DATA_DIR: database.dataDir,
    CREDENCE_MASTER_KEY: randomMasterKey(),
    // The lockout tests make more attempts from one address than the per-minute limit allows.
    CREDENCE_SIGN_INS_PER_MINUTE: '100',
    ...(database.url ? { DATABASE_URL: database.url } : {}),
  });
  let now = Date.now();
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logs.push(chunk.toString());
      done();
    },
  });
  const runtime: Runtime = await openRuntime(config, { warn: (message) => logs.push(message) }, { clock: { now: () => new Date(now) } });
  const app = await buildApp({ services: runtime.services, isReady: runtime.isReady, loggerInstance: pino(loggerOptions('trace'), sink), publicUrl: config.publicUrl, signInsPerMinute: config.signInsPerMinute });
  await app.ready();
  const admin = { email: newEmail('founder'), password: newPassword() };
  const setUp = await send({ app }, 'POST', `${API}/setup`, { body: { organizationName: 'Clocked', ...admin } });
  expect(setUp.status).toBe(201);
  // The clock moves past session lifetimes, so the admin signs in afresh for each errand.
  const adminSession = async () => {
    const signedIn = await signIn({ app }, admin.email, admin.password);
    expect(signedIn.status).toBe(200);
    return { cookie: sessionCookieOf(signedIn), csrf: signedIn.body.csrfToken as string };
  };
  return {
    app,
    logs,
    adminSession,
    organizationId: setUp.body.user.organizationId as string,
    advance: (ms: number) => {
      now += ms;
    },
    now: () => now,
    /** Invites a person as the admin (by session) and accepts for them. */
    async person(): Promise<{ id: string; email: string; password: string }> {
      const email = newEmail('person');
      const password = newPassword();
      const invited = await send({ app }, 'POST', `${API}/users`, { ...(await adminSession()), body: { email, role: 'org_member' } });
      expect(invited.status).toBe(201);
      const token = String(invited.body.inviteUrl).split('/invite/')[1] ?? '';
      const accepted = await send({ app }, 'POST', `${API}/invitations/${token}/accept`, { body: { password } });
      expect(accepted.status).toBe(200);
      return { id: accepted.body.user.id as string, email, password };
    },
    async invite(email: string): Promise<string> {
      const invited = await send({ app }, 'POST', `${API}/users`, { ...(await adminSession()), body: { email, role: 'org_member' } });
      expect(invited.status).toBe(201);
      return String(invited.body.inviteUrl).split('/invite/')[1] ?? '';
    },
    /** Another organization, set up by the operator, and its admin API token. */
    async otherOrganization(name: string): Promise<{ id: string; token: string }> {
      const { organization, apiToken } = await runtime.services.organizations.setUp({ name, adminEmail: newEmail('other-admin'), adminPassword: new Redacted(newPassword()) });
      return { id: organization.id, token: apiToken.reveal() };
    },
    auditEvents: async (query: string) => (await send({ app }, 'GET', `${API}/audit-events?${query}`, { cookie: (await adminSession()).cookie })).body.items as Array<{ action: string; details: Record<string, unknown> }>,
    async close() {
      await app.close();
      await runtime.close();
      await database.drop();
    },
  };
};

describe.each(ENGINES)('account lockout and lifetimes on %s', (engine) => {
  let c: Awaited<ReturnType<typeof openClockedApp>>;
  beforeAll(async () => {
    c = await openClockedApp(engine);
  });
  afterAll(async () => c?.close());

  it('locks the account after five wrong passwords: even the right one then gets 429 ACCOUNT_LOCKED, not RATE_LIMITED', async () => {
    const someone = await c.person();
    // Six requests from one address: under the limit of ten, so a 429 here is the lockout.
    const ip = nextIp();
    for (let attempt = 1; attempt <= 5; attempt++) {
      expectError(await signIn(c, someone.email, newPassword(), ip), 401, 'INVALID_CREDENTIALS');
    }
    const locked = await signIn(c, someone.email, someone.password, ip);
    expectError(locked, 429, 'ACCOUNT_LOCKED');
    expect(locked.headers['set-cookie']).toBeUndefined();
    expectError(await signIn(c, someone.email, someone.password, ip), 429, 'ACCOUNT_LOCKED');

    const failures = await c.auditEvents(`action=user.sign_in_failed&targetId=${someone.id}`);
    // The clock stands still here, so events share a timestamp: compare them as a set.
    expect(failures.map((e) => e.details.failures).sort()).toEqual([1, 2, 3, 4, 5]);
    expect(failures.every((e) => e.action === 'user.sign_in_failed')).toBe(true);
    expect(await c.auditEvents(`action=user.signed_in&targetId=${someone.id}`)).toEqual([]);
  });

  it('answers a locked account ACCOUNT_LOCKED for wrong passwords too, without counting them', async () => {
    const someone = await c.person();
    const ip = nextIp();
    for (let attempt = 1; attempt <= 5; attempt++) await signIn(c, someone.email, newPassword(), ip);
    expectError(await signIn(c, someone.email, newPassword(), ip), 429, 'ACCOUNT_LOCKED');
    expect(await c.auditEvents(`action=user.sign_in_failed&targetId=${someone.id}`)).toHaveLength(5);
  });

  it('lifts the first lock after a minute, and a right password resets the count', async () => {
    const someone = await c.person();
    const ip = nextIp();
    for (let attempt = 1; attempt <= 5; attempt++) await signIn(c, someone.email, newPassword(), ip);
    c.advance(MINUTE - 1000);
    expectError(await signIn(c, someone.email, someone.password, ip), 429, 'ACCOUNT_LOCKED');
    c.advance(2000);
    expect((await signIn(c, someone.email, someone.password, ip)).status).toBe(200);
    // Counting starts again: four more wrong passwords do not lock.
    for (let attempt = 1; attempt <= 4; attempt++) expectError(await signIn(c, someone.email, newPassword(), ip), 401, 'INVALID_CREDENTIALS');
    expect((await signIn(c, someone.email, someone.password, ip)).status).toBe(200);
  });

  it('doubles the lock with each further wrong password, up to an hour', async () => {
    const someone = await c.person();
    const ip = nextIp();
    for (let attempt = 1; attempt <= 5; attempt++) await signIn(c, someone.email, newPassword(), ip);
    // Failures 6..11 lock for 2, 4, 8, 16, 32 and (capped) 60 minutes.
    for (const minutes of [1, 2, 4, 8, 16, 32]) {
      c.advance(minutes * MINUTE + 1000);
      expectError(await signIn(c, someone.email, newPassword(), ip), 401, 'INVALID_CREDENTIALS');
    }
    const lockedAt = c.now();
    c.advance(60 * MINUTE - 2000);
    expectError(await signIn(c, someone.email, someone.password, ip), 429, 'ACCOUNT_LOCKED');
    c.advance(3000);
    expect(c.now() - lockedAt).toBeGreaterThan(60 * MINUTE);
    expect((await signIn(c, someone.email, someone.password, ip)).status).toBe(200);
  });

  it('ends a session twelve hours after sign-in', async () => {
    const someone = await c.person();
    const cookie = sessionCookieOf(await signIn(c, someone.email, someone.password));
    c.advance(12 * 60 * MINUTE - 1000);
    expect((await send(c, 'GET', `${API}/session`, { cookie })).status).toBe(200);
    c.advance(2000);
    expectError(await send(c, 'GET', `${API}/session`, { cookie }), 401, 'UNAUTHENTICATED');
    expectError(await send(c, 'GET', `${API}/credentials`, { cookie }), 401, 'UNAUTHENTICATED');
  });

  it('refuses an invitation after seven days with 404', async () => {
    const email = newEmail('late');
    const token = await c.invite(email);
    c.advance(7 * 24 * 60 * MINUTE + 1000);
    expectError(await send(c, 'POST', `${API}/invitations/${token}/accept`, { body: { password: newPassword() } }), 404, 'NOT_FOUND');
  });

  it('counts wrong passwords sent in parallel toward the lockout', async () => {
    const someone = await c.person();
    const ip = nextIp();
    const attempts = await Promise.all(Array.from({ length: 8 }, () => signIn(c, someone.email, newPassword(), ip)));
    for (const attempt of attempts) expect([401, 429]).toContain(attempt.status);
    const next = await signIn(c, someone.email, someone.password, ip);
    expect({ status: next.status, code: next.body?.error?.code }).toEqual({ status: 429, code: 'ACCOUNT_LOCKED' });
  });

  it('locks only the address the wrong passwords came from: the owner still signs in from another', async () => {
    const someone = await c.person();
    const attacker = nextIp();
    for (let attempt = 1; attempt <= 12; attempt++) await signIn(c, someone.email, newPassword(), attacker);
    expectError(await signIn(c, someone.email, someone.password, attacker), 429, 'ACCOUNT_LOCKED');
    const signedIn = await signIn(c, someone.email, someone.password, nextIp());
    expect(signedIn.status).toBe(200);
    // The owner's success does not lift the attacker's lock.
    expectError(await signIn(c, someone.email, someone.password, attacker), 429, 'ACCOUNT_LOCKED');
  });

  it('answers an unknown email exactly as a known one, wrong password by wrong password, lock included', async () => {
    const someone = await c.person();
    const answers = async (email: string) => {
      const ip = nextIp();
      const seen: string[] = [];
      for (let attempt = 1; attempt <= 7; attempt++) {
        const answer = await signIn(c, email, newPassword(), ip);
        seen.push(`${answer.status} ${answer.body?.error?.code} ${String(answer.body?.error?.message).replace(/after \S+$/, 'after <time>')}`);
      }
      return seen;
    };
    const known = await answers(someone.email);
    const unknown = await answers(newEmail('nobody'));
    expect(unknown).toEqual(known);
    expect(known.slice(-2).every((line) => line.startsWith('429 ACCOUNT_LOCKED'))).toBe(true);
  });

  it('invites an email that has an account in another organization exactly like a new one, and its owner chooses where to sign in', async () => {
    const elsewhere = await c.otherOrganization('Elsewhere Ltd');
    const shared = newEmail('shared');
    const password = newPassword();
    const theirs = await send(c, 'POST', `${API}/users`, { token: elsewhere.token, body: { email: shared, role: 'org_member' } });
    expect(theirs.status).toBe(201);
    const joined = await send(c, 'POST', `${API}/invitations/${String(theirs.body.inviteUrl).split('/invite/')[1]}/accept`, { body: { password } });
    expect(joined.status).toBe(200);

    // Our admin invites the same address and a never-seen one: the answers differ only in ids, times and tokens.
    const shape = (answer: ApiResponse) => ({ status: answer.status, keys: Object.keys(answer.body).sort(), user: { ...answer.body.user, id: undefined, email: undefined, createdAt: undefined } });
    const ours = await send(c, 'POST', `${API}/users`, { ...(await c.adminSession()), body: { email: shared, role: 'org_member' } });
    const fresh = await send(c, 'POST', `${API}/users`, { ...(await c.adminSession()), body: { email: newEmail('fresh'), role: 'org_member' } });
    expect(shape(ours)).toEqual(shape(fresh));
    expect(ours.status).toBe(201);
    // A second invitation of one address within our own organization is ours to know about.
    expectError(await send(c, 'POST', `${API}/users`, { ...(await c.adminSession()), body: { email: shared, role: 'org_member' } }), 409, 'CONFLICT');

    // With one password for both accounts, sign-in asks which organization, and only then.
    expect((await send(c, 'POST', `${API}/invitations/${String(ours.body.inviteUrl).split('/invite/')[1]}/accept`, { body: { password } })).status).toBe(200);
    expectError(await signIn(c, shared, newPassword()), 401, 'INVALID_CREDENTIALS');
    const ask = await signIn(c, shared, password);
    expectError(ask, 409, 'ORGANIZATION_REQUIRED');
    expect(ask.body.error.message).toContain('Elsewhere Ltd');
    expect(ask.body.error.message).toContain('Clocked');
    const intoTheirs = await send(c, 'POST', `${API}/sessions`, { body: { email: shared, password, organization: 'Elsewhere Ltd' }, ip: nextIp() });
    expect(intoTheirs.body.user.organizationId).toBe(elsewhere.id);
    const intoOurs = await send(c, 'POST', `${API}/sessions`, { body: { email: shared, password, organization: c.organizationId }, ip: nextIp() });
    expect(intoOurs.body.user.organizationId).toBe(c.organizationId);
  });

  it('refuses a common password, or a common one dressed up, when a password is chosen', async () => {
    const token = await c.invite(newEmail('weak'));
    for (const weak of ['password1234', 'Summer2024!!', 'iloveyouiloveyou', 'qwertyuiop123', 'aaaaaaaaaaaa', '121212121212']) {
      const answer = await send(c, 'POST', `${API}/invitations/${token}/accept`, { body: { password: weak } });
      expectError(answer, 400, 'VALIDATION_FAILED');
      expect(answer.text).not.toContain(weak);
    }
    expect((await send(c, 'POST', `${API}/invitations/${token}/accept`, { body: { password: 'copper kettle under a violet moon' } })).status).toBe(200);
  });
});

describe('rate limits, security headers and secrets', () => {
  let t: TestApp;
  let webRoot: string;
  let web: FastifyInstance;

  /** Invites a person with the admin token and accepts for them. */
  const person = async (): Promise<{ id: string; email: string; password: string; cookie: string; csrf: string }> => {
    const email = newEmail('person');
    const password = newPassword();
    const invited = await t.request('POST', `${API}/users`, { token: t.adminToken, body: { email, role: 'org_member' } });
    expect(invited.status).toBe(201);
    const token = String(invited.body.inviteUrl).split('/invite/')[1] ?? '';
    const accepted = await send(t, 'POST', `${API}/invitations/${token}/accept`, { body: { password } });
    expect(accepted.status).toBe(200);
    return { id: accepted.body.user.id as string, email, password, cookie: sessionCookieOf(accepted), csrf: accepted.body.csrfToken as string };
  };

  beforeAll(async () => {
    t = await startTestApp('sqlite');
    // The web app as buildApp serves it, from a folder of our own rather than a build.
    webRoot = await mkdtemp(join(tmpdir(), 'credence-web-'));
    await mkdir(join(webRoot, 'assets'));
    await writeFile(join(webRoot, 'index.html'), '<!doctype html><title>Credence</title><script type="module" src="/assets/app.js"></script>');
    await writeFile(join(webRoot, 'assets', 'app.js'), 'export {};');
    web = Fastify({ logger: false });
    registerSecurityHeaders(web);
    registerErrorHandling(web, await registerWebApp(web, webRoot));
    await web.ready();
  });
  afterAll(async () => {
    await web?.close();
    await t?.close();
    if (webRoot) await rm(webRoot, { recursive: true, force: true });
  });

  it('answers the eleventh sign-in within a minute from one address with 429 RATE_LIMITED, whatever the password', async () => {
    const someone = await person();
    const ip = nextIp();
    // Unknown emails: they never lock an account, so every 429 below is the rate limit.
    for (let attempt = 1; attempt <= 10; attempt++) {
      const response = await signIn(t, newEmail('guess'), newPassword(), ip);
      expectError(response, 401, 'INVALID_CREDENTIALS');
      expect(response.headers['x-ratelimit-limit']).toBe('10');
      expect(response.headers['x-ratelimit-remaining']).toBe(String(10 - attempt));
    }
    const limited = await signIn(t, someone.email, someone.password, ip);
    expect(limited.status).toBe(429);
    expect(limited.body).toEqual({ error: { code: 'RATE_LIMITED', message: expect.any(String) } });
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(limited.headers['retry-after'])).toBeLessThanOrEqual(60);
    expect(limited.headers['set-cookie']).toBeUndefined();
    expect(limited.headers['x-content-type-options']).toBe('nosniff');

    // Per address, and per route: another address signs in, the same address still reads.
    expect((await signIn(t, someone.email, someone.password, nextIp())).status).toBe(200);
    expect((await send(t, 'GET', `${API}/setup`, { ip })).status).toBe(200);
    // The limited address did not count against the account.
    expect((await signIn(t, someone.email, someone.password, nextIp())).status).toBe(200);
  });

  it('limits authorization links and the OAuth callback to 120 requests a minute from one address', async () => {
    for (const url of [`/oauth2/authorize/${randomBytes(32).toString('base64url')}`, '/oauth2/callback?state=unknown&code=nothing']) {
      const ip = nextIp();
      for (let attempt = 1; attempt <= 120; attempt++) {
        const response = await send(t, 'GET', url, { ip });
        expect(response.status === 429, `request ${attempt} to ${url.split('?')[0] ?? ''} is limited`).toBe(false);
      }
      const limited = await send(t, 'GET', url, { ip });
      expect(limited.status).toBe(429);
      expect(limited.body).toEqual({ error: { code: 'RATE_LIMITED', message: expect.any(String) } });
      expect((await send(t, 'GET', url, { ip: nextIp() })).status).not.toBe(429);
    }
  });

  it('sends helmet\'s security headers on API answers, errors and unknown routes, and no X-Powered-By', async () => {
    const answers = [
      await send(t, 'GET', `${API}/setup`),
      await send(t, 'GET', `${API}/credentials`),
      await send(t, 'GET', `${API}/no-such-route`),
      await signIn(t, newEmail('nobody'), newPassword()),
    ];
    expect(answers.map((r) => r.status)).toEqual([200, 401, 404, 401]);
    for (const response of answers) {
      expect(response.headers).toMatchObject({
        'x-content-type-options': 'nosniff',
        'x-frame-options': 'SAMEORIGIN',
        'strict-transport-security': 'max-age=31536000; includeSubDomains',
        'referrer-policy': 'no-referrer',
        'cross-origin-opener-policy': 'same-origin',
        'cross-origin-resource-policy': 'same-origin',
        'x-permitted-cross-domain-policies': 'none',
        'x-dns-prefetch-control': 'off',
      });
      expect(response.headers['x-powered-by']).toBeUndefined();
    }
  });

  it('marks every answer carrying a session or CSRF token as not to be cached', async () => {
    const someone = await person();
    const signedIn = await signIn(t, someone.email, someone.password);
    const session = await send(t, 'GET', `${API}/session`, { cookie: someone.cookie });
    expect(signedIn.headers['cache-control']).toBe('no-store');
    expect(session.headers['cache-control']).toBe('no-store');
  });

  it('gives the OAuth pages their own strict Content-Security-Policy and forbids framing them', async () => {
    const pages = [
      await send(t, 'GET', '/oauth2/complete'),
      await send(t, 'GET', `/oauth2/authorize/${randomBytes(32).toString('base64url')}`, { ip: nextIp() }),
      await send(t, 'GET', '/oauth2/callback?state=unknown&code=nothing', { ip: nextIp() }),
    ];
    expect(pages.map((r) => r.status)).toEqual([200, 404, 400]);
    for (const page of pages) {
      expect(page.headers).toMatchObject({
        'content-security-policy': OAUTH_PAGE_CSP,
        'x-frame-options': 'DENY',
        'referrer-policy': 'no-referrer',
        'cache-control': 'no-store',
        'x-content-type-options': 'nosniff',
      });
      expect(String(page.headers['content-type'])).toMatch(/^text\/html/);
    }
  });

  it('serves the web app, its own routes and its assets with a strict Content-Security-Policy', async () => {
    expect(WEB_CSP).toMatch(/(^|; )script-src 'self'(;|$)/);
    expect(WEB_CSP).toMatch(/(^|; )frame-ancestors 'none'(;|$)/);
    expect(WEB_CSP).toMatch(/(^|; )object-src 'none'(;|$)/);
    expect(WEB_CSP).not.toMatch(/unsafe-inline|unsafe-eval|\*/);

    const html = { accept: 'text/html,application/xhtml+xml' };
    const pages = [
      await send({ app: web }, 'GET', '/', { headers: html }),
      await send({ app: web }, 'GET', '/credentials/cred_123', { headers: html }),
      await send({ app: web }, 'GET', '/assets/app.js'),
    ];
    expect(pages.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(pages[1]?.text).toContain('<title>Credence</title>');
    for (const page of pages) {
      expect(page.headers['content-security-policy']).toBe(WEB_CSP);
      expect(page.headers['x-content-type-options']).toBe('nosniff');
    }
    const api = await send({ app: web }, 'GET', `${API}/unknown`, { headers: html });
    expectError(api, 404, 'NOT_FOUND');
  });

  it('never lets a password reach a response, a log line, the audit log or the users table', async () => {
    const accepted = newPassword();
    const email = newEmail('canary');
    const invited = await t.request('POST', `${API}/users`, { token: t.adminToken, body: { email, role: 'org_member' } });
    const inviteToken = String(invited.body.inviteUrl).split('/invite/')[1] ?? '';
    const shortOne = `s${randomBytes(4).toString('hex')}`;
    expectError(await send(t, 'POST', `${API}/invitations/${inviteToken}/accept`, { body: { password: shortOne } }), 400, 'VALIDATION_FAILED');
    const joined = await send(t, 'POST', `${API}/invitations/${inviteToken}/accept`, { body: { password: accepted } });
    expect(joined.status).toBe(200);
    const sessionToken = sessionCookieOf(joined).split('=')[1] ?? '';
    const reused = newPassword();
    expectError(await send(t, 'POST', `${API}/invitations/${inviteToken}/accept`, { body: { password: reused } }), 404, 'NOT_FOUND');

    const wrong = newPassword();
    const unknown = newPassword();
    const extra = newPassword();
    const setup = newPassword();
    expect((await signIn(t, email, accepted)).status).toBe(200);
    expectError(await signIn(t, email, wrong), 401, 'INVALID_CREDENTIALS');
    expectError(await signIn(t, newEmail('nobody'), unknown), 401, 'INVALID_CREDENTIALS');
    expectError(await send(t, 'POST', `${API}/sessions`, { body: { email, password: extra, remember: true }, ip: nextIp() }), 400, 'VALIDATION_FAILED');
    expectError(await send(t, 'POST', `${API}/setup`, { body: { organizationName: 'Again', email: newEmail('again'), password: setup } }), 409, 'CONFLICT');
    expect((await send(t, 'DELETE', `${API}/session`, { cookie: sessionCookieOf(joined), csrf: joined.body.csrfToken })).status).toBe(204);

    const passwords = [accepted, shortOne, reused, wrong, unknown, extra, setup];
    const audit = await t.request('GET', `${API}/audit-events?limit=200`, { token: t.adminToken });
    expect(audit.status).toBe(200);
    expect(audit.body.items.map((e: { action: string }) => e.action)).toEqual(expect.arrayContaining(['user.invited', 'user.joined', 'user.signed_in', 'user.sign_in_failed']));

    expectNoSecrets(t.responses.map((r) => r.text).join('\n'), passwords);
    expectNoSecrets(t.logs.join('\n'), [...passwords, sessionToken, String(joined.body.csrfToken)]);
    expectNoSecrets(audit.text, [...passwords, sessionToken]);

    const row = await t.runtime.store.db.selectFrom('users').select(['password_hash']).where('email', '=', email).executeTakeFirstOrThrow();
    expect(row.password_hash).toMatch(/^scrypt\$32768\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    expectNoSecrets(row.password_hash, passwords);
  });
});
