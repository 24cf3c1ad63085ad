import type { AuditService } from '../audit/audit-service.js';
import type { Clock } from '../common/clock.js';
import type { Db, Engine, Transact } from '../store/database.js';
import type { TenantStore } from '../tenants/tenant-store.js';
import type { DataKeyStore } from './data-key-store.js';
import { createKeyRotationService } from './key-rotation-service.js';
import { createKeyRotationWorker } from './key-rotation-worker.js';
import type { Keyring } from './keyring.js';
import { createReencryptor } from './reencryption.js';
import { createRootKeyRotation } from './root-key-rotation.js';
import { createRotationJobStore } from './rotation-job-store.js';
import { createSealedValueStore } from './sealed-values-store.js';

export interface KeyLifecycleOptions {
  /** Encryptions after which a data key is rotated automatically. */
  rotationThreshold: number;
  /** Rows re-encrypted per batch (and per transaction) by a rotation job. */
  reencryptBatchSize: number;
  /** How often the worker looks for rotation jobs. */
  pollMs: number;
  /** How long a job's lease holds without progress before another worker may take it over. */
  leaseMs?: number;
}

/** Wires the key lifecycle: scope rotation with its jobs and worker, and root key rotation. */
export const createKeyLifecycle = (deps: {
  db: Db;
  engine: Engine;
  keyring: Keyring;
  dataKeys: DataKeyStore;
  tenants: Pick<TenantStore, 'findCustomer'>;
  audit: Pick<AuditService, 'record'>;
  transact: Transact;
  clock: Clock;
  owner: string;
  options: KeyLifecycleOptions;
  /** Told of each credential row a re-encryption is about to rewrite (the credential cache). */
  changingCredential?: (id: string) => void;
}) => {
  const { db, keyring, dataKeys, audit, transact, clock, owner, options } = deps;
  const leaseMs = options.leaseMs ?? 60_000;
  const jobs = createRotationJobStore(db, deps.engine);
  const values = createSealedValueStore(db, deps.changingCredential);
  const reencryptor = createReencryptor({ values, keyring, dataKeys, jobs, audit, transact, clock, owner, batchSize: options.reencryptBatchSize, leaseMs });
  const keys = createKeyRotationService({
    dataKeys,
    jobs,
    values,
    reencryptor,
    keyring,
    tenants: deps.tenants,
    audit,
    transact,
    clock,
    owner,
    leaseMs,
    threshold: options.rotationThreshold,
  });
  const rootRotation = createRootKeyRotation({ dataKeys, keyring, audit, transact });
  const worker = createKeyRotationWorker({ keys, clock, pollMs: options.pollMs });
  return { keys, rootRotation, worker };
};
