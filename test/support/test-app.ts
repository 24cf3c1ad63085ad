import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { Writable } from 'node:stream';
import pino from 'pino';
import type { FastifyInstance } from 'fastify';
import { loadConfig, type Config } from '../../src/config/config.js';
import { buildApp } from '../../src/http/app.js';
import { loggerOptions } from '../../src/http/logging.js';
import { Redacted } from '../../src/common/redacted.js';
import { openRuntime, type Runtime } from '../../src/runtime.js';
import { createTestDatabase, type EngineName, type TestDatabase } from './databases.js';

export interface ApiResponse {
  status: number;
  headers: Record<string, unknown>;
  body: any;
  text: string;
}

export interface TestApp {
  app: FastifyInstance;
  /** The public URL; with `listen: true` the app really listens there. */
  baseUrl: string;
  runtime: Runtime;
  config: Config;
  database: TestDatabase;
  /** The org_admin API token of the organization created at start. */
  adminToken: string;
  organizationId: string;
  /** Every log line the app wrote. */
  logs: string[];
  /** Every response body, with its method and URL, for leak checks. */
  responses: Array<{ method: string; url: string; text: string }>;
  request(method: string, url: string, options?: { token?: string | undefined; body?: unknown; headers?: Record<string, string> }): Promise<ApiResponse>;
  /** Creates an API token of a role (and customer) in the first organization. */
  token(role: 'org_admin' | 'org_member' | 'customer_user' | 'runtime', customerId?: string): Promise<string>;
  /** Creates another organization with its own admin token. */
  otherOrganization(name?: string): Promise<{ organizationId: string; adminToken: string }>;
  close(): Promise<void>;
}

/** A free TCP port on loopback (listen on 0, read it, close). */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });

export const randomMasterKey = (): string => randomBytes(32).toString('base64');

/**
 * Starts Credence in-process on a fresh database (SQLite or PostgreSQL) with an
 * organization and an org_admin token, driven through `app.inject` (no socket).
 */
export const startTestApp = async (
  engine: EngineName,
  options: { env?: Record<string, string>; masterKey?: string; database?: TestDatabase; listen?: boolean; fetch?: typeof fetch } = {},
): Promise<TestApp> => {
  const database = options.database ?? (await createTestDatabase(engine));
  // A listening app needs its public URL before it starts: pick the port first.
  const port = options.listen ? await freePort() : undefined;
  const config = loadConfig({
    CREDENCE_DATA_DIR: database.dataDir,
    CREDENCE_MASTER_KEY: options.masterKey ?? randomMasterKey(),
    ...(database.url ? { DATABASE_URL: database.url } : {}),
    ...(port ? { CREDENCE_PUBLIC_URL: `http://127.0.0.1:${port}` } : {}),
    ...options.env,
  });
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logs.push(chunk.toString());
      done();
    },
  });
  const logger = pino(loggerOptions('trace'), sink);
  const runtime = await openRuntime(config, { warn: (message) => logs.push(message) }, options.fetch ? { fetch: options.fetch } : {});
  const app = await buildApp({ services: runtime.services, isReady: runtime.isReady, loggerInstance: logger, publicUrl: config.publicUrl, metricsToken: config.metricsToken, timeouts: config.timeouts, signInsPerMinute: config.signInsPerMinute });
  await app.ready();
  if (port) await app.listen({ host: '127.0.0.1', port });

  const responses: TestApp['responses'] = [];
  const request: TestApp['request'] = async (method, url, opts = {}) => {
    const response = await app.inject({
      method: method as 'GET',
      url,
      headers: { ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}), ...opts.headers },
      ...(opts.body !== undefined ? { payload: opts.body as object } : {}),
    });
    responses.push({ method, url, text: response.body });
    let body: unknown;
    try {
      body = response.body ? JSON.parse(response.body) : undefined;
    } catch {
      body = undefined;
    }
    return { status: response.statusCode, headers: response.headers, body, text: response.body };
  };

  const setUp = async (name: string) => {
    const result = await runtime.services.organizations.setUp({
      name,
      adminEmail: `admin-${randomBytes(4).toString('hex')}@example.test`,
      adminPassword: new Redacted(randomBytes(16).toString('hex')),
    });
    return { organizationId: result.organization.id, adminToken: result.apiToken.reveal() };
  };
  const first = await setUp('Acme Integrations');

  return {
    app,
    baseUrl: config.publicUrl,
    runtime,
    config,
    database,
    adminToken: first.adminToken,
    organizationId: first.organizationId,
    logs,
    responses,
    request,
    async token(role, customerId) {
      const response = await request('POST', '/api/v1/api-tokens', {
        token: first.adminToken,
        body: { name: `${role} token`, role, ...(customerId ? { customerId } : {}) },
      });
      if (response.status !== 201) throw new Error(`could not create a ${role} token: ${response.text}`);
      return response.body.token as string;
    },
    otherOrganization: (name = 'Globex') => setUp(name),
    async close() {
      await app.close();
      await runtime.close();
      if (!options.database) await database.drop();
    },
  };
};
