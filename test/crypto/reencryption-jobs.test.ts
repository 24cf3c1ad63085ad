import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RotationJob } from '../../src/crypto/rotation-job-store.js';
import { openRuntime } from '../../src/runtime.js';
import { API } from '../http/credential-fixtures.js';
import { ENGINES } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { createCustomer, resolveFields, seedScope, storedCiphertexts, versionsIn, type SeededScope } from './key-fixtures.js';

const quiet = { warn: () => undefined };

describe.each(ENGINES)('re-encryption jobs on %s', (engine) => {
  let t: TestApp;
  let runtimeToken: string;

  beforeAll(async () => {
    // Small batches, so a job takes many steps that other requests interleave with.
    t = await startTestApp(engine, { env: { CREDENCE_REENCRYPT_BATCH_SIZE: '2' } });
    runtimeToken = await t.token('runtime');
  });

  afterAll(async () => {
    await t?.close();
  });

  it('keeps resolves and edits succeeding while the job re-encrypts, and never overwrites an edit', async () => {
    const customer = await createCustomer(t);
    const seeded: SeededScope = await seedScope(t, customer, 40);
    const rotated = await t.request('POST', `${API}/keys/rotate`, { token: t.adminToken, body: { scope: customer } });
    expect(rotated.status).toBe(202);

    const progress: RotationJob[] = [];
    let finished = false;
    const job = t.runtime.services.keys.runNextJob({ onProgress: (p) => progress.push(p) }).finally(() => {
      finished = true;
    });
    const failures: string[] = [];
    let resolvesDuringJob = 0;
    const edited = new Set<string>();
    const traffic = (async () => {
      for (let round = 0; !finished; round += 1) {
        for (const credential of seeded.credentials) {
          if (round === 0 && credential.expected.api_key && !edited.has(credential.id) && edited.size < 4) {
            const value = `edited-${round}-${credential.id.slice(-6)}`;
            const response = await t.request('PATCH', `${API}/credentials/${credential.id}`, { token: t.adminToken, body: { fields: { api_key: value } } });
            if (response.status !== 200) failures.push(`edit ${response.status} ${response.text}`);
            else {
              credential.expected = { ...credential.expected, api_key: value };
              edited.add(credential.id);
            }
          }
          const fields = await resolveFields(t, runtimeToken, credential.id);
          if (JSON.stringify(fields) !== JSON.stringify(credential.expected)) failures.push(`resolve ${credential.id}: ${typeof fields === 'string' ? fields : 'wrong values'}`);
          if (!finished) resolvesDuringJob += 1;
          // Requests reach a real server from its sockets, between the job's batches; inject needs a nudge.
          await new Promise((resolve) => setImmediate(resolve));
        }
      }
    })();
    const [result] = await Promise.all([job, traffic]);

    expect(failures).toEqual([]);
    expect(result?.status).toBe('done');
    // One resolve at a time, each waiting its turn behind at most a batch or two: a starved
    // audit writer (a resolve never answered until the job ends) would show as none at all.
    expect(resolvesDuringJob).toBeGreaterThan(4);
    expect(edited.size).toBe(4);
    // 41 credentials, 1 grant and 1 state in batches of 2: many steps, each persisted.
    expect(progress.length).toBeGreaterThan(20);
    const ciphertexts = await storedCiphertexts(t.runtime.store.db, t.organizationId, customer);
    expect(ciphertexts.every((c) => c.ciphertext.startsWith('cv1.2.'))).toBe(true);
    for (const credential of seeded.credentials) expect(await resolveFields(t, runtimeToken, credential.id)).toEqual(credential.expected);
  });

  it('resumes a crashed job in another process from its persisted progress, once the lease expires', async () => {
    const customer = await createCustomer(t);
    const seeded = await seedScope(t, customer, 6);
    const rotated = await t.request('POST', `${API}/keys/rotate`, { token: t.adminToken, body: { scope: customer } });

    // One batch, then the worker "dies": its lease stays on the job.
    const crashed = await t.runtime.services.keys.runNextJob({ maxBatches: 1 });
    expect(crashed).toMatchObject({ id: rotated.body.jobId, status: 'running', done: 2, cursor: expect.any(String) });
    const persisted = await t.request('GET', `${API}/keys/jobs/${rotated.body.jobId}`, { token: t.adminToken });
    expect(persisted.body).toMatchObject({ status: 'running', done: 2, total: 13 });
    expect(versionsIn(await storedCiphertexts(t.runtime.store.db, t.organizationId, customer))).toEqual(['cv1.1', 'cv1.2']);

    const peer = await openRuntime(t.config, quiet);
    const later = await openRuntime(t.config, quiet, { clock: { now: () => new Date(Date.now() + 5 * 60_000) } });
    try {
      // While the lease is live, nobody else may take the job.
      expect(await peer.services.keys.runNextJob()).toBeUndefined();
      const resumed = await later.services.keys.runNextJob();
      expect(resumed).toMatchObject({ id: rotated.body.jobId, status: 'done', done: 13, failed: 0 });
    } finally {
      await peer.close();
      await later.close();
    }
    expect(versionsIn(await storedCiphertexts(t.runtime.store.db, t.organizationId, customer))).toEqual(['cv1.2']);
    for (const credential of seeded.credentials) expect(await resolveFields(t, runtimeToken, credential.id)).toEqual(credential.expected);
  });

  it('gives a job back when its worker stops, so another worker continues at once', async () => {
    const customer = await createCustomer(t);
    await seedScope(t, customer, 4);
    const rotated = await t.request('POST', `${API}/keys/rotate`, { token: t.adminToken, body: { scope: customer } });
    let steps = 0;
    const stopped = await t.runtime.services.keys.runNextJob({ shouldStop: () => steps >= 1, onProgress: () => (steps += 1) });
    expect(stopped).toMatchObject({ id: rotated.body.jobId, status: 'running', done: 2 });
    const peer = await openRuntime(t.config, quiet);
    try {
      expect(await peer.services.keys.runNextJob()).toMatchObject({ id: rotated.body.jobId, status: 'done', done: 11 });
    } finally {
      await peer.close();
    }
  });

  it('leaves a value it cannot open under its old version, which is retired but kept readable', async () => {
    const customer = await createCustomer(t);
    const seeded = await seedScope(t, customer, 3);
    const [broken, ...intact] = seeded.credentials;
    if (!broken) throw new Error('nothing seeded');
    const db = t.runtime.store.db;
    const row = await db.selectFrom('credentials').select('secret_ciphertext').where('id', '=', broken.id).executeTakeFirstOrThrow();
    // Another row's ciphertext: well-formed, sealed under v1, but bound to another record.
    const other = await db.selectFrom('credentials').select('secret_ciphertext').where('id', '=', intact[0]?.id ?? '').executeTakeFirstOrThrow();
    await db.updateTable('credentials').set({ secret_ciphertext: other.secret_ciphertext }).where('id', '=', broken.id).execute();

    const rotated = await t.request('POST', `${API}/keys/rotate`, { token: t.adminToken, body: { scope: customer } });
    const finished = await t.runtime.services.keys.runNextJob();
    expect(finished).toMatchObject({ id: rotated.body.jobId, status: 'done', failed: 1, pass: 3 });
    expect(finished?.error).toBe('1 rows hold values that could not be opened to re-encrypt; their key versions stay readable');
    const keys = await t.request('GET', `${API}/keys`, { token: t.adminToken });
    const versions = keys.body.items.find((item: any) => item.scopeId === customer).versions;
    expect(versions.map((v: any) => [v.version, v.retiredAt !== null])).toEqual([
      [1, true],
      [2, false],
    ]);
    for (const credential of intact) expect(await resolveFields(t, runtimeToken, credential.id)).toEqual(credential.expected);
    // Put back, the value under the retired version opens again.
    await db.updateTable('credentials').set({ secret_ciphertext: row.secret_ciphertext }).where('id', '=', broken.id).execute();
    expect(await resolveFields(t, runtimeToken, broken.id)).toEqual(broken.expected);
  });

  it('cancels the job of a customer deleted while it waits', async () => {
    const customer = await createCustomer(t, 'Leaving soon');
    await seedScope(t, customer, 2);
    const rotated = await t.request('POST', `${API}/keys/rotate`, { token: t.adminToken, body: { scope: customer } });
    const deleted = await t.request('DELETE', `${API}/customers/${customer}`, { token: t.adminToken, body: { confirm: 'Leaving soon' } });
    expect(deleted.status).toBe(204);
    expect(await t.runtime.services.keys.runNextJob()).toMatchObject({ id: rotated.body.jobId, status: 'cancelled' });
  });
});
