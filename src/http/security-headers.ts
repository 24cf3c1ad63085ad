import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import helmet from 'helmet';

/**
 * helmet's security headers (Strict-Transport-Security, X-Content-Type-Options,
 * X-Frame-Options, Referrer-Policy, the cross-origin policies…), worked out once at start
 * by running helmet against a stand-in response. No Content-Security-Policy: each kind of
 * page sets its own.
 */
const computeSecurityHeaders = (): Readonly<Record<string, string>> => {
  const headers: Record<string, string> = {};
  const response = {
    setHeader(name: string, value: string | number | readonly string[]) {
      headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
    },
    removeHeader(name: string) {
      delete headers[name.toLowerCase()];
    },
  };
  let done = false;
  helmet({ contentSecurityPolicy: false })({} as IncomingMessage, response as unknown as ServerResponse, () => {
    done = true;
  });
  if (!done) throw new Error('helmet did not finish setting its headers');
  return Object.freeze(headers);
};

export const SECURITY_HEADERS = computeSecurityHeaders();

/** Sends the security headers, and the request id, on every answer: one precomputed object per request. */
export const registerSecurityHeaders = (app: FastifyInstance): void => {
  app.addHook('onRequest', (request, reply, done) => {
    void reply.headers(SECURITY_HEADERS).header('x-request-id', request.id);
    done();
  });
};
