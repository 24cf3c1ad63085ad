import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API } from '../http/credential-fixtures.js';
import { ENGINES } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { createCustomer, resolveFields, storedCiphertexts, versionsIn } from './key-fixtures.js';

const THRESHOLD = 8;

describe.each(ENGINES)('automatic rotation by encryption count on %s', (engine) => {
  let t: TestApp;
  let runtimeToken: string;
  let customer: string;
  const created: Array<{ id: string; value: string }> = [];

  const scopeKeys = async () => {
    const keys = await t.request('GET', `${API}/keys`, { token: t.adminToken });
    return keys.body.items.find((item: any) => item.scopeId === customer);
  };

  const createKey = async (value: string) => {
    const response = await t.request('POST', `${API}/credentials`, { token: t.adminToken, body: { label: value, authMethod: 'api_key', customerId: customer, fields: { api_key: value } } });
    expect(response.status).toBe(201);
    created.push({ id: response.body.id, value });
  };

  beforeAll(async () => {
    t = await startTestApp(engine, { env: { CREDENCE_KEY_ROTATION_THRESHOLD: String(THRESHOLD) } });
    runtimeToken = await t.token('runtime');
    customer = await createCustomer(t);
  });

  afterAll(async () => {
    await t?.close();
  });

  it('counts every value a data key seals', async () => {
    // An api_key credential seals one set (`secret`): one encryption each.
    for (let i = 0; i < 5; i += 1) await createKey(`key-${i}`);
    await t.runtime.services.encryptionCounter.flush();
    expect(await scopeKeys()).toMatchObject({ currentVersion: 1, encryptionCount: 5 });
  });

  it('creates a new version by itself once the count reaches the threshold, and new writes use it', async () => {
    for (const [i, credential] of created.slice(0, 3).entries()) {
      const value = `edited-${i}`;
      const response = await t.request('PATCH', `${API}/credentials/${credential.id}`, { token: t.adminToken, body: { fields: { api_key: value } } });
      expect(response.status).toBe(200);
      credential.value = value;
    }
    await t.runtime.services.encryptionCounter.flush();
    const keys = await scopeKeys();
    expect(keys.currentVersion).toBe(2);
    expect(keys.versions[0]).toMatchObject({ version: 1, encryptionCount: THRESHOLD, retiredAt: null });

    const jobs = await t.runtime.services.keys.activeJobs(t.organizationId);
    expect(jobs.map((job) => [job.scopeId, job.targetVersion, job.reason, job.status])).toEqual([[customer, 2, 'automatic', 'pending']]);
    const events = await t.request('GET', `${API}/audit-events?action=key.rotated`, { token: t.adminToken });
    expect(events.body.items[0]).toMatchObject({ action: 'key.rotated', targetId: customer, details: { version: 2, reason: 'automatic' } });

    await createKey('after-rotation');
    const sealed = (await storedCiphertexts(t.runtime.store.db, t.organizationId, customer)).find((c) => c.rowId === created.at(-1)?.id);
    expect(sealed?.ciphertext.startsWith('cv1.2.')).toBe(true);
  });

  it('re-encrypts the scope in the worker and retires the worn version without rotating again', async () => {
    const ran = await t.runtime.services.keyRotationWorker.tick();
    expect(ran).toBe(1);
    await t.runtime.services.encryptionCounter.flush();
    const keys = await scopeKeys();
    expect(keys.currentVersion).toBe(2);
    expect(keys.versions.map((v: any) => [v.version, v.retiredAt !== null])).toEqual([
      [1, true],
      [2, false],
    ]);
    // 1 write after the rotation and 5 values re-sealed: below the threshold.
    expect(keys.encryptionCount).toBe(6);
    expect(versionsIn(await storedCiphertexts(t.runtime.store.db, t.organizationId, customer))).toEqual(['cv1.2']);
    for (const credential of created) expect(await resolveFields(t, runtimeToken, credential.id)).toEqual({ api_key: credential.value });
  });

  it('rotates a worn key that no process got to rotate when the worker sweeps, once', async () => {
    // As if a process wrote the count down and died before rotating.
    await t.runtime.store.db.updateTable('data_keys').set({ encryption_count: THRESHOLD + 1 }).where('scope_id', '=', customer).where('version', '=', 2).execute();
    // The worker sweeps once a minute; the sweep itself is called here.
    expect(await t.runtime.services.keys.rotateWornKeys()).toBe(1);
    expect(await t.runtime.services.keys.rotateWornKeys()).toBe(0);
    expect(await t.runtime.services.keyRotationWorker.tick()).toBe(1);
    expect((await scopeKeys()).currentVersion).toBe(3);
    expect(versionsIn(await storedCiphertexts(t.runtime.store.db, t.organizationId, customer))).toEqual(['cv1.3']);
  });
});
