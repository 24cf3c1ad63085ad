import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sealFieldValues } from '../../src/credentials/field-sealing.js';
import { ENGINES } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { API, createCredential, createCustomer, createIntegration, deployed, runInstance, startHttpPeer, type HttpPeer } from '../integrations/fixtures.js';

// Credentials stored before destinations existed: sealed without them, sent nowhere, and
// resealed at start-up with destinations derived from the steps they are bound to.

describe.each(ENGINES)('moving credentials onto sealed destinations, on %s', (engine) => {
  let t: TestApp;
  let peer: HttpPeer;

  beforeAll(async () => {
    peer = await startHttpPeer({ username: 'legacy', password: 'legacy-password-1', apiKey: 'legacy-key-1' });
    t = await startTestApp(engine, { env: { CREDENCE_ALLOW_INSECURE_LOOPBACK: 'true' } });
  });

  afterAll(async () => {
    await t?.close();
    await peer?.close();
  });

  /** Turns a credential back into one sealed before destinations existed. */
  const makeLegacy = async (id: string, values: Record<string, string>) => {
    const db = t.runtime.store.db;
    const row = await db.selectFrom('credentials').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    const identity = { id, organizationId: row.organization_id, customerId: row.customer_id, authMethod: row.auth_method as 'basic', destinations: null };
    const sealed = await sealFieldValues(t.runtime.services.keyring, identity, values);
    await db.updateTable('credentials').set({ destinations: null, secret_ciphertext: sealed.secretCiphertext, config_ciphertext: sealed.configCiphertext }).where('id', '=', id).execute();
  };

  it('sends a legacy credential nowhere, then reseals it with the origins of the steps it is bound to', async () => {
    const customer = await createCustomer(t, 'Legacy Co');
    const values = { username: 'legacy', password: 'legacy-password-1' };
    const id = await createCredential(t, { label: 'Legacy login', authMethod: 'basic', customerId: customer, fields: values, destinations: [peer.baseUrl] });
    const integration = await createIntegration(t, 'Legacy sync', [{ name: 'call', component: 'http', action: 'request', inputs: { url: `${peer.baseUrl}/hello` } }]);
    const instance = await deployed(t, { integrationId: integration, customerId: customer, name: 'Legacy', bindings: { call: id } });
    await makeLegacy(id, values);

    const before = await runInstance(t, instance);
    expect(before.body.status).toBe('failed');
    expect(before.body.steps[0].error).toContain('no destinations');
    expect((await t.request('GET', `${API}/credentials/${id}`, { token: t.adminToken })).body.destinations).toEqual([]);

    const report = await t.runtime.services.migrateDestinations();
    expect(report).toEqual([`credential ${id} ("Legacy login"): destinations ${peer.baseUrl}`]);
    expect((await t.request('GET', `${API}/credentials/${id}`, { token: t.adminToken })).body.destinations).toEqual([peer.baseUrl]);
    expect((await runInstance(t, instance)).body.status).toBe('succeeded');
    // Run twice (another process, a restart): nothing left to move.
    expect(await t.runtime.services.migrateDestinations()).toEqual([]);
  });

  it('derives an OAuth provider preset credential its API origins', async () => {
    const values = { client_id: 'legacy-app', client_secret: 'legacy-app-secret-1' };
    const created = await t.request('POST', `${API}/credentials`, { token: t.adminToken, body: { label: 'Legacy Dropbox', authMethod: 'oauth2', provider: 'dropbox', fields: values } });
    expect(created.body.destinations).toEqual(['https://api.dropboxapi.com', 'https://content.dropboxapi.com']);
    const row = await t.runtime.store.db.selectFrom('credentials').selectAll().where('id', '=', created.body.id).executeTakeFirstOrThrow();
    const identity = { id: row.id, organizationId: row.organization_id, customerId: row.customer_id, authMethod: 'oauth2' as const, destinations: null };
    const all = { ...values, auth_uri: 'https://www.dropbox.com/oauth2/authorize', token_uri: 'https://api.dropboxapi.com/oauth2/token' };
    const sealed = await sealFieldValues(t.runtime.services.keyring, identity, all);
    await t.runtime.store.db.updateTable('credentials').set({ destinations: null, secret_ciphertext: sealed.secretCiphertext, config_ciphertext: sealed.configCiphertext }).where('id', '=', row.id).execute();
    const report = await t.runtime.services.migrateDestinations();
    expect(report).toEqual([`credential ${row.id} ("Legacy Dropbox"): destinations https://api.dropboxapi.com, https://content.dropboxapi.com`]);
    const shown = await t.request('GET', `${API}/credentials/${row.id}`, { token: t.adminToken });
    expect(shown.body.fields.token_uri.value).toBe('https://api.dropboxapi.com/oauth2/token');
  });
});
