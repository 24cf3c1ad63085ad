import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

// A label is what a person reads and types back to confirm a deletion: it must be stored and
// answered exactly as given, the same on every engine, and never disguise itself.

const API = '/api/v1';

describe.each(ENGINES)('labels and names on %s', (engine) => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp(engine);
  });

  afterAll(async () => {
    await t?.close();
  });

  const create = (label: string) =>
    t.request('POST', `${API}/credentials`, { token: t.adminToken, body: { label, authMethod: 'api_key', fields: { api_key: 'label-probe-key' } } });

  it.each([
    ['a lone high surrogate', 'Globex \ud800 SFTP'],
    ['a lone low surrogate', 'Globex \udc00'],
    ['a right-to-left override', 'Invoice \u202egpj.exe'],
    ['a bidi isolate', 'Acme \u2067x\u2069'],
    ['a zero-width space', 'Glo\u200bbex'],
    ['a zero-width joiner', 'Glo\u200dbex'],
    ['a byte order mark inside', 'Glo\ufeffbex'],
    ['a C1 control', 'Globex\u0085'],
  ])('refuses a label with %s as 400 VALIDATION_FAILED, storing nothing', async (_what, label) => {
    const before = await t.request('GET', `${API}/credentials?limit=100`, { token: t.adminToken });
    const response = await create(label);
    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe('VALIDATION_FAILED');
    const after = await t.request('GET', `${API}/credentials?limit=100`, { token: t.adminToken });
    expect(after.body.items.length).toBe(before.body.items.length);
  });

  it('stores and answers a label in NFC, so a confirmation typed in either form deletes it', async () => {
    const decomposed = 'Cafe\u0301 Sync';
    const response = await create(decomposed);
    expect(response.status).toBe(201);
    expect(response.body.label).toBe('Caf\u00e9 Sync');
    const shown = await t.request('GET', `${API}/credentials/${response.body.id}`, { token: t.adminToken });
    expect(shown.body.label).toBe('Caf\u00e9 Sync');
    const deleted = await t.request('DELETE', `${API}/credentials/${response.body.id}`, { token: t.adminToken, body: { confirm: 'Caf\u00e9 Sync' } });
    expect(deleted.status).toBe(204);
  });

  it('keeps emoji and other scripts as they are', async () => {
    const response = await create('Lieferant 🚚 東京 Ünïcödé');
    expect(response.status).toBe(201);
    expect(response.body.label).toBe('Lieferant 🚚 東京 Ünïcödé');
  });

  it('refuses a customer name with a bidi override the same way', async () => {
    const response = await t.request('POST', `${API}/customers`, { token: t.adminToken, body: { name: 'Globex \u202eCorp' } });
    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe('VALIDATION_FAILED');
  });
});
