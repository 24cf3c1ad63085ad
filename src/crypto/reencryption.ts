import type { AuditService } from '../audit/audit-service.js';
import type { Clock } from '../common/clock.js';
import type { Db, Transact } from '../store/database.js';
import type { DataKeyStore } from './data-key-store.js';
import { keyVersionOf, type Keyring } from './keyring.js';
import type { JobPhase, JobProgress, RotationJob, RotationJobStore } from './rotation-job-store.js';
import type { Resealed, SealedRow, SealedSourceName, SealedValueStore } from './sealed-values-store.js';

/** Another worker took the job over (our lease expired) or a newer rotation superseded it. */
export class LeaseLostError extends Error {
  override readonly name = 'LeaseLostError';
}

const NEXT_PHASE: Record<Exclude<JobPhase, 'verify'>, JobPhase> = {
  credentials: 'grants',
  grants: 'states',
  states: 'lastTests',
  lastTests: 'runs',
  runs: 'health',
  health: 'healthHistory',
  healthHistory: 'webhookSecrets',
  webhookSecrets: 'verify',
};
const SOURCES: SealedSourceName[] = ['credentials', 'grants', 'states', 'lastTests', 'runs', 'health', 'healthHistory', 'webhookSecrets'];
/** Passes over the scope before a job settles for leaving stragglers under their old, readable version. */
const MAX_PASSES = 3;

export interface RunOptions {
  /** Checked between batches; when true the job is released for another worker. */
  shouldStop?: () => boolean;
  onProgress?: (job: RotationJob) => void;
  /** Stop after this many batches and keep the lease, as a crashed worker would (tests). */
  maxBatches?: number;
}

/**
 * Runs a scope rotation's re-encryption, one batch at a time: read rows of the scope,
 * open each value sealed under a version older than the job's target, seal it again
 * under the scope's current key, and write the batch together with the job's progress in
 * one transaction. A crash loses at most the batch in flight; whoever takes the job over
 * resumes from the persisted cursor.
 *
 * Each write is guarded by the row's version (credentials.row_version,
 * oauth_grants.version) or, for PKCE verifiers, by the old ciphertext, so a concurrent
 * change always wins. The guard does not bump the version: the plaintext is unchanged,
 * and bumping it would make an edit in progress fail with CONFLICT or, worse, throw away
 * a freshly refreshed token whose refresh token the provider has already rotated. A
 * concurrent writer that sealed under the old version just before the rotation is caught
 * by the final check, which walks the scope again while anything old remains.
 */
export const createReencryptor = (deps: {
  values: SealedValueStore;
  keyring: Pick<Keyring, 'open' | 'sealAll' | 'forgetScope'>;
  dataKeys: Pick<DataKeyStore, 'findCurrent' | 'listVersions' | 'retireBelow'>;
  jobs: Pick<RotationJobStore, 'saveProgress' | 'finish' | 'release'>;
  audit: Pick<AuditService, 'record'>;
  transact: Transact;
  clock: Clock;
  owner: string;
  batchSize: number;
  leaseMs: number;
}) => {
  const { values, keyring, dataKeys, jobs, audit, transact, clock, owner, batchSize, leaseMs } = deps;

  const progressOf = (job: RotationJob): JobProgress => ({ phase: job.phase, cursor: job.cursor, pass: job.pass, done: job.done, failed: job.failed });

  const save = async (job: RotationJob, progress: JobProgress, trx?: Db): Promise<RotationJob> => {
    const now = clock.now();
    const until = new Date(now.getTime() + leaseMs).toISOString();
    if (!(await jobs.saveProgress(job.id, owner, progress, now.toISOString(), until, trx))) throw new LeaseLostError('The rotation job is no longer ours');
    return { ...job, ...progress, leaseExpiresAt: until, updatedAt: now.toISOString() };
  };

  /** Opens every value older than the target and seals them all again in one go. */
  const reseal = async (job: RotationJob, rows: SealedRow[]): Promise<{ resealed: Resealed[]; failed: number }> => {
    const { organizationId, scopeId } = job;
    const items: Array<{ recordId: string; fieldSet: string; plaintext: Buffer; row: SealedRow; column: string }> = [];
    const failedRows = new Set<SealedRow>();
    try {
      for (const row of rows) {
        for (const value of row.values) {
          if ((keyVersionOf(value.ciphertext) ?? 0) >= job.targetVersion) continue;
          try {
            const plaintext = await keyring.open({ organizationId, scopeId, recordId: value.recordId, fieldSet: value.fieldSet }, value.ciphertext);
            items.push({ recordId: value.recordId, fieldSet: value.fieldSet, plaintext, row, column: value.column });
          } catch {
            // Left as it is, under a version that stays readable; the final check counts it.
            failedRows.add(row);
          }
        }
      }
      const sealed = await keyring.sealAll(organizationId, scopeId, items);
      const byRow = new Map<SealedRow, Resealed>();
      items.forEach((item, i) => {
        const entry = byRow.get(item.row) ?? { row: item.row, replacements: new Map<string, string>() };
        entry.replacements.set(item.column, sealed[i] ?? '');
        byRow.set(item.row, entry);
      });
      return { resealed: [...byRow.values()], failed: failedRows.size };
    } finally {
      for (const item of items) item.plaintext.fill(0);
    }
  };

  const finish = async (job: RotationJob, status: 'done' | 'cancelled', remaining: number): Promise<RotationJob> => {
    const at = clock.now().toISOString();
    const { organizationId, scopeId } = job;
    const error = status === 'cancelled' ? 'The scope no longer exists' : remaining > 0 ? `${remaining} rows hold values that could not be opened to re-encrypt; their key versions stay readable` : null;
    await transact(async (trx) => {
      const retired = status === 'done' ? await dataKeys.retireBelow(organizationId, scopeId, job.targetVersion, at, trx) : [];
      if (!(await jobs.finish(job.id, owner, { status, done: job.done, failed: remaining, at, error }, trx))) throw new LeaseLostError('The rotation job is no longer ours');
      if (status === 'done') {
        await audit.record(
          null,
          organizationId,
          {
            action: 'key.reencrypted',
            customerId: scopeId === organizationId ? null : scopeId,
            targetType: 'key_scope',
            targetId: scopeId,
            details: { jobId: job.id, version: job.targetVersion, values: job.done, retiredVersions: retired, remaining },
          },
          trx,
        );
      }
    });
    keyring.forgetScope(organizationId, scopeId);
    return { ...job, status, failed: remaining, finishedAt: at, updatedAt: at, error, leaseOwner: null, leaseExpiresAt: null };
  };

  /** Walks the scope again while values under older versions remain (a writer raced the rotation). */
  const verify = async (job: RotationJob): Promise<RotationJob> => {
    const versions = (await dataKeys.listVersions(job.organizationId, [job.scopeId])).map((key) => key.version).filter((v) => v < job.targetVersion);
    let remaining = 0;
    for (const name of SOURCES) remaining += await values[name].countSealedUnder(job.organizationId, job.scopeId, versions);
    if (remaining > 0 && job.pass < MAX_PASSES) return save(job, { ...progressOf(job), phase: 'credentials', cursor: null, pass: job.pass + 1 });
    return finish(job, 'done', remaining);
  };

  /** A batch read and re-sealed, ready to write; `at` names the job position it was read from. */
  interface Prepared {
    at: string;
    rows: SealedRow[];
    resealed: Resealed[];
    failed: number;
  }
  const positionOf = (job: RotationJob, cursor: string | null) => `${job.id}/${job.pass}/${job.phase}/${cursor ?? ''}`;

  const prepare = async (job: RotationJob, phase: SealedSourceName, cursor: string | null): Promise<Prepared> => {
    const rows = await values[phase].read(job.organizationId, job.scopeId, cursor, batchSize);
    const { resealed, failed } = rows.length > 0 ? await reseal(job, rows) : { resealed: [], failed: 0 };
    return { at: positionOf(job, cursor), rows, resealed, failed };
  };

  /**
   * One step: a batch of the current phase, moving on to the next phase, or the final
   * check. While a batch is written, the next one is already read and re-sealed (`ahead`),
   * so on PostgreSQL the database and the cipher work overlap.
   */
  const step = async (job: RotationJob, ahead?: Promise<Prepared>): Promise<{ job: RotationJob; ahead?: Promise<Prepared> }> => {
    if (!(await dataKeys.findCurrent(job.organizationId, job.scopeId))) return { job: await finish(job, 'cancelled', 0) };
    if (job.phase === 'verify') return { job: await verify(job) };
    const phase = job.phase;
    const prefetched = ahead ? await ahead : undefined;
    const batch = prefetched?.at === positionOf(job, job.cursor) ? prefetched : await prepare(job, phase, job.cursor);
    const { rows } = batch;
    if (rows.length === 0) return { job: await save(job, { ...progressOf(job), phase: NEXT_PHASE[phase], cursor: null }) };
    const cursor = rows[rows.length - 1]?.key ?? null;
    const next = rows.length === batchSize ? prepare(job, phase, cursor) : undefined;
    // Handled here so a batch never needed (the job stopped) cannot fail unobserved.
    next?.catch(() => undefined);
    const firstPass = job.pass === 1;
    const saved = await transact(async (trx) => {
      await values[phase].write(job.organizationId, batch.resealed, trx);
      return save(
        job,
        {
          ...progressOf(job),
          cursor,
          done: firstPass ? job.done + rows.length : job.done,
          failed: firstPass ? job.failed + batch.failed : job.failed,
        },
        trx,
      );
    });
    return next ? { job: saved, ahead: next } : { job: saved };
  };

  return {
    /** Runs a job this worker has claimed until it finishes, is taken over, or is told to stop. */
    async run(claimed: RotationJob, options: RunOptions = {}): Promise<RotationJob> {
      let job = claimed;
      let ahead: Promise<Prepared> | undefined;
      for (let batches = 0; job.status === 'running'; batches += 1) {
        if (options.maxBatches !== undefined && batches >= options.maxBatches) return job;
        if (options.shouldStop?.()) {
          await jobs.release(job.id, owner);
          return job;
        }
        try {
          ({ job, ahead } = await step(job, ahead));
        } catch (error) {
          if (error instanceof LeaseLostError) return job;
          throw error;
        }
        options.onProgress?.(job);
        // SQLite answers synchronously: without this a job would hold the event loop, and the
        // requests this process serves, until it finished.
        await new Promise((resolve) => setImmediate(resolve));
      }
      return job;
    },
  };
};

export type Reencryptor = ReturnType<typeof createReencryptor>;
