import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

describe.each(ENGINES)('health on %s', (engine) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp(engine);
  });
  afterAll(async () => t.close());

  it('answers /healthz and /readyz while the database is reachable', async () => {
    expect((await t.request('GET', '/healthz')).body).toEqual({ status: 'ok' });
    expect((await t.request('GET', '/readyz')).body).toEqual({ status: 'ready' });
  });

  it('answers /readyz with 503 NOT_READY once the database is gone', async () => {
    await t.runtime.store.close();
    const response = await t.request('GET', '/readyz');
    expect(response.status).toBe(503);
    expect(response.body.error.code).toBe('NOT_READY');
  });
});
