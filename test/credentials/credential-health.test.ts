import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/databases.js';
import { openRuntime } from '../../src/runtime.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { API, createCredential, createCustomer, createIntegration, deployed, runInstance, uniqueValue } from '../integrations/fixtures.js';

// A credential's health follows what the service on the other end says of it — through
// credential tests and run steps here — and each change is recorded once.

/** A loopback service that accepts one API key at /hello until told to refuse it; /slow answers after 400 ms. */
const startService = async (apiKey: string) => {
  let refusing = false;
  const requests: string[] = [];
  const server: Server = createServer((request, response) => {
    requests.push(request.url ?? '');
    const ok = !refusing && request.headers.authorization === `Bearer ${apiKey}`;
    const answer = () => {
      response.writeHead(ok ? 200 : 401, { 'content-type': 'application/json', ...(ok ? {} : { 'www-authenticate': 'Bearer' }) });
      response.end(JSON.stringify(ok ? { hello: 'world' } : { error: 'unauthorized' }));
    };
    if (request.url?.startsWith('/slow')) setTimeout(answer, 400);
    else answer();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    refuse: (value: boolean) => void (refusing = value),
    requests,
    close: () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  };
};

describe.each(ENGINES)('credential health on %s', (engine) => {
  let t: TestApp;
  let service: Awaited<ReturnType<typeof startService>>;
  const apiKey = uniqueValue('service-key');

  beforeAll(async () => {
    service = await startService(apiKey);
    t = await startTestApp(engine, { env: { CREDENCE_ALLOW_INSECURE_LOOPBACK: 'true' } });
  });
  afterAll(async () => {
    await Promise.all([t?.close(), service?.close()]);
  });

  const get = async (id: string) => (await t.request('GET', `${API}/credentials/${id}`, { token: t.adminToken })).body;
  const test = (id: string) => t.request('POST', `${API}/credentials/${id}/test`, { token: t.adminToken, body: { component: 'http', inputs: { url: `${service.baseUrl}/hello` } } });
  const healthEvents = async (id: string) =>
    (await t.request('GET', `${API}/audit-events?action=credential.health_changed&targetId=${id}`, { token: t.adminToken })).body.items as Array<{ details: { from: string; to: string; source: string } }>;
  const listed = async (health: string) =>
    ((await t.request('GET', `${API}/credentials?health=${health}&limit=200`, { token: t.adminToken })).body.items as Array<{ id: string }>).map((c) => c.id);

  it('starts unknown, turns healthy on a passing test, failing once when the service refuses, and healthy again', async () => {
    const id = await createCredential(t, { label: 'Service key', authMethod: 'api_key', destinations: [service.baseUrl], fields: { api_key: apiKey } });
    const created = await get(id);
    expect(created).toMatchObject({ health: 'unknown', healthCheckedAt: null, since: created.createdAt });
    expect(await listed('unknown')).toContain(id);

    expect((await test(id)).body.ok).toBe(true);
    const healthy = await get(id);
    expect(healthy.health).toBe('healthy');
    expect(healthy.healthMessage).toContain('It works');
    expect(Date.parse(healthy.since)).toBeGreaterThanOrEqual(Date.parse(created.createdAt));

    service.refuse(true);
    for (let i = 0; i < 3; i += 1) expect((await test(id)).body.ok).toBe(false);
    const failing = await get(id);
    expect(failing.health).toBe('failing');
    expect(failing.healthMessage).toContain('refused the credential');
    expect(Date.parse(failing.healthCheckedAt)).toBeGreaterThanOrEqual(Date.parse(failing.since));
    expect(await listed('failing')).toEqual([id]);
    expect(await listed('healthy')).not.toContain(id);

    service.refuse(false);
    expect((await test(id)).body.ok).toBe(true);
    expect((await get(id)).health).toBe('healthy');

    // Three refusals in a row made one change, not three.
    const events = await healthEvents(id);
    expect(events.map((e) => `${e.details.from}→${e.details.to}`).reverse()).toEqual(['unknown→healthy', 'healthy→failing', 'failing→healthy']);
    expect(events.every((e) => e.details.source === 'test')).toBe(true);
    const history = (await t.request('GET', `${API}/credentials/${id}/health`, { token: t.adminToken })).body;
    expect(history.health).toBe('healthy');
    expect(history.history.map((h: { from: string; to: string }) => `${h.from}→${h.to}`)).toEqual(['failing→healthy', 'healthy→failing', 'unknown→healthy']);
    expect(history.history[1].message).toContain('refused the credential');
  });

  it('goes back to unknown when the secret is changed, since nothing has tried the new one', async () => {
    const id = await createCredential(t, { label: 'Rotated key', authMethod: 'api_key', destinations: [service.baseUrl], fields: { api_key: apiKey } });
    await test(id);
    expect((await get(id)).health).toBe('healthy');
    const renamed = await t.request('PATCH', `${API}/credentials/${id}`, { token: t.adminToken, body: { label: 'Rotated key (renamed)' } });
    expect(renamed.body.health).toBe('healthy');
    const changed = await t.request('PATCH', `${API}/credentials/${id}`, { token: t.adminToken, body: { fields: { api_key: uniqueValue('new-key') } } });
    expect(changed.status).toBe(200);
    expect(changed.body).toMatchObject({ health: 'unknown', healthMessage: 'The secret was changed and has not been checked since' });
  });

  it('follows run steps: a step the service refuses makes the credential failing, a step that works makes it healthy', async () => {
    const customer = await createCustomer(t, uniqueValue('Customer'));
    const id = await createCredential(t, { label: 'Run key', authMethod: 'api_key', customerId: customer, destinations: [service.baseUrl], fields: { api_key: apiKey } });
    const integration = await createIntegration(t, uniqueValue('Greet'), [{ name: 'greet', component: 'http', action: 'request', inputs: { url: `${service.baseUrl}/hello` } }]);
    const instance = await deployed(t, { integrationId: integration, customerId: customer, name: 'Greeter', bindings: { greet: id } });

    expect((await runInstance(t, instance)).body.status).toBe('succeeded');
    expect((await get(id)).health).toBe('healthy');
    service.refuse(true);
    try {
      expect((await runInstance(t, instance)).body.status).toBe('failed');
      expect((await runInstance(t, instance)).body.status).toBe('failed');
      const failing = await get(id);
      expect(failing.health).toBe('failing');
    } finally {
      service.refuse(false);
    }
    expect((await runInstance(t, instance)).body.status).toBe('succeeded');
    expect((await get(id)).health).toBe('healthy');
    const events = await healthEvents(id);
    expect(events.map((e) => `${e.details.from}→${e.details.to}:${e.details.source}`).reverse()).toEqual(['unknown→healthy:run', 'healthy→failing:run', 'failing→healthy:run']);
  });

  it("keeps a failing step's message sealed in the database, and a step that fails for another reason leaves the health as it is", async () => {
    const id = await createCredential(t, { label: 'Sealed health', authMethod: 'api_key', destinations: [service.baseUrl], fields: { api_key: apiKey } });
    await test(id);
    // A service that cannot be reached says nothing of the credential in a run.
    const customer = await createCustomer(t, uniqueValue('Customer'));
    const other = await createCredential(t, { label: 'Unreached', authMethod: 'api_key', customerId: customer, destinations: ['http://127.0.0.1:9'], fields: { api_key: apiKey } });
    const integration = await createIntegration(t, uniqueValue('Nowhere'), [{ name: 'reach', component: 'http', action: 'request', inputs: { url: 'http://127.0.0.1:9/hello' } }]);
    const instance = await deployed(t, { integrationId: integration, customerId: customer, name: 'Unreached', bindings: { reach: other } });
    expect((await runInstance(t, instance)).body.status).toBe('failed');
    expect((await get(other)).health).toBe('unknown');

    service.refuse(true);
    try {
      await test(id);
    } finally {
      service.refuse(false);
    }
    const rows = await t.runtime.store.db.selectFrom('credential_health').selectAll().where('credential_id', '=', id).execute();
    expect(rows).toHaveLength(1);
    expect(rows[0]?.health).toBe('failing');
    expect(rows[0]?.message_ciphertext).toMatch(/^cv1\.\d+\./);
    const history = await t.runtime.store.db.selectFrom('credential_health_history').selectAll().where('credential_id', '=', id).execute();
    expect(history.every((row) => row.message_ciphertext === null || /^cv1\.\d+\./.test(row.message_ciphertext))).toBe(true);
    expect(JSON.stringify([rows, history])).not.toContain('refused');
  });

  it("answers 404 for another organization's credential health, and finds none of its credentials by health", async () => {
    const id = await createCredential(t, { label: 'Ours', authMethod: 'api_key', destinations: [service.baseUrl], fields: { api_key: apiKey } });
    await test(id);
    const other = await t.otherOrganization(uniqueValue('Other'));
    const answer = await t.request('GET', `${API}/credentials/${id}/health`, { token: other.adminToken });
    expect(answer.status).toBe(404);
    expect(answer.body.error.code).toBe('NOT_FOUND');
    const theirs = await t.request('GET', `${API}/credentials?health=healthy`, { token: other.adminToken });
    expect(theirs.body.items).toEqual([]);
    const bad = await t.request('GET', `${API}/credentials?health=fine`, { token: t.adminToken });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('VALIDATION_FAILED');
  });
  const makeDue = (id: string) => t.runtime.store.db.updateTable('credential_health_checks').set({ due_at: new Date(Date.now() - 1000).toISOString() }).where('credential_id', '=', id).execute();
  const checkEvery = (everyMinutes: number, path = '/hello') => ({ component: 'http', inputs: { url: `${service.baseUrl}${path}` }, everyMinutes });

  it('runs the check a credential carries when it is due, keeps its health from it, and not again before its interval', async () => {
    const created = await t.request('POST', `${API}/credentials`, {
      token: t.adminToken,
      body: { label: 'Checked key', authMethod: 'api_key', destinations: [service.baseUrl], fields: { api_key: apiKey }, healthCheck: checkEvery(5) },
    });
    expect(created.status, created.text).toBe(201);
    const id = created.body.id as string;
    expect(created.body.healthCheck).toMatchObject({ component: 'http', action: 'test', everyMinutes: 5, lastCheckAt: null });
    expect(created.body.health).toBe('unknown');

    // Other credentials' checks made due by earlier tests are not in this one.
    await t.runtime.store.db.deleteFrom('credential_health_checks').where('credential_id', '!=', id).execute();
    const worker = t.runtime.services.healthCheckWorker;
    expect(await worker.tick()).toBe(1);
    const checked = await get(id);
    expect(checked).toMatchObject({ health: 'healthy' });
    const next = Date.parse(checked.healthCheck.nextCheckAt) - Date.parse(checked.healthCheck.lastCheckAt);
    // Five minutes, give or take a tenth.
    expect(next).toBeGreaterThanOrEqual(4.5 * 60_000);
    expect(next).toBeLessThanOrEqual(5.5 * 60_000);
    expect(await worker.tick()).toBe(0);

    service.refuse(true);
    try {
      await makeDue(id);
      expect(await worker.tick()).toBe(1);
      await makeDue(id);
      expect(await worker.tick()).toBe(1);
    } finally {
      service.refuse(false);
    }
    expect((await get(id)).health).toBe('failing');
    const events = await healthEvents(id);
    expect(events.map((e) => `${e.details.from}→${e.details.to}:${e.details.source}`).reverse()).toEqual(['unknown→healthy:check', 'healthy→failing:check']);
    // Each check's resolve is audited, as the worker.
    const resolved = await t.request('GET', `${API}/audit-events?action=credential.resolved&targetId=${id}`, { token: t.adminToken });
    expect(resolved.body.items).toHaveLength(3);
    expect(resolved.body.items[0]).toMatchObject({ actor: { type: 'worker', id: 'health-check' }, details: { purpose: 'check' } });

    const stopped = await t.request('PATCH', `${API}/credentials/${id}`, { token: t.adminToken, body: { healthCheck: null } });
    expect(stopped.body.healthCheck).toBeNull();
    expect(await worker.tick()).toBe(0);
  });

  it('refuses a check that does not fit the credential, and stores nothing', async () => {
    const count = async () => Number((await t.runtime.store.db.selectFrom('credentials').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
    const before = await count();
    const attempt = (healthCheck: unknown) =>
      t.request('POST', `${API}/credentials`, { token: t.adminToken, body: { label: uniqueValue('Bad check'), authMethod: 'api_key', destinations: [service.baseUrl], fields: { api_key: apiKey }, healthCheck } });
    const tooOften = await attempt(checkEvery(4));
    expect(tooOften.status).toBe(400);
    expect(tooOften.body.error.code).toBe('VALIDATION_FAILED');
    const elsewhere = await attempt({ component: 'http', inputs: { url: 'https://attacker.example.test/collect' }, everyMinutes: 5 });
    expect(elsewhere.status).toBe(403);
    expect(elsewhere.body.error.code).toBe('DESTINATION_NOT_ALLOWED');
    const wrongMethod = await attempt({ component: 'aws-s3', inputs: {}, everyMinutes: 5 });
    expect(wrongMethod.status).toBe(400);
    const unknown = await attempt({ component: 'nothing', everyMinutes: 5 });
    expect(unknown.status).toBeGreaterThanOrEqual(400);
    expect(unknown.status).toBeLessThan(500);
    expect(await count()).toBe(before);
  });

  it('never runs one credential\'s check twice at once, with two workers claiming it at the same moment', async () => {
    const id = await createCredential(t, { label: 'Slow check', authMethod: 'api_key', destinations: [service.baseUrl], fields: { api_key: apiKey } });
    await t.request('PATCH', `${API}/credentials/${id}`, { token: t.adminToken, body: { healthCheck: checkEvery(5, '/slow') } });
    await t.runtime.store.db.deleteFrom('credential_health_checks').where('credential_id', '!=', id).execute();
    const peer = await openRuntime(t.config, { warn: () => undefined });
    try {
      const before = service.requests.filter((r) => r === '/slow').length;
      const claimed = await Promise.all([t.runtime.services.healthCheckWorker.tick(), peer.services.healthCheckWorker.tick()]);
      expect(claimed.sort()).toEqual([0, 1]);
      expect(service.requests.filter((r) => r === '/slow').length - before).toBe(1);
    } finally {
      await peer.close();
    }
    expect((await get(id)).health).toBe('healthy');
  });
});
