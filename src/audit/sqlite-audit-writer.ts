import { Worker } from 'node:worker_threads';
import { newWorkerTag, type WriteLock } from '../store/sqlite-write-lock.js';
import { GENESIS_HASH, type EventContent } from './audit-chain.js';

/** An event ready to be chained: its content and that content's hash. */
export type HashedContent = EventContent & { contentHash: string };

/** Appends batches of audit events from another thread; see sqlite-audit-worker.mjs. */
export interface AuditWriter {
  /** Resolves once the batch is committed; `groups` are each organization's events, organizations in a fixed order. */
  append(groups: Array<[string, HashedContent[]]>): Promise<void>;
  /** False once the thread has failed: the caller appends in the process instead. */
  readonly usable: boolean;
  /** Starts the thread (once the migrations have run) and resolves when it is ready, or could not start. */
  ready(): Promise<void>;
  /** Batches the thread has committed. */
  readonly batches: number;
  /** Waits for the batches in flight, then stops the thread. */
  close(): Promise<void>;
}

/**
 * The SQLite audit writer thread for the database `file`, started by `ready` or at its first
 * batch, after the migrations have run. It queues for the process's write `lock` like every other
 * writer to the file, and never keeps the process alive on its own.
 */
export const createSqliteAuditWriter = (file: string, lock: WriteLock): AuditWriter => {
  const tag = newWorkerTag();
  let worker: Worker | undefined;
  let failed = false;
  let nextId = 0;
  let batches = 0;
  let started: Promise<void> | undefined;
  let whenStarted: () => void = () => undefined;
  const pending = new Map<number, { resolve: () => void; reject: (error: Error) => void }>();
  const inFlight = new Set<Promise<void>>();

  const failAll = (error: Error): void => {
    failed = true;
    whenStarted();
    for (const waiter of pending.values()) waiter.reject(error);
    pending.clear();
  };

  const start = (): Worker => {
    started = new Promise((resolve) => (whenStarted = resolve));
    const thread = new Worker(new URL('./sqlite-audit-worker.mjs', import.meta.url), { workerData: { file, genesis: GENESIS_HASH, lock: lock.shared, tag } });
    thread.unref();
    thread.on('message', (message: { id: number; ok: boolean; message?: string } | 'ready') => {
      if (message === 'ready') return whenStarted();
      const waiter = pending.get(message.id);
      pending.delete(message.id);
      if (message.ok) {
        batches += 1;
        waiter?.resolve();
      }
      else waiter?.reject(new Error(message.message ?? 'The audit batch failed'));
    });
    thread.on('error', (error) => failAll(error));
    thread.on('exit', () => {
      // A thread stopped in the middle of a batch must not keep every other writer waiting.
      lock.releaseIfHeldBy(tag);
      failAll(new Error('The audit writer thread stopped'));
    });
    return thread;
  };

  return {
    get usable() {
      return !failed;
    },
    get batches() {
      return batches;
    },
    async ready() {
      if (failed) return;
      worker ??= start();
      await started;
    },
    append(groups) {
      if (failed) return Promise.reject(new Error('The audit writer thread stopped'));
      worker ??= start();
      const id = nextId++;
      const promise = new Promise<void>((resolve, reject) => pending.set(id, { resolve, reject }));
      worker.postMessage({ id, groups });
      inFlight.add(promise);
      void promise.then(
        () => inFlight.delete(promise),
        () => inFlight.delete(promise),
      );
      return promise;
    },
    async close() {
      await Promise.allSettled([...inFlight]);
      failed = true;
      await worker?.terminate();
    },
  };
};
