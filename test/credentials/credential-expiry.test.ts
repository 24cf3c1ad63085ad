import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openRuntime, type Runtime } from '../../src/runtime.js';
import { ENGINES } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { API, createCredential, uniqueValue } from '../integrations/fixtures.js';

// Expiry dates a person knows in advance warn before they pass: credential.expiring at 30, 7
// and 1 days, credential.expired at the date, each once, on a clock the test moves.

const DAY = 24 * 60 * 60 * 1000;

describe.each(ENGINES)('credential expiry on %s', (engine) => {
  let t: TestApp;
  let at = Date.now();
  let watcher: Runtime;
  let peer: Runtime;
  const start = Date.now();
  const clock = { now: () => new Date(at) };

  beforeAll(async () => {
    t = await startTestApp(engine, { env: { CREDENCE_ALLOW_INSECURE_LOOPBACK: 'true' } });
    watcher = await openRuntime(t.config, { warn: () => undefined }, { clock });
    peer = await openRuntime(t.config, { warn: () => undefined }, { clock });
    const endpoint = await t.request('POST', `${API}/webhook-endpoints`, {
      token: t.adminToken,
      body: { url: 'https://hooks.example.test/in', events: ['credential.expiring', 'credential.expired', 'authorization_link.expired'] },
    });
    expect(endpoint.status).toBe(201);
  });
  afterAll(async () => {
    await peer?.close();
    await watcher?.close();
    await t?.close();
  });

  /** The expiry events in the outbox for a credential, oldest first. */
  const events = async (credentialId: string) => {
    const rows = await t.runtime.store.db.selectFrom('webhook_deliveries').select(['payload', 'id']).orderBy('id').execute();
    return rows.map((row) => JSON.parse(row.payload)).filter((p) => p.data.credentialId === credentialId).map((p) => `${p.type}:${p.data.daysLeft ?? p.data.linkId}`);
  };
  const tickAt = async (offsetMs: number) => {
    at = start + offsetMs;
    return watcher.services.expiryWatch.tick();
  };

  it('warns 30, 7 and 1 days ahead and at the date, each once, and the credential turns failing when it expires', async () => {
    const expiresAt = new Date(start + 40 * DAY).toISOString();
    const created = await t.request('POST', `${API}/credentials`, {
      token: t.adminToken,
      body: { label: 'Yearly key', authMethod: 'api_key', destinations: ['https://api.example.test'], fields: { api_key: uniqueValue('key') }, expiresAt, contactEmail: 'Ops@Example.test' },
    });
    expect(created.status, created.text).toBe(201);
    expect(created.body).toMatchObject({ expiresAt, contactEmail: 'ops@example.test', clientSecretExpiresAt: null });
    const id = created.body.id as string;

    expect(await tickAt(5 * DAY)).toHaveLength(0);
    expect((await tickAt(10.5 * DAY)).map((n) => n.daysBefore)).toEqual([30]);
    expect(await tickAt(10.6 * DAY)).toHaveLength(0);
    expect((await tickAt(33.5 * DAY)).map((n) => n.daysBefore)).toEqual([7]);
    expect((await tickAt(39.5 * DAY)).map((n) => n.daysBefore)).toEqual([1]);
    expect(await tickAt(39.9 * DAY)).toHaveLength(0);
    expect((await tickAt(40.1 * DAY)).map((n) => n.daysBefore)).toEqual([0]);
    expect(await tickAt(45 * DAY)).toHaveLength(0);

    expect(await events(id)).toEqual(['credential.expiring:30', 'credential.expiring:7', 'credential.expiring:1', 'credential.expired:0']);
    const view = (await t.request('GET', `${API}/credentials/${id}`, { token: t.adminToken })).body;
    expect(view.health).toBe('failing');
    expect(view.healthMessage).toBe(`The credential expired on ${expiresAt.slice(0, 10)}`);
  });

  it('sends only the nearest warning when several are due at once, and starts over when the date moves', async () => {
    at = start;
    const id = await createCredential(t, { label: 'Short-lived key', authMethod: 'api_key', destinations: ['https://api.example.test'], fields: { api_key: uniqueValue('key') } });
    await t.request('PATCH', `${API}/credentials/${id}`, { token: t.adminToken, body: { expiresAt: new Date(start + 5 * DAY).toISOString() } });
    expect((await tickAt(0)).filter((n) => n.credential.id === id).map((n) => n.daysBefore)).toEqual([7]);
    // Renewed for another 60 days: the warnings for the new date go out in their turn.
    const renewed = new Date(start + 65 * DAY).toISOString();
    await t.request('PATCH', `${API}/credentials/${id}`, { token: t.adminToken, body: { expiresAt: renewed } });
    expect((await tickAt(1 * DAY)).filter((n) => n.credential.id === id)).toHaveLength(0);
    expect((await tickAt(36 * DAY)).filter((n) => n.credential.id === id).map((n) => n.daysBefore)).toEqual([30]);
    expect(await events(id)).toEqual(['credential.expiring:5', 'credential.expiring:29']);
  });

  it("warns about an OAuth app's client secret, once, with two watches looking at the same moment", async () => {
    at = start;
    const oauth = await t.request('POST', `${API}/credentials`, {
      token: t.adminToken,
      body: {
        label: 'Azure app',
        authMethod: 'oauth2',
        fields: { client_id: 'app', client_secret: uniqueValue('secret'), auth_uri: 'https://login.example.test/authorize', token_uri: 'https://login.example.test/token' },
        clientSecretExpiresAt: new Date(start + 20 * DAY).toISOString(),
      },
    });
    expect(oauth.status, oauth.text).toBe(201);
    const id = oauth.body.id as string;
    at = start + 14 * DAY;
    const [mine, theirs] = await Promise.all([watcher.services.expiryWatch.tick(), peer.services.expiryWatch.tick()]);
    expect([...mine, ...theirs].filter((n) => n.credential.id === id).map((n) => `${n.kind}:${n.daysBefore}`)).toEqual(['client_secret:7']);
    expect(await events(id)).toEqual(['credential.expiring:6']);
  });

  it('refuses a client secret expiry on a credential that is not oauth2, a date that is not one, and an address that is not one', async () => {
    const body = (extra: Record<string, unknown>) => ({ label: uniqueValue('Bad'), authMethod: 'api_key', destinations: ['https://api.example.test'], fields: { api_key: uniqueValue('key') }, ...extra });
    for (const extra of [{ clientSecretExpiresAt: new Date().toISOString() }, { expiresAt: 'next tuesday' }, { contactEmail: 'not an address' }]) {
      const answer = await t.request('POST', `${API}/credentials`, { token: t.adminToken, body: body(extra) });
      expect(answer.status, JSON.stringify(extra)).toBe(400);
      expect(answer.body.error.code).toBe('VALIDATION_FAILED');
    }
  });
  it('tells once when an authorization link expires unused, and not for one that was replaced', async () => {
    at = start;
    const oauth = await t.request('POST', `${API}/credentials`, {
      token: t.adminToken,
      body: { label: 'Waiting for the customer', authMethod: 'oauth2', fields: { client_id: 'app', client_secret: uniqueValue('secret'), auth_uri: 'https://login.example.test/authorize', token_uri: 'https://login.example.test/token' } },
    });
    const id = oauth.body.id as string;
    const replaced = await watcher.services.authorization.createLink({ type: 'cli', id: 'test', organizationId: t.organizationId, role: 'org_admin', customerId: null }, id, { expiresInSeconds: 3600 });
    const latest = await watcher.services.authorization.createLink({ type: 'cli', id: 'test', organizationId: t.organizationId, role: 'org_admin', customerId: null }, id, { expiresInSeconds: 3600 });
    expect(latest.linkId).not.toBe(replaced.linkId);
    await tickAt(0.5 * DAY);
    await tickAt(0.6 * DAY);
    expect(await events(id)).toEqual([`authorization_link.expired:${latest.linkId}`]);
  });
  it('lists the earliest expiry first, across pages, credentials without a date last', async () => {
    const customerId = (await t.request('POST', `${API}/customers`, { token: t.adminToken, body: { name: uniqueValue('Sorted') } })).body.id as string;
    const make = async (label: string, extra: Record<string, unknown>, authMethod = 'api_key') =>
      (
        await t.request('POST', `${API}/credentials`, {
          token: t.adminToken,
          body: {
            label,
            authMethod,
            customerId,
            ...(authMethod === 'api_key'
              ? { destinations: ['https://api.example.test'], fields: { api_key: uniqueValue('key') } }
              : { fields: { client_id: 'app', client_secret: uniqueValue('secret'), auth_uri: 'https://login.example.test/authorize', token_uri: 'https://login.example.test/token' } }),
            ...extra,
          },
        })
      ).body.id as string;
    const none = await make('No date', {});
    const third = await make('In ten days', { expiresAt: new Date(start + 10 * DAY).toISOString() });
    const first = await make('Tomorrow', { expiresAt: new Date(start + 1 * DAY).toISOString() });
    const second = await make('App secret in five days', { clientSecretExpiresAt: new Date(start + 5 * DAY).toISOString(), expiresAt: new Date(start + 50 * DAY).toISOString() }, 'oauth2');
    const seen: string[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 5; page += 1) {
      const answer = await t.request('GET', `${API}/credentials?customerId=${customerId}&sort=expiresAt&limit=2${cursor ? `&cursor=${cursor}` : ''}`, { token: t.adminToken });
      expect(answer.status, answer.text).toBe(200);
      seen.push(...answer.body.items.map((c: { id: string }) => c.id));
      cursor = answer.body.nextCursor;
      if (!cursor) break;
    }
    expect(seen).toEqual([first, second, third, none]);
    const bad = await t.request('GET', `${API}/credentials?sort=expiresAt&cursor=${Buffer.from('c1:nothing').toString('base64url')}`, { token: t.adminToken });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('INVALID_CURSOR');
  });
});
