import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { Socket, type AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { Redacted } from '../../src/common/redacted.js';
import { createOAuthFetch } from '../../src/net/guarded-fetch.js';
import { TokenRequestError, createOAuthClient, type ProviderEndpoint } from '../../src/oauth/oauth-client.js';
import { startTestApp } from '../support/test-app.js';

// Token requests through the fetch Credence uses in production (createOAuthFetch): what a
// malicious or broken token endpoint cannot make Credence do.

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

const startEndpoint = async () => {
  let handler: Handler = (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"access_token":"at-1","token_type":"Bearer","expires_in":60}');
  let requests = 0;
  const server = createServer((req, res) => {
    requests += 1;
    req.resume();
    req.on('end', () => handler(req, res));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    requests: () => requests,
    handle(next: Handler) {
      handler = next;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
};

const providerAt = (tokenUri: string): ProviderEndpoint => ({
  issuer: 'https://provider.test',
  authUri: undefined,
  tokenUri,
  clientId: 'client-1',
  clientSecret: new Redacted('secret: +%'),
  clientAuth: 'client_secret_basic',
});

const clientWith = (timeoutMs = 5000) =>
  createOAuthClient({ fetch: createOAuthFetch(true, { timeoutMs }), allowInsecureLoopback: true, timeoutMs });

const failureOf = async (promise: Promise<unknown>): Promise<TokenRequestError> => {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof TokenRequestError)) throw new Error(`expected a TokenRequestError, got ${String(error)}`);
  return error;
};

describe('token requests through the guarded fetch', () => {
  let endpoint: Awaited<ReturnType<typeof startEndpoint>>;
  let elsewhere: Awaited<ReturnType<typeof startEndpoint>>;

  beforeAll(async () => {
    endpoint = await startEndpoint();
    elsewhere = await startEndpoint();
  });
  afterAll(async () => {
    await endpoint?.close();
    await elsewhere?.close();
  });
  afterEach(() => vi.restoreAllMocks());

  it('gets tokens from a well-behaved loopback endpoint in the development setting', async () => {
    const tokens = await clientWith().clientCredentials(providerAt(`${endpoint.url}/token`), 'read');
    expect(tokens).toMatchObject({ accessToken: 'at-1', tokenType: 'bearer', expiresIn: 60 });
  });

  it('refuses a token_uri of http://169.254.169.254/… without a connection attempt', async () => {
    const connect = vi.spyOn(Socket.prototype, 'connect');
    for (const tokenUri of ['http://169.254.169.254/latest/meta-data/iam/security-credentials/', 'https://169.254.169.254/token', 'https://[fd00:ec2::254]/token']) {
      const error = await failureOf(clientWith().refresh(providerAt(tokenUri), 'refresh-token'));
      expect(error.kind).toBe('rejected');
      expect(error.message).toMatch(/link-local or cloud metadata address|not called over plain http/);
    }
    expect(connect).not.toHaveBeenCalled();
  });

  it('refuses plain http to anything but loopback, and any plain http without the development setting', async () => {
    const strict = createOAuthClient({ fetch: createOAuthFetch(false), allowInsecureLoopback: false, timeoutMs: 5000 });
    const before = endpoint.requests();
    expect((await failureOf(strict.clientCredentials(providerAt(`${endpoint.url}/token`), ''))).kind).toBe('rejected');
    const offHost = await failureOf(clientWith().clientCredentials(providerAt('http://tokens.example.test/token'), ''));
    expect(offHost.kind).toBe('rejected');
    expect(endpoint.requests()).toBe(before);
  });

  it('does not follow a redirecting token endpoint', async () => {
    endpoint.handle((_req, res) => res.writeHead(307, { location: `${elsewhere.url}/token` }).end());
    const before = elsewhere.requests();
    const error = await failureOf(clientWith().refresh(providerAt(`${endpoint.url}/token`), 'refresh-token'));
    expect(error).toMatchObject({ kind: 'rejected', status: 307 });
    expect(error.message).toBe('The token endpoint answered with a redirect (307), which is not followed');
    expect(elsewhere.requests()).toBe(before);
  });

  it('refuses an oversized token response', async () => {
    const padding = 'p'.repeat(2 * 1024 * 1024);
    endpoint.handle((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(`{"access_token":"at-big","token_type":"Bearer","padding":"${padding}"}`);
    });
    const error = await failureOf(clientWith().refresh(providerAt(`${endpoint.url}/token`), 'refresh-token'));
    expect(error.kind).toBe('rejected');
    expect(error.message).toMatch(/larger than 1048576 bytes$/);
  });

  it('times out a token endpoint that never answers', async () => {
    endpoint.handle(() => undefined);
    const started = Date.now();
    const error = await failureOf(clientWith(300).refresh(providerAt(`${endpoint.url}/token`), 'refresh-token'));
    expect(error).toMatchObject({ kind: 'transient', message: 'The token endpoint did not answer in time' });
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('times out a token endpoint that stops in the middle of its answer', async () => {
    endpoint.handle((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"access_token":"at-');
    });
    const error = await failureOf(clientWith(300).refresh(providerAt(`${endpoint.url}/token`), 'refresh-token'));
    expect(error).toMatchObject({ kind: 'transient', message: 'The token endpoint did not answer in time' });
  });
});

describe('OAuth URIs that point at metadata addresses', () => {
  it('are refused when the credential is stored, before any call is made', async () => {
    const t = await startTestApp('sqlite');
    try {
      for (const [field, uri] of [
        ['token_uri', 'https://169.254.169.254/latest/api/token'],
        ['token_uri', 'https://[fd00:ec2::254]/token'],
        ['auth_uri', 'https://100.100.100.200/authorize'],
      ] as const) {
        const fields = {
          client_id: 'client-1',
          client_secret: 'secret-1',
          scopes: 'read',
          auth_uri: 'https://auth.example.test/authorize',
          token_uri: 'https://auth.example.test/token',
          [field]: uri,
        };
        const response = await t.request('POST', '/api/v1/credentials', { token: t.adminToken, body: { label: 'Metadata', authMethod: 'oauth2', fields } });
        expect(response.status).toBe(400);
        expect(response.body.error).toEqual({ code: 'INVALID_FIELD', message: `${field} must not point at a link-local or cloud metadata address` });
      }
    } finally {
      await t.close();
    }
  });
});
