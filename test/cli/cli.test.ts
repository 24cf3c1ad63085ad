import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  api,
  assertBuilt,
  cliEnv,
  freePort,
  killChildren,
  linesOf,
  runCli,
  startServe,
  stopServer,
  waitUntilHealthy,
  type CliResult,
  type Server,
} from './cli-harness.js';

const newDataDir = () => mkdtemp(join(tmpdir(), 'credence-cli-'));
const randomKey = () => randomBytes(32).toString('base64');

describe('credence init and serve on SQLite', () => {
  let dataDir: string;
  let port: number;
  let env: Record<string, string>;
  let init: CliResult;
  let initLine: { organizationId: string; apiToken: string; adminPassword?: string };
  let server: Server;
  const apiKey = `CANARY-${randomBytes(12).toString('hex')}-cli`;
  let credentialId = '';
  let runtimeToken = '';

  beforeAll(async () => {
    assertBuilt();
    dataDir = await newDataDir();
    port = await freePort();
    env = cliEnv({ CREDENCE_DATA_DIR: dataDir, PORT: String(port) });
    init = await runCli(['init', '--org', 'Acme', '--admin-email', 'admin@acme.test', '--json'], env);
    initLine = JSON.parse(init.stdout) as typeof initLine;
  });

  afterAll(async () => {
    killChildren();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('prints exactly one JSON line with the organization id and an API token on init', () => {
    expect(init.code).toBe(0);
    const lines = linesOf(init.stdout);
    expect(lines).toHaveLength(1);
    expect(initLine.organizationId.startsWith('org_')).toBe(true);
    expect(initLine.apiToken.startsWith('crd_')).toBe(true);
  });

  it('generates and prints an admin password when stdin carries none', () => {
    expect(typeof initLine.adminPassword).toBe('string');
    expect((initLine.adminPassword ?? '').length).toBeGreaterThanOrEqual(12);
  });

  it('writes the generated root key to master.key with mode 0600 and warns about it', async () => {
    const file = join(dataDir, 'master.key');
    const { mode } = await stat(file);
    expect(mode & 0o777).toBe(0o600);
    const key = Buffer.from((await readFile(file, 'utf8')).trim(), 'base64');
    expect(key.length).toBe(32);
    expect(init.stderr).toContain('Generated a new root key');
  });

  it('serves /healthz and /readyz once started', async () => {
    server = startServe(env);
    await waitUntilHealthy(server);
    expect(await api(server, 'GET', '/healthz')).toEqual({ status: 200, body: { status: 'ok' } });
    expect(await api(server, 'GET', '/readyz')).toEqual({ status: 200, body: { status: 'ready' } });
  });

  it('accepts the token printed by init and lists no credentials yet', async () => {
    const response = await api(server, 'GET', '/api/v1/credentials', { token: initLine.apiToken });
    expect(response.status).toBe(200);
    expect(response.body.items).toEqual([]);
  });

  it('answers 401 without a token', async () => {
    const response = await api(server, 'GET', '/api/v1/credentials');
    expect(response.status).toBe(401);
  });

  it('lists a credential created over HTTP with credentials list --json, without its secret', async () => {
    const created = await api(server, 'POST', '/api/v1/credentials', {
      token: initLine.apiToken,
      body: { label: 'Billing API', authMethod: 'api_key', fields: { api_key: apiKey } },
    });
    expect(created.status).toBe(201);
    credentialId = created.body.id as string;

    const listed = await runCli(['credentials', 'list', '--json'], env);
    expect(listed.code).toBe(0);
    const items = JSON.parse(listed.stdout) as Array<{ id: string; label: string; authMethod: string; level: string }>;
    expect(items.map(({ id, label, authMethod, level }) => ({ id, label, authMethod, level }))).toEqual([
      { id: credentialId, label: 'Billing API', authMethod: 'api_key', level: 'organization' },
    ]);
    expect(listed.stdout.includes(apiKey)).toBe(false);
  });

  it('prints a runtime token from tokens create that can resolve the credential', async () => {
    const created = await runCli(['tokens', 'create', '--role', 'runtime', '--name', 'r', '--json'], env);
    expect(created.code).toBe(0);
    const body = JSON.parse(created.stdout) as { role: string; name: string; token: string };
    expect(body.role).toBe('runtime');
    expect(body.name).toBe('r');
    expect(body.token.startsWith('crd_')).toBe(true);
    runtimeToken = body.token;

    const resolved = await api(server, 'POST', `/api/v1/credentials/${credentialId}/resolve`, { token: runtimeToken });
    expect(resolved.status).toBe(200);
    expect(resolved.body.fields.api_key === apiKey).toBe(true);
  });

  it('refuses the runtime token on management routes', async () => {
    const response = await api(server, 'GET', '/api/v1/credentials', { token: runtimeToken });
    expect(response.status).toBe(403);
  });

  it('refuses to start with a different CREDENCE_MASTER_KEY against the same data', async () => {
    const other = await runCli(['serve'], { ...env, PORT: String(await freePort()), CREDENCE_MASTER_KEY: randomKey() });
    expect(other.code).toBe(1);
    expect(other.stderr).toContain('root key does not open the stored data keys');
  });

  it('keeps tokens and secrets out of the server log', () => {
    const { stdout, stderr } = server.output();
    const log = stdout + stderr;
    expect(log.length).toBeGreaterThan(0);
    const leaks = [
      ['init api token', initLine.apiToken],
      ['runtime token', runtimeToken],
      ['api_key', apiKey],
    ].filter(([, secret]) => secret !== undefined && secret !== '' && log.includes(secret));
    expect(leaks.map(([name]) => name)).toEqual([]);
  });

  it('stops serve with exit code 0 on SIGTERM', async () => {
    const result = await stopServer(server, 'SIGTERM');
    expect(result.code).toBe(0);
    expect(result.signal).toBeNull();
  });
});

describe('credence init with a piped admin password', () => {
  let dataDir: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    assertBuilt();
    dataDir = await newDataDir();
    env = cliEnv({ CREDENCE_DATA_DIR: dataDir, PORT: String(await freePort()) });
  });
  afterAll(async () => {
    killChildren();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('accepts a password on stdin and does not print it back', async () => {
    const password = `piped-${randomBytes(12).toString('hex')}`;
    const result = await runCli(['init', '--org', 'Acme', '--admin-email', 'admin@acme.test', '--json'], env, { input: `${password}\n` });
    expect(result.code).toBe(0);
    const lines = linesOf(result.stdout);
    expect(lines).toHaveLength(1);
    const line = JSON.parse(lines[0] ?? '') as Record<string, unknown>;
    expect(Object.keys(line).sort()).toEqual(['apiToken', 'organizationId']);
    expect(result.stdout.includes(password) || result.stderr.includes(password)).toBe(false);
  });

  it('fails a second init with the same admin email with a non-zero exit and a clear message', async () => {
    const result = await runCli(['init', '--org', 'Acme Again', '--admin-email', 'admin@acme.test', '--json'], env, {
      input: `another-${randomBytes(12).toString('hex')}\n`,
    });
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('CONFLICT');
    expect(result.stderr).toContain('A user with this email address already exists');
  });

  it('refuses a piped admin password shorter than 12 characters', async () => {
    const result = await runCli(['init', '--org', 'Short', '--admin-email', 'short@acme.test', '--json'], env, { input: 'short\n' });
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('at least 12 characters');
  });
});

describe('credence serve with a bad configuration', () => {
  let dataDir: string;

  beforeAll(async () => {
    assertBuilt();
    dataDir = await newDataDir();
  });
  afterEach(() => killChildren());
  afterAll(async () => rm(dataDir, { recursive: true, force: true }));

  const serveWith = async (settings: Record<string, string>) =>
    runCli(['serve'], cliEnv({ CREDENCE_DATA_DIR: dataDir, PORT: String(await freePort()), ...settings }), { timeoutMs: 15_000 });

  it('exits non-zero naming the missing CREDENCE_MASTER_KEY_FILE', async () => {
    const missing = join(dataDir, 'no-such-dir', 'root.key');
    const result = await serveWith({ CREDENCE_MASTER_KEY_FILE: missing });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`The root key file ${missing} does not exist`);
  });

  it('exits non-zero naming both PORT and DATABASE_URL when both are bad', async () => {
    const result = await serveWith({ PORT: 'abc', DATABASE_URL: 'mysql://x' });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('Invalid configuration');
    expect(result.stderr).toMatch(/^\s+- PORT: /m);
    expect(result.stderr).toMatch(/^\s+- DATABASE_URL: /m);
  });

  it('exits non-zero naming CREDENCE_MASTER_KEY when PostgreSQL is chosen without a key', async () => {
    const result = await serveWith({ DATABASE_URL: 'postgres://credence@127.0.0.1:1/credence' });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('CREDENCE_MASTER_KEY');
    expect(result.stderr).toContain('DATABASE_URL');
  });

  it('exits non-zero without echoing a CREDENCE_MASTER_KEY of the wrong length', async () => {
    const shortKey = randomBytes(16).toString('base64');
    const result = await serveWith({ CREDENCE_MASTER_KEY: shortKey });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('CREDENCE_MASTER_KEY: must be the base64 encoding of exactly 32 bytes');
    expect(result.stderr.includes(shortKey)).toBe(false);
  });
});
