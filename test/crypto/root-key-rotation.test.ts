import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { createLocalKeyProvider, rootKeyId } from '../../src/crypto/key-provider.js';
import { RootKeyMismatchError } from '../../src/crypto/keyring.js';
import { openRuntime } from '../../src/runtime.js';
import { API } from '../http/credential-fixtures.js';
import { ENGINES } from '../support/databases.js';
import { randomMasterKey, startTestApp, type TestApp } from '../support/test-app.js';
import { createCustomer, resolveFields, seedScope, type SeededScope } from './key-fixtures.js';

const quiet = { warn: () => undefined };
const idOf = (base64: string) => rootKeyId(Buffer.from(base64, 'base64'));

describe.each(ENGINES)('root key rotation on %s', (engine) => {
  const oldKey = randomMasterKey();
  const newKey = randomMasterKey();
  let t: TestApp;
  let runtimeToken: string;
  const seeded: SeededScope[] = [];
  const others: TestApp[] = [];

  const configWith = (master: string, previous: string[] = []) =>
    loadConfig({
      CREDENCE_DATA_DIR: t.database.dataDir,
      CREDENCE_MASTER_KEY: master,
      ...(previous.length > 0 ? { CREDENCE_PREVIOUS_MASTER_KEYS: previous.join(',') } : {}),
      ...(t.database.url ? { DATABASE_URL: t.database.url } : {}),
    });

  /** Another Credence process on the same database, with other keys. */
  const otherProcess = async (master: string, previous: string[] = []): Promise<TestApp> => {
    const other = await startTestApp(engine, {
      database: t.database,
      masterKey: master,
      ...(previous.length > 0 ? { env: { CREDENCE_PREVIOUS_MASTER_KEYS: previous.join(',') } } : {}),
    });
    others.push(other);
    return other;
  };

  const resolveEverything = async (app: TestApp): Promise<string[]> => {
    const wrong: string[] = [];
    for (const scope of seeded) {
      for (const credential of scope.credentials) {
        const fields = await resolveFields(app, runtimeToken, credential.id);
        if (JSON.stringify(fields) !== JSON.stringify(credential.expected)) wrong.push(`${credential.id}: ${typeof fields === 'string' ? fields : 'wrong values'}`);
      }
    }
    return wrong;
  };

  const rootKeyIds = async () =>
    (await t.runtime.store.db.selectFrom('data_keys').select('root_key_id').execute()).map((row) => row.root_key_id);

  beforeAll(async () => {
    t = await startTestApp(engine, { masterKey: oldKey });
    runtimeToken = await t.token('runtime');
    seeded.push(await seedScope(t, null, 2));
    for (let i = 0; i < 3; i += 1) seeded.push(await seedScope(t, await createCustomer(t), 2));
  });

  afterAll(async () => {
    for (const other of others) await other.close();
    await t?.close();
  });

  it('refuses to start a process with only the new key before anything is re-wrapped', async () => {
    await expect(openRuntime(configWith(newKey), quiet)).rejects.toBeInstanceOf(RootKeyMismatchError);
  });

  it('re-wraps every data key under the new root key while a process with both keys keeps resolving', async () => {
    const both = await otherProcess(newKey, [oldKey]);
    expect(await resolveEverything(both)).toEqual([]);
    const before = await rootKeyIds();
    // The other process set up an organization of its own, wrapped by the new key already.
    expect(new Set(before)).toEqual(new Set([idOf(oldKey), idOf(newKey)]));
    const toRewrap = before.filter((id) => id === idOf(oldKey)).length;

    let rotating = true;
    const progress: Array<{ rewrapped: number; total: number }> = [];
    // The rotation runs where `credence keys rotate-root` would: a process holding both keys.
    // (On SQLite two connections of one test process writing at once would block each other.)
    const rotation = both.runtime.services.rootKeyRotation
      .rewrapAll(createLocalKeyProvider(Buffer.from(newKey, 'base64')), { batchSize: 2, onProgress: (p) => progress.push(p) })
      .finally(() => {
        rotating = false;
      });
    const failures: string[] = [];
    let rounds = 0;
    while (rotating || rounds === 0) {
      failures.push(...(await resolveEverything(both)));
      rounds += 1;
      await new Promise((resolve) => setImmediate(resolve));
    }
    const result = await rotation;

    expect(failures).toEqual([]);
    expect(result).toEqual({ rootKeyId: idOf(newKey), rewrapped: toRewrap, total: toRewrap, remaining: 0 });
    expect(progress.length).toBe(Math.ceil(toRewrap / 2));
    expect(progress.at(-1)).toEqual({ rewrapped: toRewrap, total: toRewrap });
    expect(new Set(await rootKeyIds())).toEqual(new Set([idOf(newKey)]));
  });

  it('starts a process holding only the new key, which resolves everything', async () => {
    const fresh = await otherProcess(newKey);
    expect(await resolveEverything(fresh)).toEqual([]);
  });

  it('refuses a process holding only the old key once every data key is re-wrapped', async () => {
    await expect(openRuntime(configWith(oldKey), quiet)).rejects.toBeInstanceOf(RootKeyMismatchError);
  });

  it('re-wraps nothing when run again, and records the rotation in the audit log', async () => {
    const again = await t.runtime.services.rootKeyRotation.rewrapAll(createLocalKeyProvider(Buffer.from(newKey, 'base64')));
    expect(again).toEqual({ rootKeyId: idOf(newKey), rewrapped: 0, total: 0, remaining: 0 });
    const events = await t.request('GET', `${API}/audit-events?action=key.root_rotated`, { token: t.adminToken });
    expect(events.body.items).toHaveLength(1);
    expect(events.body.items[0]).toMatchObject({ targetId: idOf(newKey), details: { rootKeyId: idOf(newKey), dataKeys: 4 } });
  });

  it('leaves a data key that no configured root key opens where it is, and says so', async () => {
    const stranger = randomBytes(32);
    await t.runtime.store.db
      .insertInto('data_keys')
      .values({
        id: `dek_${randomBytes(14).toString('hex')}`,
        organization_id: t.organizationId,
        scope_id: `cus_${randomBytes(14).toString('hex')}`,
        version: 1,
        wrapped_key: await createLocalKeyProvider(stranger).wrap(randomBytes(32), 'elsewhere'),
        root_key_id: rootKeyId(stranger),
        created_at: new Date().toISOString(),
        retired_at: null,
      })
      .execute();
    const result = await t.runtime.services.rootKeyRotation.rewrapAll(createLocalKeyProvider(Buffer.from(newKey, 'base64')));
    expect(result).toMatchObject({ rewrapped: 0, remaining: 1 });
    await t.runtime.store.db.deleteFrom('data_keys').where('root_key_id', '=', rootKeyId(stranger)).execute();
  });
});
