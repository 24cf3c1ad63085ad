import type { ExpressionBuilder } from 'kysely';
import type { Db, Engine } from '../store/database.js';
import type { Database, KeyRotationJobsTable } from '../store/schema.js';

export const JOB_STATUSES = ['pending', 'running', 'done', 'superseded', 'cancelled'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
/** Re-encryption walks the scope's sealed values table by table, then checks nothing old is left. */
export type JobPhase = 'credentials' | 'grants' | 'states' | 'lastTests' | 'runs' | 'health' | 'healthHistory' | 'webhookSecrets' | 'verify';
export type RotationReason = 'manual' | 'automatic';

/** A scope rotation's background re-encryption, with its progress persisted after every batch. */
export interface RotationJob {
  id: string;
  organizationId: string;
  scopeId: string;
  /** The key version the rotation created; values sealed under older versions are re-sealed. */
  targetVersion: number;
  reason: RotationReason;
  status: JobStatus;
  phase: JobPhase;
  /** The last row of `phase` already handled (keyset order), or null at the phase's start. */
  cursor: string | null;
  pass: number;
  done: number;
  total: number;
  /** Rows holding values that could not be re-encrypted (they stay under their old, readable version). */
  failed: number;
  leaseOwner: string | null;
  leaseExpiresAt: string | null;
  createdAt: string;
  updatedAt: string;
  finishedAt: string | null;
  error: string | null;
}

export type JobProgress = Pick<RotationJob, 'phase' | 'cursor' | 'pass' | 'done' | 'failed'>;

const ACTIVE: JobStatus[] = ['pending', 'running'];

const toJob = (row: KeyRotationJobsTable): RotationJob => ({
  id: row.id,
  organizationId: row.organization_id,
  scopeId: row.scope_id,
  targetVersion: Number(row.target_version),
  reason: row.reason as RotationReason,
  status: row.status as JobStatus,
  phase: row.phase as JobPhase,
  cursor: row.cursor,
  pass: Number(row.pass),
  done: Number(row.done),
  total: Number(row.total),
  failed: Number(row.failed),
  leaseOwner: row.lease_owner,
  leaseExpiresAt: row.lease_expires_at,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
  finishedAt: row.finished_at,
  error: row.error,
});

/**
 * Rotation jobs. A worker holds a job through a lease, exactly like a grant being
 * refreshed: every progress write checks the lease is still its own, so two workers
 * never run one job, and a dead worker's job is picked up once its lease expires.
 */
export const createRotationJobStore = (db: Db, engine: Engine) => ({
  async insert(job: RotationJob, trx: Db = db): Promise<void> {
    await trx
      .insertInto('key_rotation_jobs')
      .values({
        id: job.id,
        organization_id: job.organizationId,
        scope_id: job.scopeId,
        target_version: job.targetVersion,
        reason: job.reason,
        status: job.status,
        phase: job.phase,
        cursor: job.cursor,
        pass: job.pass,
        done: job.done,
        total: job.total,
        failed: job.failed,
        lease_owner: job.leaseOwner,
        lease_expires_at: job.leaseExpiresAt,
        created_at: job.createdAt,
        updated_at: job.updatedAt,
        finished_at: job.finishedAt,
        error: job.error,
      })
      .execute();
  },

  async find(organizationId: string, id: string, trx: Db = db): Promise<RotationJob | undefined> {
    const row = await trx
      .selectFrom('key_rotation_jobs')
      .selectAll()
      .where('organization_id', '=', organizationId)
      .where('id', '=', id)
      .executeTakeFirst();
    return row && toJob(row);
  },

  /** Pending and running jobs, oldest first; of one organization or of all. */
  async listActive(organizationId?: string): Promise<RotationJob[]> {
    let query = db.selectFrom('key_rotation_jobs').selectAll().where('status', 'in', ACTIVE);
    if (organizationId !== undefined) query = query.where('organization_id', '=', organizationId);
    return (await query.orderBy('created_at').orderBy('id').execute()).map(toJob);
  },

  async hasActive(organizationId: string, scopeId: string, trx: Db = db): Promise<boolean> {
    const row = await trx
      .selectFrom('key_rotation_jobs')
      .select('id')
      .where('organization_id', '=', organizationId)
      .where('scope_id', '=', scopeId)
      .where('status', 'in', ACTIVE)
      .limit(1)
      .executeTakeFirst();
    return row !== undefined;
  },

  /** A newer rotation of the scope re-seals everything the older job would have: the older one stops. */
  async supersede(organizationId: string, scopeId: string, at: string, trx: Db = db): Promise<number> {
    const result = await trx
      .updateTable('key_rotation_jobs')
      .set({ status: 'superseded', finished_at: at, updated_at: at, lease_owner: null, lease_expires_at: null })
      .where('organization_id', '=', organizationId)
      .where('scope_id', '=', scopeId)
      .where('status', 'in', ACTIVE)
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  },

  /**
   * Leases the oldest active job whose lease is free (or the job `onlyId`), marking it
   * running. On PostgreSQL the candidate is picked FOR UPDATE SKIP LOCKED, so workers
   * claiming at the same moment take different jobs.
   */
  async claim(owner: string, now: string, until: string, onlyId?: string): Promise<RotationJob | undefined> {
    const claimable = (eb: ExpressionBuilder<Database, 'key_rotation_jobs'>) =>
      eb.and([eb('status', 'in', ACTIVE), eb.or([eb('lease_expires_at', 'is', null), eb('lease_expires_at', '<=', now)])]);
    const candidate = (trx: Db) => {
      const query = trx.selectFrom('key_rotation_jobs').select('id').where(claimable);
      return (onlyId === undefined ? query : query.where('id', '=', onlyId)).orderBy('created_at').orderBy('id').limit(1);
    };
    const take = (trx: Db) =>
      trx.updateTable('key_rotation_jobs').set({ lease_owner: owner, lease_expires_at: until, status: 'running', updated_at: now }).where(claimable);
    // On PostgreSQL the job is picked (FOR UPDATE SKIP LOCKED) and taken by id in two statements:
    // picked in a subquery of the UPDATE, PostgreSQL may run the subquery again and take every job.
    const row =
      engine === 'postgres'
        ? await db.transaction().execute(async (trx) => {
            const picked = await candidate(trx).forUpdate().skipLocked().executeTakeFirst();
            return picked && take(trx).where('id', '=', picked.id).returningAll().executeTakeFirst();
          })
        : await take(db).where('id', 'in', candidate(db)).returningAll().executeTakeFirst();
    return row && toJob(row);
  },

  /** Records progress and extends the lease, only while `owner` still holds the running job. */
  async saveProgress(id: string, owner: string, progress: JobProgress, now: string, until: string, trx: Db = db): Promise<boolean> {
    const result = await trx
      .updateTable('key_rotation_jobs')
      .set({
        phase: progress.phase,
        cursor: progress.cursor,
        pass: progress.pass,
        done: progress.done,
        failed: progress.failed,
        lease_expires_at: until,
        updated_at: now,
      })
      .where('id', '=', id)
      .where('lease_owner', '=', owner)
      .where('status', '=', 'running')
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  },

  /** Ends a job the owner holds. */
  async finish(
    id: string,
    owner: string,
    end: { status: 'done' | 'cancelled'; done: number; failed: number; at: string; error: string | null },
    trx: Db = db,
  ): Promise<boolean> {
    const result = await trx
      .updateTable('key_rotation_jobs')
      .set({
        status: end.status,
        phase: 'verify',
        cursor: null,
        done: end.done,
        failed: end.failed,
        finished_at: end.at,
        updated_at: end.at,
        error: end.error,
        lease_owner: null,
        lease_expires_at: null,
      })
      .where('id', '=', id)
      .where('lease_owner', '=', owner)
      .where('status', '=', 'running')
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  },

  /** Gives a job back before its lease expires (a worker stopping), so another takes it at once. */
  async release(id: string, owner: string): Promise<void> {
    await db
      .updateTable('key_rotation_jobs')
      .set({ lease_owner: null, lease_expires_at: null })
      .where('id', '=', id)
      .where('lease_owner', '=', owner)
      .execute();
  },
});

export type RotationJobStore = ReturnType<typeof createRotationJobStore>;
