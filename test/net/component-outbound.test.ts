import { createServer } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redacted } from '../../src/common/redacted.js';
import { createAwsS3Component } from '../../src/components/aws-s3-component.js';
import { ComponentError, type ActionContext, type Component, type StepCredential } from '../../src/components/component.js';
import { dropboxComponent } from '../../src/components/dropbox-component.js';
import { httpComponent } from '../../src/components/http-component.js';
import { createSftpComponent } from '../../src/components/sftp-component.js';
import { createComponentFetch, type ResolveHost } from '../../src/net/guarded-fetch.js';
import { openEgress } from '../support/open-egress.js';

// The http and dropbox components through the fetch Credence gives them in production; the
// sftp and aws-s3 components, which open their own connections, through the same address policy.

const basic: StepCredential = { destinations: [], id: 'cred_1', authMethod: 'basic', fields: new Redacted({ username: 'svc', password: 'pw-3c9e1f' }) };
const oauth: StepCredential = { destinations: [], id: 'cred_2', authMethod: 'oauth2', fields: new Redacted({ client_id: 'c' }), accessToken: new Redacted('at-91b7e2') };
const s3Keys: StepCredential = { destinations: [], id: 'cred_3', authMethod: 'api_key_secret', fields: new Redacted({ api_key: 'AKIACREDENCE0001', api_secret: 'sk-5d2a8c' }) };

const contextFor = (credential: StepCredential | undefined, fetch = createComponentFetch()): ActionContext => ({
  credential,
  log: { info: () => undefined, warn: () => undefined },
  signal: AbortSignal.timeout(5000),
  timeoutMs: 5000,
  fetch,
  egress: openEgress(),
});

const perform = (component: Component, key: string, context: ActionContext, inputs: Record<string, unknown>) => {
  const action = component.actions.find((candidate) => candidate.key === key);
  if (!action) throw new Error(`no action ${key}`);
  return action.perform(context, inputs);
};

const failure = async (call: Promise<unknown>): Promise<ComponentError> => {
  const error = await call.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  if (!(error instanceof ComponentError)) throw new Error(`expected a ComponentError, got ${String(error)}`);
  expect(error.message).not.toMatch(/pw-3c9e1f|at-91b7e2|sk-5d2a8c/);
  return error;
};

describe('components through the guarded fetch', () => {
  let server: ReturnType<typeof createServer>;
  let url = '';

  beforeAll(async () => {
    server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('still calls an ordinary http:// address of the vendor’s choosing', async () => {
    const output = await perform(httpComponent, 'request', contextFor(basic), { url: `${url}/status` });
    expect(output).toMatchObject({ status: 200, body: { ok: true } });
  });

  it('refuses an http step aimed at a cloud metadata address as unreachable, sending no credential', async () => {
    for (const target of ['http://169.254.169.254/latest/meta-data/iam/security-credentials/', 'http://[fd00:ec2::254]/latest/api/token', 'http://100.100.100.200/latest/meta-data/']) {
      const error = await failure(perform(httpComponent, 'request', contextFor(basic), { url: target }));
      expect(error.kind).toBe('unreachable');
      expect(error.message).toBe(`Could not reach ${new URL(target).host} (the address is link-local, cloud metadata, loopback or a private network, which Credence does not call)`);
    }
  });

  it('refuses a host name that resolves to a metadata address', async () => {
    const rebinding = createComponentFetch({ resolve: async () => [{ address: '169.254.169.254', family: 4 }] });
    const error = await failure(perform(httpComponent, 'request', contextFor(basic, rebinding), { url: 'https://innocent.example.test/' }));
    expect(error).toMatchObject({ kind: 'unreachable', message: 'Could not reach innocent.example.test (the address is link-local, cloud metadata, loopback or a private network, which Credence does not call)' });
  });

  it('refuses a Dropbox API base URL at a metadata address', async () => {
    const error = await failure(perform(dropboxComponent, 'getCurrentAccount', contextFor(oauth), { apiBaseUrl: 'https://169.254.169.254' }));
    expect(error.kind).toBe('unreachable');
  });
});

const REFUSED = '(the address is link-local, cloud metadata, loopback or a private network, which Credence does not call)';
/** Written as IP literals, which no lookup sees: each one is checked as it is. */
const METADATA_HOSTS = ['169.254.169.254', 'fd00:ec2::254', '100.100.100.200', '::ffff:169.254.169.254', '169.254.0.1'];

/** A resolver that answers `addresses` for every name and records the names it was asked for. */
const resolvingTo = (...addresses: string[]): ResolveHost & { asked: string[] } => {
  const asked: string[] = [];
  const resolve = async (hostname: string) => {
    asked.push(hostname);
    return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
  return Object.assign(resolve, { asked });
};

describe('the sftp component through the address policy', () => {
  // Never answers: an SSH client that reaches it waits for a banner. It never reads either, so it
  // would not notice the client leave; its sockets are destroyed on close.
  const sockets: Socket[] = [];
  const silent = createTcpServer((socket) => void sockets.push(socket));
  let port = 0;

  beforeAll(async () => {
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    port = (silent.address() as AddressInfo).port;
  });
  afterAll(
    () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        silent.close(() => resolve());
      }),
  );

  it('refuses an sftp step aimed at a cloud metadata address as unreachable, without connecting', async () => {
    for (const host of METADATA_HOSTS) {
      const started = Date.now();
      const error = await failure(perform(createSftpComponent(), 'listDirectory', contextFor(basic), { host }));
      expect(error.kind, host).toBe('unreachable');
      expect(error.message, host).toBe(`Could not connect to ${host}:22: ${REFUSED.slice(1, -1)}`);
      // A connection attempt to a non-routed address would wait out the 5 s handshake limit.
      expect(Date.now() - started, host).toBeLessThan(2000);
    }
  });

  it('refuses an sftp host name that resolves to a metadata address, even next to a loopback one, without connecting', async () => {
    const resolve = resolvingTo('127.0.0.1', '169.254.169.254');
    const error = await failure(perform(createSftpComponent({ resolve }), 'readFile', contextFor(basic), { host: 'files.example.test', port, path: 'a.txt' }));
    expect(error).toMatchObject({ kind: 'unreachable', message: `Could not connect to files.example.test:${port}: ${REFUSED.slice(1, -1)}` });
    expect(resolve.asked).toEqual(['files.example.test']);
    expect(sockets).toHaveLength(0);
  });

  it('resolves an sftp host name once and connects to the loopback address it checked', async () => {
    const resolve = resolvingTo('127.0.0.1');
    const context = { ...contextFor(basic), timeoutMs: 300 };
    const error = await failure(perform(createSftpComponent({ resolve }), 'listDirectory', context, { host: 'files.example.test', port }));
    expect(error).toMatchObject({ kind: 'unreachable', message: `Could not connect to files.example.test:${port}: no SSH handshake within 300 ms` });
    expect(resolve.asked).toEqual(['files.example.test']);
    expect(sockets).toHaveLength(1);
  });
});

describe('the aws-s3 component through the address policy', () => {
  const hosts: string[] = [];
  // Answers every request as S3 answers a refused key.
  const server = createServer((req, res) => {
    hosts.push(req.headers.host ?? '');
    res.writeHead(403, { 'content-type': 'application/xml' }).end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>no</Message></Error>');
  });
  let port = 0;

  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('refuses an aws-s3 endpoint at a cloud metadata address as unreachable before building a client', async () => {
    for (const endpoint of ['http://169.254.169.254', 'https://[fd00:ec2::254]/', 'http://100.100.100.200:9000', 'http://[::ffff:169.254.169.254]', 'http://2852039166/']) {
      const error = await failure(perform(createAwsS3Component(), 'listBuckets', contextFor(s3Keys), { endpoint }));
      expect(error, endpoint).toMatchObject({ kind: 'unreachable', message: `Could not reach ${new URL(endpoint).host} ${REFUSED}` });
    }
  });

  it('refuses an aws-s3 endpoint whose host name resolves to a metadata address, sending no request', async () => {
    const resolve = resolvingTo('127.0.0.1', 'fd00:ec2::254');
    const endpoint = `http://s3.example.test:${port}`;
    for (const [action, inputs] of [['listBuckets', { endpoint }], ['listObjects', { endpoint, bucket: 'reports' }]] as const) {
      const error = await failure(perform(createAwsS3Component({ resolve }), action, contextFor(s3Keys), inputs));
      expect(error, action).toMatchObject({ kind: 'unreachable', message: `Could not reach s3.example.test:${port} ${REFUSED}` });
    }
    expect(resolve.asked.every((name) => name === 's3.example.test')).toBe(true);
    expect(hosts).toEqual([]);
  });

  it('sends an aws-s3 request to the loopback address it checked, under the endpoint host name', async () => {
    const resolve = resolvingTo('127.0.0.1');
    const error = await failure(perform(createAwsS3Component({ resolve }), 'listBuckets', contextFor(s3Keys), { endpoint: `http://s3.example.test:${port}` }));
    expect(error).toMatchObject({ kind: 'auth_refused', message: 'S3 refused the access key (AccessDenied)' });
    expect(resolve.asked).toEqual(['s3.example.test']);
    expect(hosts).toEqual([`s3.example.test:${port}`]);
  });
});
