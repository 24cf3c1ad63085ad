import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rootKeyId } from '../../src/crypto/key-provider.js';
import { createTestDatabase, ENGINES, type TestDatabase } from '../support/databases.js';
import { randomMasterKey } from '../support/test-app.js';
import { api, assertBuilt, cliEnv, freePort, killChildren, linesOf, runCli, startServe, stopServer, waitUntilHealthy, type CliResult } from './cli-harness.js';

const idOf = (base64: string) => rootKeyId(Buffer.from(base64, 'base64'));

const expectOk = (result: CliResult): CliResult => {
  expect({ code: result.code, stderr: result.code === 0 ? '' : result.stderr }).toEqual({ code: 0, stderr: '' });
  return result;
};

const jsonOf = (result: CliResult): any => JSON.parse(linesOf(expectOk(result).stdout).at(-1) ?? 'null');

describe.each(ENGINES)('credence keys on %s', (engine) => {
  const oldKey = randomMasterKey();
  const newKey = randomMasterKey();
  const newerKey = randomMasterKey();
  let database: TestDatabase;
  let base: Record<string, string>;
  let organizationId = '';
  let adminToken = '';
  let customerId = '';
  const values = new Map<string, string>();

  const envWith = (master: string, extra: Record<string, string> = {}) => cliEnv({ ...base, CREDENCE_MASTER_KEY: master, ...extra });
  const status = async (master: string) => jsonOf(await runCli(['keys', 'status', '--json'], envWith(master)));

  beforeAll(async () => {
    assertBuilt();
    database = await createTestDatabase(engine);
    base = { CREDENCE_DATA_DIR: database.dataDir, ...(database.url ? { DATABASE_URL: database.url } : {}) };
    const init = jsonOf(await runCli(['init', '--org', 'Acme', '--admin-email', 'admin@acme.test', '--json'], envWith(oldKey)));
    organizationId = init.organizationId;
    adminToken = init.apiToken;
    customerId = jsonOf(await runCli(['customers', 'create', '--name', 'Initech', '--json'], envWith(oldKey))).id;
    for (const customer of [customerId, undefined]) {
      for (let i = 0; i < 3; i += 1) {
        const value = `key-${randomBytes(8).toString('hex')}`;
        const args = ['credentials', 'create', '--label', `Key ${i}`, '--method', 'api_key', '--json', ...(customer ? ['--customer', customer] : [])];
        const created = jsonOf(await runCli(args, envWith(oldKey), { input: JSON.stringify({ api_key: value }) }));
        values.set(created.id, value);
      }
    }
  });

  afterAll(async () => {
    killChildren();
    await database?.drop();
  });

  it('shows the root key, each scope with its version and encryption count', async () => {
    const text = expectOk(await runCli(['keys', 'status'], envWith(oldKey))).stdout;
    expect(text).toContain(`Root key: local ${idOf(oldKey)} (configured)`);
    expect(text).toContain(`Organization Acme (${organizationId})`);
    expect(text).toMatch(new RegExp(`${customerId}\\s+customer\\s+v1 `));

    const report = await status(oldKey);
    expect(report.rootKey).toEqual({ provider: 'local', keyId: idOf(oldKey) });
    expect(report.dataKeysByRootKey).toEqual([{ rootKeyId: idOf(oldKey), count: 2, configured: true }]);
    const scopes = report.organizations[0].scopes.map((s: any) => [s.scopeId, s.level, s.currentVersion, s.encryptionCount]);
    // Each api_key credential sealed one value; the counts were written down when each command closed.
    expect(scopes).toEqual(expect.arrayContaining([[organizationId, 'organization', 1, 3], [customerId, 'customer', 1, 3]]));
  });

  it('rotates a customer scope with a progress bar and retires the old version', async () => {
    const result = expectOk(await runCli(['keys', 'rotate', '--scope', customerId], envWith(oldKey)));
    expect(result.stdout).toContain(`New writes to ${customerId} use key v2 now`);
    expect(result.stdout).toContain('\rre-encrypting [');
    expect(result.stdout).toContain('100% 3/3');
    expect(result.stdout).toContain('done: 3 rows re-encrypted; versions before v2 retired');
    const scope = (await status(oldKey)).organizations[0].scopes.find((s: any) => s.scopeId === customerId);
    expect(scope.currentVersion).toBe(2);
    expect(scope.versions.map((v: any) => [v.version, v.retiredAt !== null])).toEqual([
      [1, true],
      [2, false],
    ]);
  });

  it('rotates the organization scope and prints one JSON line with --json', async () => {
    const line = jsonOf(await runCli(['keys', 'rotate', '--scope', organizationId, '--json'], envWith(oldKey)));
    expect(line).toMatchObject({ scopeId: organizationId, version: 2, status: 'done', done: 3, total: 3, failed: 0 });
    expect(line.jobId).toMatch(/^kjob_/);
  });

  it('re-wraps every data key under a new root key from a file, printing progress', async () => {
    const file = join(database.dataDir, 'new.key');
    await writeFile(file, `${newKey}\n`, { mode: 0o600 });
    const result = expectOk(await runCli(['keys', 'rotate-root', '--new-key-file', file, '--batch-size', '3'], envWith(oldKey)));
    expect(result.stdout).toContain('\rre-wrapping data keys [');
    expect(result.stdout).toContain(`Re-wrapped 4 data keys under root key ${idOf(newKey)}; 0 remain under other root keys.`);
    expect(result.stdout).toContain('restart every Credence process with CREDENCE_MASTER_KEY');
  });

  it('refuses to start with only the old key afterwards, and works with only the new one', async () => {
    const refused = await runCli(['keys', 'status'], envWith(oldKey));
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('does not open the stored data keys');
    const report = await status(newKey);
    expect(report.dataKeysByRootKey).toEqual([{ rootKeyId: idOf(newKey), count: 4, configured: true }]);
  });

  it('re-wraps under a key read from stdin, and re-wraps nothing when run again', async () => {
    const first = jsonOf(await runCli(['keys', 'rotate-root', '--json'], envWith(newKey), { input: `${newerKey}\n` }));
    expect(first).toEqual({ rootKeyId: idOf(newerKey), rewrapped: 4, total: 4, remaining: 0 });
    // The operator restarted with the newer key and the previous one still listed, and runs it again.
    const again = jsonOf(await runCli(['keys', 'rotate-root', '--json'], envWith(newerKey, { CREDENCE_PREVIOUS_MASTER_KEYS: newKey })));
    expect(again).toEqual({ rootKeyId: idOf(newerKey), rewrapped: 0, total: 0, remaining: 0 });
  });

  it('serves with only the newest key: resolves every credential, and a worker runs rotations started through the API', async () => {
    const port = String(await freePort());
    const env = envWith(newerKey, { PORT: port, CREDENCE_REFRESH_POLL_MS: '200' });
    const runtimeToken = jsonOf(await runCli(['tokens', 'create', '--role', 'runtime', '--name', 'runs', '--json'], env)).token;
    const server = startServe(env);
    await waitUntilHealthy(server);
    try {
      for (const [id, value] of values) {
        const resolved = await api(server, 'POST', `/api/v1/credentials/${id}/resolve`, { token: runtimeToken });
        expect({ status: resolved.status, apiKey: resolved.body?.fields?.api_key === value }).toEqual({ status: 200, apiKey: true });
      }
      const rotated = await api(server, 'POST', '/api/v1/keys/rotate', { token: adminToken, body: { scope: customerId } });
      expect(rotated.status).toBe(202);
      let job: any;
      for (let i = 0; i < 100; i += 1) {
        job = (await api(server, 'GET', `/api/v1/keys/jobs/${rotated.body.jobId}`, { token: adminToken })).body;
        if (job.status === 'done') break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(job).toMatchObject({ status: 'done', version: 3, done: 3, total: 3 });
      const rootRotation = await api(server, 'POST', '/api/v1/keys/rotate-root', { token: adminToken, body: {} });
      expect(rootRotation.status).toBe(404);
    } finally {
      await stopServer(server);
    }
  });
});
