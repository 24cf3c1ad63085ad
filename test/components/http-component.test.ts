import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redacted } from '../../src/common/redacted.js';
import { ComponentError, type ActionContext, type ComponentAction, type StepCredential } from '../../src/components/component.js';
import { httpComponent, MAX_TEXT_BYTES } from '../../src/components/http-component.js';
import type { AuthMethodKey } from '../../src/credentials/auth-methods.js';
import { openEgress } from '../support/open-egress.js';

const USERNAME = 'alice';
const PASSWORD = 'basic-pass-7f3a9c';
const API_KEY = 'api-key-51d2e8b0';
const API_SECRET = 'api-secret-c4e19a77';
const ACCESS_TOKEN = 'access-token-9b8d6f21';
const SECRETS = [PASSWORD, API_KEY, API_SECRET, ACCESS_TOKEN];

const basicHeader = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

interface Peer {
  server: Server;
  baseUrl: string;
  received: Array<{ method: string; path: string; headers: IncomingHttpHeaders; body: string }>;
}

const listen = async (handler: (request: IncomingMessage, response: ServerResponse, body: string) => void): Promise<Peer> => {
  const received: Peer['received'] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      received.push({ method: request.method ?? '', path: request.url ?? '', headers: request.headers, body });
      handler(request, response, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received };
};

const close = (server: Server) =>
  new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });

const json = (response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  const text = JSON.stringify(body);
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)), ...headers });
  response.end(text);
};

/** Routes of the loopback peer: each checks one way of authenticating. */
const route = (request: IncomingMessage, response: ServerResponse, body: string): void => {
  const { pathname } = new URL(request.url ?? '/', 'http://localhost');
  const h = request.headers;
  const allow = (ok: boolean, challenge = 'Basic realm="test"') =>
    ok ? json(response, 200, { ok: true }) : json(response, 401, { error: 'unauthorized' }, { 'www-authenticate': challenge });
  switch (pathname) {
    case '/basic':
      return allow(h.authorization === basicHeader(USERNAME, PASSWORD));
    case '/bearer':
      return allow(h.authorization === `Bearer ${API_KEY}`, 'Bearer');
    case '/custom-key':
      return allow(h['x-custom-key'] === API_KEY && h.authorization === undefined);
    case '/pair':
      return allow(h['x-client-id'] === API_KEY && h['x-client-secret'] === API_SECRET);
    case '/pair-default':
      return allow(h['x-api-key'] === API_KEY && h['x-api-secret'] === API_SECRET);
    case '/oauth':
      return allow(h.authorization === `Bearer ${ACCESS_TOKEN}`, 'Bearer error="invalid_token", error_description="The access token expired"');
    case '/forbidden':
      return json(response, 403, { error: 'forbidden' });
    case '/echo':
      return json(response, 200, { method: request.method, contentType: h['content-type'] ?? null, body, custom: h['x-trace'] ?? null });
    case '/text':
      response.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'content-length': '11' });
      return void response.end('plain words');
    case '/large':
      response.writeHead(200, { 'content-type': 'text/plain' });
      return void response.end('x'.repeat(100 * 1024));
    case '/fail':
      return json(response, 500, { error: 'boom' });
    case '/missing':
      return json(response, 404, { error: 'missing' });
    case '/hang':
      return; // never answers
    default:
      response.writeHead(404);
      response.end();
  }
};

const credential = (authMethod: AuthMethodKey, fields: Record<string, string>, accessToken?: string): StepCredential => ({
  destinations: [],
  id: 'cred_x',
  authMethod,
  fields: new Redacted(fields),
  ...(accessToken === undefined ? {} : { accessToken: new Redacted(accessToken) }),
});

const BASIC = credential('basic', { username: USERNAME, password: PASSWORD });
const WRONG_BASIC = credential('basic', { username: USERNAME, password: 'not-the-password' });
const KEY = credential('api_key', { api_key: API_KEY });
const PAIR = credential('api_key_secret', { api_key: API_KEY, api_secret: API_SECRET });
const OAUTH = credential('oauth2', { client_id: 'client', client_secret: 'client-secret-0a1b' }, ACCESS_TOKEN);

const logLines: unknown[] = [];
const contextFor = (stepCredential: StepCredential | undefined, timeoutMs = 5000): ActionContext => ({
  credential: stepCredential,
  log: {
    info: (message, details) => logLines.push({ message, details }),
    warn: (message, details) => logLines.push({ message, details }),
  },
  signal: AbortSignal.timeout(timeoutMs),
  timeoutMs,
  fetch,
  egress: openEgress(),
});

const action = (key: string): ComponentAction => {
  const found = httpComponent.actions.find((candidate) => candidate.key === key);
  if (!found) throw new Error(`no action ${key}`);
  return found;
};
const request = action('request');
const test = action('test');

/** The ComponentError a call fails with; its message must carry none of the secrets. */
const failure = async (call: Promise<unknown>): Promise<ComponentError> => {
  const error = await call.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  if (!(error instanceof ComponentError)) throw new Error(`expected a ComponentError, got ${String(error)}`);
  for (const secret of SECRETS) expect(error.message).not.toContain(secret);
  return error;
};

let peer: Peer;
let elsewhere: Peer;

beforeAll(async () => {
  peer = await listen(route);
  elsewhere = await listen((_request, response) => json(response, 200, { leaked: true }));
});
afterAll(async () => {
  await Promise.all([close(peer.server), close(elsewhere.server)]);
});

describe('http component', () => {
  it('describes itself with a request action, a test action and four accepted auth methods', () => {
    expect(httpComponent.key).toBe('http');
    expect(httpComponent.name).toBe('HTTP');
    expect(httpComponent.testAction).toBe('test');
    expect(httpComponent.actions.map((a) => a.key)).toEqual(['request', 'test']);
    for (const a of httpComponent.actions) {
      expect([...a.authMethods].sort()).toEqual(['api_key', 'api_key_secret', 'basic', 'oauth2']);
      expect(a.credentialRequired).toBe(false);
    }
  });

  it('sends Basic credentials and returns the status, safe headers and parsed JSON body', async () => {
    const output = await request.perform(contextFor(BASIC), { url: `${peer.baseUrl}/basic` });
    expect(output).toEqual({
      status: 200,
      headers: { 'content-type': 'application/json', 'content-length': '11' },
      body: { ok: true },
      truncated: false,
    });
  });

  it('maps a refused Basic password to auth_refused without naming the password', async () => {
    const error = await failure(request.perform(contextFor(WRONG_BASIC), { url: `${peer.baseUrl}/basic` }));
    expect(error.kind).toBe('auth_refused');
    expect(error.message).toBe('The server refused the credential (401 Unauthorized)');
    expect(error.message).not.toContain('not-the-password');
  });

  it('sends an api_key as Authorization: Bearer by default', async () => {
    const output = await request.perform(contextFor(KEY), { url: `${peer.baseUrl}/bearer` });
    expect(output).toMatchObject({ status: 200, body: { ok: true } });
  });

  it('sends an api_key raw in a header of the user’s choice, and not as Authorization', async () => {
    const output = await request.perform(contextFor(KEY), { url: `${peer.baseUrl}/custom-key`, headerName: 'X-Custom-Key' });
    expect(output).toMatchObject({ status: 200, body: { ok: true } });
    const error = await failure(request.perform(contextFor(credential('api_key', { api_key: 'wrong-key' })), { url: `${peer.baseUrl}/custom-key`, headerName: 'X-Custom-Key' }));
    expect(error.kind).toBe('auth_refused');
  });

  it('sends an api_key_secret pair in two headers of the user’s choice, or X-API-Key and X-API-Secret by default', async () => {
    const custom = await request.perform(contextFor(PAIR), { url: `${peer.baseUrl}/pair`, keyHeaderName: 'X-Client-Id', secretHeaderName: 'X-Client-Secret' });
    expect(custom).toMatchObject({ status: 200, body: { ok: true } });
    const defaults = await request.perform(contextFor(PAIR), { url: `${peer.baseUrl}/pair-default` });
    expect(defaults).toMatchObject({ status: 200, body: { ok: true } });
    const wrong = credential('api_key_secret', { api_key: API_KEY, api_secret: 'wrong-secret' });
    const error = await failure(request.perform(contextFor(wrong), { url: `${peer.baseUrl}/pair-default` }));
    expect(error.kind).toBe('auth_refused');
    expect(error.message).toBe('The server refused the credential (401 Unauthorized)');
  });

  it('refuses an api_key_secret whose two headers are the same', async () => {
    const error = await failure(request.perform(contextFor(PAIR), { url: `${peer.baseUrl}/pair`, keyHeaderName: 'X-Same', secretHeaderName: 'x-same' }));
    expect(error.kind).toBe('bad_input');
  });

  it('sends an oauth2 access token as a bearer token', async () => {
    const output = await request.perform(contextFor(OAUTH), { url: `${peer.baseUrl}/oauth` });
    expect(output).toMatchObject({ status: 200, body: { ok: true } });
  });

  it('reports token_expired when the server answers 401 invalid_token to an oauth2 token', async () => {
    const stale = credential('oauth2', { client_id: 'client' }, 'stale-token-3c2d');
    const error = await failure(request.perform(contextFor(stale), { url: `${peer.baseUrl}/oauth` }));
    expect(error.kind).toBe('token_expired');
    expect(error.message).toBe('The server says the access token is expired or revoked (401 Unauthorized)');
    expect(error.message).not.toContain('stale-token-3c2d');
  });

  it('reports auth_refused for a 403 to an oauth2 token', async () => {
    const error = await failure(request.perform(contextFor(OAUTH), { url: `${peer.baseUrl}/forbidden` }));
    expect(error.kind).toBe('auth_refused');
    expect(error.message).toBe('The server refused the credential (403 Forbidden)');
  });

  it('works without a credential and sends no Authorization header', async () => {
    const before = peer.received.length;
    const output = await request.perform(contextFor(undefined), { url: `${peer.baseUrl}/text` });
    expect(output).toEqual({
      status: 200,
      headers: { 'content-type': 'text/plain; charset=utf-8', 'content-length': '11' },
      body: 'plain words',
      truncated: false,
    });
    expect(peer.received.length).toBe(before + 1);
    expect(peer.received.at(-1)?.headers.authorization).toBeUndefined();
  });

  it('returns a 401 as a status when no credential was sent', async () => {
    const output = await request.perform(contextFor(undefined), { url: `${peer.baseUrl}/basic` });
    expect(output).toMatchObject({ status: 401, body: { error: 'unauthorized' } });
  });

  it('sends an object body as JSON with the user’s headers', async () => {
    const output = await request.perform(contextFor(undefined), {
      url: `${peer.baseUrl}/echo`,
      method: 'POST',
      headers: { 'X-Trace': 'abc' },
      body: { name: 'Widget', tags: ['a', 'b'] },
    });
    expect(output).toMatchObject({
      status: 200,
      body: { method: 'POST', contentType: 'application/json', body: '{"name":"Widget","tags":["a","b"]}', custom: 'abc' },
    });
  });

  it('sends a string body as it is', async () => {
    const output = await request.perform(contextFor(undefined), {
      url: `${peer.baseUrl}/echo`,
      method: 'PUT',
      headers: { 'Content-Type': 'text/csv' },
      body: 'a,b\n1,2\n',
    });
    expect(output).toMatchObject({ status: 200, body: { method: 'PUT', contentType: 'text/csv', body: 'a,b\n1,2\n' } });
  });

  it('cuts a long text body at 64 KiB and says so', async () => {
    const output = (await request.perform(contextFor(undefined), { url: `${peer.baseUrl}/large` })) as { body: string; truncated: boolean };
    expect(output.body.length).toBe(MAX_TEXT_BYTES);
    expect(output.truncated).toBe(true);
  });

  it('returns a 500 as a status when no expectStatus is given', async () => {
    const output = await request.perform(contextFor(BASIC), { url: `${peer.baseUrl}/fail` });
    expect(output).toMatchObject({ status: 500, body: { error: 'boom' } });
  });

  it('fails with remote_error when the status is not the expected one', async () => {
    const error = await failure(request.perform(contextFor(undefined), { url: `${peer.baseUrl}/fail`, expectStatus: 200 }));
    expect(error.kind).toBe('remote_error');
    expect(error.message).toBe('127.0.0.1:' + new URL(peer.baseUrl).port + ' answered 500 Internal Server Error, expected 200');
    const missing = await failure(request.perform(contextFor(undefined), { url: `${peer.baseUrl}/missing`, expectStatus: 200 }));
    expect(missing.kind).toBe('not_found');
  });

  it('returns a redirect to another origin as its status and does not follow it with the credential', async () => {
    const redirecting = await listen((_request, response) => {
      response.writeHead(302, { location: `${elsewhere.baseUrl}/steal` });
      response.end();
    });
    try {
      const output = await request.perform(contextFor(OAUTH), { url: `${redirecting.baseUrl}/start` });
      expect(output).toMatchObject({ status: 302 });
      expect(elsewhere.received).toHaveLength(0);
    } finally {
      await close(redirecting.server);
    }
  });

  it('reports an unreachable port as unreachable, naming the host but not the query', async () => {
    const spare = await listen(() => undefined);
    const { port } = new URL(spare.baseUrl);
    await close(spare.server);
    const error = await failure(request.perform(contextFor(BASIC), { url: `http://127.0.0.1:${port}/x?token=query-secret-42` }));
    expect(error.kind).toBe('unreachable');
    expect(error.message).toBe(`Could not reach 127.0.0.1:${port} (connection refused)`);
    expect(error.message).not.toContain('query-secret-42');
  });

  it('reports a server that does not answer in time as unreachable', async () => {
    const error = await failure(request.perform(contextFor(KEY, 300), { url: `${peer.baseUrl}/hang?key=${API_KEY}` }));
    expect(error.kind).toBe('unreachable');
    expect(error.message).toBe(`No answer from 127.0.0.1:${new URL(peer.baseUrl).port} within 300 ms`);
  });

  it('refuses a credential value that cannot go into a header without quoting it', async () => {
    const broken = credential('api_key', { api_key: 'line-one\nline-two-secret' });
    const error = await failure(request.perform(contextFor(broken), { url: `${peer.baseUrl}/bearer` }));
    expect(error.kind).toBe('bad_input');
    expect(error.message).not.toContain('line-two-secret');
  });

  it('refuses a private_key credential, a non-http URL and an unknown input as bad_input', async () => {
    const key = credential('private_key', { username: 'u', private_key: 'PEM' });
    expect((await failure(request.perform(contextFor(key), { url: `${peer.baseUrl}/text` }))).kind).toBe('bad_input');
    expect((await failure(request.perform(contextFor(undefined), { url: 'ftp://127.0.0.1/file' }))).kind).toBe('bad_input');
    const unknown = await failure(request.perform(contextFor(undefined), { url: `${peer.baseUrl}/text`, retries: 3 }));
    expect(unknown.kind).toBe('bad_input');
    expect(unknown.message).toBe('Input retries is not an input of this action');
    const bodyOnGet = await failure(request.perform(contextFor(undefined), { url: `${peer.baseUrl}/echo`, body: 'x' }));
    expect(bodyOnGet.message).toBe('A GET request cannot have a body');
  });
});

describe('http component test action', () => {
  it('answers the status when the server answers 2xx', async () => {
    expect(await test.perform(contextFor(BASIC), { url: `${peer.baseUrl}/basic` })).toEqual({ status: 200 });
    expect(await test.perform(contextFor(KEY), { url: `${peer.baseUrl}/custom-key`, headerName: 'X-Custom-Key' })).toEqual({ status: 200 });
  });

  it('fails with auth_refused when the credential is refused', async () => {
    const error = await failure(test.perform(contextFor(WRONG_BASIC), { url: `${peer.baseUrl}/basic` }));
    expect(error.kind).toBe('auth_refused');
    expect(error.message).toBe('The server refused the credential (401 Unauthorized)');
  });

  it('fails with remote_error on a 500 and not_found on a 404', async () => {
    const error = await failure(test.perform(contextFor(BASIC), { url: `${peer.baseUrl}/fail` }));
    expect(error.kind).toBe('remote_error');
    expect(error.message).toContain('500 Internal Server Error');
    expect((await failure(test.perform(contextFor(BASIC), { url: `${peer.baseUrl}/missing` }))).kind).toBe('not_found');
  });

  it('fails on a redirect instead of following it', async () => {
    const redirecting = await listen((_request, response) => {
      response.writeHead(301, { location: `${elsewhere.baseUrl}/steal` });
      response.end();
    });
    try {
      const error = await failure(test.perform(contextFor(BASIC), { url: redirecting.baseUrl }));
      expect(error.kind).toBe('remote_error');
      expect(error.message).toContain('301 Moved Permanently');
      expect(elsewhere.received).toHaveLength(0);
    } finally {
      await close(redirecting.server);
    }
  });
});

// Runs last (tests in a file run in order), over the lines every call above logged.
describe('http component logging', () => {
  it('logs method, host and status but never a secret or the query', () => {
    expect(logLines.length).toBeGreaterThan(20);
    expect(logLines).toContainEqual({ message: 'HTTP request', details: { method: 'GET', host: new URL(peer.baseUrl).host, authMethod: 'basic' } });
    const printed = JSON.stringify(logLines);
    for (const secret of [...SECRETS, 'query-secret-42']) expect(printed).not.toContain(secret);
  });
});
