import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { ApiTokenService } from '../tenants/api-token-service.js';
import type { ApiToken as ApiTokenRecord } from '../tenants/api-token-store.js';
import { actorOf } from './authentication.js';
import { ApiToken, IdParams, NullableString, PageQuery, Role, errorResponses, pageOf } from './schemas.js';

const tags = ['api tokens'];

const toBody = ({ id, name, role, customerId, createdAt, revokedAt }: ApiTokenRecord) => ({ id, name, role, customerId, createdAt, revokedAt });

/** `/api-tokens`: machine access, for organization admins. */
export const apiTokenRoutes: FastifyPluginAsyncTypebox<{ tokens: ApiTokenService }> = async (app, { tokens }) => {
  app.post(
    '/api-tokens',
    {
      schema: {
        tags,
        summary: 'Create an API token (shown once)',
        body: Type.Object(
          { name: Type.String({ maxLength: 200 }), role: Role, customerId: Type.Optional(NullableString) },
          { additionalProperties: false },
        ),
        response: {
          201: Type.Object({ ...ApiToken.properties, token: Type.String({ description: 'The token itself; it is not shown again' }) }),
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      const { token, secret } = await tokens.create(actorOf(request), request.body);
      void reply.header('cache-control', 'no-store');
      return reply.status(201).send({ ...toBody(token), token: secret.reveal() });
    },
  );

  app.get(
    '/api-tokens',
    {
      schema: {
        tags,
        summary: 'List API tokens (never the tokens themselves)',
        querystring: Type.Object({ ...PageQuery }, { additionalProperties: false }),
        response: { 200: pageOf(ApiToken), ...errorResponses },
      },
    },
    async (request) => {
      const page = await tokens.list(actorOf(request), request.query);
      return { items: page.items.map(toBody), nextCursor: page.nextCursor };
    },
  );

  app.delete(
    '/api-tokens/:id',
    { schema: { tags, summary: 'Revoke an API token', params: IdParams, response: { 204: Type.Null(), ...errorResponses } } },
    async (request, reply) => {
      await tokens.revoke(actorOf(request), request.params.id);
      return reply.status(204).send(null);
    },
  );
};
