import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Clock } from '../../src/common/clock.js';
import { openBytes } from '../../src/crypto/aead.js';
import { createDataKeyStore, type DataKeyStore } from '../../src/crypto/data-key-store.js';
import { createLocalKeyProvider, type KeyProvider } from '../../src/crypto/key-provider.js';
import { RootKeyMismatchError, createKeyring, type CipherContext, type Keyring } from '../../src/crypto/keyring.js';
import { migrateToLatest, openDatabase, type Db, type StoreHandle } from '../../src/store/database.js';

const clock: Clock = { now: () => new Date('2025-03-01T12:00:00.000Z') };
const created = clock.now().toISOString();

const ORG_A = 'org_a';
const ORG_B = 'org_b';
const CUS_A1 = 'cus_a1';
const CUS_A2 = 'cus_a2';
const CUS_B1 = 'cus_b1';

/** A key provider that records every data key it unwraps, to see what the keyring caches. */
const spying = (inner: KeyProvider) => {
  const unwrapped: Array<{ context: string; key: Buffer }> = [];
  const provider: KeyProvider = {
    keyId: inner.keyId,
    wrap: (dataKey, context) => inner.wrap(dataKey, context),
    async unwrap(wrapped, context) {
      const key = await inner.unwrap(wrapped, context);
      unwrapped.push({ context, key });
      return key;
    },
    describe: () => inner.describe(),
  };
  return { provider, unwrapped };
};

const isZero = (buffer: Buffer): boolean => buffer.every((byte) => byte === 0);

describe('createKeyring over SQLite', () => {
  let dir: string;
  let handle: StoreHandle;
  let db: Db;
  let store: DataKeyStore;
  let rootKey: Buffer;
  const keyrings: Keyring[] = [];

  const newKeyring = (provider: KeyProvider = createLocalKeyProvider(rootKey), cacheSize?: number): Keyring => {
    const keyring = createKeyring({ provider, store, clock, ...(cacheSize !== undefined ? { cacheSize } : {}) });
    keyrings.push(keyring);
    return keyring;
  };

  const ctx = (overrides: Partial<CipherContext> = {}): CipherContext => ({
    organizationId: ORG_A,
    scopeId: CUS_A1,
    recordId: 'cred_1',
    fieldSet: 'secret',
    ...overrides,
  });

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'credence-test-'));
    handle = openDatabase({ kind: 'sqlite', file: join(dir, 'credence.sqlite') });
    db = handle.db;
    await migrateToLatest(db);
    await db
      .insertInto('organizations')
      .values([
        { id: ORG_A, name: 'Acme', created_at: created },
        { id: ORG_B, name: 'Globex', created_at: created },
      ])
      .execute();
    await db
      .insertInto('customers')
      .values([
        { id: CUS_A1, organization_id: ORG_A, name: 'Customer A1', external_id: null, created_at: created, updated_at: created },
        { id: CUS_A2, organization_id: ORG_A, name: 'Customer A2', external_id: null, created_at: created, updated_at: created },
        { id: CUS_B1, organization_id: ORG_B, name: 'Customer B1', external_id: null, created_at: created, updated_at: created },
      ])
      .execute();
    store = createDataKeyStore(db);
    rootKey = randomBytes(32);
    const setup = newKeyring();
    await setup.createScopeKey(ORG_A, ORG_A);
    await setup.createScopeKey(ORG_A, CUS_A1);
    await setup.createScopeKey(ORG_A, CUS_A2);
    await setup.createScopeKey(ORG_B, ORG_B);
    await setup.createScopeKey(ORG_B, CUS_B1);
  });

  afterEach(async () => {
    for (const keyring of keyrings.splice(0)) keyring.close();
    await handle.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('stores one wrapped data key per scope, naming the root key', async () => {
    const rows = await db.selectFrom('data_keys').selectAll().orderBy('scope_id').execute();
    expect(rows.map((row) => [row.organization_id, row.scope_id, Number(row.version)])).toEqual([
      [ORG_A, CUS_A1, 1],
      [ORG_A, CUS_A2, 1],
      [ORG_B, CUS_B1, 1],
      [ORG_A, ORG_A, 1],
      [ORG_B, ORG_B, 1],
    ]);
    const keyId = createLocalKeyProvider(rootKey).keyId;
    for (const row of rows) {
      expect(row.root_key_id).toBe(keyId);
      expect(row.wrapped_key.startsWith(`lk1.${keyId}.`)).toBe(true);
      expect(row.created_at).toBe(created);
      expect(row.retired_at).toBeNull();
    }
  });

  it('opens a sealed value for the same context back to the plaintext', async () => {
    const keyring = newKeyring();
    const plaintext = Buffer.from(JSON.stringify({ clientSecret: 's3cr3t' }));
    for (const context of [ctx(), ctx({ scopeId: ORG_A, recordId: 'cred_org' }), ctx({ organizationId: ORG_B, scopeId: CUS_B1 })]) {
      const ciphertext = await keyring.seal(context, plaintext);
      expect(ciphertext).not.toContain('s3cr3t');
      expect((await keyring.open(context, ciphertext)).equals(plaintext)).toBe(true);
      // A fresh keyring (empty cache) opens it too, by unwrapping the stored key.
      expect((await newKeyring().open(context, ciphertext)).equals(plaintext)).toBe(true);
    }
  });

  it('writes every ciphertext as format cv1 with key version 1', async () => {
    const keyring = newKeyring();
    for (const context of [ctx(), ctx({ fieldSet: 'config' }), ctx({ scopeId: ORG_A }), ctx({ organizationId: ORG_B, scopeId: CUS_B1 })]) {
      for (const size of [0, 1, 100]) {
        const ciphertext = await keyring.seal(context, randomBytes(size));
        expect(ciphertext.startsWith('cv1.1.')).toBe(true);
        expect(ciphertext.split('.')).toHaveLength(3);
      }
    }
  });

  it('refuses a ciphertext copied to another credential', async () => {
    const keyring = newKeyring();
    const ciphertext = await keyring.seal(ctx(), Buffer.from('secret'));
    await expect(keyring.open(ctx({ recordId: 'cred_2' }), ciphertext)).rejects.toMatchObject({ code: 'DECRYPTION_FAILED' });
  });

  it('refuses a ciphertext moved to another field set', async () => {
    const keyring = newKeyring();
    const ciphertext = await keyring.seal(ctx({ fieldSet: 'secret' }), Buffer.from('secret'));
    await expect(keyring.open(ctx({ fieldSet: 'config' }), ciphertext)).rejects.toMatchObject({ code: 'DECRYPTION_FAILED' });
  });

  it('refuses a ciphertext moved to another customer of the same organization', async () => {
    const keyring = newKeyring();
    const ciphertext = await keyring.seal(ctx({ scopeId: CUS_A1 }), Buffer.from('secret'));
    await expect(keyring.open(ctx({ scopeId: CUS_A2 }), ciphertext)).rejects.toMatchObject({ code: 'DECRYPTION_FAILED' });
    await expect(keyring.open(ctx({ scopeId: ORG_A }), ciphertext)).rejects.toMatchObject({ code: 'DECRYPTION_FAILED' });
  });

  it('refuses a ciphertext opened under another organization', async () => {
    const keyring = newKeyring();
    const ciphertext = await keyring.seal(ctx(), Buffer.from('secret'));
    await expect(keyring.open(ctx({ organizationId: ORG_B }), ciphertext)).rejects.toMatchObject({ code: 'DECRYPTION_FAILED' });
    await expect(keyring.open(ctx({ organizationId: ORG_B, scopeId: CUS_B1 }), ciphertext)).rejects.toMatchObject({
      code: 'DECRYPTION_FAILED',
    });
  });

  it('refuses tampered and malformed ciphertexts', async () => {
    const keyring = newKeyring();
    const ciphertext = await keyring.seal(ctx(), Buffer.from('secret'));
    const [, , body] = ciphertext.split('.');
    const flipped = Buffer.from(body ?? '', 'base64url');
    flipped[20] = (flipped[20] ?? 0) ^ 0x80;
    for (const bad of [
      '',
      'cv1',
      'cv1.1',
      `cv2.1.${body}`,
      `cv1.0.${body}`,
      `cv1.2.${body}`,
      `cv1.x.${body}`,
      `cv1.1.${flipped.toString('base64url')}`,
      `cv1.1.${(body ?? '').slice(0, 10)}`,
    ]) {
      await expect(keyring.open(ctx(), bad), bad).rejects.toMatchObject({ code: 'DECRYPTION_FAILED' });
    }
  });

  it('refuses a wrapped data key copied onto another scope', async () => {
    const keyring = newKeyring();
    const ciphertextA2 = await keyring.seal(ctx({ scopeId: CUS_A2 }), Buffer.from('secret of A2'));
    const rowA1 = await db.selectFrom('data_keys').select('wrapped_key').where('scope_id', '=', CUS_A1).executeTakeFirstOrThrow();
    await db.updateTable('data_keys').set({ wrapped_key: rowA1.wrapped_key }).where('scope_id', '=', CUS_A2).execute();

    // A new keyring, so no data key unwrapped before the copy can hide it.
    const fresh = newKeyring();
    await expect(fresh.open(ctx({ scopeId: CUS_A2 }), ciphertextA2)).rejects.toMatchObject({ code: 'DECRYPTION_FAILED' });
    await expect(fresh.seal(ctx({ scopeId: CUS_A2 }), Buffer.from('new'))).rejects.toMatchObject({ code: 'DECRYPTION_FAILED' });
    // The source scope is untouched.
    const ciphertextA1 = await fresh.seal(ctx({ scopeId: CUS_A1 }), Buffer.from('secret of A1'));
    expect((await fresh.open(ctx({ scopeId: CUS_A1 }), ciphertextA1)).toString()).toBe('secret of A1');
  });

  it('refuses a wrapped data key copied onto a scope of another organization', async () => {
    const ciphertextB1 = await newKeyring().seal(ctx({ organizationId: ORG_B, scopeId: CUS_B1 }), Buffer.from('secret of B1'));
    const rowA1 = await db.selectFrom('data_keys').select('wrapped_key').where('scope_id', '=', CUS_A1).executeTakeFirstOrThrow();
    await db.updateTable('data_keys').set({ wrapped_key: rowA1.wrapped_key }).where('scope_id', '=', CUS_B1).execute();

    await expect(newKeyring().open(ctx({ organizationId: ORG_B, scopeId: CUS_B1 }), ciphertextB1)).rejects.toMatchObject({
      code: 'DECRYPTION_FAILED',
    });
  });

  it('passes verifyRootKey with the root key the data keys were wrapped with', async () => {
    await expect(newKeyring().verifyRootKey()).resolves.toBeUndefined();
  });

  it('throws RootKeyMismatchError from verifyRootKey with another root key', async () => {
    const wrong = newKeyring(createLocalKeyProvider(randomBytes(32)));
    const error = await wrong.verifyRootKey().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(RootKeyMismatchError);
    expect(error).toMatchObject({ name: 'RootKeyMismatchError' });
    expect((error as Error).message).not.toContain(rootKey.toString('base64'));
  });

  it('verifies a rotated root key only when the previous key is still given', async () => {
    const newRoot = randomBytes(32);
    const rotated = newKeyring(createLocalKeyProvider(newRoot, [rootKey]));
    await db.insertInto('organizations').values({ id: 'org_c', name: 'Initech', created_at: created }).execute();
    await rotated.createScopeKey('org_c', 'org_c');
    const rootKeyIds = await db.selectFrom('data_keys').select('root_key_id').distinct().execute();
    expect(rootKeyIds).toHaveLength(2);

    await expect(rotated.verifyRootKey()).resolves.toBeUndefined();
    await expect(newKeyring(createLocalKeyProvider(newRoot)).verifyRootKey()).rejects.toBeInstanceOf(RootKeyMismatchError);
    await expect(newKeyring(createLocalKeyProvider(rootKey)).verifyRootKey()).rejects.toBeInstanceOf(RootKeyMismatchError);
  });

  it('gives every scope its own data key', async () => {
    const { provider, unwrapped } = spying(createLocalKeyProvider(rootKey));
    const keyring = newKeyring(provider);
    for (const [organizationId, scopeId] of [
      [ORG_A, ORG_A],
      [ORG_A, CUS_A1],
      [ORG_A, CUS_A2],
      [ORG_B, ORG_B],
      [ORG_B, CUS_B1],
    ] as const) {
      await keyring.seal(ctx({ organizationId, scopeId }), Buffer.from('x'));
    }
    expect(unwrapped).toHaveLength(5);
    const distinct = new Set(unwrapped.map(({ key }) => key.toString('hex')));
    expect(distinct.size).toBe(5);
    for (const { key } of unwrapped) expect(key.length).toBe(32);
  });

  it('keeps ciphertexts of two scopes from opening under each other even with the same record and field set', async () => {
    const keyring = newKeyring();
    const sealedA1 = await keyring.seal(ctx({ scopeId: CUS_A1, recordId: 'cred_same' }), Buffer.from('one'));
    const sealedA2 = await keyring.seal(ctx({ scopeId: CUS_A2, recordId: 'cred_same' }), Buffer.from('two'));
    await expect(keyring.open(ctx({ scopeId: CUS_A2, recordId: 'cred_same' }), sealedA1)).rejects.toMatchObject({
      code: 'DECRYPTION_FAILED',
    });
    await expect(keyring.open(ctx({ scopeId: CUS_A1, recordId: 'cred_same' }), sealedA2)).rejects.toMatchObject({
      code: 'DECRYPTION_FAILED',
    });
  });

  it('caches an unwrapped data key and wipes it on close, unwrapping again afterwards', async () => {
    const { provider, unwrapped } = spying(createLocalKeyProvider(rootKey));
    const keyring = newKeyring(provider);
    const ciphertext = await keyring.seal(ctx(), Buffer.from('secret'));
    expect((await keyring.open(ctx(), ciphertext)).toString()).toBe('secret');
    expect(unwrapped).toHaveLength(1);
    const first = unwrapped[0]!.key;
    expect(isZero(first)).toBe(false);

    keyring.close();
    expect(isZero(first)).toBe(true);

    expect((await keyring.open(ctx(), ciphertext)).toString()).toBe('secret');
    expect(unwrapped).toHaveLength(2);
    expect(isZero(unwrapped[1]!.key)).toBe(false);
  });

  it('wipes on close every data key it unwrapped, also when two opens of one scope race', async () => {
    const { provider, unwrapped } = spying(createLocalKeyProvider(rootKey));
    const ciphertext = await newKeyring().seal(ctx(), Buffer.from('secret'));
    const keyring = newKeyring(provider);
    const opened = await Promise.all([keyring.open(ctx(), ciphertext), keyring.open(ctx(), ciphertext)]);
    expect(opened.map((value) => value.toString())).toEqual(['secret', 'secret']);
    expect(unwrapped.length).toBeGreaterThanOrEqual(1);

    keyring.close();
    expect(unwrapped.map(({ key }) => isZero(key))).toEqual(unwrapped.map(() => true));
  });

  it('forgets only the named scope, wiping its key', async () => {
    const { provider, unwrapped } = spying(createLocalKeyProvider(rootKey));
    const keyring = newKeyring(provider);
    const sealedA1 = await keyring.seal(ctx({ scopeId: CUS_A1 }), Buffer.from('a1'));
    const sealedA2 = await keyring.seal(ctx({ scopeId: CUS_A2 }), Buffer.from('a2'));
    expect(unwrapped).toHaveLength(2);
    const [keyA1, keyA2] = unwrapped.map(({ key }) => key);

    keyring.forgetScope(ORG_A, CUS_A1);
    expect(isZero(keyA1!)).toBe(true);
    expect(isZero(keyA2!)).toBe(false);

    expect((await keyring.open(ctx({ scopeId: CUS_A2 }), sealedA2)).toString()).toBe('a2');
    expect(unwrapped).toHaveLength(2);
    expect((await keyring.open(ctx({ scopeId: CUS_A1 }), sealedA1)).toString()).toBe('a1');
    expect(unwrapped).toHaveLength(3);
  });

  it('cannot open a scope after its data key is deleted and forgotten (crypto-shredding)', async () => {
    const keyring = newKeyring();
    const ciphertext = await keyring.seal(ctx(), Buffer.from('secret'));
    expect(await store.deleteScope(ORG_A, CUS_A1)).toBe(1);
    // Still cached until forgotten.
    expect((await keyring.open(ctx(), ciphertext)).toString()).toBe('secret');
    keyring.forgetScope(ORG_A, CUS_A1);
    await expect(keyring.open(ctx(), ciphertext)).rejects.toMatchObject({ code: 'DECRYPTION_FAILED' });
    await expect(newKeyring().open(ctx(), ciphertext)).rejects.toMatchObject({ code: 'DECRYPTION_FAILED' });
  });

  it('evicts the oldest cached key beyond cacheSize and still opens every scope', async () => {
    const { provider, unwrapped } = spying(createLocalKeyProvider(rootKey));
    const keyring = newKeyring(provider, 1);
    const sealedA1 = await keyring.seal(ctx({ scopeId: CUS_A1 }), Buffer.from('a1'));
    const sealedA2 = await keyring.seal(ctx({ scopeId: CUS_A2 }), Buffer.from('a2'));
    expect(isZero(unwrapped[0]!.key)).toBe(true);
    expect((await keyring.open(ctx({ scopeId: CUS_A1 }), sealedA1)).toString()).toBe('a1');
    expect((await keyring.open(ctx({ scopeId: CUS_A2 }), sealedA2)).toString()).toBe('a2');
    expect(unwrapped).toHaveLength(4);
  });

  it('interoperates with a caching keyring when the cache is disabled (cacheSize 0)', async () => {
    const uncached = newKeyring(createLocalKeyProvider(rootKey), 0);
    const cached = newKeyring();
    const sealedUncached = await uncached.seal(ctx(), Buffer.from('sealed without cache'));
    const sealedCached = await cached.seal(ctx(), Buffer.from('sealed with cache'));
    expect((await cached.open(ctx(), sealedUncached)).toString()).toBe('sealed without cache');
    expect((await uncached.open(ctx(), sealedCached)).toString()).toBe('sealed with cache');
  });

  it('never seals under an all-zero key, even with the cache disabled (cacheSize 0)', async () => {
    const keyring = newKeyring(createLocalKeyProvider(rootKey), 0);
    const ciphertext = await keyring.seal(ctx(), Buffer.from('secret'));
    const [, , body] = ciphertext.split('.');
    // The associated data as keyring.ts builds it for ctx() and key version 1.
    const aad = Buffer.from(JSON.stringify(['credence', 'cv1', ORG_A, CUS_A1, 'cred_1', 'secret', 1]));
    expect(() => openBytes(Buffer.alloc(32), Buffer.from(body ?? '', 'base64url'), aad)).toThrow(
      'A stored value could not be decrypted',
    );
  });

  it('describes its provider without the key', () => {
    const keyring = newKeyring();
    expect(keyring.describe()).toEqual({ provider: 'local', keyId: createLocalKeyProvider(rootKey).keyId });
  });
});
