import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/test-app.js';

// The browsable API docs are a page of their own, with scripts of their own: they get a
// Content-Security-Policy that allows only those scripts, and nothing from other origins.

describe('the API documentation page', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp('sqlite');
  });

  afterAll(async () => {
    await t?.close();
  });

  it('answers /docs with a Content-Security-Policy that allows no other origin and no framing', async () => {
    let response = await t.request('GET', '/docs');
    for (let hops = 0; hops < 3 && response.status >= 300 && response.status < 400; hops++) {
      const location = new URL(String(response.headers.location), 'http://localhost/docs');
      response = await t.request('GET', `${location.pathname}${location.search}`);
    }
    expect(response.status).toBe(200);
    const csp = String(response.headers['content-security-policy'] ?? '');
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("object-src 'none'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("script-src-attr 'none'");
    expect(csp).not.toContain('https:');
    expect(csp).not.toContain('*');
  });
});
