// @ts-check
/**
 * The SQLite audit writer, on a thread of its own with its own connection to the database
 * file, so committing a batch of audit events (and its fsync) never blocks the requests the
 * main thread is serving. It links each event into its organization's chain with the
 * process's own link function (link-hash.mjs), the content hash computed by the caller, inside one BEGIN IMMEDIATE
 * transaction per batch, and answers once it has committed. Before each batch it queues for
 * the process's write lock (src/store/sqlite-write-lock.ts), blocking this thread only.
 */
import { parentPort, workerData } from 'node:worker_threads';
import SqliteDatabase from 'better-sqlite3';
import { acquireBlocking, release } from '../store/write-lock-cells.mjs';
import { linkHash } from './link-hash.mjs';

const { file, genesis, lock, tag } = /** @type {{ file: string; genesis: string; lock: SharedArrayBuffer; tag: number }} */ (workerData);
const db = new SqliteDatabase(file);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = FULL');
db.pragma('foreign_keys = ON');
db.pragma('busy_timeout = 5000');

const createHead = db.prepare('insert into audit_heads (organization_id, seq, prev_hash, hash) values (?, 0, ?, ?) on conflict (organization_id) do nothing');
const claim = db.prepare('update audit_heads set seq = seq + ? where organization_id = ? returning seq, hash');
const moveHead = db.prepare('update audit_heads set prev_hash = ?, hash = ? where organization_id = ?');
const insert = db.prepare(`insert into audit_events
  (id, organization_id, customer_id, actor_type, actor_id, actor_role, action, target_type, target_id, details, occurred_at, seq, prev_hash, hash)
  values (@id, @organizationId, @customerId, @actorType, @actorId, @actorRole, @action, @targetType, @targetId, @details, @occurredAt, @seq, @prevHash, @hash)`);


/** @typedef {{ organizationId: string; contentHash: string } & Record<string, unknown>} Content */

/** Appends each organization's events at the end of its chain; `groups` come in organization order. */
const append = db.transaction(/** @param {Array<[string, Content[]]>} groups */ (groups) => {
  for (const [organizationId, contents] of groups) {
    createHead.run(organizationId, genesis, genesis);
    const head = /** @type {{ seq: number | bigint; hash: string } | undefined} */ (claim.get(contents.length, organizationId));
    if (!head) throw new Error('The audit chain head could not be claimed');
    let seq = Number(head.seq) - contents.length;
    let previous = head.hash;
    let before = previous;
    for (const { contentHash, ...content } of contents) {
      seq += 1;
      const hash = linkHash(previous, seq, contentHash);
      insert.run({ ...content, seq, prevHash: previous, hash });
      before = previous;
      previous = hash;
    }
    moveHead.run(before, previous, organizationId);
  }
});

const cells = new Int32Array(lock);

/** Runs `work` holding the process's write lock, waiting for its turn first come first served. */
const withWriteLock = (/** @type {() => void} */ work) => {
  acquireBlocking(cells, tag);
  try {
    work();
  } finally {
    release(cells);
  }
};

parentPort?.postMessage('ready');

parentPort?.on('message', (/** @type {{ id: number; groups: Array<[string, Content[]]> }} */ message) => {
  try {
    withWriteLock(() => append.immediate(message.groups));
    parentPort?.postMessage({ id: message.id, ok: true });
  } catch (error) {
    parentPort?.postMessage({ id: message.id, ok: false, message: error instanceof Error ? error.message : String(error) });
  }
});
