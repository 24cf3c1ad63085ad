import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { AuditService } from '../audit/audit-service.js';
import { actorOf } from './authentication.js';
import { NullableString, PageQuery, Timestamp, errorResponses, pageOf } from './schemas.js';

const AuditEvent = Type.Object({
  id: Type.String(),
  occurredAt: Timestamp,
  actor: Type.Object({ type: Type.String(), id: NullableString, role: NullableString }),
  action: Type.String(),
  customerId: NullableString,
  targetType: NullableString,
  targetId: NullableString,
  details: Type.Record(Type.String(), Type.Unknown()),
});

/** `/audit-events`: who did what, newest first. */
export const auditRoutes: FastifyPluginAsyncTypebox<{ audit: AuditService }> = async (app, { audit }) => {
  app.get(
    '/audit-events',
    {
      schema: {
        tags: ['audit'],
        summary: 'List audit events, newest first',
        querystring: Type.Object(
          {
            action: Type.Optional(Type.String({ maxLength: 100 })),
            targetId: Type.Optional(Type.String({ maxLength: 64 })),
            customerId: Type.Optional(Type.String({ maxLength: 64 })),
            ...PageQuery,
          },
          { additionalProperties: false },
        ),
        response: { 200: pageOf(AuditEvent), ...errorResponses },
      },
    },
    async (request) => audit.list(actorOf(request), request.query),
  );
};
