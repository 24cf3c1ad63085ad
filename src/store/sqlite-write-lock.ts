import { resolve } from 'node:path';

/**
 * SQLite lets one connection write at a time, and a connection waiting for the write lock
 * (its busy handler) retries on a timer: it is not fair, and a thread whose commits come
 * back to back can keep another out until its busy timeout ends. Every thread of this
 * process that writes to one database file therefore queues here first, first come first
 * served, before it starts a write; SQLite's own lock still arbitrates between processes.
 *
 * The queue is a ticket lock in shared memory, so a worker thread takes part (see
 * sqlite-audit-worker.mjs, which implements the same three cells): cell 0 is the next
 * ticket, cell 1 the ticket being served, cell 2 the tag of the holder (0 for none).
 * The main thread waits without blocking (Atomics.waitAsync); a worker thread blocks.
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

const NEXT = 0;
const SERVING = 1;
const HOLDER = 2;

/** Tags: every main-thread connection shares one; each worker thread gets its own. */
export const MAIN_THREAD_TAG = 1;
let nextWorkerTag = MAIN_THREAD_TAG + 1;
export const newWorkerTag = (): number => nextWorkerTag++;

type WaitAsync = (cells: Int32Array, index: number, value: number) => { async: boolean; value: Promise<unknown> | string };

export const createWriteLock = (shared: SharedArrayBuffer = new SharedArrayBuffer(3 * Int32Array.BYTES_PER_ELEMENT)): WriteLock => {
  const cells = new Int32Array(shared);
  const waitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync;
  const release = (): void => {
    Atomics.store(cells, HOLDER, 0);
    Atomics.add(cells, SERVING, 1);
    Atomics.notify(cells, SERVING);
  };
  return {
    shared,
    async acquire(tag) {
      const ticket = Atomics.add(cells, NEXT, 1);
      for (;;) {
        const serving = Atomics.load(cells, SERVING);
        if (serving === ticket) break;
        const waited = waitAsync(cells, SERVING, serving);
        if (waited.async) await waited.value;
      }
      Atomics.store(cells, HOLDER, tag);
    },
    release,
    releaseIfHeldBy(tag) {
      if (Atomics.load(cells, HOLDER) === tag) release();
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
