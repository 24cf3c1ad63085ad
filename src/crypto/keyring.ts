import { randomBytes } from 'node:crypto';
import { newId } from '../common/ids.js';
import type { Clock } from '../common/clock.js';
import type { Db } from '../store/database.js';
import { KEY_BYTES, decryptionFailed, openBytes, sealBytes } from './aead.js';
import { scopeKey, type DataKeyRecord, type DataKeyStore } from './data-key-store.js';
import type { KeyProvider } from './key-provider.js';
import type { Metrics } from '../observability/metrics.js';

/** Ciphertext format version; part of every ciphertext and of its associated data. */
const FORMAT = 'cv1';

/**
 * Where a ciphertext belongs. All four parts go into the associated data, so a
 * ciphertext copied to another row, field set, scope or organization fails to open.
 */
export interface CipherContext {
  organizationId: string;
  /** The tenant scope whose data key seals the value: the organization id or a customer id. */
  scopeId: string;
  /** The row the value belongs to, e.g. a credential id. */
  recordId: string;
  /** Which set of values this is, e.g. `secret` or `config`. */
  fieldSet: string;
}

export class RootKeyMismatchError extends Error {
  override readonly name = 'RootKeyMismatchError';
}

const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** The clear prefix of every ciphertext sealed under `version`, to find them with SQL `LIKE`. */
export const ciphertextPrefix = (version: number): string => `${FORMAT}.${version}.`;

/** The data-key version a ciphertext names in its clear prefix; undefined when it is not a ciphertext. */
export const keyVersionOf = (ciphertext: string): number | undefined => {
  const [format, versionText] = ciphertext.split('.', 2);
  return format === FORMAT && /^[1-9]\d{0,8}$/.test(versionText ?? '') ? Number(versionText) : undefined;
};

/** Told of every value sealed, per data key id, so keys are rotated before they wear out. */
export interface EncryptionTally {
  count(dataKeyId: string, values: number): void;
}

const cipherAad = (ctx: CipherContext, keyVersion: number): Buffer =>
  Buffer.from(JSON.stringify(['credence', FORMAT, ctx.organizationId, ctx.scopeId, ctx.recordId, ctx.fieldSet, keyVersion]));

const wrapContext = (organizationId: string, scopeId: string, version: number): string =>
  JSON.stringify(['credence-data-key', 'v1', organizationId, scopeId, version]);

/**
 * Envelope encryption over per-scope data keys. Each scope (the organization, and each
 * customer) has its own random 256-bit data key, stored only wrapped by the root key.
 * Unwrapped keys are kept in a bounded in-memory cache and wiped on `close`.
 */
export const createKeyring = (deps: {
  provider: KeyProvider;
  store: DataKeyStore;
  clock: Clock;
  cacheSize?: number;
  metrics?: Pick<Metrics, 'dataKeyLookup'> | undefined;
  tally?: EncryptionTally | undefined;
}) => {
  const { provider, store, clock } = deps;
  const cacheSize = Math.max(1, deps.cacheSize ?? 10_000);
  const cache = new Map<string, Buffer>();
  // One unwrap per key at a time: concurrent callers share it, so no copy escapes the cache.
  const pending = new Map<string, Promise<Buffer>>();

  const remember = (key: string, dataKey: Buffer): void => {
    while (cache.size >= cacheSize) {
      const oldest = cache.keys().next().value as string;
      cache.get(oldest)?.fill(0);
      cache.delete(oldest);
    }
    cache.set(key, dataKey);
  };

  /**
   * A cached key, synchronously. Callers use it before they next yield, so a key wiped from the
   * cache meanwhile (a rotation or deletion in another request) is never used zeroed.
   */
  const cachedKey = (organizationId: string, scopeId: string, version: number): Buffer | undefined => {
    const cacheKey = `${organizationId}/${scopeId}/${version}`;
    const cached = cache.get(cacheKey);
    if (!cached) return undefined;
    deps.metrics?.dataKeyLookup('hit');
    // Least recently used goes first: a hit moves the key to the back.
    cache.delete(cacheKey);
    cache.set(cacheKey, cached);
    return cached;
  };

  const unwrapVersion = async (organizationId: string, scopeId: string, version: number, trx?: Db): Promise<Buffer> => {
    const cacheKey = `${organizationId}/${scopeId}/${version}`;
    const cached = cachedKey(organizationId, scopeId, version);
    if (cached) return cached;
    deps.metrics?.dataKeyLookup('miss');
    const inFlight = pending.get(cacheKey);
    if (inFlight) return inFlight;
    const unwrapping = (async () => {
      const record = await store.find(organizationId, scopeId, version, trx);
      if (!record) throw decryptionFailed();
      const dataKey = await provider.unwrap(record.wrappedKey, wrapContext(organizationId, scopeId, version));
      remember(cacheKey, dataKey);
      return dataKey;
    })();
    pending.set(cacheKey, unwrapping);
    try {
      return await unwrapping;
    } finally {
      pending.delete(cacheKey);
    }
  };

  /**
   * Seals values of any scopes, each under its scope's current data key; the current
   * versions of all the scopes are looked up in one query, and each key's use is tallied once.
   */
  const sealEach = async (items: ReadonlyArray<{ ctx: CipherContext; plaintext: Buffer }>, trx?: Db): Promise<string[]> => {
    if (items.length === 0) return [];
    const current = await store.findCurrentEach(
      items.map(({ ctx }) => ctx),
      trx,
    );
    const sealed: string[] = [];
    const uses = new Map<string, number>();
    for (const { ctx, plaintext } of items) {
      const key = current.get(scopeKey(ctx.organizationId, ctx.scopeId));
      if (!key) throw new Error(`No data key for scope ${ctx.scopeId}`);
      const dataKey = cachedKey(ctx.organizationId, ctx.scopeId, key.version) ?? (await unwrapVersion(ctx.organizationId, ctx.scopeId, key.version, trx));
      sealed.push(`${ciphertextPrefix(key.version)}${sealBytes(dataKey, plaintext, cipherAad(ctx, key.version)).toString('base64url')}`);
      uses.set(key.id, (uses.get(key.id) ?? 0) + 1);
    }
    for (const [id, count] of uses) deps.tally?.count(id, count);
    return sealed;
  };

  return {
    /**
     * Creates version 1 of a new scope's data key (call inside the transaction that creates
     * the scope), or a later version when the scope's key is rotated.
     */
    async createScopeKey(organizationId: string, scopeId: string, trx?: Db, version = 1): Promise<void> {
      const dataKey = randomBytes(KEY_BYTES);
      const wrappedKey = await provider.wrap(dataKey, wrapContext(organizationId, scopeId, version));
      dataKey.fill(0);
      await store.insert(
        {
          id: newId('dek'),
          organizationId,
          scopeId,
          version,
          wrappedKey,
          rootKeyId: provider.keyId,
          createdAt: clock.now().toISOString(),
          retiredAt: null,
        },
        trx,
      );
    },

    /** Encrypts `plaintext` under the scope's current data key. */
    async seal(ctx: CipherContext, plaintext: Buffer, trx?: Db): Promise<string> {
      return (await sealEach([{ ctx, plaintext }], trx))[0] as string;
    },

    /** Seals several values of one scope under its current data key, looked up once (re-encryption batches). */
    sealAll(
      organizationId: string,
      scopeId: string,
      items: ReadonlyArray<{ recordId: string; fieldSet: string; plaintext: Buffer }>,
      trx?: Db,
    ): Promise<string[]> {
      return sealEach(
        items.map(({ recordId, fieldSet, plaintext }) => ({ ctx: { organizationId, scopeId, recordId, fieldSet }, plaintext })),
        trx,
      );
    },

    sealEach,

    /** Decrypts a value sealed for exactly this context. Any mismatch is DECRYPTION_FAILED. */
    async open(ctx: CipherContext, ciphertext: string, trx?: Db): Promise<Buffer> {
      const [format, versionText, body, ...rest] = ciphertext.split('.');
      const version = Number(versionText);
      if (format !== FORMAT || !/^[1-9]\d{0,8}$/.test(versionText ?? '') || body === undefined || !BASE64URL.test(body) || rest.length > 0) {
        throw decryptionFailed();
      }
      const dataKey = cachedKey(ctx.organizationId, ctx.scopeId, version) ?? (await unwrapVersion(ctx.organizationId, ctx.scopeId, version, trx));
      return openBytes(dataKey, Buffer.from(body, 'base64url'), cipherAad(ctx, version));
    },

    /**
     * Wraps a stored data key anew under `target` (a root key rotation). The data key itself
     * is unchanged, so nothing it sealed needs touching.
     */
    async rewrap(record: Pick<DataKeyRecord, 'organizationId' | 'scopeId' | 'version' | 'wrappedKey'>, target: Pick<KeyProvider, 'wrap'>): Promise<string> {
      const context = wrapContext(record.organizationId, record.scopeId, record.version);
      const dataKey = await provider.unwrap(record.wrappedKey, context);
      try {
        return await target.wrap(dataKey, context);
      } finally {
        dataKey.fill(0);
      }
    },

    /** Drops a scope's keys from the cache (after the scope is deleted or its key rotated). */
    forgetScope(organizationId: string, scopeId: string): void {
      const prefix = `${organizationId}/${scopeId}/`;
      for (const [key, value] of cache) {
        if (key.startsWith(prefix)) {
          value.fill(0);
          cache.delete(key);
        }
      }
    },

    /**
     * Proves the configured root key opens the stored data keys. The server refuses to
     * start otherwise: a wrong key must never lead to writes that nobody can read back.
     */
    async verifyRootKey(): Promise<void> {
      for (const sample of await store.sampleByRootKey()) {
        try {
          const key = await provider.unwrap(sample.wrappedKey, wrapContext(sample.organizationId, sample.scopeId, sample.version));
          key.fill(0);
        } catch {
          throw new RootKeyMismatchError(
            'The configured root key does not open the stored data keys; start Credence with the key this database was created with',
          );
        }
      }
    },

    describe: () => provider.describe(),

    /** Wipes every cached data key. */
    close(): void {
      for (const value of cache.values()) value.fill(0);
      cache.clear();
    },
  };
};

export type Keyring = ReturnType<typeof createKeyring>;
