import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { ENGINES } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { API, createCredential, createCustomer, createIntegration, deployed, runInstance, startHttpPeer, uniqueValue, type HttpPeer } from '../integrations/fixtures.js';

// What steps said and what credential tests answered are a customer's data: sealed with the
// customer's key (finding 6 of issue 11), so a database reader sees none of it and a
// database writer cannot move it between runs; rows kept in clear by an earlier version are
// sealed at start-up.

const USERNAME = 'northwind-sync';
const PASSWORD = uniqueValue('peer-password');

describe.each(ENGINES)('sealed customer data on %s', (engine) => {
  let t: TestApp;
  let peer: HttpPeer;
  let customer: string;
  let instance: string;
  let credential: string;
  const canary = uniqueValue('customer-file');

  const rawRun = (id: string) => t.runtime.store.db.selectFrom('runs').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  const getRun = (id: string) => t.request('GET', `${API}/instances/${instance}/runs/${id}`, { token: t.adminToken });

  beforeAll(async () => {
    peer = await startHttpPeer({ username: USERNAME, password: PASSWORD, apiKey: uniqueValue('peer-api-key') });
    t = await startTestApp(engine, { env: { CREDENCE_ALLOW_INSECURE_LOOPBACK: 'true' } });
    customer = await createCustomer(t, 'Northwind Traders');
    credential = await createCredential(t, { destinations: [peer.baseUrl], authMethod: 'basic', customerId: customer, fields: { username: USERNAME, password: PASSWORD } });
    const integration = await createIntegration(t, 'Read a file', [
      { name: 'read', component: 'http', action: 'request', inputs: { url: `${peer.baseUrl}/files/${canary}` } },
      { name: 'hello', component: 'http', action: 'request', inputs: { url: `${peer.baseUrl}/hello` } },
    ]);
    instance = await deployed(t, { integrationId: integration, customerId: customer, name: 'Files', bindings: { read: credential, hello: credential } });
  });

  afterAll(async () => {
    await Promise.all([t?.close(), peer?.close()]);
  });

  it('keeps a run’s outputs, logs and errors only sealed in the database, and shows them through the API', async () => {
    const run = await runInstance(t, instance);
    expect(run.status, run.text).toBe(201);
    expect(JSON.stringify(run.body.steps[0].output)).toContain(canary);

    const row = await rawRun(run.body.id);
    expect(row.errors_ciphertext).toMatch(/^cv1\.\d+\./);
    expect(row.outputs_ciphertext).toMatch(/^cv1\.\d+\./);
    expect(JSON.stringify(row)).not.toContain(canary);
    expect(JSON.parse(row.steps)[0]).toMatchObject({ name: 'read', status: 'succeeded', output: null, logs: [], error: null });

    const read = await getRun(run.body.id);
    expect(read.body.steps.map((s: { output: unknown }) => s.output)).toEqual(run.body.steps.map((s: { output: unknown }) => s.output));
    const listed = await t.request('GET', `${API}/instances/${instance}/runs`, { token: t.adminToken });
    expect(listed.body.items[0]).toMatchObject({ id: run.body.id, status: 'succeeded' });
  });

  it('answers DECRYPTION_FAILED, never another run’s output, when a database writer moves sealed outputs between runs', async () => {
    const first = (await runInstance(t, instance)).body.id as string;
    const second = (await runInstance(t, instance)).body.id as string;
    const source = await rawRun(first);
    await t.runtime.store.db.updateTable('runs').set({ outputs_ciphertext: source.outputs_ciphertext, errors_ciphertext: source.errors_ciphertext }).where('id', '=', second).execute();
    const moved = await getRun(second);
    expect(moved.status).toBe(500);
    expect(moved.body.error.code).toBe('DECRYPTION_FAILED');
    expect(moved.text).not.toContain(canary);
    expect((await getRun(first)).status).toBe(200);
  });

  it('keeps a credential test’s answer only sealed in the database, and shows it on the credential', async () => {
    const tested = await t.request('POST', `${API}/credentials/${credential}/test`, { token: t.adminToken, body: { component: 'http', inputs: { url: `${peer.baseUrl}/hello` } } });
    expect(tested.status, tested.text).toBe(200);
    const row = await t.runtime.store.db.selectFrom('credentials').select(['last_test', 'last_test_ciphertext']).where('id', '=', credential).executeTakeFirstOrThrow();
    expect(row.last_test).toBeNull();
    expect(row.last_test_ciphertext).toMatch(/^cv1\.\d+\./);
    expect(row.last_test_ciphertext).not.toContain(tested.body.message);
    const shown = await t.request('GET', `${API}/credentials/${credential}`, { token: t.adminToken });
    expect(shown.body.lastTest).toMatchObject({ ok: true, message: tested.body.message });
  });

  it('seals at start-up the runs and tests an earlier version kept in clear, once, and shows them as before', async () => {
    const db = t.runtime.store.db;
    const run = (await runInstance(t, instance)).body;
    // As an earlier version stored them: everything in clear, nothing sealed.
    await db
      .updateTable('runs')
      .set({ steps: JSON.stringify(run.steps), error: run.error, errors_ciphertext: null, outputs_ciphertext: null })
      .where('id', '=', run.id)
      .execute();
    const clearTest = { ok: false, message: `The server said ${uniqueValue('clear-test')}`, at: new Date().toISOString() };
    await db.updateTable('credentials').set({ last_test: JSON.stringify(clearTest), last_test_ciphertext: null }).where('id', '=', credential).execute();
    expect((await getRun(run.id)).body.steps).toEqual(run.steps);

    const sealed = await t.runtime.services.sealClearCustomerData();
    expect(sealed).toEqual({ lastTests: 1, runs: 1 });
    expect(await t.runtime.services.sealClearCustomerData()).toEqual({ lastTests: 0, runs: 0 });

    const row = await rawRun(run.id);
    expect(row.outputs_ciphertext).toMatch(/^cv1\./);
    expect(JSON.stringify(row)).not.toContain(canary);
    expect((await getRun(run.id)).body.steps).toEqual(run.steps);
    const credentialRow = await db.selectFrom('credentials').select(['last_test', 'last_test_ciphertext']).where('id', '=', credential).executeTakeFirstOrThrow();
    expect(credentialRow.last_test).toBeNull();
    expect((await t.request('GET', `${API}/credentials/${credential}`, { token: t.adminToken })).body.lastTest).toEqual(clearTest);
    // Nothing clear is left anywhere in the runs table.
    const clearLeft = await sql<{ count: number }>`select count(*) as count from runs where finished_at is not null and errors_ciphertext is null`.execute(db);
    expect(Number(clearLeft.rows[0]?.count)).toBe(0);
  });
});
