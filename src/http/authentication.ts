import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError } from '../common/app-error.js';
import type { Actor } from '../tenants/actor.js';
import type { ApiTokenService } from '../tenants/api-token-service.js';

declare module 'fastify' {
  interface FastifyRequest {
    actor: Actor | null;
  }
}

/** The caller of an authenticated route; the hook guarantees it is set. */
export const actorOf = (request: FastifyRequest): Actor => {
  if (!request.actor) throw new AppError('UNAUTHENTICATED', 'Send an API token as "Authorization: Bearer <token>"');
  return request.actor;
};

/**
 * Every route registered in `app` after this requires a valid bearer token. Unknown,
 * revoked and malformed tokens get the same 401.
 */
export const requireBearerToken = (app: FastifyInstance, tokens: Pick<ApiTokenService, 'authenticate'>): void => {
  app.decorateRequest('actor', null);
  app.addHook('onRequest', async (request) => {
    const header = request.headers.authorization;
    const match = header?.match(/^Bearer +(\S+) *$/i);
    const actor = match?.[1] ? await tokens.authenticate(match[1]) : undefined;
    if (!actor) throw new AppError('UNAUTHENTICATED', 'Send a valid API token as "Authorization: Bearer <token>"');
    request.actor = actor;
  });
};
