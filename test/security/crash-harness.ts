import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { cliEnv, linesOf, runCli, waitUntilHealthy } from '../cli/cli-harness.js';
import { apiOfUrl, killServers, spawnServe, type Api, type RoleServer } from '../oauth/oauth-fixtures.js';
import { createTestDatabase, type EngineName, type TestDatabase } from '../support/databases.js';
import { randomMasterKey } from '../support/test-app.js';

/**
 * For the crash tests: a database with an organization made by `credence init`, `credence
 * serve` processes of the built command on it, SIGKILL with a bounded wait, direct SQL for
 * what only time would otherwise do (a dead process's lease running out), and a loopback
 * OAuth provider whose token endpoint hands each refresh to the test before answering.
 */

export interface Started {
  server: RoleServer;
  api: Api;
}

export interface Deployment {
  engine: EngineName;
  env: Record<string, string>;
  adminToken: string;
  /** The running `credence serve` of this database, started (and waited for) when there is none. */
  live(): Promise<Started>;
  /** SIGKILL, then wait (at most 10 s) for the process to be gone. */
  kill(server: RoleServer): Promise<NodeJS.Signals | null>;
  /** Runs one statement; `?` placeholders on both engines. */
  sql(text: string, params?: unknown[]): Promise<Array<Record<string, unknown>>>;
  close(): Promise<void>;
}

export const prepareDeployment = async (engine: EngineName): Promise<Deployment> => {
  const database: TestDatabase = await createTestDatabase(engine);
  const env = cliEnv({
    CREDENCE_DATA_DIR: database.dataDir,
    CREDENCE_MASTER_KEY: randomMasterKey(),
    CREDENCE_ALLOW_INSECURE_LOOPBACK: 'true',
    CREDENCE_REFRESH_POLL_MS: '100',
    // One row per re-encryption transaction, so a rotation runs long enough to be cut short.
    CREDENCE_REENCRYPT_BATCH_SIZE: '1',
    ...(database.url ? { DATABASE_URL: database.url } : {}),
  });
  const init = await runCli(['init', '--org', 'Crash Test Org', '--admin-email', `admin-${randomBytes(3).toString('hex')}@crash.test`, '--json'], env);
  if (init.code !== 0) throw new Error(`credence init failed: ${init.stderr.slice(0, 2000)}`);
  const { apiToken } = JSON.parse(linesOf(init.stdout)[0] ?? '{}') as { apiToken: string };
  const servers = new Set<RoleServer>();
  let current: Started | undefined;

  const sql: Deployment['sql'] = async (text, params = []) => {
    if (engine === 'sqlite') {
      const db = new Database(join(database.dataDir, 'credence.sqlite'));
      try {
        db.pragma('busy_timeout = 5000');
        const statement = db.prepare(text);
        return statement.reader ? (statement.all(...params) as Array<Record<string, unknown>>) : (statement.run(...params), []);
      } finally {
        db.close();
      }
    }
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      let index = 0;
      return (await client.query(text.replace(/\?/g, () => `$${++index}`), params)).rows as Array<Record<string, unknown>>;
    } finally {
      await client.end();
    }
  };

  return {
    engine,
    env,
    adminToken: apiToken,
    async live() {
      if (current) return current;
      const server = await spawnServe('all', env);
      servers.add(server);
      await waitUntilHealthy(server);
      current = { server, api: apiOfUrl(server.baseUrl) };
      return current;
    },
    async kill(server) {
      if (current?.server === server) current = undefined;
      server.child.kill('SIGKILL');
      let timer: NodeJS.Timeout | undefined;
      const result = await Promise.race([server.exited, new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), 10_000)))]);
      clearTimeout(timer);
      if (!result) throw new Error('credence serve did not die within 10 s of SIGKILL');
      return result.signal;
    },
    sql,
    async close() {
      killServers(servers);
      await Promise.all([...servers].map((server) => server.exited));
      await database.drop();
    },
  };
};

/** Lets the test decide, per refresh request, when the answer goes out. */
export type RefreshHook = (answer: (then?: () => void) => void) => void | Promise<void>;

export interface FakeProvider {
  origin: string;
  clientId: string;
  clientSecret: string;
  /** Token requests seen, with the answer given. */
  log: Array<{ grantType: string; status: number }>;
  /** Refresh tokens the provider still accepts. */
  validRefreshTokens: Set<string>;
  /** Access tokens issued so far, in order. */
  accessTokens: string[];
  onRefresh: RefreshHook | undefined;
  close(): Promise<void>;
}

const readBody = async (request: IncomingMessage): Promise<URLSearchParams> => {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
};

/**
 * A minimal OAuth 2.0 provider on loopback: /authorize sends the browser straight back with
 * a code; /token answers the code grant and refresh grants (rotating the refresh token when
 * `rotate`, so an old one is refused with invalid_grant).
 */
export const startFakeProvider = async (options: { rotate: boolean }): Promise<FakeProvider> => {
  const tag = randomBytes(4).toString('hex');
  let issued = 0;
  const provider: FakeProvider = {
    origin: '',
    clientId: `crash-client-${tag}`,
    clientSecret: randomBytes(18).toString('base64url'),
    log: [],
    validRefreshTokens: new Set(),
    accessTokens: [],
    onRefresh: undefined,
    close: async () => undefined,
  };
  const tokens = (withRefresh: boolean) => {
    issued += 1;
    const accessToken = `at-${tag}-${issued}`;
    provider.accessTokens.push(accessToken);
    const refreshToken = withRefresh ? `rt-${tag}-${issued}` : undefined;
    if (refreshToken) provider.validRefreshTokens.add(refreshToken);
    return { access_token: accessToken, token_type: 'Bearer', expires_in: 3600, scope: 'files.read', ...(refreshToken ? { refresh_token: refreshToken } : {}) };
  };
  const json = (response: ServerResponse, status: number, body: unknown, then?: () => void) => {
    try {
      response.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(body), then);
    } catch {
      // The client is gone (killed): nobody reads this answer.
    }
  };
  const server: Server = createServer((request, response) => {
    void (async () => {
      const url = new URL(request.url ?? '/', provider.origin);
      if (url.pathname === '/authorize') {
        const back = new URL(url.searchParams.get('redirect_uri') ?? '');
        back.searchParams.set('code', `code-${tag}-${issued}`);
        back.searchParams.set('state', url.searchParams.get('state') ?? '');
        back.searchParams.set('iss', provider.origin);
        response.writeHead(302, { location: back.href }).end();
        return;
      }
      const body = await readBody(request);
      const grantType = body.get('grant_type') ?? '';
      if (grantType === 'authorization_code') {
        provider.log.push({ grantType, status: 200 });
        json(response, 200, tokens(true));
        return;
      }
      const presented = body.get('refresh_token') ?? '';
      if (!provider.validRefreshTokens.has(presented)) {
        provider.log.push({ grantType, status: 400 });
        json(response, 400, { error: 'invalid_grant' });
        return;
      }
      // The provider has answered as far as it is concerned: the old refresh token is spent.
      if (options.rotate) provider.validRefreshTokens.delete(presented);
      const answer = tokens(options.rotate);
      provider.log.push({ grantType, status: 200 });
      const hook = provider.onRefresh;
      provider.onRefresh = undefined;
      if (hook) await hook((then) => json(response, 200, answer, then));
      else json(response, 200, answer);
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  provider.origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  provider.close = async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return provider;
};
