import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, cliEnv, linesOf, runCli, stopServer, waitUntilHealthy } from '../cli/cli-harness.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';
import type { OAuthServer } from '../support/oauth-server.js';
import { randomMasterKey } from '../support/test-app.js';
import {
  API,
  apiOfUrl,
  authorizeCredential,
  createOAuthCredential,
  getCredential,
  killServers,
  ms,
  refreshRequests,
  sleepUntil,
  spawnServe,
  startProvider,
  waitFor,
  type Api,
  type Provider,
  type RoleServer,
} from './oauth-fixtures.js';

// Several built `credence serve` processes sharing one PostgreSQL database: two API
// processes answering resolves for the same expiring token, and a worker-only process.

describe('token refresh across Credence processes on PostgreSQL', () => {
  let database: TestDatabase;
  let env: Record<string, string>;
  let adminToken = '';
  let runtimeToken = '';
  const servers = new Set<RoleServer>();
  const providers: OAuthServer[] = [];
  let first: RoleServer;
  let second: RoleServer;
  let firstApi: Api;

  const provider = async (publicUrl: string): Promise<Provider> => {
    const started = await startProvider(publicUrl, { accessTokenTtlSeconds: 5 });
    providers.push(started.server);
    return started;
  };

  const serve = async (role: 'api' | 'worker'): Promise<RoleServer> => {
    const server = await spawnServe(role, env);
    servers.add(server);
    return server;
  };

  beforeAll(async () => {
    assertBuilt();
    database = await createTestDatabase('postgres');
    if (!database.url) throw new Error('the PostgreSQL test database has no URL');
    env = cliEnv({
      CREDENCE_DATA_DIR: database.dataDir,
      DATABASE_URL: database.url,
      CREDENCE_MASTER_KEY: randomMasterKey(),
      CREDENCE_ALLOW_INSECURE_LOOPBACK: 'true',
      // Were a background worker running in an API process, it would act within 200 ms.
      CREDENCE_REFRESH_POLL_MS: '200',
    });
    const init = await runCli(['init', '--org', 'Acme', '--admin-email', 'admin@acme.test', '--json'], env);
    if (init.code !== 0) throw new Error(`credence init failed: ${init.stderr}`);
    adminToken = (JSON.parse(linesOf(init.stdout)[0] ?? '{}') as { apiToken: string }).apiToken;

    [first, second] = await Promise.all([serve('api'), serve('api')]);
    await Promise.all([waitUntilHealthy(first), waitUntilHealthy(second)]);
    firstApi = apiOfUrl(first.baseUrl);
    const created = await firstApi('POST', `${API}/api-tokens`, { token: adminToken, body: { name: 'runs', role: 'runtime' } });
    if (created.status !== 201) throw new Error(`no runtime token: ${JSON.stringify(created.body)}`);
    runtimeToken = created.body.token as string;
  });

  afterAll(async () => {
    killServers(servers);
    await Promise.all([...servers].map((server) => server.exited));
    await Promise.all(providers.map((server) => server.close()));
    await database?.drop();
  });

  it('makes exactly one refresh request for fifty concurrent resolves spread over two API processes, and keeps the grant alive', async () => {
    const p = await provider(first.baseUrl);
    const server = p.server;
    const credential = await createOAuthCredential(firstApi, adminToken, p);
    const id = credential.id as string;
    await authorizeCredential(firstApi, adminToken, id);
    const authorized = await getCredential(firstApi, adminToken, id);
    expect(authorized.status).toBe('authorized');

    await sleepUntil(authorized.oauth2.lastRefreshedAt, 2700);
    // No process runs a worker: the due token is still untouched.
    expect(refreshRequests(server)).toBe(0);

    const secondApi = apiOfUrl(second.baseUrl);
    const resolveAt = (api: Api) => api('POST', `${API}/credentials/${id}/resolve`, { token: runtimeToken });
    const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => resolveAt(i % 2 === 0 ? firstApi : secondApi)));

    expect(answers.map((a) => a.status)).toEqual(Array(50).fill(200));
    const tokens = new Set(answers.map((a) => a.body.token?.accessToken));
    expect(tokens.size).toBe(1);
    expect(refreshRequests(server)).toBe(1);
    expect(server.tokenRequestLog.map((r) => `${String(r.grantType)} ${r.status}`)).toEqual(['authorization_code 200', 'refresh_token 200']);
    const token = String([...tokens][0]);
    expect(await server.introspect(token)).toMatchObject({ active: true, client_id: p.client.clientId });

    const view = await getCredential(apiOfUrl(second.baseUrl), adminToken, id);
    expect(view.status).toBe('authorized');
    expect(ms(view.oauth2.lastRefreshedAt)).toBeGreaterThan(ms(authorized.oauth2.lastRefreshedAt));
  });

  it('runs the refresh worker alone with --role worker: no port, due tokens refreshed, exit code 0 on SIGTERM', async () => {
    const p = await provider(first.baseUrl);
    const credential = await createOAuthCredential(firstApi, adminToken, p);
    await authorizeCredential(firstApi, adminToken, credential.id);
    const authorized = await getCredential(firstApi, adminToken, credential.id);

    const worker = await serve('worker');
    await waitFor('the worker to start', () => (/refresh worker started/.test(worker.output().stderr) ? true : undefined), 15_000);
    const connected = await fetch(`http://127.0.0.1:${worker.port}/healthz`, { signal: AbortSignal.timeout(2000) }).then(
      (response) => response.status,
      (error: unknown) => (error instanceof Error ? String((error.cause as { code?: string } | undefined)?.code ?? error.name) : 'failed'),
    );
    expect(connected).toBe('ECONNREFUSED');

    await waitFor('the worker to refresh the due token', () => (refreshRequests(p.server) >= 1 ? true : undefined), 8000);
    const refreshed = await waitFor('the refreshed schedule', async () => {
      const view = await getCredential(firstApi, adminToken, credential.id);
      return view.oauth2.lastRefreshedAt !== authorized.oauth2.lastRefreshedAt ? view : undefined;
    });
    expect(refreshed.status).toBe('authorized');
    expect(refreshed.oauth2.lastError).toBeNull();
    expect(ms(refreshed.oauth2.lastRefreshedAt)).toBeLessThan(ms(authorized.oauth2.tokenExpiresAt));
    expect(p.server.tokenRequestLog.filter((r) => r.grantType === 'refresh_token').map((r) => r.status)).toContain(200);
    expect(p.server.tokenRequestLog.filter((r) => r.grantType === 'refresh_token' && r.status !== 200)).toEqual([]);

    const result = await stopServer(worker, 'SIGTERM');
    expect(result.code).toBe(0);
    expect(result.signal).toBeNull();
  });
});
