import type { FastifyInstance, FastifyRequest } from 'fastify';
import type {} from '@fastify/cookie';
import { AppError } from '../common/app-error.js';
import type { Actor } from '../tenants/actor.js';
import type { ApiTokenService } from '../tenants/api-token-service.js';
import type { SessionService } from '../tenants/session-service.js';

declare module 'fastify' {
  interface FastifyRequest {
    actor: Actor | null;
  }
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Cookie names: `__Host-` and Secure wherever the browser will keep such a cookie
 * (https, or a loopback address in development).
 */
/** The token of an `Authorization: Bearer <token>` header, if that is what it holds. */
export const bearerOf = (header: string | undefined): string | undefined => header?.match(/^Bearer +(\S+) *$/i)?.[1];

export const cookieSettings = (publicUrl: string, base: string): { name: string; secure: boolean } => {
  const url = new URL(publicUrl);
  const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
  return url.protocol === 'https:' || loopback ? { name: `__Host-${base}`, secure: true } : { name: base, secure: false };
};

/** The caller of an authenticated route; the hook guarantees it is set. */
export const actorOf = (request: FastifyRequest): Actor => {
  if (!request.actor) throw new AppError('UNAUTHENTICATED', 'Send an API token as "Authorization: Bearer <token>"');
  return request.actor;
};

/**
 * Every route registered in `app` after this requires a valid bearer token or a session
 * cookie. Unknown, revoked and malformed credentials get the same 401. A request
 * authenticated by cookie that changes something must carry the session's CSRF token
 * in `X-CSRF-Token`.
 */
export const requireAuthentication = (
  app: FastifyInstance,
  deps: { tokens: Pick<ApiTokenService, 'authenticate'>; sessions: Pick<SessionService, 'authenticate' | 'csrfMatches'>; sessionCookie: string },
): void => {
  app.decorateRequest('actor', null);
  app.addHook('onRequest', async (request) => {
    const header = request.headers.authorization;
    if (header !== undefined) {
      const bearer = bearerOf(header);
      const actor = bearer ? await deps.tokens.authenticate(bearer) : undefined;
      if (!actor) throw new AppError('UNAUTHENTICATED', 'Send a valid API token as "Authorization: Bearer <token>"');
      request.actor = actor;
      return;
    }
    const session = request.cookies[deps.sessionCookie];
    const signedIn = session ? await deps.sessions.authenticate(session) : undefined;
    if (!session || !signedIn) throw new AppError('UNAUTHENTICATED', 'Sign in, or send an API token as "Authorization: Bearer <token>"');
    if (!SAFE_METHODS.has(request.method)) {
      const given = request.headers['x-csrf-token'];
      if (!deps.sessions.csrfMatches(session, typeof given === 'string' ? given : undefined)) {
        throw new AppError('CSRF_FAILED', 'This request needs the X-CSRF-Token header of your session');
      }
    }
    request.actor = signedIn.actor;
  });
};
