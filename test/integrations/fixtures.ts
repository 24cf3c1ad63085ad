import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ApiResponse, TestApp } from '../support/test-app.js';

/**
 * Shared by the integration tests: API helpers that throw plain errors on an unexpected
 * status (so the test's own assertions stay about behaviour), a loopback HTTP peer that
 * checks Basic and Bearer auth, and bounded waits.
 */

export const API = '/api/v1';

/** A value that cannot occur anywhere by accident, so finding it in a response means it leaked. */
export const uniqueValue = (name: string): string => `${name}-${randomBytes(12).toString('hex')}`;

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

/** Polls `check` until it returns something other than undefined; throws after `timeoutMs`. */
export const waitFor = async <T>(what: string, check: () => Promise<T | undefined>, timeoutMs: number, intervalMs = 200): Promise<T> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
};

const expectStatus = (response: ApiResponse, status: number, what: string): ApiResponse => {
  if (response.status !== status) throw new Error(`${what}: expected ${status}, got ${response.status} ${response.text}`);
  return response;
};

export const createCustomer = async (t: TestApp, name: string): Promise<string> =>
  expectStatus(await t.request('POST', `${API}/customers`, { token: t.adminToken, body: { name } }), 201, `create customer ${name}`).body.id as string;

export interface CredentialBody {
  label?: string;
  authMethod: 'api_key_secret' | 'basic' | 'private_key' | 'api_key' | 'oauth2';
  customerId?: string | null;
  fields: Record<string, string>;
  provider?: string;
  /** Where the credential may be sent (the loopback peer's origin, for a run or test that calls it). */
  destinations?: string[];
}

/** Creates a credential (as the org admin unless `token` is given) and returns its id. */
export const createCredential = async (t: TestApp, body: CredentialBody, token = t.adminToken): Promise<string> => {
  const payload = { label: body.label ?? uniqueValue(body.authMethod), ...body };
  return expectStatus(await t.request('POST', `${API}/credentials`, { token, body: payload }), 201, `create ${body.authMethod} credential`).body.id as string;
};

export interface StepBody {
  name: string;
  component: string;
  action: string;
  inputs?: Record<string, unknown>;
}

export const createIntegration = async (t: TestApp, name: string, steps: StepBody[]): Promise<string> =>
  expectStatus(await t.request('POST', `${API}/integrations`, { token: t.adminToken, body: { name, steps } }), 201, `create integration ${name}`).body.id as string;

export interface InstanceBody {
  integrationId: string;
  customerId: string;
  name: string;
  bindings?: Record<string, string | null>;
}

/** POST /instances as `token` (default: the org admin); the raw response, for binding checks. */
export const deploy = (t: TestApp, body: InstanceBody, token = t.adminToken): Promise<ApiResponse> =>
  t.request('POST', `${API}/instances`, { token, body });

export const deployed = async (t: TestApp, body: InstanceBody, token = t.adminToken): Promise<string> =>
  expectStatus(await deploy(t, body, token), 201, `deploy ${body.name}`).body.id as string;

export const runInstance = (t: TestApp, instanceId: string, token = t.adminToken): Promise<ApiResponse> =>
  t.request('POST', `${API}/instances/${instanceId}/runs`, { token });

/** The Authorization header value a Basic credential turns into. */
export const basicHeader = (username: string, password: string): string => `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`;

export interface HttpPeer {
  baseUrl: string;
  /** Every request received: method, path and the Authorization header. */
  readonly requests: ReadonlyArray<{ method: string; path: string; authorization: string | undefined }>;
  close(): Promise<void>;
}

/**
 * A loopback HTTP server. `/hello` and `/echo` need Basic `username:password` or
 * `Bearer apiKey` (401 with a challenge otherwise); `/echo` answers with the Authorization
 * header it received; `/files/<name>` needs nothing and names the file it was asked for.
 */
export const startHttpPeer = async (accepted: { username: string; password: string; apiKey: string }, port = 0): Promise<HttpPeer> => {
  const requests: Array<{ method: string; path: string; authorization: string | undefined }> = [];
  const allowed = new Set([basicHeader(accepted.username, accepted.password), `Bearer ${accepted.apiKey}`]);
  const json = (response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    response.writeHead(status, { 'content-type': 'application/json', ...headers });
    response.end(JSON.stringify(body));
  };
  const handle = (request: IncomingMessage, response: ServerResponse) => {
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    const authorization = request.headers.authorization;
    requests.push({ method: request.method ?? 'GET', path, authorization });
    const file = /^\/files\/([^/]+)$/.exec(path);
    if (file) return json(response, 200, { file: decodeURIComponent(file[1] ?? '') });
    if (path !== '/hello' && path !== '/echo') return json(response, 404, { error: 'not_found' });
    if (authorization === undefined || !allowed.has(authorization)) {
      return json(response, 401, { error: 'unauthorized' }, { 'www-authenticate': 'Basic realm="peer"' });
    }
    return json(response, 200, path === '/hello' ? { greeting: 'hello from the peer' } : { youSent: authorization });
  };
  const server = createServer(handle);
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, '127.0.0.1', resolve));
  const bound = (server.address() as AddressInfo).port;
  return {
    baseUrl: `http://127.0.0.1:${bound}`,
    requests,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
};
