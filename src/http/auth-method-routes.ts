import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { AUTH_METHODS } from '../credentials/auth-methods.js';
import { AuthMethodKey } from './schemas.js';

const AuthMethod = Type.Object({
  key: AuthMethodKey,
  name: Type.String(),
  description: Type.String(),
  fields: Type.Array(
    Type.Object({
      name: Type.String(),
      label: Type.String(),
      secret: Type.Boolean({ description: 'Write-only: never returned once stored' }),
      required: Type.Boolean(),
      kind: Type.String(),
    }),
  ),
});

/** `/auth-methods`: the five methods and their fields. Public: it describes the product, not a tenant. */
export const authMethodRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/auth-methods',
    { schema: { tags: ['credentials'], summary: 'The authorization methods and their fields', response: { 200: Type.Object({ items: Type.Array(AuthMethod) }) } } },
    async () => ({ items: Object.values(AUTH_METHODS) }),
  );
};
