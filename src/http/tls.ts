import type { Server as HttpServer } from 'node:http';
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
  (files: TlsFiles): FastifyServerFactory =>
  (handler) =>
    createServer({ cert: files.cert, key: files.key, minVersion: 'TLSv1.2' }, handler) as unknown as HttpServer;
