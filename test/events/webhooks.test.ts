import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signedHeaders } from '../../src/events/webhook-signing.js';
import { openRuntime } from '../../src/runtime.js';
import { ENGINES } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { API, createCredential, uniqueValue } from '../integrations/fixtures.js';

// Webhook endpoints hear Credence's events as Standard Webhooks: signed, durable (an outbox
// row in the change's own transaction), retried, and listed with every attempt.

/**
 * Verifies a Standard Webhooks signature without the library Credence signs with: the HMAC
 * is computed here with node:crypto, straight from the specification.
 */
const verifies = (secret: string, headers: Record<string, string | string[] | undefined>, body: string): boolean => {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const expected = createHmac('sha256', key).update(`${String(headers['webhook-id'])}.${String(headers['webhook-timestamp'])}.${body}`).digest();
  return String(headers['webhook-signature'] ?? '')
    .split(' ')
    .some((part) => {
      const [version, signature] = part.split(',');
      const given = Buffer.from(signature ?? '', 'base64');
      return version === 'v1' && given.length === expected.length && timingSafeEqual(given, expected);
    });
};

interface Received {
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A loopback receiver answering each request with the next status of `statuses` (200 once they run out). */
const startReceiver = async () => {
  const received: Received[] = [];
  const statuses: number[] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push({ headers: request.headers, body: Buffer.concat(chunks).toString('utf8') });
      response.writeHead(statuses.shift() ?? 200);
      response.end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`,
    received,
    statuses,
    close: () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  };
};

describe('Standard Webhooks signing', () => {
  it("matches the specification's published test vector", () => {
    const headers = signedHeaders(['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'], 'msg_p5jXN8AQM9LWM0D4loKWxJek', new Date(1614265330 * 1000), '{"test": 2432232314}');
    expect(headers).toEqual({ 'webhook-id': 'msg_p5jXN8AQM9LWM0D4loKWxJek', 'webhook-timestamp': '1614265330', 'webhook-signature': 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=' });
    expect(verifies('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', headers, '{"test": 2432232314}')).toBe(true);
    expect(verifies('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', headers, '{"test": 2432232315}')).toBe(false);
  });
});

describe.each(ENGINES)('webhook endpoints on %s', (engine) => {
  let t: TestApp;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;

  beforeAll(async () => {
    receiver = await startReceiver();
    t = await startTestApp(engine, { env: { CREDENCE_ALLOW_INSECURE_LOOPBACK: 'true' } });
  });
  afterAll(async () => {
    await Promise.all([t?.close(), receiver?.close()]);
  });

  const addEndpoint = async (events: string[] = ['credential.deleted'], url = receiver.url) => {
    const created = await t.request('POST', `${API}/webhook-endpoints`, { token: t.adminToken, body: { url, events, description: 'Ops alerts' } });
    expect(created.status, created.text).toBe(201);
    return created.body as { id: string; secret: string };
  };
  const deleteCredential = async (label: string, apiKey: string) => {
    const id = await createCredential(t, { label, authMethod: 'api_key', destinations: ['https://api.example.test'], fields: { api_key: apiKey } });
    const deleted = await t.request('DELETE', `${API}/credentials/${id}`, { token: t.adminToken, body: { confirm: label } });
    expect(deleted.status).toBe(204);
    return id;
  };
  const deliveries = async (endpointId: string) => (await t.request('GET', `${API}/webhook-endpoints/${endpointId}/deliveries`, { token: t.adminToken })).body.items;
  const makeDue = () => t.runtime.store.db.updateTable('webhook_deliveries').set({ next_attempt_at: new Date(Date.now() - 1000).toISOString() }).where('status', '=', 'pending').execute();
  const clear = async () => {
    for (const endpoint of (await t.request('GET', `${API}/webhook-endpoints`, { token: t.adminToken })).body.items) {
      await t.request('DELETE', `${API}/webhook-endpoints/${endpoint.id}`, { token: t.adminToken });
    }
    receiver.received.length = 0;
  };

  it('delivers a signed event that an independent verifier accepts, carrying ids, label and a link, never the secret', async () => {
    await clear();
    const { id: endpointId, secret } = await addEndpoint();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
    const shown = await t.request('GET', `${API}/webhook-endpoints/${endpointId}`, { token: t.adminToken });
    expect(shown.text).not.toContain(secret);

    const apiKey = uniqueValue('service-key');
    const credentialId = await deleteCredential('Going away', apiKey);
    expect(await t.runtime.services.webhookWorker.tick()).toBe(1);

    expect(receiver.received).toHaveLength(1);
    const [delivery] = receiver.received as [Received];
    expect(verifies(secret, delivery.headers, delivery.body)).toBe(true);
    expect(delivery.headers['webhook-id']).toMatch(/^msg_/);
    expect(Math.abs(Number(delivery.headers['webhook-timestamp']) - Date.now() / 1000)).toBeLessThan(60);
    const body = JSON.parse(delivery.body);
    expect(body).toMatchObject({ type: 'credential.deleted', data: { credentialId, label: 'Going away', level: 'organization', customerId: null, url: `${t.baseUrl}/credentials/${credentialId}` } });
    expect(delivery.body).not.toContain(apiKey);
    const [listed] = await deliveries(endpointId);
    expect(listed).toMatchObject({ eventType: 'credential.deleted', status: 'delivered', attempts: 1, attemptLog: [{ ok: true, responseStatus: 200, error: null }] });
  });

  it("names the customer of a customer credential's event", async () => {
    await clear();
    await addEndpoint();
    const customerId = (await t.request('POST', `${API}/customers`, { token: t.adminToken, body: { name: 'Northwind Traders' } })).body.id as string;
    const id = await createCredential(t, { label: 'Customer key', authMethod: 'api_key', customerId, destinations: ['https://api.example.test'], fields: { api_key: uniqueValue('key') } });
    await t.request('DELETE', `${API}/credentials/${id}`, { token: t.adminToken, body: { confirm: 'Customer key' } });
    await t.runtime.services.webhookWorker.tick();
    expect(JSON.parse(receiver.received.at(-1)?.body ?? '{}').data).toMatchObject({ credentialId: id, level: 'customer', customerId, customerName: 'Northwind Traders' });
  });

  it("tells of each of a customer's credentials when the customer is deleted", async () => {
    await clear();
    await addEndpoint();
    const customerId = (await t.request('POST', `${API}/customers`, { token: t.adminToken, body: { name: 'Leaving Ltd' } })).body.id as string;
    const ids = [];
    for (const label of ['First key', 'Second key']) {
      ids.push(await createCredential(t, { label, authMethod: 'api_key', customerId, destinations: ['https://api.example.test'], fields: { api_key: uniqueValue('key') } }));
    }
    const deleted = await t.request('DELETE', `${API}/customers/${customerId}`, { token: t.adminToken, body: { confirm: 'Leaving Ltd' } });
    expect(deleted.status).toBe(204);
    while ((await t.runtime.services.webhookWorker.tick()) > 0);
    const told = receiver.received.map((r) => JSON.parse(r.body)).filter((b) => b.type === 'credential.deleted');
    expect(told.map((b) => b.data.credentialId).sort()).toEqual([...ids].sort());
    expect(told.every((b) => b.data.reason === 'customer_deleted' && b.data.customerName === 'Leaving Ltd')).toBe(true);
  });

  it('tries again after each failure and, once the receiver answers 200, sends the event no more: four attempts, one webhook-id', async () => {
    await clear();
    const { id: endpointId, secret } = await addEndpoint();
    receiver.statuses.push(500, 500, 500);
    await deleteCredential('Flaky receiver', uniqueValue('key'));
    for (let attempt = 0; attempt < 6; attempt += 1) {
      await t.runtime.services.webhookWorker.tick();
      await makeDue();
    }
    expect(receiver.received).toHaveLength(4);
    expect(new Set(receiver.received.map((r) => r.headers['webhook-id'])).size).toBe(1);
    expect(receiver.received.every((r) => verifies(secret, r.headers, r.body))).toBe(true);
    const [listed] = await deliveries(endpointId);
    expect(listed.status).toBe('delivered');
    expect(listed.attemptLog.map((a: { responseStatus: number }) => a.responseStatus)).toEqual([500, 500, 500, 200]);
    expect(listed.attemptLog[0].error).toBe('The endpoint answered 500');
    expect(listed.attemptLog.every((a: { latencyMs: number }) => a.latencyMs >= 0)).toBe(true);
  });

  it('waits longer after each failed attempt', async () => {
    await clear();
    const { id: endpointId } = await addEndpoint();
    receiver.statuses.push(503, 503);
    await deleteCredential('Backing off', uniqueValue('key'));
    await t.runtime.services.webhookWorker.tick();
    const first = (await deliveries(endpointId))[0];
    await makeDue();
    await t.runtime.services.webhookWorker.tick();
    const second = (await deliveries(endpointId))[0];
    const after = (d: { nextAttemptAt: string; attemptLog: Array<{ at: string }> }) => Date.parse(d.nextAttemptAt) - Date.parse(d.attemptLog[d.attemptLog.length - 1]?.at ?? '');
    expect(after(first)).toBeGreaterThanOrEqual(4_000);
    expect(after(first)).toBeLessThan(60_000);
    expect(after(second)).toBeGreaterThanOrEqual(4 * 60_000);
    // Nothing is due before its time.
    expect(await t.runtime.services.webhookWorker.tick()).toBe(0);
  });

  it('loses no event when the process stops between the commit and the delivery: another process delivers it', async () => {
    await clear();
    const { secret } = await addEndpoint();
    await deleteCredential('Delivered by the next process', uniqueValue('key'));
    // This process never sends it; a new one on the same database does.
    const next = await openRuntime(t.config, { warn: () => undefined });
    try {
      expect(await next.services.webhookWorker.tick()).toBe(1);
    } finally {
      await next.close();
    }
    expect(receiver.received).toHaveLength(1);
    expect(verifies(secret, receiver.received[0]?.headers ?? {}, receiver.received[0]?.body ?? '')).toBe(true);
    expect(await t.runtime.services.webhookWorker.tick()).toBe(0);
  });

  it('sends nothing to a loopback endpoint from a process without the development setting, and says so in the attempt', async () => {
    await clear();
    const { id: endpointId } = await addEndpoint();
    await deleteCredential('Kept on this machine', uniqueValue('key'));
    const strict = await openRuntime({ ...t.config, allowInsecureLoopback: false }, { warn: () => undefined });
    try {
      expect(await strict.services.webhookWorker.tick()).toBe(1);
    } finally {
      await strict.close();
    }
    expect(receiver.received).toHaveLength(0);
    const [listed] = await deliveries(endpointId);
    expect(listed).toMatchObject({ status: 'pending', attempts: 1 });
    expect(listed.attemptLog[0]).toMatchObject({ ok: false, responseStatus: null });
    expect(listed.attemptLog[0].error).toMatch(/loopback|https|refused/i);
  });

  it('signs with both secrets during a rotation overlap, and with the new one alone when there is none', async () => {
    await clear();
    const { id: endpointId, secret: old } = await addEndpoint();
    const rotated = await t.request('POST', `${API}/webhook-endpoints/${endpointId}/rotate-secret`, { token: t.adminToken, body: { overlapSeconds: 3600 } });
    expect(rotated.status).toBe(200);
    const fresh = rotated.body.secret as string;
    expect(fresh).not.toBe(old);
    expect(Date.parse(rotated.body.previousSecretExpiresAt)).toBeGreaterThan(Date.now() + 3500_000);
    await deleteCredential('During the overlap', uniqueValue('key'));
    await t.runtime.services.webhookWorker.tick();
    const during = receiver.received.at(-1) as Received;
    expect(verifies(old, during.headers, during.body)).toBe(true);
    expect(verifies(fresh, during.headers, during.body)).toBe(true);

    // With no body, the default overlap (a day).
    const bare = await t.app.inject({ method: 'POST', url: `${API}/webhook-endpoints/${endpointId}/rotate-secret`, headers: { authorization: `Bearer ${t.adminToken}` } });
    expect(bare.statusCode, bare.body).toBe(200);
    expect(Date.parse(JSON.parse(bare.body).previousSecretExpiresAt)).toBeGreaterThan(Date.now() + 23 * 3600_000);
    const again = await t.request('POST', `${API}/webhook-endpoints/${endpointId}/rotate-secret`, { token: t.adminToken, body: { overlapSeconds: 0 } });
    await deleteCredential('After the overlap', uniqueValue('key'));
    await t.runtime.services.webhookWorker.tick();
    const after = receiver.received.at(-1) as Received;
    expect(verifies(again.body.secret, after.headers, after.body)).toBe(true);
    expect(verifies(fresh, after.headers, after.body)).toBe(false);
  });

  it("keeps signing with the same secret after the organization's data key is rotated and everything re-encrypted", async () => {
    await clear();
    const { id: endpointId, secret } = await addEndpoint();
    const before = await t.runtime.store.db.selectFrom('webhook_endpoints').select('secret_ciphertext').where('id', '=', endpointId).executeTakeFirstOrThrow();
    const rotated = await t.request('POST', `${API}/keys/rotate`, { token: t.adminToken, body: { scope: t.organizationId } });
    expect(rotated.status).toBe(202);
    expect((await t.runtime.services.keys.runNextJob())?.status).toBe('done');
    const after = await t.runtime.store.db.selectFrom('webhook_endpoints').select('secret_ciphertext').where('id', '=', endpointId).executeTakeFirstOrThrow();
    expect(after.secret_ciphertext.split('.')[1]).not.toBe(before.secret_ciphertext.split('.')[1]);
    await deleteCredential('After the key rotation', uniqueValue('key'));
    await t.runtime.services.webhookWorker.tick();
    const delivery = receiver.received.at(-1) as Received;
    expect(verifies(secret, delivery.headers, delivery.body)).toBe(true);
  });

  it("sends nothing when a database writer moves another endpoint's secret onto this one, and keeps the receiver's query out of the audit log", async () => {
    await clear();
    const first = await addEndpoint(['credential.deleted'], `${receiver.url}?token=receiver-own-token`);
    const other = await addEndpoint(['authorization_link.opened'], 'https://hooks.example.test/other');
    const moved = await t.runtime.store.db.selectFrom('webhook_endpoints').select('secret_ciphertext').where('id', '=', other.id).executeTakeFirstOrThrow();
    await t.runtime.store.db.updateTable('webhook_endpoints').set({ secret_ciphertext: moved.secret_ciphertext }).where('id', '=', first.id).execute();
    await deleteCredential('Swapped secret', uniqueValue('key'));
    expect(await t.runtime.services.webhookWorker.tick()).toBe(1);
    expect(receiver.received).toHaveLength(0);
    const [listed] = await deliveries(first.id);
    expect(listed.attemptLog[0]).toMatchObject({ ok: false, responseStatus: null, error: "The endpoint's signing secret could not be opened; nothing was sent" });
    const created = await t.request('GET', `${API}/audit-events?action=webhook_endpoint.created&targetId=${first.id}`, { token: t.adminToken });
    expect(created.body.items[0].details.url).toBe(receiver.url);
    expect(created.text).not.toContain('receiver-own-token');
  });

  it('resends a delivery with the same webhook-id', async () => {
    await clear();
    const { id: endpointId } = await addEndpoint();
    await deleteCredential('Resent', uniqueValue('key'));
    await t.runtime.services.webhookWorker.tick();
    const [delivery] = await deliveries(endpointId);
    const resent = await t.request('POST', `${API}/webhook-endpoints/${endpointId}/deliveries/${delivery.id}/resend`, { token: t.adminToken });
    expect(resent.status).toBe(202);
    await t.runtime.services.webhookWorker.tick();
    expect(receiver.received).toHaveLength(2);
    expect(receiver.received[1]?.headers['webhook-id']).toBe(receiver.received[0]?.headers['webhook-id']);
  });

  it('sends an endpoint only the events it asked for, and health changes with recovered and reauthorization events', async () => {
    await clear();
    await addEndpoint(['credential.health_changed', 'credential.recovered']);
    const id = await createCredential(t, { label: 'Watched', authMethod: 'api_key', destinations: ['https://api.example.test'], fields: { api_key: uniqueValue('key') } });
    const record = await t.runtime.services.credentials.findManageable({ type: 'cli', id: 'test', organizationId: t.organizationId, role: 'org_admin', customerId: null }, id);
    for (const health of ['healthy', 'failing', 'failing', 'healthy'] as const) await t.runtime.services.health.observe([{ credential: record, health, source: 'check' }]);
    await t.request('DELETE', `${API}/credentials/${id}`, { token: t.adminToken, body: { confirm: 'Watched' } });
    while ((await t.runtime.services.webhookWorker.tick()) > 0);
    const types = receiver.received.map((r) => JSON.parse(r.body)).map((b) => `${b.type}${b.data.health ? `:${b.data.previousHealth}→${b.data.health}` : ''}`);
    expect(types.sort()).toEqual(['credential.health_changed:failing→healthy', 'credential.health_changed:healthy→failing', 'credential.health_changed:unknown→healthy', 'credential.recovered:failing→healthy'].sort());
  });

  it('refuses bad endpoints with 400, lets only org admins manage them, and answers 404 across organizations', async () => {
    await clear();
    const bad = async (body: unknown) => {
      const answer = await t.request('POST', `${API}/webhook-endpoints`, { token: t.adminToken, body });
      expect(answer.status, JSON.stringify(body)).toBe(400);
      expect(answer.body.error.code).toBe('VALIDATION_FAILED');
    };
    await bad({ url: 'http://hooks.example.test/in', events: ['credential.deleted'] });
    await bad({ url: 'ftp://hooks.example.test/in', events: ['credential.deleted'] });
    await bad({ url: 'https://user:pw@hooks.example.test/in', events: ['credential.deleted'] });
    await bad({ url: 'https://hooks.example.test/in', events: ['credential.nope'] });
    await bad({ url: 'https://hooks.example.test/in', events: [] });
    expect((await t.request('GET', `${API}/webhook-endpoints`, { token: t.adminToken })).body.items).toEqual([]);

    const { id } = await addEndpoint(['credential.deleted'], 'https://hooks.example.test/in');
    const member = await t.token('org_member');
    expect((await t.request('GET', `${API}/webhook-endpoints`, { token: member })).status).toBe(403);
    expect((await t.request('POST', `${API}/webhook-endpoints/${id}/rotate-secret`, { token: member, body: {} })).status).toBe(403);
    const other = await t.otherOrganization(uniqueValue('Other'));
    for (const [method, path] of [['GET', ''], ['PATCH', ''], ['DELETE', ''], ['POST', '/rotate-secret'], ['GET', '/deliveries']] as const) {
      const answer = await t.request(method, `${API}/webhook-endpoints/${id}${path}`, { token: other.adminToken, body: method === 'GET' || method === 'DELETE' ? undefined : {} });
      expect(answer.status, `${method} ${path}`).toBe(404);
    }
    expect((await t.request('GET', `${API}/webhook-endpoints/${id}`, { token: t.adminToken })).status).toBe(200);
  });
});
