import { readFileSync } from 'node:fs';
import { sql } from 'kysely';
import { cpus } from 'node:os';
import { newId } from '../src/common/ids.js';
import { parseArgs, type Args } from './support/args.js';
import { openBenchEnvironment, verifyAuditChains, type BenchEnvironment } from './support/environment.js';
import { startCredence, stopCredence, type CredenceProcess } from './support/processes.js';
import { fmt, progress, runIfMain, target, type BenchReport } from './support/report.js';
import type { CredentialsTable } from '../src/store/schema.js';
import { createCustomers, createSeedingKeyring, grantRow, insertRows, OAUTH_SETTINGS, randomSecret, seedCredentials } from './support/seed.js';
import { startTokenEndpoint, type TokenEndpoint, type TokenEndpointStats } from './support/token-endpoint.js';

/**
 * Benchmark 2: N authorized OAuth 2.0 credentials come due at once, on PostgreSQL; a
 * loopback token endpoint answers each refresh after 50 ms. Refreshed first by one worker
 * process, then by three. Each worker is a real `credence serve --role worker` process
 * with its own pool: the only thing the workers share is the database, as in production.
 *
 * Flags: --count <n> (100,000)  --workers 1,3  --customers <n> (100)  --latency-ms <n> (50)
 *        --batch-size <n> (200)  --concurrency <n> (200)  --max-per-organization <n> (100)
 *        --timeout-s <n> (1800). The defaults are the shipped settings.
 */

/** CPU seconds a process has used so far (user + system), from /proc. */
const cpuSecondsOf = (pid: number | undefined): number => {
  if (pid === undefined) return Number.NaN;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may hold spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
};
/** Linux reports process times in clock ticks of 1/100 s (USER_HZ). */
const CLOCK_TICKS = 100;

const FAR_FUTURE = '2999-01-01T00:00:00.000Z';

/** N authorized, healthy oauth2 credentials over `customers` scopes, their grants scheduled far ahead. */
const seed = async (bench: BenchEnvironment, endpoint: TokenEndpoint, count: number, customerCount: number): Promise<void> => {
  const { db, engine } = bench.runtime.store;
  const customers = await createCustomers(bench, customerCount);
  const keyring = createSeedingKeyring(bench);
  const at = new Date().toISOString();
  const expiresAt = new Date(Date.now() + 3600_000).toISOString();
  const values = () => ({ client_id: 'bench-client', client_secret: randomSecret(), scopes: 'files.read', auth_uri: `${endpoint.url}/authorize`, token_uri: endpoint.tokenUri });
  const addGrants = async (rows: CredentialsTable[], first: number) => {
    const grants = await Promise.all(
      rows.map((row, i) =>
        grantRow(
          keyring,
          { id: row.id, organizationId: bench.organizationId, customerId: row.customer_id },
          { access_token: `seed-at-${first + i}`, refresh_token: `seed-rt-${first + i}` },
          { at, refreshDueAt: FAR_FUTURE, expiresAt },
        ),
      ),
    );
    await insertRows(db, engine, 'oauth_grants', grants);
    // Authorized and working, as migration 0016 records grants that are: a refresh is then no change of health.
    await insertRows(
      db,
      engine,
      'credential_health',
      rows.map((row) => ({ credential_id: row.id, organization_id: bench.organizationId, health: 'healthy', since: at, checked_at: at, source: 'authorization', message_ciphertext: null })),
    );
  };
  await seedCredentials(
    bench,
    count,
    (i, now) => ({ id: newId('cred', now), customerId: customers[i % customers.length] ?? null, label: `Files ${i}`, authMethod: 'oauth2', status: 'authorized', values: values(), oauthSettings: OAUTH_SETTINGS }),
    { afterChunk: addGrants, label: 'refresh' },
  );
};

const VACUUM_EVERY_MS = 10_000;

/** VACUUM ANALYZE of the grants table, as autovacuum would run it. */
const vacuumGrants = async (bench: BenchEnvironment): Promise<void> => {
  await sql`vacuum (analyze) oauth_grants`.execute(bench.runtime.store.db);
};

const countAtVersion = async (bench: BenchEnvironment, version: number): Promise<number> => {
  const row = await bench.runtime.store.db
    .selectFrom('oauth_grants')
    .select((eb) => eb.fn.countAll<string>().as('count'))
    .where('version', '=', version)
    .executeTakeFirstOrThrow();
  return Number(row.count);
};

interface RunResult {
  workers: number;
  seconds: number;
  stats: TokenEndpointStats;
  refreshed: number;
  failures: number;
  /** CPU seconds each worker process used from the moment the grants came due until all were refreshed. */
  workerCpuSeconds: number[];
}

/** Starts `workers` worker processes, makes every grant due, and times until all are refreshed. */
const runWorkers = async (bench: BenchEnvironment, endpoint: TokenEndpoint, workers: number, round: number, args: Args, autovacuum: boolean): Promise<RunResult> => {
  const count = args.number('count', 100_000);
  const env = {
    ...bench.env,
    CREDENCE_LOG_LEVEL: 'info',
    CREDENCE_REFRESH_POLL_MS: '100',
    CREDENCE_REFRESH_BATCH_SIZE: String(args.number('batch-size', 200)),
    CREDENCE_REFRESH_CONCURRENCY: String(args.number('concurrency', 200)),
    CREDENCE_REFRESH_MAX_PER_ORGANIZATION: String(args.number('max-per-organization', 100)),
  };
  const expected = round + 1;
  const processes: CredenceProcess[] = [];
  try {
    for (let i = 0; i < workers; i += 1) processes.push(startCredence(['serve', '--role', 'worker'], env, /refresh worker started/));
    await Promise.all(processes.map((p) => p.ready));
    endpoint.reset();
    const cpuAtStart = processes.map((p) => cpuSecondsOf(p.child.pid));
    const started = Date.now();
    await bench.runtime.store.db.updateTable('oauth_grants').set({ refresh_due_at: new Date(started).toISOString() }).execute();
    progress(`${workers} worker(s): ${fmt.int(count)} grants due`);
    const deadline = started + args.number('timeout-s', 1800) * 1000;
    let vacuumedAt = started;
    let refreshed = 0;
    let lastReport = started;
    // The database is counted (a scan of every grant) only once the token endpoint has answered
    // as many requests as there are grants, so the polling does not take CPU from the workers.
    const answered = () => endpoint.stats().requests;
    while ((refreshed = answered() < count ? answered() : await countAtVersion(bench, expected)) < count) {
      if (Date.now() > deadline) throw new Error(`${workers} worker(s) refreshed only ${refreshed} of ${count} grants in time; the token endpoint saw ${JSON.stringify(endpoint.stats())}`);
      const dead = processes.find((p) => p.child.exitCode !== null);
      if (dead) throw new Error(`a worker exited early: ${dead.stderrTail().slice(-1500)}`);
      // Every refresh leaves a dead row version; a server whose autovacuum is off (as on test
      // machines) is vacuumed here as autovacuum would do it, or claims slow down as they pile up.
      if (!autovacuum && Date.now() - vacuumedAt > VACUUM_EVERY_MS) {
        await vacuumGrants(bench);
        vacuumedAt = Date.now();
      }
      if (Date.now() - lastReport > 10_000) {
        lastReport = Date.now();
        progress(`${workers} worker(s): ${fmt.int(refreshed)} token requests answered after ${fmt.s((lastReport - started) / 1000)}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const seconds = (Date.now() - started) / 1000;
    const workerCpuSeconds = processes.map((p, i) => cpuSecondsOf(p.child.pid) - (cpuAtStart[i] ?? 0));
    await Promise.all(processes.map((p) => stopCredence(p)));
    const failures = await bench.runtime.store.db
      .selectFrom('oauth_grants')
      .select((eb) => eb.fn.countAll<string>().as('count'))
      .where((eb) => eb.or([eb('failure_count', '>', 0), eb('version', '!=', expected)]))
      .executeTakeFirstOrThrow();
    return { workers, seconds, stats: endpoint.stats(), refreshed, failures: Number(failures.count), workerCpuSeconds };
  } finally {
    await Promise.all(processes.map((p) => stopCredence(p)));
  }
};

export const runRefreshBench = async (args: Args = parseArgs()): Promise<BenchReport> => {
  const count = args.number('count', 100_000);
  const workerCounts = args.list('workers', ['1', '3']).map(Number);
  const endpoint = await startTokenEndpoint(args.number('latency-ms', 50));
  const bench = await openBenchEnvironment('postgres');
  const results: RunResult[] = [];
  let autovacuum = true;
  let chain = { ok: false, events: 0 };
  try {
    progress(`refresh: seeding ${fmt.int(count)} authorized oauth2 credentials`);
    const seeding = Date.now();
    await seed(bench, endpoint, count, args.number('customers', 100));
    autovacuum = (await sql<{ autovacuum: string }>`show autovacuum`.execute(bench.runtime.store.db)).rows[0]?.autovacuum === 'on';
    await vacuumGrants(bench);
    progress(`refresh: seeded in ${fmt.s((Date.now() - seeding) / 1000)}`);
    for (const [round, workers] of workerCounts.entries()) results.push(await runWorkers(bench, endpoint, workers, round + 1, args, autovacuum));
    progress('refresh: verifying the audit chain');
    chain = await verifyAuditChains(bench.runtime);
  } finally {
    await bench.close();
    await endpoint.close();
  }

  const exact = (r: RunResult) => r.stats.requests === count && r.stats.distinct === count && r.stats.repeated === 0 && r.stats.rejected === 0 && r.failures === 0;
  const one = results.find((r) => r.workers === 1);
  const three = results.find((r) => r.workers === 3);
  const speedUp = one && three ? one.seconds / three.seconds : undefined;
  const rows = results.map((r) => [
    `${r.workers} worker${r.workers === 1 ? '' : 's'}`,
    fmt.int(count),
    fmt.s(r.seconds),
    fmt.int(count / r.seconds),
    fmt.int(r.stats.requests),
    `${fmt.int(r.stats.distinct)} / ${fmt.int(r.stats.repeated)}`,
    r.workers === 3 && speedUp ? fmt.x(speedUp) : '',
    r.workerCpuSeconds.map((cpu) => fmt.pct(cpu / r.seconds)).join(' / '),
    `${fmt.int((r.workerCpuSeconds.reduce((a, b) => a + b, 0) * 1e6) / count)} µs`,
  ]);
  const targets = results.map((r) =>
    target(`${r.workers} worker(s): token requests = ${fmt.int(count)}, none missed, none doubled`, exact(r), `${fmt.int(r.stats.requests)} requests, ${fmt.int(r.stats.distinct)} distinct refresh tokens, ${fmt.int(r.stats.repeated)} presented twice, ${fmt.int(r.failures)} grants failed or not refreshed once`),
  );
  if (one) targets.push(target(`refresh of ${fmt.int(count)} with 1 worker ≤ ${fmt.int(count / 100_000 * 60)} s (${fmt.int(100_000 / 60)} refreshes/s)`, one.seconds <= (count / 100_000) * 60, fmt.s(one.seconds)));
  if (three) targets.push(target(`refresh of ${fmt.int(count)} with 3 workers ≤ ${fmt.int(count / 100_000 * 30)} s (${fmt.int(100_000 / 30)} refreshes/s)`, three.seconds <= (count / 100_000) * 30, fmt.s(three.seconds)));
  if (speedUp !== undefined) targets.push(target('3 workers ≥ 2.5× faster than 1', speedUp >= 2.5, fmt.x(speedUp)));
  targets.push(target('the audit chain verifies after every run', chain.ok, `${fmt.int(chain.events)} events checked`));
  return {
    title: `Token refresh: ${fmt.int(count)} due at once, PostgreSQL, token endpoint +${args.number('latency-ms', 50)} ms`,
    headers: ['', 'grants', 'time to refresh all', 'refreshes/s', 'token requests', 'distinct / repeated', 'speed-up', 'CPU per worker', 'worker CPU/refresh'],
    rows,
    targets,
    notes: [
      `each worker is a separate \`credence serve --role worker\` process (own event loop, own pool of 10 connections) claiming up to ${args.number('batch-size', 200)} grants at a time with FOR UPDATE SKIP LOCKED whenever its lanes run short, refreshing ${args.number('concurrency', 200)} at a time, at most ${args.number('max-per-organization', 100)} leases of one organization at once across workers (CREDENCE_REFRESH_BATCH_SIZE / _CONCURRENCY / _MAX_PER_ORGANIZATION); every grant here belongs to one organization`,
      `alone with due grants, the organization goes past its lease cap on nine tenths of each worker's lanes: with a ${args.number('latency-ms', 50)} ms provider that bounds one worker to ${fmt.int((args.number('concurrency', 200) - Math.ceil(args.number('concurrency', 200) / 10)) / (args.number('latency-ms', 50) / 1000))} refreshes/s; past that, CPU does: this machine has ${cpus().length} CPUs, shared by the workers, PostgreSQL and the token endpoint`,
      'the grants table is vacuumed and analyzed after seeding; where the server runs without autovacuum (as on test machines), also every 10 s during the run, as autovacuum would',
      'CPU per worker: the share of one CPU each worker process used while refreshing (from /proc); worker CPU/refresh: all workers\' CPU time divided by the grants refreshed',
      'timed from the moment every grant is made due until the database shows every grant refreshed exactly once (polled every 100 ms once the token endpoint has answered as many requests as there are grants); the token endpoint rotates refresh tokens and counts each one presented',
    ],
  };
};

runIfMain(import.meta.url, () => runRefreshBench());
