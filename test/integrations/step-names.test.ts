import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { API, createCredential, createCustomer, deployed, runInstance, startHttpPeer, uniqueValue, type HttpPeer } from './fixtures.js';

// Step names and bindings are looked up as own properties only: a step named like a member of
// Object.prototype is a step like any other, and a binding left null is just a missing one.

const STEP_NAME = /^[A-Za-z][\w-]{0,63}$/;
const PROTOTYPE_NAMES = Object.getOwnPropertyNames(Object.prototype);

describe.each(ENGINES)('step names and bindings on %s', (engine) => {
  let t: TestApp;
  let peer: HttpPeer;
  let customer: string;

  beforeAll(async () => {
    peer = await startHttpPeer({ username: 'user', password: uniqueValue('password'), apiKey: uniqueValue('api-key') });
    t = await startTestApp(engine, { env: { CREDENCE_ALLOW_INSECURE_LOOPBACK: 'true' } });
    customer = await createCustomer(t, 'Prototype Traders');
  });

  afterAll(async () => {
    await Promise.all([t?.close(), peer?.close()]);
  });

  const listRuns = (instance: string) => t.request('GET', `${API}/instances/${instance}/runs`, { token: t.adminToken });

  it.each(PROTOTYPE_NAMES)('deploys and runs an integration with a step named %s, or refuses the name as a name', async (name) => {
    const step = { name, component: 'http', action: 'request', inputs: { url: `${peer.baseUrl}/files/${name}` } };
    const created = await t.request('POST', `${API}/integrations`, { token: t.adminToken, body: { name: `Step ${name}`, steps: [step] } });
    if (!STEP_NAME.test(name)) {
      expect(created.status, created.text).toBe(400);
      expect(created.body.error.code).toBe('VALIDATION_FAILED');
      return;
    }
    expect(created.status, created.text).toBe(201);
    const instance = await deployed(t, { integrationId: created.body.id, customerId: customer, name: `Instance ${name}` });
    expect((await t.request('GET', `${API}/instances/${instance}`, { token: t.adminToken })).body.bindings).toEqual({});
    const run = await runInstance(t, instance);
    expect(run.status, run.text).toBe(201);
    expect(run.body.status).toBe('succeeded');
    expect(run.body.steps[0]).toMatchObject({ name, status: 'succeeded', credentialId: null });
    expect(run.body.steps[0].output.body).toEqual({ file: name });
    const listed = await listRuns(instance);
    expect(listed.status, listed.text).toBe(200);
    expect(listed.body.items.map((item: { id: string }) => item.id)).toEqual([run.body.id]);
  });

  it('runs two steps where the later one refers to an earlier one named constructor', async () => {
    const steps = [
      { name: 'constructor', component: 'http', action: 'request', inputs: { url: `${peer.baseUrl}/files/first` } },
      { name: 'toString', component: 'http', action: 'request', inputs: { url: `${peer.baseUrl}/files/{{steps.constructor.body.file}}` } },
    ];
    const created = await t.request('POST', `${API}/integrations`, { token: t.adminToken, body: { name: 'Chained prototype names', steps } });
    expect(created.status, created.text).toBe(201);
    const instance = await deployed(t, { integrationId: created.body.id, customerId: customer, name: 'Chained' });
    const run = await runInstance(t, instance);
    expect(run.status, run.text).toBe(201);
    expect(run.body.steps.map((s: { status: string }) => s.status)).toEqual(['succeeded', 'succeeded']);
    expect(run.body.steps[1].output.body).toEqual({ file: 'first' });
  });

  it('still lists the runs of an instance deployed with a null binding', async () => {
    const step = { name: 'call', component: 'http', action: 'request', inputs: { url: `${peer.baseUrl}/files/plain` } };
    const created = await t.request('POST', `${API}/integrations`, { token: t.adminToken, body: { name: 'Null binding', steps: [step] } });
    const instance = await deployed(t, { integrationId: created.body.id, customerId: customer, name: 'Null binding', bindings: { call: null } });
    const first = await runInstance(t, instance);
    expect(first.status, first.text).toBe(201);
    const second = await runInstance(t, instance);
    expect(second.status, second.text).toBe(201);
    const listed = await listRuns(instance);
    expect(listed.status, listed.text).toBe(200);
    expect(listed.body.items.map((item: { id: string }) => item.id)).toEqual([second.body.id, first.body.id]);
  });

  it('still lists the runs of an instance whose credential was deleted with force', async () => {
    const label = uniqueValue('forced');
    const credential = await createCredential(t, { label, authMethod: 'api_key', customerId: customer, fields: { api_key: uniqueValue('key') }, destinations: [peer.baseUrl] });
    const step = { name: 'valueOf', component: 'http', action: 'request', inputs: { url: `${peer.baseUrl}/files/plain` } };
    const created = await t.request('POST', `${API}/integrations`, { token: t.adminToken, body: { name: 'Forced binding', steps: [step] } });
    const instance = await deployed(t, { integrationId: created.body.id, customerId: customer, name: 'Forced binding', bindings: { valueOf: credential } });
    expect((await t.request('DELETE', `${API}/credentials/${credential}`, { token: t.adminToken, body: { confirm: label, force: true } })).status).toBe(204);
    const run = await runInstance(t, instance);
    expect(run.status, run.text).toBe(201);
    expect(run.body.steps[0]).toMatchObject({ name: 'valueOf', status: 'failed', credentialId: null });
    const listed = await listRuns(instance);
    expect(listed.status, listed.text).toBe(200);
    expect(listed.body.items.map((item: { id: string }) => item.id)).toEqual([run.body.id]);
  });
});
