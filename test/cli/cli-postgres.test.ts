import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';
import { randomMasterKey } from '../support/test-app.js';
import { api, assertBuilt, cliEnv, freePort, killChildren, linesOf, runCli, startServe, stopServer, waitUntilHealthy, type Server } from './cli-harness.js';

describe('credence init and serve on PostgreSQL', () => {
  let database: TestDatabase;
  let env: Record<string, string>;
  let server: Server;
  let apiToken = '';

  beforeAll(async () => {
    assertBuilt();
    database = await createTestDatabase('postgres');
    if (!database.url) throw new Error('the PostgreSQL test database has no URL');
    env = cliEnv({
      CREDENCE_DATA_DIR: database.dataDir,
      PORT: String(await freePort()),
      DATABASE_URL: database.url,
      CREDENCE_MASTER_KEY: randomMasterKey(),
    });
  });

  afterAll(async () => {
    killChildren();
    await database?.drop();
  });

  it('creates the organization in PostgreSQL with init', async () => {
    const result = await runCli(['init', '--org', 'Acme', '--admin-email', 'admin@acme.test', '--json'], env);
    expect(result.code).toBe(0);
    const lines = linesOf(result.stdout);
    expect(lines).toHaveLength(1);
    const line = JSON.parse(lines[0] ?? '') as { organizationId: string; apiToken: string };
    expect(line.organizationId.startsWith('org_')).toBe(true);
    expect(line.apiToken.startsWith('crd_')).toBe(true);
    apiToken = line.apiToken;
  });

  it('writes no key file when the root key comes from CREDENCE_MASTER_KEY', async () => {
    const exists = await access(join(database.dataDir, 'master.key')).then(
      () => true,
      () => false,
    );
    expect(exists).toBe(false);
  });

  it('serves /readyz as ready against the database', async () => {
    server = startServe(env);
    await waitUntilHealthy(server);
    expect(await api(server, 'GET', '/readyz')).toEqual({ status: 200, body: { status: 'ready' } });
  });

  it('accepts the token printed by init', async () => {
    const response = await api(server, 'GET', '/api/v1/credentials', { token: apiToken });
    expect(response.status).toBe(200);
    expect(response.body.items).toEqual([]);
  });

  it('refuses to start with a different root key once data keys are stored', async () => {
    const created = await api(server, 'POST', '/api/v1/credentials', {
      token: apiToken,
      body: { label: 'Warehouse', authMethod: 'basic', fields: { username: 'etl', password: 'correct horse battery staple' } },
    });
    expect(created.status).toBe(201);
    const other = await runCli(['serve'], { ...env, PORT: String(await freePort()), CREDENCE_MASTER_KEY: randomMasterKey() }, { timeoutMs: 15_000 });
    expect(other.code).toBe(1);
    expect(other.stderr).toContain('root key does not open the stored data keys');
  });

  it('stops with exit code 0 on SIGTERM', async () => {
    const result = await stopServer(server, 'SIGTERM');
    expect(result.code).toBe(0);
    expect(result.signal).toBeNull();
  });
});
