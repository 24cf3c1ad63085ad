import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import { Transform, pipeline } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import { LOOPBACK_HOST_NAMES, baseAddressRule, isIpLiteral, isLoopbackAddress, type AddressRule } from './address-policy.js';

/**
 * A `fetch` for calls to addresses that users configure (OAuth token endpoints, integration
 * steps), built on node:http(s) so it controls the connection itself:
 *
 * - the host name is resolved once, every address it resolves to is checked
 *   (address-policy.ts), and the socket connects to a checked address — a DNS answer that
 *   changes between check and connect (rebinding) cannot slip through;
 * - plain http:// is refused, or allowed only to loopback, or allowed, as configured;
 * - redirects are never followed: a 3xx comes back as it is;
 * - the whole exchange, body included, is bounded in time, and the (decoded) body in size.
 *
 * @example
 * const guarded = createGuardedFetch({ plainHttp: 'loopback', maxResponseBytes: 1 << 20, timeoutMs: 15_000 });
 * await guarded('https://oauth2.example.com/token', { method: 'POST', body: form });
 */

/** Why an outbound call was refused before or while it was made. The message names the host only. */
export class OutboundRefusedError extends Error {
  override readonly name = 'OutboundRefusedError';
  readonly code: 'CREDENCE_OUTBOUND_REFUSED' | 'CREDENCE_RESPONSE_TOO_LARGE';

  constructor(code: OutboundRefusedError['code'], message: string) {
    super(message);
    this.code = code;
  }
}

/** Finds an OutboundRefusedError in an error or its causes (fetch users wrap errors). */
export const outboundRefusal = (error: unknown): OutboundRefusedError | undefined => {
  for (let current = error, depth = 0; current instanceof Object && depth < 6; depth++) {
    if (current instanceof OutboundRefusedError) return current;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
};

export type ResolveHost = (hostname: string) => Promise<LookupAddress[]>;

export interface GuardedFetchOptions {
  /** `never`: https only; `loopback`: http:// only to this machine; `always`: http:// anywhere allowed. */
  plainHttp: 'never' | 'loopback' | 'always';
  /** A body larger than this (after decompression) fails the read. */
  maxResponseBytes: number;
  /** Deadline for the whole exchange, reading the body included. */
  timeoutMs: number;
  /** DNS resolution (tests replace it); node:dns lookup by default. */
  resolve?: ResolveHost;
  /** Which addresses may be reached; the base rule (no link-local or metadata) by default. */
  addressRule?: AddressRule;
  /** Read each answer's whole body before handing the Response over (small answers, such as token responses). */
  bufferResponses?: boolean;
}

/** node:dns lookup, every address. */
export const systemResolve: ResolveHost = (hostname) =>
  new Promise((resolve, reject) => {
    dnsLookup(hostname, { all: true }, (error, addresses) => (error ? reject(error) : resolve(addresses)));
  });

/** Why a component could not reach a refused address, worded the same by every component. */
export const REFUSED_ADDRESS_REASON = 'the address is link-local, cloud metadata, loopback or a private network, which Credence does not call';

const refused = (message: string) => new OutboundRefusedError('CREDENCE_OUTBOUND_REFUSED', message);

/**
 * A lookup for net.connect that hands out only addresses the policy allows. Clients that make
 * their own connections through node:http(s) take it in their agents (the aws-s3 component).
 */
export const guardedLookup =
  (resolve: ResolveHost, loopbackOnly: boolean, rule: AddressRule = baseAddressRule): LookupFunction =>
  (hostname: string, options: LookupOptions, callback) => {
    resolve(hostname).then(
      (all) => {
        const usable = all.filter((a) => options.family === undefined || options.family === 0 || a.family === options.family);
        const first = usable[0];
        let why = first ? undefined : 'does not resolve to a usable address';
        for (const { address } of usable) {
          const broken = rule(address);
          if (broken) why ??= `resolves to ${address}, which ${broken}`;
          else if (loopbackOnly && !isLoopbackAddress(address)) why ??= 'resolves to an address off this machine';
        }
        if (why || !first) {
          callback(refused(`${hostname} ${why ?? ''}; Credence does not call it`), '', 0);
          return;
        }
        if (options.all) callback(null, usable);
        else callback(null, first.address, first.family);
      },
      (error: NodeJS.ErrnoException) => callback(error, '', 0),
    );
  };

/**
 * For clients that connect to an address they are given (ssh2 has no lookup option): resolves
 * `hostname` once, checks every address, and answers the one to connect to; an IP literal is
 * checked as it is. Stops waiting when `signal` aborts, with its reason.
 */
export const resolveCheckedAddress = (hostname: string, resolve: ResolveHost = systemResolve, signal?: AbortSignal, rule: AddressRule = baseAddressRule): Promise<string> =>
  new Promise((settle, fail) => {
    const literal = hostname.replace(/^\[|\]$/g, '');
    if (isIpLiteral(literal)) {
      const broken = rule(literal);
      if (broken) fail(refused(`${hostname} ${broken}; Credence does not call it`));
      else settle(literal);
      return;
    }
    const stop = () => fail(signal?.reason);
    signal?.addEventListener('abort', stop, { once: true });
    guardedLookup(resolve, false, rule)(hostname, {}, (error, address) => {
      signal?.removeEventListener('abort', stop);
      if (error) fail(error);
      else if (typeof address === 'string') settle(address);
      else fail(refused(`${hostname} does not resolve to a usable address; Credence does not call it`));
    });
  });

/** Refuses a URL by scheme and, for IP literals (which skip the lookup), by address. */
const checkTarget = (url: URL, plainHttp: GuardedFetchOptions['plainHttp'], rule: AddressRule): { loopbackOnly: boolean } => {
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw refused(`${url.protocol} URLs are not called`);
  const loopbackOnly = url.protocol === 'http:' && plainHttp === 'loopback';
  if (url.protocol === 'http:' && plainHttp === 'never') throw refused(`${url.host} is not called over plain http; use https`);
  if (loopbackOnly && !LOOPBACK_HOST_NAMES.has(url.hostname) && !(isIpLiteral(url.hostname) && isLoopbackAddress(url.hostname))) {
    throw refused(`${url.host} is not called over plain http; only loopback addresses are (development setting)`);
  }
  const broken = isIpLiteral(url.hostname) ? rule(url.hostname.replace(/^\[|\]$/g, '')) : undefined;
  if (broken) throw refused(`${url.host} ${broken}; Credence does not call it`);
  return { loopbackOnly };
};

/** Counts bytes and fails the stream once there are more than `limit`. */
const limitBytes = (limit: number, host: string) => {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      seen += chunk.byteLength;
      if (seen > limit) done(new OutboundRefusedError('CREDENCE_RESPONSE_TOO_LARGE', `The answer from ${host} is larger than ${limit} bytes`));
      else done(null, chunk);
    },
  });
};

const decoderFor = (encoding: string | undefined) => {
  switch ((encoding ?? '').trim().toLowerCase()) {
    case 'gzip':
    case 'x-gzip':
      return createGunzip();
    case 'deflate':
      return createInflate();
    case 'br':
      return createBrotliDecompress();
    default:
      return undefined;
  }
};

const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

/**
 * A web stream that pulls from `source`. (Node 20's Readable.toWeb can throw "Controller is
 * already closed" from a data event after the reader cancelled; pulling cannot.)
 */
const webStreamOf = (source: Transform): ReadableStream<Uint8Array> => {
  const chunks = source[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let cancelled = false;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { value, done } = await chunks.next();
        if (cancelled) return;
        if (done) controller.close();
        else controller.enqueue(new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
      } catch (error) {
        if (!cancelled) controller.error(error);
      }
    },
    cancel() {
      cancelled = true;
      source.destroy();
    },
  });
};

/**
 * One request's deadline: the caller's signal, if any, and the fetch's own time limit, on one
 * timer. Lighter than AbortSignal.any over AbortSignal.timeout, which token refreshes paid
 * for on every request; a reason (a TimeoutError, or the caller's) exists only once it fires.
 */
interface Deadline {
  readonly aborted: boolean;
  readonly reason: unknown;
  /** Calls `listener` when the deadline fires (at once if it has). */
  on(listener: (reason: unknown) => void): void;
  off(listener: (reason: unknown) => void): void;
  /** The exchange is over: stops the timer and lets go of the caller's signal. */
  end(): void;
}

const createDeadline = (outer: AbortSignal | null | undefined, timeoutMs: number): Deadline => {
  let reason: unknown;
  let fired = false;
  const listeners = new Set<(reason: unknown) => void>();
  const fire = (why: unknown): void => {
    if (fired) return;
    fired = true;
    reason = why;
    clearTimeout(timer);
    for (const listener of [...listeners]) listener(why);
    listeners.clear();
  };
  const timer = setTimeout(() => fire(new DOMException('The operation was aborted due to timeout', 'TimeoutError')), timeoutMs);
  // Like AbortSignal.timeout's, this timer alone does not keep the process running.
  timer.unref();
  const onOuter = () => fire(outer?.reason);
  if (outer?.aborted) fire(outer.reason);
  else outer?.addEventListener('abort', onOuter, { once: true });
  return {
    get aborted() {
      return fired;
    },
    get reason() {
      return reason;
    },
    on(listener) {
      if (fired) listener(reason);
      else listeners.add(listener);
    },
    off(listener) {
      listeners.delete(listener);
    },
    end() {
      clearTimeout(timer);
      outer?.removeEventListener('abort', onOuter);
      listeners.clear();
    },
  };
};

const errorOf = (reason: unknown): Error => (reason instanceof Error ? reason : new Error('aborted'));

/** A request's method, headers and body. Plain ones (a URL, a string, form or byte body) are read without building a WHATWG Request. */
const requestParts = async (input: string | URL | Request, init: RequestInit | undefined) => {
  const headers: Record<string, string> = { accept: '*/*', 'user-agent': 'Credence' };
  const body = init?.body;
  const plain = typeof input === 'string' || input instanceof URL;
  if (plain && (body === undefined || body === null || typeof body === 'string' || body instanceof URLSearchParams || body instanceof Uint8Array)) {
    (init?.headers instanceof Headers ? init.headers : new Headers(init?.headers)).forEach((value, name) => (headers[name] = value));
    if (typeof body === 'string' || body instanceof URLSearchParams) {
      headers['content-type'] ??= body instanceof URLSearchParams ? 'application/x-www-form-urlencoded;charset=UTF-8' : 'text/plain;charset=UTF-8';
    }
    const bytes = body === undefined || body === null ? undefined : body instanceof Uint8Array ? Buffer.from(body) : Buffer.from(String(body));
    const method = init?.method ?? 'GET';
    return { url: new URL(input), method: /^(get|head|post|put|delete|options|patch)$/i.test(method) ? method.toUpperCase() : method, headers, body: bytes };
  }
  const request = new Request(input, init);
  request.headers.forEach((value, name) => (headers[name] = value));
  return { url: new URL(request.url), method: request.method, headers, body: request.body ? Buffer.from(await request.arrayBuffer()) : undefined };
};

/** Response headers as fetch keeps them. */
const headersOf = (res: IncomingMessage): Headers => {
  const headers = new Headers();
  for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) {
    try {
      headers.append(res.rawHeaders[i] ?? '', res.rawHeaders[i + 1] ?? '');
    } catch {
      // A header fetch itself would refuse to represent: leave it out.
    }
  }
  return headers;
};

/**
 * The Response for `res` with its whole body read first (token answers: small, and wanted
 * whole): no web stream between the socket and the caller. Fails past the size limit or
 * when the deadline fires first.
 */
const bufferedResponse = (res: IncomingMessage, method: string, host: string, maxBytes: number, deadline: Deadline): Promise<Response> =>
  new Promise((settle, fail) => {
    const status = res.statusCode ?? 0;
    const headers = headersOf(res);
    if (method === 'HEAD' || NULL_BODY_STATUSES.has(status)) {
      res.resume();
      deadline.end();
      settle(new Response(null, { status, statusText: res.statusMessage ?? '', headers }));
      return;
    }
    const limiter = limitBytes(maxBytes, host);
    const decoder = decoderFor(res.headers['content-encoding']);
    const chunks: Buffer[] = [];
    limiter.on('data', (chunk: Buffer) => chunks.push(chunk));
    const abort = (reason: unknown) => limiter.destroy(errorOf(reason));
    deadline.on(abort);
    const done = (error?: Error | null) => {
      deadline.off(abort);
      deadline.end();
      if (error) fail(error);
      else settle(new Response(Buffer.concat(chunks), { status, statusText: res.statusMessage ?? '', headers }));
    };
    if (decoder) pipeline(res, decoder, limiter, done);
    else pipeline(res, limiter, done);
  });

/** The Response for `res`; its body stream fails when the deadline fires or past the size limit. */
const toResponse = (res: IncomingMessage, method: string, host: string, maxBytes: number, deadline: Deadline): Response => {
  const status = res.statusCode ?? 0;
  const headers = headersOf(res);
  if (method === 'HEAD' || NULL_BODY_STATUSES.has(status)) {
    res.resume();
    deadline.end();
    return new Response(null, { status, statusText: res.statusMessage ?? '', headers });
  }
  const limiter = limitBytes(maxBytes, host);
  const decoder = decoderFor(res.headers['content-encoding']);
  // On any error pipeline destroys every stream with it; the limiter hands it to the reader.
  const ignore = () => undefined;
  if (decoder) pipeline(res, decoder, limiter, ignore);
  else pipeline(res, limiter, ignore);
  const abort = (reason: unknown) => limiter.destroy(errorOf(reason));
  deadline.on(abort);
  limiter.once('close', () => {
    deadline.off(abort);
    deadline.end();
  });
  return new Response(webStreamOf(limiter), { status, statusText: res.statusMessage ?? '', headers });
};

/** How long an idle outbound connection is kept for reuse. */
const IDLE_SOCKET_MS = 1000;

/** Builds a guarded `fetch` (see the module comment). */
export const createGuardedFetch = (options: GuardedFetchOptions): typeof fetch => {
  const resolve = options.resolve ?? systemResolve;
  const rule = options.addressRule ?? baseAddressRule;
  // Connections are reused (a worker refreshing thousands of tokens at one provider would
  // otherwise pay a TCP and TLS handshake each time) but closed after a second idle, well
  // before servers close theirs (5 s for Node, more for most others). Should a server
  // close one just as a request goes out anyway, the request is sent again (below).
  const pooled = { keepAlive: true, timeout: IDLE_SOCKET_MS, scheduling: 'lifo' } as const;
  const agents = { http: new HttpAgent(pooled), https: new HttpsAgent(pooled) };

  const guardedFetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const { url, method, headers, body } = await requestParts(input, init);
    const { loopbackOnly } = checkTarget(url, options.plainHttp, rule);
    if (body) headers['content-length'] = String(body.byteLength);
    const deadline = createDeadline(init?.signal, options.timeoutMs);
    if (deadline.aborted) {
      deadline.end();
      throw deadline.reason;
    }

    const exchange = (retried: boolean) =>
      new Promise<Response>((settle, fail) => {
        const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
        const req = send(
          url,
          {
            method,
            headers,
            agent: url.protocol === 'https:' ? agents.https : agents.http,
            lookup: guardedLookup(resolve, loopbackOnly, rule),
          },
          (res) => {
            deadline.off(abortRequest);
            const declared = Number(res.headers['content-length'] ?? 0);
            if (declared > options.maxResponseBytes && !res.headers['content-encoding']) {
              res.destroy();
              deadline.end();
              fail(new OutboundRefusedError('CREDENCE_RESPONSE_TOO_LARGE', `The answer from ${url.host} is larger than ${options.maxResponseBytes} bytes`));
              return;
            }
            if (init?.redirect === 'error' && (res.statusCode ?? 0) >= 300 && (res.statusCode ?? 0) < 400) {
              res.destroy();
              deadline.end();
              fail(new TypeError(`${url.host} answered with a redirect`));
              return;
            }
            try {
              if (options.bufferResponses) settle(bufferedResponse(res, method, url.host, options.maxResponseBytes, deadline));
              else settle(toResponse(res, method, url.host, options.maxResponseBytes, deadline));
            } catch (error) {
              res.destroy();
              deadline.end();
              fail(error);
            }
          },
        );
        const abortRequest = (reason: unknown) => req.destroy(errorOf(reason));
        deadline.on(abortRequest);
        req.once('error', (error: NodeJS.ErrnoException) => {
          deadline.off(abortRequest);
          // A reused connection the server had closed fails before the server has read the
          // request (Node's documented case): send it once more, on a new connection.
          if (req.reusedSocket && !retried && !deadline.aborted && (error.code === 'ECONNRESET' || error.code === 'EPIPE')) settle(exchange(true));
          else {
            deadline.end();
            fail(error);
          }
        });
        req.end(body);
      });
    return exchange(false);
  };
  return guardedFetch as typeof fetch;
};

/** The outbound fetch of OAuth token requests: https only (loopback http with the development flag), 1 MiB, 15 s. */
export const createOAuthFetch = (allowInsecureLoopback: boolean, overrides: Partial<GuardedFetchOptions> = {}): typeof fetch =>
  createGuardedFetch({ plainHttp: allowInsecureLoopback ? 'loopback' : 'never', maxResponseBytes: 1024 * 1024, timeoutMs: 15_000, bufferResponses: true, ...overrides });

/**
 * The outbound fetch of components: they keep their own scheme rules (the http component
 * may call http://), so only the address policy, a 16 MiB bound and a 60 s backstop apply.
 */
export const createComponentFetch = (overrides: Partial<GuardedFetchOptions> = {}): typeof fetch =>
  createGuardedFetch({ plainHttp: 'always', maxResponseBytes: 16 * 1024 * 1024, timeoutMs: 60_000, ...overrides });
