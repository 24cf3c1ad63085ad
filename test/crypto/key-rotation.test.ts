import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API } from '../http/credential-fixtures.js';
import { ENGINES } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { createCustomer, expectedSealedData, readSealedData, resolveFields, seedScope, storedCiphertexts, versionsIn, type SeededScope } from './key-fixtures.js';

const expectResolvesAll = async (t: TestApp, token: string, seeded: SeededScope): Promise<void> => {
  for (const credential of seeded.credentials) {
    const fields = await resolveFields(t, token, credential.id);
    expect(fields).toEqual(credential.expected);
  }
};

const opensVerifiers = async (t: TestApp, scopeId: string, seeded: SeededScope): Promise<string[]> => {
  const opened: string[] = [];
  for (const state of seeded.states) {
    const row = await t.runtime.store.db.selectFrom('oauth_states').select('verifier_ciphertext').where('id', '=', state.id).executeTakeFirstOrThrow();
    const plaintext = await t.runtime.services.keyring.open(
      { organizationId: t.organizationId, scopeId, recordId: `${state.credentialId}/${state.id}`, fieldSet: 'pkce-verifier' },
      row.verifier_ciphertext,
    );
    opened.push(plaintext.toString('utf8'));
  }
  return opened;
};

describe.each(ENGINES)('scope key rotation on %s', (engine) => {
  let t: TestApp;
  let runtimeToken: string;
  let customerA: string;
  let customerB: string;
  let seededA: SeededScope;
  let seededB: SeededScope;
  let seededOrg: SeededScope;

  beforeAll(async () => {
    t = await startTestApp(engine);
    runtimeToken = await t.token('runtime');
    customerA = await createCustomer(t);
    customerB = await createCustomer(t);
    seededA = await seedScope(t, customerA, 4);
    seededB = await seedScope(t, customerB, 2);
    seededOrg = await seedScope(t, null, 2);
  });

  afterAll(async () => {
    await t?.close();
  });

  it('starts every scope at version 1, every value sealed under it', async () => {
    expect(versionsIn(await storedCiphertexts(t.runtime.store.db, t.organizationId))).toEqual(['cv1.1']);
    const keys = await t.request('GET', `${API}/keys`, { token: t.adminToken });
    expect(keys.status).toBe(200);
    const scopes = keys.body.items.map((item: any) => [item.scopeId, item.level, item.currentVersion]);
    expect(scopes).toEqual(expect.arrayContaining([[t.organizationId, 'organization', 1], [customerA, 'customer', 1], [customerB, 'customer', 1]]));
  });

  it('answers 202 with a job, and new writes to the scope use the new version at once', async () => {
    const rotated = await t.request('POST', `${API}/keys/rotate`, { token: t.adminToken, body: { scope: customerA } });
    expect(rotated.status).toBe(202);
    expect(rotated.body).toMatchObject({ scopeId: customerA, version: 2, status: 'pending' });
    expect(rotated.body.jobId).toMatch(/^kjob_/);

    const created = await t.request('POST', `${API}/credentials`, { token: t.adminToken, body: { label: 'After rotation', authMethod: 'api_key', customerId: customerA, fields: { api_key: 'k-after' } } });
    expect(created.status).toBe(201);
    const sealed = (await storedCiphertexts(t.runtime.store.db, t.organizationId, customerA)).filter((c) => c.rowId === created.body.id);
    expect(sealed.map((c) => c.ciphertext.slice(0, 6))).toEqual(['cv1.2.']);
    seededA.credentials.push({ id: created.body.id, customerId: customerA, expected: { api_key: 'k-after' } });

    // The older values are untouched until the job runs, and still resolve.
    expect(versionsIn(await storedCiphertexts(t.runtime.store.db, t.organizationId, customerA))).toEqual(['cv1.1', 'cv1.2']);
    await expectResolvesAll(t, runtimeToken, seededA);
    const job = await t.request('GET', `${API}/keys/jobs/${rotated.body.jobId}`, { token: t.adminToken });
    expect(job.body).toMatchObject({ status: 'pending', done: 0, version: 2, scopeId: customerA });
  });

  it('re-encrypts every value of the scope, then retires the old version', async () => {
    const finished = await t.runtime.services.keys.runNextJob();
    expect(finished?.status).toBe('done');
    const job = await t.request('GET', `${API}/keys/jobs/${finished?.id}`, { token: t.adminToken });
    expect(job.status).toBe(200);
    // Rows: 5 credentials seeded (4 + oauth2), 1 created after the rotation, 1 grant, 1 PKCE state, 1 last test, 1 run, 1 health and its 1 change.
    expect(job.body).toMatchObject({ status: 'done', done: 12, total: 12, failed: 0, error: null });

    const ciphertextsA = await storedCiphertexts(t.runtime.store.db, t.organizationId, customerA);
    expect(new Set(ciphertextsA.map((c) => c.table))).toEqual(new Set(['credentials', 'oauth_grants', 'oauth_states', 'runs', 'credential_health', 'credential_health_history']));
    expect(ciphertextsA.filter((c) => c.fieldSet === 'last-test' || c.table === 'runs').length).toBe(3);
    expect(ciphertextsA.every((c) => c.ciphertext.startsWith('cv1.2.'))).toBe(true);
    expect(versionsIn(await storedCiphertexts(t.runtime.store.db, t.organizationId, customerB))).toEqual(['cv1.1']);
    expect(versionsIn(await storedCiphertexts(t.runtime.store.db, t.organizationId, t.organizationId))).toEqual(['cv1.1']);

    await expectResolvesAll(t, runtimeToken, seededA);
    await expectResolvesAll(t, runtimeToken, seededB);
    await expectResolvesAll(t, runtimeToken, seededOrg);
    expect(await opensVerifiers(t, customerA, seededA)).toEqual(seededA.states.map((s) => s.verifier));
    // A run's output and a credential test's answer still read back, now under the new key.
    expect(await readSealedData(t, seededA)).toEqual(expectedSealedData(seededA));

    const keys = await t.request('GET', `${API}/keys`, { token: t.adminToken });
    const scope = keys.body.items.find((item: any) => item.scopeId === customerA);
    expect(scope.currentVersion).toBe(2);
    expect(scope.versions.map((v: any) => [v.version, v.retiredAt === null])).toEqual([
      [1, false],
      [2, true],
    ]);
  });

  it('records the rotation and the finished re-encryption in the audit log', async () => {
    const events = await t.request('GET', `${API}/audit-events?limit=200`, { token: t.adminToken });
    const actions = events.body.items.filter((e: any) => e.targetId === customerA && e.action.startsWith('key.'));
    expect(actions.map((e: any) => e.action).sort()).toEqual(['key.reencrypted', 'key.rotated']);
    const reencrypted = actions.find((e: any) => e.action === 'key.reencrypted');
    expect(reencrypted.details).toMatchObject({ version: 2, values: 12, retiredVersions: [1], remaining: 0 });
  });

  it('rotates the organization scope when no scope is named', async () => {
    const rotated = await t.request('POST', `${API}/keys/rotate`, { token: t.adminToken });
    expect(rotated.status).toBe(202);
    expect(rotated.body).toMatchObject({ scopeId: t.organizationId, version: 2 });
    expect((await t.runtime.services.keys.runNextJob())?.status).toBe('done');
    expect(versionsIn(await storedCiphertexts(t.runtime.store.db, t.organizationId, t.organizationId))).toEqual(['cv1.2']);
    await expectResolvesAll(t, runtimeToken, seededOrg);
  });

  it('lets only organization admins rotate or see keys and jobs', async () => {
    const member = await t.token('org_member');
    const rotated = await t.request('POST', `${API}/keys/rotate`, { token: t.adminToken, body: { scope: customerB } });
    for (const [method, url] of [
      ['GET', `${API}/keys`],
      ['POST', `${API}/keys/rotate`],
      ['GET', `${API}/keys/jobs/${rotated.body.jobId}`],
    ] as const) {
      for (const token of [member, runtimeToken]) {
        const response = await t.request(method, url, { token, ...(method === 'POST' ? { body: {} } : {}) });
        expect({ status: response.status, code: response.body?.error?.code }).toEqual({ status: 403, code: 'FORBIDDEN' });
      }
    }
    await t.runtime.services.keys.runNextJob();
  });

  it("answers 404 for another organization's customer and job, and for an unknown scope", async () => {
    const other = await t.otherOrganization();
    const mine = await t.request('POST', `${API}/keys/rotate`, { token: t.adminToken, body: { scope: customerB } });
    const cases = [
      await t.request('POST', `${API}/keys/rotate`, { token: other.adminToken, body: { scope: customerA } }),
      await t.request('POST', `${API}/keys/rotate`, { token: t.adminToken, body: { scope: other.organizationId } }),
      await t.request('POST', `${API}/keys/rotate`, { token: t.adminToken, body: { scope: 'cus_0000000000000000000000000000' } }),
      await t.request('GET', `${API}/keys/jobs/${mine.body.jobId}`, { token: other.adminToken }),
    ];
    expect(cases.map((r) => [r.status, r.body.error.code])).toEqual(Array(4).fill([404, 'NOT_FOUND']));
    const otherKeys = await t.request('GET', `${API}/keys`, { token: other.adminToken });
    expect(otherKeys.body.items.map((item: any) => item.scopeId)).toEqual([other.organizationId]);
    await t.runtime.services.keys.runNextJob();
  });

  it('publishes the key routes in /openapi.json, and says root key rotation is command-line only', async () => {
    const response = await t.request('GET', '/openapi.json');
    const paths = Object.keys(response.body.paths);
    expect(paths).toEqual(expect.arrayContaining(['/api/v1/keys', '/api/v1/keys/rotate', '/api/v1/keys/jobs/{id}']));
    expect(paths.some((path) => path.includes('rotate-root'))).toBe(false);
    expect(response.body.paths['/api/v1/keys/rotate'].post.description).toContain('`credence keys rotate-root`');
    const rootRotation = await t.request('POST', `${API}/keys/rotate-root`, { token: t.adminToken, body: {} });
    expect(rootRotation.status).toBe(404);
  });

  it('supersedes a pending job when the scope is rotated again, and the newer job re-encrypts everything', async () => {
    const first = await t.request('POST', `${API}/keys/rotate`, { token: t.adminToken, body: { scope: customerB } });
    const second = await t.request('POST', `${API}/keys/rotate`, { token: t.adminToken, body: { scope: customerB } });
    expect(second.body.version).toBe(first.body.version + 1);
    expect((await t.request('GET', `${API}/keys/jobs/${first.body.jobId}`, { token: t.adminToken })).body.status).toBe('superseded');
    expect((await t.runtime.services.keys.runNextJob())?.id).toBe(second.body.jobId);
    const versions = versionsIn(await storedCiphertexts(t.runtime.store.db, t.organizationId, customerB));
    expect(versions).toEqual([`cv1.${second.body.version}`]);
    await expectResolvesAll(t, runtimeToken, seededB);
  });
});
