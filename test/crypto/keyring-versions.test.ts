import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Clock } from '../../src/common/clock.js';
import { createDataKeyStore, type DataKeyStore } from '../../src/crypto/data-key-store.js';
import { createLocalKeyProvider } from '../../src/crypto/key-provider.js';
import { ciphertextPrefix, createKeyring, keyVersionOf, type CipherContext, type EncryptionTally } from '../../src/crypto/keyring.js';
import { migrateToLatest, openDatabase, type StoreHandle } from '../../src/store/database.js';

const clock: Clock = { now: () => new Date('2025-03-01T12:00:00.000Z') };
const ORG = 'org_a';
const CUS = 'cus_a1';
const ctx = (recordId = 'cred_1'): CipherContext => ({ organizationId: ORG, scopeId: CUS, recordId, fieldSet: 'secret' });

describe('keyring: key versions, batch sealing and re-wrapping', () => {
  let dir: string;
  let handle: StoreHandle;
  let store: DataKeyStore;
  let rootKey: Buffer;
  const tallied: Array<[string, number]> = [];
  const tally: EncryptionTally = { count: (id, values) => void tallied.push([id, values]) };

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'credence-test-'));
    handle = openDatabase({ kind: 'sqlite', file: join(dir, 'credence.sqlite') });
    await migrateToLatest(handle.db);
    const at = clock.now().toISOString();
    await handle.db.insertInto('organizations').values({ id: ORG, name: 'Acme', created_at: at }).execute();
    await handle.db.insertInto('customers').values({ id: CUS, organization_id: ORG, name: 'A1', external_id: null, created_at: at, updated_at: at }).execute();
    store = createDataKeyStore(handle.db);
    rootKey = randomBytes(32);
    tallied.length = 0;
    await createKeyring({ provider: createLocalKeyProvider(rootKey), store, clock }).createScopeKey(ORG, CUS);
  });

  afterEach(async () => {
    await handle.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('reads the key version from a ciphertext prefix, and nothing from anything else', () => {
    expect(keyVersionOf(`${ciphertextPrefix(12)}AAAA`)).toBe(12);
    expect(ciphertextPrefix(1)).toBe('cv1.1.');
    for (const text of ['cv2.1.AAAA', 'cv1.0.AAAA', 'cv1.x.AAAA', 'lk1.1.AAAA', '']) expect(keyVersionOf(text)).toBeUndefined();
  });

  it('seals with a new version at once, even while the old one is cached, and still opens the old', async () => {
    const keyring = createKeyring({ provider: createLocalKeyProvider(rootKey), store, clock, tally });
    const old = await keyring.seal(ctx(), Buffer.from('before'));
    await keyring.createScopeKey(ORG, CUS, undefined, 2);
    const fresh = await keyring.seal(ctx(), Buffer.from('after'));
    expect([keyVersionOf(old), keyVersionOf(fresh)]).toEqual([1, 2]);
    expect((await keyring.open(ctx(), old)).toString()).toBe('before');
    expect((await keyring.open(ctx(), fresh)).toString()).toBe('after');
  });

  it('seals a batch under the current version, each value bound to its own record, and tallies it once', async () => {
    const keyring = createKeyring({ provider: createLocalKeyProvider(rootKey), store, clock, tally });
    const sealed = await keyring.sealAll(ORG, CUS, [
      { recordId: 'cred_1', fieldSet: 'secret', plaintext: Buffer.from('one') },
      { recordId: 'cred_2', fieldSet: 'secret', plaintext: Buffer.from('two') },
    ]);
    expect(sealed.map(keyVersionOf)).toEqual([1, 1]);
    expect((await keyring.open(ctx('cred_2'), sealed[1] ?? '')).toString()).toBe('two');
    await expect(keyring.open(ctx('cred_2'), sealed[0] ?? '')).rejects.toMatchObject({ code: 'DECRYPTION_FAILED' });
    const current = await store.findCurrent(ORG, CUS);
    expect(tallied).toEqual([[current?.id, 2]]);
  });

  it('seals values of several scopes each under its own current version, and refuses a scope without a key', async () => {
    const keyring = createKeyring({ provider: createLocalKeyProvider(rootKey), store, clock, tally });
    await keyring.createScopeKey(ORG, ORG);
    await keyring.createScopeKey(ORG, CUS, undefined, 2);
    const orgCtx: CipherContext = { organizationId: ORG, scopeId: ORG, recordId: 'cred_9', fieldSet: 'tokens' };
    const sealed = await keyring.sealEach([
      { ctx: ctx('cred_1'), plaintext: Buffer.from('customer') },
      { ctx: orgCtx, plaintext: Buffer.from('organization') },
    ]);
    expect(sealed.map(keyVersionOf)).toEqual([2, 1]);
    expect((await keyring.open(ctx('cred_1'), sealed[0] ?? '')).toString()).toBe('customer');
    expect((await keyring.open(orgCtx, sealed[1] ?? '')).toString()).toBe('organization');
    // Bound to its own scope: the customer's value does not open as the organization's.
    await expect(keyring.open({ ...orgCtx, recordId: 'cred_1', fieldSet: 'secret' }, sealed[0] ?? '')).rejects.toMatchObject({ code: 'DECRYPTION_FAILED' });
    await expect(keyring.sealEach([{ ctx: { ...orgCtx, scopeId: 'cus_unknown' }, plaintext: Buffer.from('x') }])).rejects.toThrow('No data key for scope cus_unknown');
  });

  it('re-wraps a data key under another root key without changing it', async () => {
    const keyring = createKeyring({ provider: createLocalKeyProvider(rootKey), store, clock });
    const ciphertext = await keyring.seal(ctx(), Buffer.from('kept'));
    const newRoot = randomBytes(32);
    const record = await store.findCurrent(ORG, CUS);
    if (!record) throw new Error('no key');
    const wrapped = await keyring.rewrap(record, createLocalKeyProvider(newRoot));
    const newKeyId = createLocalKeyProvider(newRoot).keyId;
    expect(wrapped.startsWith(`lk1.${newKeyId}.`)).toBe(true);
    expect(await store.rewrap([{ id: record.id, previous: record.wrappedKey, wrappedKey: wrapped, rootKeyId: newKeyId }])).toBe(1);
    // Guarded by the value read: a second writer with a stale copy changes nothing.
    expect(await store.rewrap([{ id: record.id, previous: record.wrappedKey, wrappedKey: wrapped, rootKeyId: newKeyId }])).toBe(0);
    const onlyNew = createKeyring({ provider: createLocalKeyProvider(newRoot), store, clock });
    expect((await onlyNew.open(ctx(), ciphertext)).toString()).toBe('kept');
    await expect(createKeyring({ provider: createLocalKeyProvider(rootKey), store, clock }).open(ctx(), ciphertext)).rejects.toMatchObject({ code: 'DECRYPTION_FAILED' });
  });
});
