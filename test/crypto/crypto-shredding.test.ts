import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import SqliteDatabase from 'better-sqlite3';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openBytes } from '../../src/crypto/aead.js';
import { createLocalKeyProvider } from '../../src/crypto/key-provider.js';
import { API } from '../http/credential-fixtures.js';
import { ENGINES } from '../support/databases.js';
import { randomMasterKey, startTestApp, type TestApp } from '../support/test-app.js';
import { createCustomer, expectedSealedData, resolveFields, seedScope, storedCiphertexts, type SeededScope, type StoredCiphertext } from './key-fixtures.js';

const run = promisify(execFile);

interface BackupKey {
  organization_id: string;
  scope_id: string;
  version: number;
  wrapped_key: string;
}

/** The rows of `data_keys` in a pg_dump (COPY format) of the database. */
const dataKeysFromPgDump = async (url: string): Promise<{ text: string; keys: BackupKey[] }> => {
  const { stdout } = await run('pg_dump', ['--data-only', '--no-owner', url], { maxBuffer: 64 * 1024 * 1024 });
  const lines = stdout.split('\n');
  const start = lines.findIndex((line) => line.startsWith('COPY public.data_keys '));
  const columns = /\(([^)]*)\)/.exec(lines[start] ?? '')?.[1]?.split(', ') ?? [];
  const keys: BackupKey[] = [];
  for (let i = start + 1; i > 0 && lines[i] !== '\\.'; i += 1) {
    const cells = (lines[i] ?? '').split('\t');
    const cell = (name: string): string => cells[columns.indexOf(name)] ?? '';
    keys.push({ organization_id: cell('organization_id'), scope_id: cell('scope_id'), version: Number(cell('version')), wrapped_key: cell('wrapped_key') });
  }
  return { text: stdout, keys };
};

/** The rows of `data_keys` in a copy of the SQLite database made with VACUUM INTO. */
const dataKeysFromSqliteBackup = async (t: TestApp, name: string): Promise<{ text: string; keys: BackupKey[] }> => {
  const file = join(t.database.dataDir, `${name}.sqlite`);
  await sql`vacuum into ${file}`.execute(t.runtime.store.db);
  const backup = new SqliteDatabase(file, { readonly: true });
  try {
    const keys = backup.prepare('select organization_id, scope_id, version, wrapped_key from data_keys').all() as BackupKey[];
    const text = JSON.stringify([backup.prepare('select * from credentials').all(), backup.prepare('select * from runs').all()]);
    return { text, keys };
  } finally {
    backup.close();
  }
};

const wrapContext = (key: BackupKey) => JSON.stringify(['credence-data-key', 'v1', key.organization_id, key.scope_id, key.version]);
const cipherAad = (c: StoredCiphertext, organizationId: string, scopeId: string, version: number) =>
  Buffer.from(JSON.stringify(['credence', 'cv1', organizationId, scopeId, c.recordId, c.fieldSet, version]));

/** Tries every key on every ciphertext, with the ciphertext's own context and with the key's; answers how many (key, ciphertext) pairs opened. */
const openedWith = async (rootKey: string, keys: BackupKey[], ciphertexts: StoredCiphertext[], organizationId: string): Promise<number> => {
  const provider = createLocalKeyProvider(Buffer.from(rootKey, 'base64'));
  let opened = 0;
  for (const key of keys) {
    const dataKey = await provider.unwrap(key.wrapped_key, wrapContext(key));
    for (const c of ciphertexts) {
      const body = Buffer.from(c.ciphertext.split('.')[2] ?? '', 'base64url');
      const version = Number(c.ciphertext.split('.')[1]);
      const opens = [cipherAad(c, organizationId, c.scopeId, version), cipherAad(c, key.organization_id, key.scope_id, key.version)].some((aad) => {
        try {
          openBytes(dataKey, body, aad);
          return true;
        } catch {
          return false;
        }
      });
      if (opens) opened += 1;
    }
  }
  return opened;
};

describe.each(ENGINES)('crypto-shredding on %s', (engine) => {
  const rootKey = randomMasterKey();
  let t: TestApp;
  let runtimeToken: string;
  let leaving: string;
  let staying: string;
  let seededLeaving: SeededScope;
  let seededStaying: SeededScope;
  let beforeCiphertexts: StoredCiphertext[];
  let backupBefore: { text: string; keys: BackupKey[] };
  let backupAfter: { text: string; keys: BackupKey[] };

  const backup = (name: string) => (engine === 'postgres' ? dataKeysFromPgDump(t.database.url ?? '') : dataKeysFromSqliteBackup(t, name));

  beforeAll(async () => {
    t = await startTestApp(engine, { masterKey: rootKey });
    runtimeToken = await t.token('runtime');
    leaving = await createCustomer(t, 'Leaving Ltd');
    staying = await createCustomer(t, 'Staying Ltd');
    seededLeaving = await seedScope(t, leaving, 3);
    seededStaying = await seedScope(t, staying, 3);
    await seedScope(t, null, 1);
    // Two versions of the leaving customer's key: both must go.
    await t.request('POST', `${API}/keys/rotate`, { token: t.adminToken, body: { scope: leaving } });
    await seedScope(t, leaving, 1);
    beforeCiphertexts = await storedCiphertexts(t.runtime.store.db, t.organizationId, leaving);
    backupBefore = await backup('before');

    const deleted = await t.request('DELETE', `${API}/customers/${leaving}`, { token: t.adminToken, body: { confirm: 'Leaving Ltd' } });
    expect(deleted.status).toBe(204);
    backupAfter = await backup('after');
  });

  afterAll(async () => {
    await t?.close();
  });

  it("holds values under both of the customer's key versions before the deletion, and the method opens them with those keys", async () => {
    expect(new Set(beforeCiphertexts.map((c) => c.ciphertext.slice(0, 6)))).toEqual(new Set(['cv1.1.', 'cv1.2.']));
    const own = backupBefore.keys.filter((key) => key.scope_id === leaving);
    expect(own.map((key) => key.version).sort()).toEqual([1, 2]);
    // Each value opens with exactly one key (its own version, its own context): the check below is meaningful.
    expect(await openedWith(rootKey, own, beforeCiphertexts, t.organizationId)).toBe(beforeCiphertexts.length);
  });

  it("leaves no key of the customer in a backup taken afterwards, and no other key opens the customer's ciphertexts", async () => {
    expect(backupAfter.keys.some((key) => key.scope_id === leaving)).toBe(false);
    expect(backupAfter.keys.length).toBeGreaterThanOrEqual(2);
    expect(await openedWith(rootKey, backupAfter.keys, beforeCiphertexts, t.organizationId)).toBe(0);
    for (const c of beforeCiphertexts) expect(backupAfter.text.includes(c.ciphertext)).toBe(false);
  });

  it("keeps a run's output and logs, a credential test's answer and health messages only sealed, so a backup from before the deletion shows none of them", async () => {
    const clear = expectedSealedData(seededLeaving);
    // A run's output, a test's answer, and a health message both current and in the history.
    expect(clear).toHaveLength(4);
    // Seeded twice (before and after the rotation): two last tests and two runs of two parts each; one health message and its change (the second seeding has one credential only).
    expect(beforeCiphertexts.filter((c) => c.table === 'runs' || c.fieldSet === 'last-test')).toHaveLength(6);
    expect(beforeCiphertexts.filter((c) => c.table === 'credential_health' || c.table === 'credential_health_history')).toHaveLength(2);
    expect(backupBefore.text).toContain(seededLeaving.runs[0]?.runId ?? 'missing');
    for (const value of clear) expect(backupBefore.text.includes(value)).toBe(false);
  });

  it('keeps every other customer and the organization resolving', async () => {
    for (const credential of seededStaying.credentials) expect(await resolveFields(t, runtimeToken, credential.id)).toEqual(credential.expected);
    for (const credential of seededLeaving.credentials) expect(await resolveFields(t, runtimeToken, credential.id)).toBe('404 NOT_FOUND');
  });

  it('records the destroyed keys in the audit log', async () => {
    const events = await t.request('GET', `${API}/audit-events?action=customer.deleted`, { token: t.adminToken });
    expect(events.body.items).toHaveLength(1);
    expect(events.body.items[0]).toMatchObject({ targetId: leaving, details: { name: 'Leaving Ltd', credentialsDeleted: 6, keysDestroyed: 2 } });
  });
});
