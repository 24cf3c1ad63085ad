import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/test-app.js';

// Who may read /metrics: loopback freely unless CREDENCE_METRICS_TOKEN is set; anyone else
// with an org_admin API token; with the setting, its token or an org_admin token, always.

const METRICS_TOKEN = 'metrics-scraper-token-0123456789';
const REMOTE = '203.0.113.7';

const scrape = (t: TestApp, options: { token?: string; remoteAddress?: string; headers?: Record<string, string> } = {}) =>
  t.app.inject({
    method: 'GET',
    url: '/metrics',
    remoteAddress: options.remoteAddress ?? '127.0.0.1',
    headers: { ...(options.token ? { authorization: `Bearer ${options.token}` } : {}), ...options.headers },
  });

const errorCode = (body: string): unknown => (JSON.parse(body) as { error?: { code?: string } }).error?.code;

describe('access to /metrics without CREDENCE_METRICS_TOKEN', () => {
  let t: TestApp;
  let memberToken = '';
  beforeAll(async () => {
    t = await startTestApp('sqlite');
    memberToken = await t.token('org_member');
  });
  afterAll(async () => t?.close());

  it('is open to a scraper on loopback', async () => {
    const response = await scrape(t);
    expect(response.statusCode).toBe(200);
    expect(response.body).toContain('credence_credential_resolves_total');
  });

  it('answers 401 to another address without a token, and to a loopback request that came through a proxy', async () => {
    const remote = await scrape(t, { remoteAddress: REMOTE });
    expect(remote.statusCode).toBe(401);
    expect(errorCode(remote.body)).toBe('UNAUTHENTICATED');
    const proxied = await scrape(t, { headers: { 'x-forwarded-for': REMOTE } });
    expect(proxied.statusCode).toBe(401);
  });

  it('lets an org_admin API token in from anywhere, and refuses other roles with 403', async () => {
    expect((await scrape(t, { remoteAddress: REMOTE, token: t.adminToken })).statusCode).toBe(200);
    const member = await scrape(t, { remoteAddress: REMOTE, token: memberToken });
    expect(member.statusCode).toBe(403);
    expect(errorCode(member.body)).toBe('FORBIDDEN');
    const unknown = await scrape(t, { remoteAddress: REMOTE, token: 'crd_not-a-token' });
    expect(unknown.statusCode).toBe(401);
  });
});

describe('access to /metrics with CREDENCE_METRICS_TOKEN', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp('sqlite', { env: { CREDENCE_METRICS_TOKEN: METRICS_TOKEN } });
  });
  afterAll(async () => t?.close());

  it('answers 401 even on loopback without a token, or with a wrong one', async () => {
    expect((await scrape(t)).statusCode).toBe(401);
    expect((await scrape(t, { token: `${METRICS_TOKEN}x` })).statusCode).toBe(401);
  });

  it('opens to the metrics token and to an org_admin API token, from any address', async () => {
    const withToken = await scrape(t, { remoteAddress: REMOTE, token: METRICS_TOKEN });
    expect(withToken.statusCode).toBe(200);
    expect(withToken.body).toContain('credence_http_request_duration_seconds');
    expect(withToken.body.includes(METRICS_TOKEN)).toBe(false);
    expect((await scrape(t, { token: t.adminToken })).statusCode).toBe(200);
  });
});
