import type { CredentialChangeFeed } from '../store/credential-changes.js';
import type { CredentialRecord } from './credential-store.js';

export type CacheLookup = 'hit' | 'miss';

/**
 * A bounded in-process cache of credential rows as stored: sealed values, never a decrypted
 * one. It saves the read by id on the hot path (resolve, and every request that looks a
 * credential up). A row is served only while `changes` says the stored row is unchanged,
 * and a change made anywhere — this process, another one, or by hand in the database — is
 * seen (see src/store/credential-changes.ts). Least recently used rows go first past
 * `maxEntries`; 0 turns the cache off.
 */
export const createCredentialCache = (options: {
  changes: CredentialChangeFeed;
  maxEntries: number;
  onLookup?: ((result: CacheLookup) => void) | undefined;
}) => {
  const { changes, maxEntries } = options;
  const entries = new Map<string, { record: CredentialRecord; stamp: number }>();
  changes.subscribe((id) => (id === undefined ? entries.clear() : entries.delete(id)));

  return {
    /** The credential `id` of `organizationId`, from the cache when it is still the stored row, else from `load`. */
    async find(organizationId: string, id: string, load: () => Promise<CredentialRecord | undefined>): Promise<CredentialRecord | undefined> {
      if (maxEntries === 0) return load();
      const entry = entries.get(id);
      if (entry && changes.fresh(entry.stamp, id)) {
        entries.delete(id);
        entries.set(id, entry);
        options.onLookup?.('hit');
        return entry.record.organizationId === organizationId ? entry.record : undefined;
      }
      options.onLookup?.('miss');
      const stamp = changes.stamp(id);
      const record = await load();
      if (!record || stamp === undefined || !changes.keeps(stamp, id)) {
        entries.delete(id);
        return record;
      }
      entries.delete(id);
      entries.set(id, { record: freezeRecord(record), stamp });
      if (entries.size > maxEntries) entries.delete(entries.keys().next().value as string);
      return record;
    },

    /** This process is changing credential `id` (every credential when undefined); `changes` drops what it must. */
    changing(id?: string): void {
      changes.changing(id);
    },
  };
};

export type CredentialCache = ReturnType<typeof createCredentialCache>;

/** A cached record is shared by every caller: none may change it. */
const freezeRecord = (record: CredentialRecord): CredentialRecord => {
  Object.freeze(record.setFields);
  if (record.destinations) Object.freeze(record.destinations);
  if (record.oauthSettings) Object.freeze(record.oauthSettings);
  if (record.legacyLastTest) Object.freeze(record.legacyLastTest);
  return Object.freeze(record);
};
