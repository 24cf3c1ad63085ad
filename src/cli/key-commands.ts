import type { Command } from 'commander';
import { Redacted } from '../common/redacted.js';
import { decodeMasterKey, type Config } from '../config/config.js';
import type { ScopeKeys } from '../crypto/key-rotation-service.js';
import { createLocalKeyProvider } from '../crypto/key-provider.js';
import { loadMasterKey } from '../crypto/master-key.js';
import type { RotationJob } from '../crypto/rotation-job-store.js';
import { openRuntime, type Runtime } from '../runtime.js';
import type { Actor } from '../tenants/actor.js';
import { CliError, operatorActor, readConfig, readStdin, withRuntime } from './context.js';

const warn = { warn: (message: string) => process.stderr.write(`warning: ${message}\n`) };

/** A plain-text progress bar, redrawn in place with `\r`. */
export const progressBar = (label: string, done: number, total: number, width = 30): string => {
  const ratio = total > 0 ? Math.min(1, done / total) : 1;
  const filled = Math.round(ratio * width);
  return `\r${label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(Math.floor(ratio * 100)).padStart(3)}% ${done}/${total}`;
};

const jobLine = (job: RotationJob) => ({
  jobId: job.id,
  scopeId: job.scopeId,
  version: job.targetVersion,
  status: job.status,
  done: job.done,
  total: Math.max(job.total, job.done),
  failed: job.failed,
});

/** The admin actor of the organization a scope belongs to: the organization itself, `--org`, or the one holding the customer. */
const scopeActor = async (runtime: Runtime, scope: string, orgId: string | undefined): Promise<Actor> => {
  const organizations = await runtime.services.tenantStore.listOrganizations();
  if (!orgId && !organizations.some((org) => org.id === scope) && organizations.length > 1) {
    for (const org of organizations) {
      if (await runtime.services.tenantStore.findCustomer(org.id, scope)) return operatorActor(runtime, org.id);
    }
    throw new CliError(`No organization or customer ${scope}`);
  }
  return operatorActor(runtime, orgId ?? (organizations.some((org) => org.id === scope) ? scope : undefined));
};

/** Runs the job here when no worker holds it, otherwise follows a worker's progress, until it ends. */
const followJob = async (runtime: Runtime, actor: Actor, job: RotationJob, show: (job: RotationJob) => void): Promise<RotationJob> => {
  let interrupted = false;
  const onSigint = () => {
    interrupted = true;
  };
  process.once('SIGINT', onSigint);
  try {
    let current = job;
    show(current);
    while (current.status === 'pending' || current.status === 'running') {
      if (interrupted) throw new CliError(`Stopped; a worker (credence serve --role worker|all) finishes job ${job.id}, or run this again`);
      const ran = await runtime.services.keys.runNextJob({ jobId: job.id, onProgress: show, shouldStop: () => interrupted });
      if (ran && ran.status !== 'running') return ran;
      if (!ran) await new Promise((resolve) => setTimeout(resolve, 250));
      current = await runtime.services.keys.job(actor, job.id);
      show(current);
    }
    return current;
  } finally {
    process.off('SIGINT', onSigint);
  }
};

const allScopes = async (runtime: Runtime, actor: Actor): Promise<ScopeKeys[]> => {
  const scopes: ScopeKeys[] = [];
  let cursor: string | undefined;
  do {
    const page = await runtime.services.keys.listScopes(actor, { limit: 200, cursor });
    scopes.push(...page.items);
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return scopes;
};

const scopeRow = (scope: ScopeKeys): string => {
  const older = scope.versions.filter((v) => v.version !== scope.currentVersion).map((v) => `v${v.version}${v.retiredAt ? ' retired' : ''}`);
  return `  ${scope.scopeId.padEnd(34)} ${scope.level.padEnd(12)} v${String(scope.currentVersion).padEnd(7)} ${scope.createdAt.padEnd(24)} ${String(scope.encryptionCount).padStart(11)}  ${older.join(', ') || '-'}`;
};

const status = async (o: { org?: string; json?: boolean }): Promise<void> =>
  withRuntime(async (runtime) => {
    const { services } = runtime;
    const rootKey = services.keyring.describe();
    const byRootKey = (await services.rootKeyRotation.wrappedByRootKey()).map((entry) => ({ ...entry, configured: entry.rootKeyId === rootKey.keyId }));
    const organizations = o.org ? [await operatorActor(runtime, o.org)].map((a) => a.organizationId) : (await services.tenantStore.listOrganizations()).map((org) => org.id);
    const report = [];
    for (const organizationId of organizations) {
      const actor = await operatorActor(runtime, organizationId);
      const organization = await services.tenantStore.findOrganization(organizationId);
      report.push({ id: organizationId, name: organization?.name ?? '', scopes: await allScopes(runtime, actor), jobs: (await services.keys.activeJobs(organizationId)).map(jobLine) });
    }
    if (o.json) {
      process.stdout.write(`${JSON.stringify({ rootKey, dataKeysByRootKey: byRootKey, organizations: report })}\n`);
      return;
    }
    const lines = [`Root key: ${rootKey.provider} ${rootKey.keyId} (configured)`, 'Data keys by root key:'];
    for (const entry of byRootKey) lines.push(`  ${entry.rootKeyId}  ${entry.count}${entry.configured ? '  (configured)' : '  (re-wrap with `credence keys rotate-root`)'}`);
    for (const org of report) {
      lines.push(`Organization ${org.name} (${org.id})`, `  ${'scope'.padEnd(34)} ${'level'.padEnd(12)} ${'version'.padEnd(8)} ${'created'.padEnd(24)} ${'encryptions'.padStart(11)}  older versions`);
      lines.push(...org.scopes.map(scopeRow));
      for (const job of org.jobs) lines.push(`  rotation job ${job.jobId}: ${job.scopeId} to v${job.version}, ${job.status}, ${job.done}/${job.total}`);
    }
    process.stdout.write(`${lines.join('\n')}\n`);
  });

const rotate = async (o: { scope: string; org?: string; json?: boolean; wait: boolean }): Promise<void> =>
  withRuntime(async (runtime) => {
    const actor = await scopeActor(runtime, o.scope, o.org);
    const job = await runtime.services.keys.rotate(actor, { scope: o.scope });
    if (!o.wait) {
      process.stdout.write(o.json ? `${JSON.stringify(jobLine(job))}\n` : `Created v${job.targetVersion} of ${job.scopeId}; job ${job.id} re-encrypts it in a worker\n`);
      return;
    }
    if (!o.json) process.stdout.write(`New writes to ${job.scopeId} use key v${job.targetVersion} now; re-encrypting its values (job ${job.id})\n`);
    const show = (current: RotationJob) => {
      if (!o.json) process.stdout.write(progressBar('re-encrypting', current.done, Math.max(current.total, current.done)));
    };
    const finished = await followJob(runtime, actor, job, show);
    if (o.json) {
      process.stdout.write(`${JSON.stringify(jobLine(finished))}\n`);
    } else {
      const retired = finished.status === 'done' ? `; versions before v${finished.targetVersion} retired` : '';
      process.stdout.write(`\n${finished.status}: ${finished.done} rows re-encrypted${finished.failed ? `, ${finished.failed} values left under older versions` : ''}${retired}\n`);
    }
    if (finished.status !== 'done') process.exitCode = 1;
  });

/** The key to re-wrap under: `--new-key-file`, else stdin, else the configured one (with the old in CREDENCE_PREVIOUS_MASTER_KEYS). */
const readTargetKey = async (config: Config, newKeyFile: string | undefined): Promise<{ key: Buffer; given: boolean }> => {
  if (newKeyFile) return { key: await loadMasterKey({ kind: 'file', path: newKeyFile }, warn), given: true };
  const piped = await readStdin();
  if (piped !== undefined) {
    const key = decodeMasterKey(piped);
    if (!key) throw new CliError('stdin must hold the new root key: the base64 encoding of exactly 32 bytes');
    return { key, given: true };
  }
  return { key: await loadMasterKey(config.masterKey, warn), given: false };
};

const rotateRoot = async (o: { newKeyFile?: string; json?: boolean; batchSize: string }): Promise<void> => {
  const batchSize = Number(o.batchSize);
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000) throw new CliError('--batch-size must be an integer from 1 to 10000');
  const config = readConfig();
  const { key, given } = await readTargetKey(config, o.newKeyFile);
  const target = createLocalKeyProvider(key);
  // The process also opens keys already re-wrapped by an interrupted earlier run.
  const runtimeConfig: Config = given ? { ...config, previousMasterKeys: [...config.previousMasterKeys, new Redacted(Buffer.from(key))] } : config;
  key.fill(0);
  const runtime = await openRuntime(runtimeConfig, warn);
  try {
    const result = await runtime.services.rootKeyRotation.rewrapAll(target, {
      batchSize,
      onProgress: ({ rewrapped, total }) => {
        if (!o.json) process.stdout.write(progressBar('re-wrapping data keys', rewrapped, total));
      },
    });
    if (o.json) {
      process.stdout.write(`${JSON.stringify(result)}\n`);
    } else {
      process.stdout.write(
        [
          `${result.total > 0 ? '\n' : ''}Re-wrapped ${result.rewrapped} data keys under root key ${result.rootKeyId}; ${result.remaining} remain under other root keys.`,
          given
            ? 'Next: restart every Credence process with CREDENCE_MASTER_KEY (or _FILE) set to the new key. Processes still holding only the old key refuse to start from now on.'
            : 'Next: remove CREDENCE_PREVIOUS_MASTER_KEYS at the next restart of each process.',
          '',
        ].join('\n'),
      );
    }
    if (result.remaining > 0) throw new CliError(`${result.remaining} data keys could not be opened with the configured root keys; add their root key to CREDENCE_PREVIOUS_MASTER_KEYS and run this again`);
  } finally {
    await runtime.close();
  }
};

/** `credence keys status|rotate|rotate-root`: the key lifecycle, for operators. */
export const registerKeyCommands = (program: Command): void => {
  const keys = program.command('keys').description('data keys and the root key: status and rotation');
  keys
    .command('status')
    .description('the root key, and each scope with its data-key versions and encryption counts')
    .option('--org <id>', 'only this organization')
    .option('--json', 'print one JSON line')
    .action(status);
  keys
    .command('rotate')
    .description("rotate a scope's data key: new writes use the new version at once, old values are re-encrypted")
    .requiredOption('--scope <id>', 'an organization id or a customer id')
    .option('--org <id>', 'organization (needed when there are several and the scope is not found)')
    .option('--json', 'print one JSON line when done: {jobId, scopeId, version, status, done, total, failed}')
    .option('--no-wait', 'leave the re-encryption to a worker (credence serve --role worker|all)')
    .action(rotate);
  keys
    .command('rotate-root')
    .description('re-wrap every data key under a new root key (from --new-key-file, stdin, or the configured CREDENCE_MASTER_KEY)')
    .option('--new-key-file <path>', 'file holding the new root key (base64); without it the key is read from stdin when piped')
    .option('--batch-size <n>', 'data keys per transaction', '500')
    .option('--json', 'print one JSON line: {rootKeyId, rewrapped, total, remaining}')
    .action(rotateRoot);
};
