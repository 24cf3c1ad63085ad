import { resolve } from 'node:path';
import { CELLS, HOLDER, SERVING, hold, release, takeTicket } from './write-lock-cells.mjs';

/**
 * SQLite lets one connection write at a time, and a connection waiting for the write lock
 * (its busy handler) retries on a timer: it is not fair, and a thread whose commits come
 * back to back can keep another out until its busy timeout ends. Every thread of this
 * process that writes to one database file therefore queues here first, first come first
 * served, before it starts a write; SQLite's own lock still arbitrates between processes.
 *
 * The queue is a ticket lock in shared memory (write-lock-cells.mjs), so a worker thread
 * takes part (sqlite-audit-worker.mjs). The main thread waits without blocking
 * (Atomics.waitAsync); a worker thread blocks.
 */
export interface WriteLock {
  /** The shared cells, to hand to a worker thread. */
  readonly shared: SharedArrayBuffer;
  /** Resolves once the caller's turn has come; `tag` (≥ 1) names the holder until release. */
  acquire(tag: number): Promise<void>;
  release(): void;
  /** Releases the lock if `tag` holds it: for a thread that stopped while holding it. */
  releaseIfHeldBy(tag: number): void;
}

/** Tags: every main-thread connection shares one; each worker thread gets its own. */
export const MAIN_THREAD_TAG = 1;
let nextWorkerTag = MAIN_THREAD_TAG + 1;
export const newWorkerTag = (): number => nextWorkerTag++;

type WaitAsync = (cells: Int32Array, index: number, value: number) => { async: boolean; value: Promise<unknown> | string };

export const createWriteLock = (shared: SharedArrayBuffer = new SharedArrayBuffer(CELLS * Int32Array.BYTES_PER_ELEMENT)): WriteLock => {
  const cells = new Int32Array(shared);
  const waitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync;
  return {
    shared,
    async acquire(tag) {
      const ticket = takeTicket(cells);
      for (;;) {
        const serving = Atomics.load(cells, SERVING);
        if (serving === ticket) break;
        const waited = waitAsync(cells, SERVING, serving);
        if (waited.async) await waited.value;
      }
      hold(cells, tag);
    },
    release: () => release(cells),
    releaseIfHeldBy(tag) {
      if (Atomics.load(cells, HOLDER) === tag) release(cells);
    },
  };
};

/** One lock per database file in this process, shared by every connection to it. */
const locks = new Map<string, WriteLock>();
export const writeLockFor = (file: string): WriteLock => {
  if (file === ':memory:') return createWriteLock();
  const key = resolve(file);
  let lock = locks.get(key);
  if (!lock) {
    lock = createWriteLock();
    locks.set(key, lock);
  }
  return lock;
};
