import { AppError, notFound } from '../common/app-error.js';
import type { Clock } from '../common/clock.js';
import { newId } from '../common/ids.js';
import { DEFAULT_PAGE_SIZE, decodeCursor, encodeCursor, type Page } from '../common/pagination.js';
import type { AuditService } from '../audit/audit-service.js';
import type { Transact } from '../store/database.js';
import { requireRole, type Actor } from '../tenants/actor.js';
import type { TenantStore } from '../tenants/tenant-store.js';
import type { DataKeyStore, DataKeyUsage } from './data-key-store.js';
import type { Keyring } from './keyring.js';
import type { Reencryptor, RunOptions } from './reencryption.js';
import type { RotationJob, RotationJobStore, RotationReason } from './rotation-job-store.js';
import type { SealedValueStore } from './sealed-values-store.js';

export interface KeyVersion {
  version: number;
  createdAt: string;
  retiredAt: string | null;
  encryptionCount: number;
}

/** A tenant scope's data key: the version new writes use, and every version kept. */
export interface ScopeKeys {
  id: string;
  scopeId: string;
  level: 'organization' | 'customer';
  currentVersion: number;
  createdAt: string;
  encryptionCount: number;
  versions: KeyVersion[];
}

const isUniqueViolation = (error: unknown): boolean => {
  const code = (error as { code?: unknown } | null)?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
};

const toScopeKeys = (organizationId: string, scopeId: string, keys: DataKeyUsage[]): ScopeKeys | undefined => {
  const current = keys.filter((key) => key.retiredAt === null).at(-1) ?? keys.at(-1);
  if (!current) return undefined;
  return {
    id: scopeId,
    scopeId,
    level: scopeId === organizationId ? 'organization' : 'customer',
    currentVersion: current.version,
    createdAt: current.createdAt,
    encryptionCount: current.encryptionCount,
    versions: keys.map(({ version, createdAt, retiredAt, encryptionCount }) => ({ version, createdAt, retiredAt, encryptionCount })),
  };
};

/**
 * Data-key rotation of a tenant scope. Rotating creates the next key version, which new
 * writes use at once (sealing always looks up the scope's current version), and queues a
 * job that re-encrypts the scope's values in the background. Older versions stay
 * readable throughout; the job retires them when it is done. Retired keys are kept, never
 * deleted, so nothing sealed under them can become unreadable; deleting the scope
 * destroys them all (crypto-shredding).
 */
export const createKeyRotationService = (deps: {
  dataKeys: DataKeyStore;
  jobs: RotationJobStore;
  values: SealedValueStore;
  reencryptor: Reencryptor;
  keyring: Pick<Keyring, 'createScopeKey' | 'forgetScope'>;
  tenants: Pick<TenantStore, 'findCustomer'>;
  audit: Pick<AuditService, 'record'>;
  transact: Transact;
  clock: Clock;
  owner: string;
  leaseMs: number;
  threshold: number;
}) => {
  const { dataKeys, jobs, values, keyring, audit, transact, clock } = deps;

  /** Creates the next version and its job; with `onlyIfVersion`, only while that is still the newest. */
  const createRotation = async (
    actor: Actor | null,
    organizationId: string,
    scopeId: string,
    reason: RotationReason,
    onlyIfVersion?: number,
  ): Promise<RotationJob | undefined> => {
    // Counted before the transaction: on SQLite nothing may query outside it meanwhile.
    let total = 0;
    for (const source of Object.values(values)) total += await source.count(organizationId, scopeId);
    const now = clock.now();
    const at = now.toISOString();
    let job: RotationJob | undefined;
    try {
      job = await transact(async (trx) => {
        const latest = await dataKeys.findLatest(organizationId, scopeId, trx);
        if (!latest) throw notFound('Scope');
        if (onlyIfVersion !== undefined && latest.version !== onlyIfVersion) return undefined;
        const version = latest.version + 1;
        await keyring.createScopeKey(organizationId, scopeId, trx, version);
        await jobs.supersede(organizationId, scopeId, at, trx);
        const created: RotationJob = {
          id: newId('kjob', now),
          organizationId,
          scopeId,
          targetVersion: version,
          reason,
          status: 'pending',
          phase: 'credentials',
          cursor: null,
          pass: 1,
          done: 0,
          total,
          failed: 0,
          leaseOwner: null,
          leaseExpiresAt: null,
          createdAt: at,
          updatedAt: at,
          finishedAt: null,
          error: null,
        };
        await jobs.insert(created, trx);
        await audit.record(
          actor,
          organizationId,
          {
            action: 'key.rotated',
            customerId: scopeId === organizationId ? null : scopeId,
            targetType: 'key_scope',
            targetId: scopeId,
            details: { version, jobId: created.id, reason },
          },
          trx,
        );
        return created;
      });
    } catch (error) {
      // Two rotations of one scope at once: the unique (scope, version) index lets one win.
      if (isUniqueViolation(error)) {
        if (onlyIfVersion !== undefined) return undefined;
        throw new AppError('CONFLICT', 'Another rotation of this scope was started at the same moment; list its jobs and try again if needed');
      }
      throw error;
    }
    // Cached unwrapped keys of the scope are wiped on rotation.
    keyring.forgetScope(organizationId, scopeId);
    return job;
  };

  /** Rotates a key that has sealed `threshold` values, unless its scope moved on or is already rotating. */
  const rotateWorn = async (key: DataKeyUsage): Promise<RotationJob | undefined> => {
    if (key.retiredAt !== null || key.encryptionCount < deps.threshold) return undefined;
    if (await jobs.hasActive(key.organizationId, key.scopeId)) return undefined;
    return createRotation(null, key.organizationId, key.scopeId, 'automatic', key.version);
  };

  const findJob = async (actor: Actor, id: string): Promise<RotationJob> => {
    requireRole(actor, 'org_admin');
    const job = await jobs.find(actor.organizationId, id);
    if (!job) throw notFound('Key rotation job');
    return job;
  };

  return {
    /** Rotates the data key of the organization scope, or of one of its customers. */
    async rotate(actor: Actor, input: { scope?: string | undefined }): Promise<RotationJob> {
      requireRole(actor, 'org_admin');
      const scopeId = input.scope ?? actor.organizationId;
      if (scopeId !== actor.organizationId && !(await deps.tenants.findCustomer(actor.organizationId, scopeId))) throw notFound('Scope');
      const job = await createRotation(actor, actor.organizationId, scopeId, 'manual');
      if (!job) throw notFound('Scope');
      return job;
    },

    job: findJob,

    /** The organization's scopes with their key versions and encryption counts. */
    async listScopes(actor: Actor, query: { limit?: number | undefined; cursor?: string | undefined }): Promise<Page<ScopeKeys>> {
      requireRole(actor, 'org_admin');
      const limit = query.limit ?? DEFAULT_PAGE_SIZE;
      const ids = await dataKeys.listScopeIds(actor.organizationId, decodeCursor(query.cursor), limit + 1);
      const pageIds = ids.slice(0, limit);
      const keys = await dataKeys.listVersions(actor.organizationId, pageIds);
      const items = pageIds.flatMap((scopeId) => toScopeKeys(actor.organizationId, scopeId, keys.filter((key) => key.scopeId === scopeId)) ?? []);
      const last = pageIds.at(-1);
      return { items, nextCursor: ids.length > limit && last ? encodeCursor(last) : null };
    },

    /** Pending and running jobs (all organizations' for an operator). */
    activeJobs: (organizationId?: string) => jobs.listActive(organizationId),

    rotateWorn,

    /** Rotates every worn key the counters have written down (a process may have died before rotating). */
    async rotateWornKeys(): Promise<number> {
      let rotated = 0;
      for (const key of await dataKeys.findWorn(deps.threshold, 100)) if (await rotateWorn(key)) rotated += 1;
      return rotated;
    },

    /**
     * Claims the oldest job with a free lease (or the job `jobId`) and runs it. Answers
     * the job as it stands afterwards, or undefined when there was nothing to claim.
     */
    async runNextJob(options: RunOptions & { jobId?: string } = {}): Promise<RotationJob | undefined> {
      const now = clock.now();
      const until = new Date(now.getTime() + deps.leaseMs).toISOString();
      const claimed = await jobs.claim(deps.owner, now.toISOString(), until, options.jobId);
      return claimed && deps.reencryptor.run(claimed, options);
    },
  };
};

export type KeyRotationService = ReturnType<typeof createKeyRotationService>;
