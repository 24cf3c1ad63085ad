import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_RUN_OUTPUT_BYTES } from '../../src/integrations/run-service.js';
import { ENGINES } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { API, createCustomer, createIntegration, deployed, runInstance } from './fixtures.js';

// Run records stay bounded: a run keeps at most MAX_RUN_OUTPUT_BYTES of outputs, the run list
// carries no outputs or logs, and the worker's retention keeps a set number of runs per instance.

const BIG_BODY = 'x'.repeat(200 * 1024);

describe.each(ENGINES)('run records on %s', (engine) => {
  let t: TestApp;
  let server: Server;
  let baseUrl: string;
  let customer: string;

  beforeAll(async () => {
    server = createServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ data: BIG_BODY }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    t = await startTestApp(engine, { env: { CREDENCE_RUN_RETENTION_PER_INSTANCE: '2', CREDENCE_ALLOW_INSECURE_LOOPBACK: 'true' } });
    customer = await createCustomer(t, 'Big Outputs');
  });

  afterAll(async () => {
    await t?.close();
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
  });

  const bigRun = async (steps: number) => {
    const integration = await createIntegration(
      t,
      `Big ${steps}`,
      Array.from({ length: steps }, (_, i) => ({ name: `fetch${i}`, component: 'http', action: 'request', inputs: { url: `${baseUrl}/big` } })),
    );
    return deployed(t, { integrationId: integration, customerId: customer, name: `Big ${steps}` });
  };

  it('keeps at most the run total of step outputs, leaving later outputs out with truncated: true', async () => {
    const instance = await bigRun(14);
    const run = await runInstance(t, instance);
    expect(run.status, run.text.slice(0, 200)).toBe(201);
    expect(run.body.steps.every((step: { status: string }) => step.status === 'succeeded')).toBe(true);
    const stored = await t.request('GET', `${API}/instances/${instance}/runs/${run.body.id}`, { token: t.adminToken });
    const outputs = stored.body.steps.map((step: { output: unknown }) => step.output);
    expect(outputs[0].body).toEqual({ data: BIG_BODY });
    expect(outputs.at(-1)).toMatchObject({ truncated: true });
    const kept = outputs.filter((output: { body?: { data?: unknown } }) => output.body?.data === BIG_BODY);
    expect(kept.length).toBeGreaterThan(0);
    expect(Buffer.byteLength(JSON.stringify(kept))).toBeLessThanOrEqual(MAX_RUN_OUTPUT_BYTES);
  });

  it('lists runs with each step\'s status, timing and error but no outputs or logs', async () => {
    const instance = await bigRun(1);
    const run = await runInstance(t, instance);
    const listed = await t.request('GET', `${API}/instances/${instance}/runs`, { token: t.adminToken });
    expect(listed.status).toBe(200);
    expect(listed.text.includes(BIG_BODY.slice(0, 1000))).toBe(false);
    expect(listed.body.items[0].id).toBe(run.body.id);
    expect(Object.keys(listed.body.items[0].steps[0]).sort()).toEqual(['action', 'component', 'credentialId', 'durationMs', 'error', 'name', 'startedAt', 'status']);
    expect(listed.body.items[0].steps[0]).toMatchObject({ name: 'fetch0', status: 'succeeded', error: null, durationMs: expect.any(Number) });
  });

  it('keeps the configured number of newest runs per instance when the worker prunes', async () => {
    const instance = await bigRun(1);
    const ids: string[] = [];
    for (let i = 0; i < 4; i += 1) ids.push((await runInstance(t, instance)).body.id as string);
    expect(t.config.runs).toEqual({ retentionDays: 30, keepPerInstance: 2 });
    expect(await t.runtime.services.runRetention.prune()).toBeGreaterThanOrEqual(2);
    const listed = await t.request('GET', `${API}/instances/${instance}/runs`, { token: t.adminToken });
    expect(listed.body.items.map((item: { id: string }) => item.id)).toEqual([ids[3], ids[2]]);
  });
});
