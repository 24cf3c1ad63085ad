import { isDeepStrictEqual } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { rootKeyId } from '../../src/crypto/key-provider.js';
import { openRuntime, type Runtime } from '../../src/runtime.js';
import { api, assertBuilt, cliEnv, linesOf, runCli, waitUntilHealthy, type CliResult } from '../cli/cli-harness.js';
import { API } from '../http/credential-fixtures.js';
import { killServers, spawnServe, waitFor, type RoleServer } from '../oauth/oauth-fixtures.js';
import { ENGINES } from '../support/databases.js';
import { randomMasterKey, startTestApp, type TestApp } from '../support/test-app.js';
import { createCustomer, seedScope, storedCiphertexts, versionsIn, type SeededCredential } from '../crypto/key-fixtures.js';

// Resolves keep coming, several at once over HTTP, while a scope's data key is rotated (its
// values re-encrypted two rows per batch by the background worker) and `credence keys
// rotate-root`, a process of its own, re-wraps every data key under a new root key.
// test/crypto/root-key-rotation.test.ts covers one process resolving in turn during an
// in-process re-wrap; this adds parallel load over sockets, the command run beside the
// server, a scope rotation at the same time and, on PostgreSQL, a second serving process.

const REENCRYPT_BATCH = 2;
const LANES = 6;

interface LoadResult {
  /** When each resolve came back. */
  answeredAt: number[];
  /** Resolves that failed or answered wrong values: credential, process, and what went wrong (never a value). */
  failures: string[];
}

/**
 * Resolves `credentials` round and round until stopped, `LANES` at a time, each lane pinned
 * to one of `baseUrls`; checks every answer against the values the credential was given.
 */
const startResolveLoad = (baseUrls: string[], token: string, credentials: SeededCredential[]) => {
  let stopped = false;
  let next = 0;
  const result: LoadResult = { answeredAt: [], failures: [] };
  const lane = async (baseUrl: string) => {
    while (!stopped) {
      const credential = credentials[next++ % credentials.length] as SeededCredential;
      const where = `${credential.id} via ${baseUrl}`;
      try {
        const response = await api({ baseUrl }, 'POST', `${API}/credentials/${credential.id}/resolve`, { token });
        if (response.status !== 200) result.failures.push(`${where}: ${response.status} ${String(response.body?.error?.code)}`);
        else if (!isDeepStrictEqual(response.body.fields, credential.expected)) result.failures.push(`${where}: wrong values`);
      } catch (error) {
        result.failures.push(`${where}: ${error instanceof Error ? error.name : 'failed'}`);
      }
      result.answeredAt.push(Date.now());
    }
  };
  const running = Promise.all(Array.from({ length: LANES }, (_, i) => lane(baseUrls[i % baseUrls.length] as string)));
  return {
    async stop(): Promise<LoadResult> {
      stopped = true;
      await running;
      return result;
    },
  };
};

const idOf = (base64: string) => rootKeyId(Buffer.from(base64, 'base64'));

describe.each(ENGINES)('resolves during scope and root key rotation on %s', (engine) => {
  const oldKey = randomMasterKey();
  const newKey = randomMasterKey();
  /** Seeds everything under the old root key, then stays idle (it owns the database). */
  let seeder: TestApp | undefined;
  /** Serves with the new root key and the old one as previous, and runs rotation jobs. */
  let serving: TestApp | undefined;
  /** On PostgreSQL, a second serving process: `credence serve --role api` with the same keys. */
  const spawned = new Set<RoleServer>();
  let fresh: Runtime | undefined;
  let load: ReturnType<typeof startResolveLoad> | undefined;
  let runtimeToken = '';
  let rotatedScope = '';
  const otherScopes: string[] = [];
  const credentials: SeededCredential[] = [];

  let toRewrap = 0;
  let outcome: { load: LoadResult; job: any; jobWindow: [number, number]; jobProgress: number[]; cli: CliResult; cliWindow: [number, number] };

  beforeAll(async () => {
    assertBuilt();
    seeder = await startTestApp(engine, { masterKey: oldKey });
    runtimeToken = await seeder.token('runtime');
    rotatedScope = await createCustomer(seeder);
    // About forty rows to re-encrypt (credentials, one grant, one PKCE verifier): twenty-odd batches.
    credentials.push(...(await seedScope(seeder, rotatedScope, 40)).credentials);
    credentials.push(...(await seedScope(seeder, null, 2)).credentials);
    for (let i = 0; i < 8; i += 1) {
      const customer = await createCustomer(seeder);
      otherScopes.push(customer);
      credentials.push(...(await seedScope(seeder, customer, 1)).credentials);
    }
    await seeder.runtime.services.encryptionCounter.flush();
    const database = seeder.database;

    const env = { CREDENCE_PREVIOUS_MASTER_KEYS: oldKey, CREDENCE_REENCRYPT_BATCH_SIZE: String(REENCRYPT_BATCH), CREDENCE_REFRESH_POLL_MS: '100' };
    serving = await startTestApp(engine, { database, masterKey: newKey, env, listen: true });
    serving.runtime.services.keyRotationWorker.start();
    const processEnv = cliEnv({ CREDENCE_DATA_DIR: database.dataDir, ...(database.url ? { DATABASE_URL: database.url } : {}), CREDENCE_MASTER_KEY: newKey, ...env, CREDENCE_LOG_LEVEL: 'warn' });
    // Several serving processes share PostgreSQL only; on SQLite the command runs beside one.
    const baseUrls = [serving.baseUrl];
    if (engine === 'postgres') {
      const second = await spawnServe('api', processEnv);
      spawned.add(second);
      await waitUntilHealthy(second);
      baseUrls.push(second.baseUrl);
    }

    const db = seeder.runtime.store.db;
    toRewrap = (await db.selectFrom('data_keys').select('id').where('root_key_id', '=', idOf(oldKey)).execute()).length;

    load = startResolveLoad(baseUrls, runtimeToken, credentials);
    const jobStarted = Date.now();
    const rotated = await api({ baseUrl: serving.baseUrl }, 'POST', `${API}/keys/rotate`, { token: seeder.adminToken, body: { scope: rotatedScope } });
    if (rotated.status !== 202) throw new Error(`the rotation was refused: ${rotated.status}`);
    const cliStarted = Date.now();
    const cliRun = runCli(['keys', 'rotate-root', '--batch-size', '1', '--json'], processEnv, { timeoutMs: 60_000 }).then((cli) => ({ cli, cliWindow: [cliStarted, Date.now()] as [number, number] }));
    const jobProgress: number[] = [];
    const job = await waitFor('the re-encryption job to finish', async () => {
      const current = (await api({ baseUrl: serving?.baseUrl ?? '' }, 'GET', `${API}/keys/jobs/${rotated.body.jobId}`, { token: seeder?.adminToken })).body;
      jobProgress.push(current.done);
      return current.status === 'pending' || current.status === 'running' ? undefined : current;
    }, 60_000, 10);
    const jobWindow: [number, number] = [jobStarted, Date.now()];
    const { cli, cliWindow } = await cliRun;
    outcome = { load: await load.stop(), job, jobWindow, jobProgress, cli, cliWindow };
    load = undefined;
    fresh = await openRuntime(
      loadConfig({ CREDENCE_DATA_DIR: database.dataDir, CREDENCE_MASTER_KEY: newKey, ...(database.url ? { DATABASE_URL: database.url } : {}) }),
      { warn: () => undefined },
    );
  }, 180_000);

  afterAll(async () => {
    await load?.stop();
    killServers(spawned);
    await Promise.all([...spawned].map((server) => server.exited));
    await fresh?.close();
    await serving?.close();
    await seeder?.close();
  });

  it('answers every resolve during both rotations, with exactly the values each credential was given', () => {
    const { load: result, jobWindow, cliWindow } = outcome;
    expect(result.failures).toEqual([]);
    const during = ([from, to]: [number, number]) => result.answeredAt.filter((at) => at >= from && at <= to).length;
    expect(during(jobWindow)).toBeGreaterThanOrEqual(LANES);
    expect(during(cliWindow)).toBeGreaterThanOrEqual(LANES);
  });

  it('re-encrypts the rotated scope in many batches while serving, and retires its old data key', async () => {
    const { job, jobProgress } = outcome;
    expect(job).toMatchObject({ status: 'done', failed: 0, version: 2, scopeId: rotatedScope });
    expect(job.total).toBeGreaterThanOrEqual(40);
    expect(job.done).toBe(job.total);
    // Progress was visible part-way: more than one batch was committed on its own.
    expect(jobProgress.some((done) => done > 0 && done < job.total)).toBe(true);
    const db = (seeder as TestApp).runtime.store.db;
    const organizationId = (seeder as TestApp).organizationId;
    expect(versionsIn(await storedCiphertexts(db, organizationId, rotatedScope))).toEqual(['cv1.2']);
    for (const scope of [organizationId, ...otherScopes]) expect(versionsIn(await storedCiphertexts(db, organizationId, scope))).toEqual(['cv1.1']);
    const versions = await db.selectFrom('data_keys').select(['version', 'retired_at']).where('scope_id', '=', rotatedScope).orderBy('version').execute();
    expect(versions.map((row) => [row.version, row.retired_at === null])).toEqual([
      [1, false],
      [2, true],
    ]);
  });

  it('has `credence keys rotate-root` re-wrap every data key still under the old root key, so only the new one remains', async () => {
    const { cli } = outcome;
    expect({ code: cli.code, stderr: cli.code === 0 ? '' : cli.stderr.slice(0, 2000) }).toEqual({ code: 0, stderr: '' });
    expect(JSON.parse(linesOf(cli.stdout).at(-1) ?? 'null')).toEqual({ rootKeyId: idOf(newKey), rewrapped: toRewrap, total: toRewrap, remaining: 0 });
    expect(toRewrap).toBeGreaterThanOrEqual(10);
    const rootKeys = await (seeder as TestApp).runtime.store.db.selectFrom('data_keys').select('root_key_id').execute();
    expect(new Set(rootKeys.map((row) => row.root_key_id))).toEqual(new Set([idOf(newKey)]));
  });

  it('opens every stored value afterwards in a process holding only the new root key', async () => {
    const runtime = fresh as Runtime;
    const organizationId = (seeder as TestApp).organizationId;
    const stored = await storedCiphertexts(runtime.store.db, organizationId);
    const unopened: string[] = [];
    for (const value of stored) {
      try {
        const plaintext = await runtime.services.keyring.open({ organizationId, scopeId: value.scopeId, recordId: value.recordId, fieldSet: value.fieldSet }, value.ciphertext);
        plaintext.fill(0);
      } catch {
        unopened.push(`${value.table} ${value.rowId} ${value.fieldSet}`);
      }
    }
    expect(unopened).toEqual([]);
    expect(stored.length).toBeGreaterThanOrEqual(credentials.length + 10);
  });
});
