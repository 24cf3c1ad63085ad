import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Socket, type AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { isForbiddenAddress, isLoopbackAddress } from '../../src/net/address-policy.js';
import { createGuardedFetch, type GuardedFetchOptions, type ResolveHost } from '../../src/net/guarded-fetch.js';

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

/** A loopback HTTP server whose behaviour each test sets; it records what reached it. */
const startServer = async () => {
  let handler: Handler = (_req, res) => res.end('ok');
  const seen: Array<{ method: string; url: string; headers: IncomingMessage['headers']; body: string }> = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      handler(req, res, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    seen,
    handle(next: Handler) {
      handler = next;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
};

const guarded = (options: Partial<GuardedFetchOptions> = {}) =>
  createGuardedFetch({ plainHttp: 'always', maxResponseBytes: 1024 * 1024, timeoutMs: 5000, ...options });

const resolvesTo =
  (...addresses: string[]): ResolveHost =>
  async () =>
    addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));

const refusal = async (promise: Promise<unknown>) => {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e as { code?: string; message?: string; name?: string },
  );
  if (!error) throw new Error('expected a refusal');
  return error;
};

describe('the outbound address policy', () => {
  it('forbids link-local, cloud metadata, "this network" and multicast addresses, also inside IPv6', () => {
    for (const address of ['169.254.169.254', '169.254.170.2', '100.100.100.200', '0.0.0.0', '0.1.2.3', '224.0.0.1', 'fe80::1', 'fd00:ec2::254', '::', '::ffff:169.254.169.254', '[::ffff:a9fe:a9fe]', '64:ff9b::a9fe:a9fe']) {
      expect(isForbiddenAddress(address), address).toBe(true);
    }
    for (const address of ['127.0.0.1', '::1', '10.0.0.8', '192.168.1.2', '8.8.8.8', '2001:db8::1', '100.100.100.201']) {
      expect(isForbiddenAddress(address), address).toBe(false);
    }
  });

  it('knows loopback addresses, including IPv4-mapped ones', () => {
    expect(['127.0.0.1', '127.9.9.9', '::1', '::ffff:127.0.0.1'].map(isLoopbackAddress)).toEqual([true, true, true, true]);
    expect(['10.0.0.1', '::2', 'localhost'].map(isLoopbackAddress)).toEqual([false, false, false]);
  });
});

describe('the guarded fetch', () => {
  let server: Awaited<ReturnType<typeof startServer>>;
  let other: Awaited<ReturnType<typeof startServer>>;

  beforeAll(async () => {
    server = await startServer();
    other = await startServer();
  });
  afterAll(async () => {
    await server?.close();
    await other?.close();
  });
  afterEach(() => {
    vi.restoreAllMocks();
    server.handle((_req, res) => res.end('ok'));
  });

  it('refuses link-local and metadata address literals without opening a connection', async () => {
    const connect = vi.spyOn(Socket.prototype, 'connect');
    const fetch = guarded();
    for (const url of [
      'http://169.254.169.254/latest/meta-data/iam/security-credentials/',
      'https://169.254.169.254/computeMetadata/v1/',
      'http://[fd00:ec2::254]/latest/meta-data/',
      'http://[::ffff:169.254.169.254]/',
      'http://2852039166/',
      'http://100.100.100.200/latest/meta-data/',
      `http://0.0.0.0:${server.port}/`,
      'http://[fe80::1]/',
    ]) {
      const error = await refusal(fetch(url));
      expect(error.code, url).toBe('CREDENCE_OUTBOUND_REFUSED');
    }
    expect(connect).not.toHaveBeenCalled();
    expect(server.seen).toHaveLength(0);
  });

  it('refuses a host name that resolves to a metadata address, even when its other addresses are fine', async () => {
    for (const resolve of [resolvesTo('169.254.169.254'), resolvesTo('127.0.0.1', '169.254.169.254'), resolvesTo('fd00:ec2::254')]) {
      const error = await refusal(guarded({ resolve })(`http://metadata.test:${server.port}/`));
      expect(error.code).toBe('CREDENCE_OUTBOUND_REFUSED');
      expect(error.message).toMatch(/^metadata\.test resolves to (169\.254\.169\.254|fd00:ec2::254), which is a link-local or cloud metadata address; Credence does not call it$/);
    }
    // The check sits in the socket's lookup: no TCP connection is made to any address.
    expect(server.seen).toHaveLength(0);
  });

  it('connects to the address it checked, whatever the host name is', async () => {
    const lookups: string[] = [];
    const resolve: ResolveHost = async (hostname) => {
      lookups.push(hostname);
      return [{ address: '127.0.0.1', family: 4 }];
    };
    const response = await guarded({ resolve })(`http://api.partner.test:${server.port}/hello`);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('ok');
    expect(lookups).toEqual(['api.partner.test']);
    expect(server.seen.at(-1)).toMatchObject({ url: '/hello', headers: { host: `api.partner.test:${server.port}` } });
  });

  it('refuses plain http when https is required, and allows it only to loopback in the development setting', async () => {
    expect((await refusal(guarded({ plainHttp: 'never' })(`${server.url}/`))).code).toBe('CREDENCE_OUTBOUND_REFUSED');
    const loopbackOnly = guarded({ plainHttp: 'loopback', resolve: resolvesTo('127.0.0.1') });
    expect((await loopbackOnly(`${server.url}/`)).status).toBe(200);
    expect((await loopbackOnly(`http://localhost:${server.port}/`)).status).toBe(200);
    const offHost = await refusal(loopbackOnly(`http://tokens.example.test:${server.port}/`));
    expect(offHost.message).toBe(`tokens.example.test:${server.port} is not called over plain http; only loopback addresses are (development setting)`);
    const sneaky = guarded({ plainHttp: 'loopback', resolve: resolvesTo('10.1.2.3') });
    expect((await refusal(sneaky(`http://localhost:${server.port}/`))).message).toBe('localhost resolves to an address off this machine; Credence does not call it');
    expect((await refusal(guarded()('ftp://127.0.0.1/file'))).code).toBe('CREDENCE_OUTBOUND_REFUSED');
  });

  it('returns a redirect as it is and never follows it', async () => {
    server.handle((_req, res) => res.writeHead(302, { location: `${other.url}/stolen` }).end());
    const before = other.seen.length;
    for (const redirect of ['follow', 'manual'] as const) {
      const response = await guarded()(`${server.url}/token`, { method: 'POST', body: 'grant_type=x', redirect });
      expect(response.status).toBe(302);
      expect(response.headers.get('location')).toBe(`${other.url}/stolen`);
    }
    expect(other.seen.length).toBe(before);
  });

  it('fails reading a body past the size limit, and refuses a declared oversized body at once', async () => {
    server.handle((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      for (let i = 0; i < 40; i++) res.write('x'.repeat(1024));
      res.end();
    });
    const response = await guarded({ maxResponseBytes: 16 * 1024 })(`${server.url}/big`);
    expect((await refusal(response.text())).code).toBe('CREDENCE_RESPONSE_TOO_LARGE');

    server.handle((_req, res) => res.writeHead(200, { 'content-length': String(64 * 1024) }).end('y'.repeat(64 * 1024)));
    const declared = await refusal(guarded({ maxResponseBytes: 16 * 1024 })(`${server.url}/declared`));
    expect(declared).toMatchObject({ code: 'CREDENCE_RESPONSE_TOO_LARGE', message: `The answer from 127.0.0.1:${server.port} is larger than 16384 bytes` });
  });

  it('decompresses gzip bodies and counts the decompressed bytes against the limit', async () => {
    server.handle((_req, res) => res.writeHead(200, { 'content-encoding': 'gzip' }).end(gzipSync('{"ok":true}')));
    expect(await (await guarded()(`${server.url}/small`)).json()).toEqual({ ok: true });
    const bomb = gzipSync(Buffer.alloc(8 * 1024 * 1024));
    server.handle((_req, res) => res.writeHead(200, { 'content-encoding': 'gzip', 'content-length': String(bomb.byteLength) }).end(bomb));
    const response = await guarded()(`${server.url}/bomb`);
    expect((await refusal(response.arrayBuffer())).code).toBe('CREDENCE_RESPONSE_TOO_LARGE');
  });

  it('stops a call whose headers never come at the deadline', async () => {
    server.handle(() => undefined);
    const started = Date.now();
    const error = await refusal(guarded({ timeoutMs: 300 })(`${server.url}/hang`));
    expect(error.name).toBe('TimeoutError');
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('stops a call whose body stalls at the deadline', async () => {
    server.handle((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"access_token":');
    });
    const response = await guarded({ timeoutMs: 300 })(`${server.url}/stall`);
    expect((await refusal(response.text())).name).toBe('TimeoutError');
  });

  it("stops when the caller's signal aborts, with the caller's reason", async () => {
    server.handle(() => undefined);
    const error = await refusal(guarded()(`${server.url}/hang`, { signal: AbortSignal.timeout(200) }));
    expect(error.name).toBe('TimeoutError');
  });

  it('sends the method, headers and body it is given, and returns status, headers and body', async () => {
    server.handle((_req, res) => res.writeHead(201, { 'content-type': 'application/json', 'x-request': 'seen' }).end('{"created":1}'));
    const response = await guarded()(`${server.url}/token?x=1`, {
      method: 'POST',
      headers: { authorization: 'Basic Y2xpZW50OnNlY3JldA==' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: 'r+1 %' }),
    });
    expect(response.status).toBe(201);
    expect(response.headers.get('x-request')).toBe('seen');
    expect(await response.json()).toEqual({ created: 1 });
    expect(server.seen.at(-1)).toMatchObject({
      method: 'POST',
      url: '/token?x=1',
      body: 'grant_type=refresh_token&refresh_token=r%2B1+%25',
      headers: { authorization: 'Basic Y2xpZW50OnNlY3JldA==', 'content-type': 'application/x-www-form-urlencoded;charset=UTF-8' },
    });
    const head = await guarded()(`${server.url}/`, { method: 'HEAD' });
    expect(head.body).toBeNull();
  });

  it('lets a reader cancel a body that is still arriving, closing the connection', async () => {
    let closed = false;
    server.handle((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      const timer = setInterval(() => res.write('chunk '.repeat(100)), 5);
      res.on('close', () => {
        clearInterval(timer);
        closed = true;
      });
    });
    const response = await guarded()(`${server.url}/stream`);
    const reader = response.body?.getReader();
    expect((await reader?.read())?.done).toBe(false);
    await reader?.cancel();
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(closed).toBe(true);
  });

  it('reports a refused connection with its system error code', async () => {
    const closed = await startServer();
    await closed.close();
    expect((await refusal(guarded()(`${closed.url}/`))).code).toBe('ECONNREFUSED');
  });
});

describe('connection reuse by the guarded fetch', () => {
  /** A server that numbers its connections; `dropReused` makes it close a connection when a second request arrives on it, unanswered. */
  const startCountingServer = async (dropReused: boolean) => {
    const requests: Array<{ connection: number; body: string }> = [];
    let connections = 0;
    const numbers = new WeakMap<object, { number: number; served: number }>();
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const socket = numbers.get(req.socket) ?? { number: 0, served: 0 };
        socket.served += 1;
        if (dropReused && socket.served > 1) {
          req.socket.destroy();
          return;
        }
        requests.push({ connection: socket.number, body: Buffer.concat(chunks).toString('utf8') });
        res.end('ok');
      });
    });
    server.on('connection', (socket) => numbers.set(socket, { number: (connections += 1), served: 0 }));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return { url, requests, connections: () => connections, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
  };

  it('sends calls made one after another over one connection', async () => {
    const server = await startCountingServer(false);
    try {
      const fetch = guarded();
      for (const n of [1, 2, 3]) expect(await (await fetch(`${server.url}/`, { method: 'POST', body: `call ${n}` })).text()).toBe('ok');
      expect(server.requests).toEqual([1, 2, 3].map((n) => ({ connection: 1, body: `call ${n}` })));
    } finally {
      await server.close();
    }
  });

  it('sends a request again on a new connection, once, when the server closed the reused one before answering', async () => {
    const server = await startCountingServer(true);
    try {
      const fetch = guarded();
      expect(await (await fetch(`${server.url}/`, { method: 'POST', body: 'first' })).text()).toBe('ok');
      expect(await (await fetch(`${server.url}/`, { method: 'POST', body: 'second' })).text()).toBe('ok');
      // The second went out on connection 1, was dropped unread, and was answered on connection 2.
      expect(server.requests).toEqual([
        { connection: 1, body: 'first' },
        { connection: 2, body: 'second' },
      ]);
      expect(server.connections()).toBe(2);
    } finally {
      await server.close();
    }
  });

  it('does not keep an idle connection past a second', async () => {
    const server = await startCountingServer(false);
    try {
      const fetch = guarded();
      await (await fetch(`${server.url}/`)).text();
      await new Promise((resolve) => setTimeout(resolve, 1300));
      await (await fetch(`${server.url}/`)).text();
      expect(server.requests.map((r) => r.connection)).toEqual([1, 2]);
    } finally {
      await server.close();
    }
  });
});
