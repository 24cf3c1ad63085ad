import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TOKEN_BEARING_PATHS, redactUrl } from '../../src/http/logging.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { discoverRoutes, paramsOf } from '../security/route-table.js';
import { API } from './credential-fixtures.js';

describe('request logging of token-bearing paths', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp('sqlite');
  });
  afterAll(async () => t?.close());

  it('lists every route whose path carries a token-like parameter among the redacted paths', () => {
    const tokenRoutes = discoverRoutes(t.app).filter((route) => paramsOf(route.path).some((name) => /token/i.test(name)));
    expect(tokenRoutes.length).toBeGreaterThan(0);
    for (const route of tokenRoutes) expect(TOKEN_BEARING_PATHS, route.path).toContain(route.path);
  });

  it('blanks the token of every listed path, also with doubled slashes', () => {
    const token = randomBytes(32).toString('base64url');
    for (const pattern of TOKEN_BEARING_PATHS) {
      const url = pattern.replace(/:\w+/g, token);
      expect(redactUrl(`${url}?x=1`)).not.toContain(token);
      expect(redactUrl(`/${url}`)).not.toContain(token);
    }
  });

  it('writes no invitation token to the access log line of accepting it or opening its page', async () => {
    const token = randomBytes(32).toString('base64url');
    await t.request('POST', `${API}/invitations/${token}/accept`, { body: { password: 'x'.repeat(20) } });
    await t.request('GET', `/invite/${token}`, { headers: { accept: 'text/html' } });
    const logs = t.logs.join('\n');
    expect(logs).toContain('/api/v1/invitations/[redacted]');
    expect(logs).toContain('/invite/[redacted]');
    expect(logs).not.toContain(token);
  });

  it('writes one access line per request, when it is answered, with its status and time', async () => {
    const id = `req-${randomBytes(6).toString('hex')}`;
    const answer = await t.request('GET', `${API}/credentials`, { headers: { 'x-request-id': id } });
    expect(answer.status).toBe(401);
    const lines = t.logs.filter((line) => line.includes(id)).map((line) => JSON.parse(line) as Record<string, any>);
    expect(lines.map((line) => line.msg)).toEqual(['request refused', 'request completed']);
    const access = lines[1] ?? {};
    expect(access.req).toEqual({ method: 'GET', url: `${API}/credentials`, remoteAddress: '127.0.0.1' });
    expect(access.res).toEqual({ statusCode: 401 });
    expect(typeof access.responseTime).toBe('number');
  });
});
