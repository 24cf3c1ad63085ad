import type { AuditService } from '../audit/audit-service.js';
import type { Transact } from '../store/database.js';
import type { DataKeyStore } from './data-key-store.js';
import type { KeyProvider } from './key-provider.js';
import type { Keyring } from './keyring.js';

export interface RootRotationProgress {
  rewrapped: number;
  total: number;
}

export interface RootRotationResult extends RootRotationProgress {
  rootKeyId: string;
  /** Data keys still wrapped by another root key (ones the configured keys could not open). */
  remaining: number;
}

/**
 * Root key rotation: every data key is unwrapped with the keys this process holds and
 * wrapped again by `target`, in batches of one transaction each. Only the wrapped keys
 * change (O(scopes)); no ciphertext is touched and the unwrapped data keys stay valid, so
 * running processes keep serving. Keys already wrapped by the target are skipped, so the
 * rotation can be interrupted and run again.
 */
export const createRootKeyRotation = (deps: {
  dataKeys: Pick<DataKeyStore, 'listNotWrappedBy' | 'rewrap' | 'countByRootKey'>;
  keyring: Pick<Keyring, 'rewrap'>;
  audit: Pick<AuditService, 'record'>;
  transact: Transact;
}) => {
  const { dataKeys, keyring, transact } = deps;

  const countNotWrappedBy = async (rootKeyId: string): Promise<number> =>
    (await dataKeys.countByRootKey()).filter((entry) => entry.rootKeyId !== rootKeyId).reduce((sum, entry) => sum + entry.count, 0);

  return {
    countNotWrappedBy,

    /** How many data keys each root key wraps (by root key id, which is not secret). */
    wrappedByRootKey: () => dataKeys.countByRootKey(),

    async rewrapAll(
      target: Pick<KeyProvider, 'wrap' | 'keyId'>,
      options: { batchSize?: number; onProgress?: (progress: RootRotationProgress) => void } = {},
    ): Promise<RootRotationResult> {
      const batchSize = options.batchSize ?? 500;
      const total = await countNotWrappedBy(target.keyId);
      const perOrganization = new Map<string, number>();
      let rewrapped = 0;
      // A second pass picks up keys another process created under the old root key meanwhile.
      for (let pass = 0; pass < 3; pass += 1) {
        let cursor: string | undefined;
        let changedThisPass = 0;
        for (;;) {
          const batch = await dataKeys.listNotWrappedBy(target.keyId, cursor, batchSize);
          if (batch.length === 0) break;
          cursor = batch[batch.length - 1]?.id;
          const updates: Array<{ id: string; previous: string; wrappedKey: string; rootKeyId: string; organizationId: string }> = [];
          for (const record of batch) {
            try {
              updates.push({ id: record.id, previous: record.wrappedKey, wrappedKey: await keyring.rewrap(record, target), rootKeyId: target.keyId, organizationId: record.organizationId });
            } catch {
              // A key none of the configured root keys opens stays as it is and is reported as remaining.
            }
          }
          const changed = await transact((trx) => dataKeys.rewrap(updates, trx));
          for (const update of updates) perOrganization.set(update.organizationId, (perOrganization.get(update.organizationId) ?? 0) + 1);
          rewrapped += changed;
          changedThisPass += changed;
          options.onProgress?.({ rewrapped, total: Math.max(total, rewrapped) });
          // Let requests this process serves run between batches (SQLite answers synchronously).
          await new Promise((resolve) => setImmediate(resolve));
        }
        if (changedThisPass === 0) break;
      }
      for (const [organizationId, count] of perOrganization) {
        await deps.audit.record(null, organizationId, { action: 'key.root_rotated', targetType: 'root_key', targetId: target.keyId, details: { rootKeyId: target.keyId, dataKeys: count } });
      }
      return { rootKeyId: target.keyId, rewrapped, total: Math.max(total, rewrapped), remaining: await countNotWrappedBy(target.keyId) };
    },
  };
};

export type RootKeyRotation = ReturnType<typeof createRootKeyRotation>;
