import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer } from 'node:https';
import { createSecureContext } from 'node:tls';
import type { FastifyServerFactory } from 'fastify';

/** A certificate (chain) and its private key, PEM. */
export interface TlsFiles {
  cert: Buffer;
  key: Buffer;
}

/**
 * Checks that the key belongs to the certificate and both parse, so a wrong pair stops the
 * start with a clear message instead of failing every handshake. Returns the problem, if any.
 */
export const checkTlsPair = (files: TlsFiles): string | undefined => {
  try {
    createSecureContext({ cert: files.cert, key: files.key });
    return undefined;
  } catch (error) {
    const reason = error instanceof Error && /mismatch/i.test(error.message) ? 'the key does not belong to the certificate' : 'they are not a PEM certificate and private key';
    return `CREDENCE_TLS_CERT / CREDENCE_TLS_KEY: ${reason}`;
  }
};

/**
 * Fastify's server, served over TLS 1.2 or newer. Fastify drives it like the plain HTTP
 * server it expects (both emit `request`), hence the cast: the app's type stays the same
 * whether it serves http or https.
 */
export const httpsServerFactory =
  (files: TlsFiles, timeouts: ServerTimeouts = DEFAULT_SERVER_TIMEOUTS): FastifyServerFactory =>
  (handler) =>
    createServer({ cert: files.cert, key: files.key, minVersion: 'TLSv1.2', ...serverTimeoutOptions(timeouts) }, handler) as unknown as HttpServer;

/** How long a client may take: to send a whole request, to send its headers, and to sit idle on a connection. */
export interface ServerTimeouts {
  requestTimeoutMs: number;
  headersTimeoutMs: number;
  idleTimeoutMs: number;
}

export const DEFAULT_SERVER_TIMEOUTS: ServerTimeouts = { requestTimeoutMs: 30_000, headersTimeoutMs: 10_000, idleTimeoutMs: 60_000 };

/**
 * Node's options for them. Rule: a client that sends half a request is cut off after the
 * request timeout, not held open; Node checks every `connectionsCheckingInterval`, so that is
 * kept well under the timeouts (its default of 30 s would let a slow request live 30 s longer).
 */
export const serverTimeoutOptions = (timeouts: ServerTimeouts) => ({
  requestTimeout: timeouts.requestTimeoutMs,
  headersTimeout: Math.min(timeouts.headersTimeoutMs, timeouts.requestTimeoutMs),
  keepAliveTimeout: Math.min(5_000, timeouts.idleTimeoutMs),
  connectionsCheckingInterval: Math.max(100, Math.min(1_000, Math.floor(Math.min(timeouts.headersTimeoutMs, timeouts.requestTimeoutMs) / 4))),
});

/** A plain-http server with those timeouts. */
export const httpServerFactory =
  (timeouts: ServerTimeouts): FastifyServerFactory =>
  (handler) =>
    createHttpServer(serverTimeoutOptions(timeouts), handler);
