import type { Clock } from '../common/clock.js';
import type { DataKeyStore, DataKeyUsage } from './data-key-store.js';
import type { EncryptionTally } from './keyring.js';

/** AES-GCM with random 96-bit nonces is safe for 2^32 encryptions per key (NIST SP 800-38D §8.3). */
export const NONCE_LIMIT = 2 ** 32;
/** Rotate this far below the limit: room for counts a crashed process never wrote down. */
export const DEFAULT_ROTATION_THRESHOLD = NONCE_LIMIT - 2 ** 20;

/**
 * Counts encryptions per data key without a database write per seal. Counts pile up in
 * memory and are added to `data_keys.encryption_count` in one statement per key once
 * `flushEvery` values are waiting, `flushAfterMs` passed, or the process closes. A
 * process that dies loses at most `flushEvery` counts, far inside the margin between the
 * threshold and 2^32. A key whose count reaches the threshold is handed to `onWorn`,
 * which rotates it.
 *
 * Counting in the seal's own statement was the alternative; it would put a write and a
 * row lock on the one `data_keys` row of a scope into every transaction that seals, so
 * concurrent writes of a scope (token refreshes of the organization scope) would queue
 * behind each other.
 */
export const createEncryptionCounter = (deps: {
  store: Pick<DataKeyStore, 'addEncryptions'>;
  clock: Clock;
  threshold: number;
  onWorn: (key: DataKeyUsage) => Promise<unknown>;
  onError?: (error: unknown) => void;
  flushEvery?: number;
  flushAfterMs?: number;
}) => {
  const { store, clock, threshold } = deps;
  // A tiny threshold (tests) flushes often, so the count never lags far behind it.
  const flushEvery = deps.flushEvery ?? Math.max(1, Math.min(1024, Math.floor(threshold / 1024)));
  const flushAfterMs = deps.flushAfterMs ?? 10_000;
  const pending = new Map<string, number>();
  let pendingTotal = 0;
  let lastFlush = clock.now().getTime();
  let flushing: Promise<void> | undefined;
  let again = false;

  const report = (error: unknown) => deps.onError?.(error);

  const writeDown = async (): Promise<void> => {
    const batch = [...pending];
    pending.clear();
    pendingTotal = 0;
    lastFlush = clock.now().getTime();
    for (const [id, values] of batch) {
      let key: DataKeyUsage | undefined;
      try {
        key = await store.addEncryptions(id, values);
      } catch (error) {
        // Kept for the next flush: an undercount is what must never happen.
        pending.set(id, (pending.get(id) ?? 0) + values);
        pendingTotal += values;
        report(error);
        continue;
      }
      if (key && key.retiredAt === null && key.encryptionCount >= threshold) await deps.onWorn(key).catch(report);
    }
  };

  const flush = (): Promise<void> => {
    if (flushing) {
      again = true;
      return flushing;
    }
    flushing = (async () => {
      do {
        again = false;
        await writeDown();
      } while (again && pendingTotal > 0);
    })().finally(() => {
      flushing = undefined;
    });
    return flushing;
  };

  const tally: EncryptionTally = {
    count(dataKeyId, values) {
      pending.set(dataKeyId, (pending.get(dataKeyId) ?? 0) + values);
      pendingTotal += values;
      if (pendingTotal >= flushEvery || clock.now().getTime() - lastFlush >= flushAfterMs) void flush();
    },
  };

  return {
    tally,
    /** Writes every count still in memory; call before closing the database. */
    flush,
    /** Counts not yet written down (for tests and status). */
    pendingCount: () => pendingTotal,
  };
};

export type EncryptionCounter = ReturnType<typeof createEncryptionCounter>;
