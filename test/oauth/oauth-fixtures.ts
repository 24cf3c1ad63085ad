import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { CLI, api, freePort, type CliResult, type Server } from '../cli/cli-harness.js';
import type { EngineName } from '../support/databases.js';
import { followAuthorization, startOAuthServer, type OAuthServer, type OAuthServerOptions } from '../support/oauth-server.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

/**
 * Shared by the OAuth 2.0 refresh tests: a Credence app (in-process or spawned) talking to
 * the loopback oidc-provider server, helpers to create and authorize oauth2 credentials,
 * and bounded waits. Helpers throw plain errors instead of using `expect`, so they work in
 * concurrent tests.
 */

export const API = '/api/v1';
export const SCOPES = 'files.read offline_access';

/** Anything that answers JSON requests: the in-process app (inject) or a spawned server (fetch). */
export type Api = (method: string, path: string, options?: { token?: string; body?: unknown }) => Promise<{ status: number; body: any }>;

export const apiOfApp = (t: TestApp): Api => (method, path, options = {}) => t.request(method, path, options);

export const apiOfUrl = (baseUrl: string): Api => (method, path, options = {}) => api({ baseUrl }, method, path, { ...options, timeoutMs: 25_000 });

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

/** Polls `check` every `intervalMs` until it returns a value other than undefined; fails after `timeoutMs`. */
export const waitFor = async <T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = 10_000, intervalMs = 50): Promise<T> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
};

/** Sleeps until an ISO instant (plus `extraMs`), refusing to wait longer than `maxMs`. */
export const sleepUntil = async (iso: string, extraMs = 0, maxMs = 10_000): Promise<void> => {
  const wait = Date.parse(iso) + extraMs - Date.now();
  if (Number.isNaN(wait)) throw new Error(`not a timestamp: ${iso}`);
  if (wait > maxMs) throw new Error(`refusing to wait ${wait} ms for ${iso}`);
  await sleep(wait);
};

export const ms = (iso: unknown): number => {
  if (typeof iso !== 'string') throw new Error(`expected a timestamp, got ${String(iso)}`);
  return Date.parse(iso);
};

export interface OAuthCredentialOptions {
  grantType?: 'authorization_code' | 'client_credentials';
  scopes?: string;
  label?: string;
}

/** A client of `server` registered for `redirectUri`, and a matching oauth2 credential body. */
export const newClient = (redirectUri: string) => ({
  clientId: `credence-${randomBytes(4).toString('hex')}`,
  clientSecret: randomBytes(24).toString('base64url'),
  redirectUris: [redirectUri],
});

export interface Provider {
  server: OAuthServer;
  client: ReturnType<typeof newClient>;
}

/** Starts the loopback OAuth server with one client whose redirect URI is Credence's callback at `publicUrl`. */
export const startProvider = async (publicUrl: string, options: Partial<OAuthServerOptions> = {}): Promise<Provider> => {
  const client = newClient(`${publicUrl}/oauth2/callback`);
  const server = await startOAuthServer({ clients: [client], ...options });
  return { server, client };
};

export const createOAuthCredential = async (api: Api, token: string, provider: Provider, options: OAuthCredentialOptions = {}): Promise<any> => {
  const grantType = options.grantType ?? 'authorization_code';
  const response = await api('POST', `${API}/credentials`, {
    token,
    body: {
      label: options.label ?? `Files ${randomBytes(3).toString('hex')}`,
      authMethod: 'oauth2',
      grantType,
      fields: {
        client_id: provider.client.clientId,
        client_secret: provider.client.clientSecret,
        token_uri: provider.server.tokenEndpoint,
        scopes: options.scopes ?? (grantType === 'client_credentials' ? 'files.read' : SCOPES),
        ...(grantType === 'authorization_code' ? { auth_uri: provider.server.authorizationEndpoint } : {}),
      },
    },
  });
  if (response.status !== 201) throw new Error(`could not create the oauth2 credential: ${response.status} ${JSON.stringify(response.body)}`);
  return response.body;
};

/** Issues an authorization link and follows it through the provider's login and consent to the end page. */
export const authorizeCredential = async (api: Api, token: string, credentialId: string): Promise<void> => {
  const link = await api('POST', `${API}/credentials/${credentialId}/authorization-link`, { token, body: {} });
  if (link.status !== 201 && link.status !== 200) throw new Error(`no authorization link: ${link.status} ${JSON.stringify(link.body)}`);
  const followed = await followAuthorization(String(link.body.url));
  if (followed.finalStatus !== 200 || !followed.finalBody?.includes('Authorization complete')) {
    throw new Error(`authorization did not complete: ${String(followed.finalStatus)} ${followed.finalBody?.slice(0, 500) ?? ''}`);
  }
};

export const getCredential = async (api: Api, token: string, id: string): Promise<any> => {
  const response = await api('GET', `${API}/credentials/${id}`, { token });
  if (response.status !== 200) throw new Error(`could not read credential ${id}: ${response.status} ${JSON.stringify(response.body)}`);
  return response.body;
};

export const resolveCredential = (api: Api, runtimeToken: string, id: string) => api('POST', `${API}/credentials/${id}/resolve`, { token: runtimeToken });

/** Refresh-token requests the provider has seen. */
export const refreshRequests = (server: OAuthServer): number => server.tokenRequestsByGrantType['refresh_token'] ?? 0;

/** One in-process Credence app with its own provider, runtime token and an authorized credential. */
export interface Scenario {
  t: TestApp;
  api: Api;
  provider: Provider;
  server: OAuthServer;
  runtimeToken: string;
  credentialId: string;
  /** The credential as read right after authorization. */
  authorized: any;
  close(): Promise<void>;
}

/**
 * Starts an app that really listens (the provider redirects the browser to it), a provider
 * issuing `ttl`-second access tokens, and an authorized oauth2 credential.
 */
export const authorizedScenario = async (
  engine: EngineName,
  options: Partial<OAuthServerOptions> & { authorize?: boolean; grantType?: 'authorization_code' | 'client_credentials'; env?: Record<string, string> } = {},
): Promise<Scenario> => {
  const { authorize = true, grantType, env = {}, ...serverOptions } = options;
  const t = await startTestApp(engine, { listen: true, env: { CREDENCE_ALLOW_INSECURE_LOOPBACK: 'true', ...env } });
  let provider: Provider | undefined;
  try {
    provider = await startProvider(t.baseUrl, serverOptions);
    const api = apiOfApp(t);
    const created = await createOAuthCredential(api, t.adminToken, provider, grantType ? { grantType } : {});
    if (authorize) await authorizeCredential(api, t.adminToken, created.id);
    const runtimeToken = await t.token('runtime');
    const server = provider.server;
    return {
      t,
      api,
      provider,
      server,
      runtimeToken,
      credentialId: created.id,
      authorized: await getCredential(api, t.adminToken, created.id),
      async close() {
        await server.close();
        await t.close();
      },
    };
  } catch (error) {
    await provider?.server.close();
    await t.close();
    throw error;
  }
};

/**
 * Moves a grant's scheduled refresh to the past, standing in for waiting out a back-off of
 * minutes or a long token's refresh margin. Only the schedule column is touched.
 */
export const makeDue = async (t: TestApp, credentialId: string): Promise<void> => {
  const result = await t.runtime.store.db
    .updateTable('oauth_grants')
    .set({ refresh_due_at: new Date(Date.now() - 1000).toISOString() })
    .where('credential_id', '=', credentialId)
    .executeTakeFirst();
  if (Number(result.numUpdatedRows) !== 1) throw new Error(`no grant for ${credentialId}`);
};

// ---------------------------------------------------------------------------------------------
// Spawned `credence serve --role …` processes.

export interface RoleServer extends Server {
  port: number;
}

/** Starts `node bin/credence.js serve --role ROLE` on a fresh port with exactly `env` (plus PORT and public URL). */
export const spawnServe = async (role: 'all' | 'api' | 'worker', env: Record<string, string>): Promise<RoleServer> => {
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, [CLI, 'serve', '--role', role], {
    env: { ...env, PORT: String(port), CREDENCE_PUBLIC_URL: baseUrl },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<CliResult>((resolve) => child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { child, baseUrl, port, exited, output: () => ({ stdout, stderr }) };
};

/** Kills (SIGKILL) each still-running process in `servers`, by its own handle. */
export const killServers = (servers: Iterable<RoleServer>): void => {
  for (const server of servers) {
    if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill('SIGKILL');
  }
};
