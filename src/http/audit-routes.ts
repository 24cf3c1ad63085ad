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

const ChainBreak = Type.Object({
  reason: Type.Enum(['altered', 'unlinked', 'missing', 'duplicate', 'truncated', 'unchained'] as const),
  seq: Type.Integer(),
  eventId: NullableString,
  message: Type.String(),
});

const ChainReport = Type.Object({
  organizationId: Type.String(),
  ok: Type.Boolean(),
  events: Type.Integer({ description: 'Events checked in the hash chain' }),
  legacyEvents: Type.Integer({ description: 'Events recorded before the chain existed (no hash)' }),
  head: Type.Union([Type.Object({ seq: Type.Integer(), hash: Type.String() }), Type.Null()]),
  break: Type.Union([ChainBreak, Type.Null()]),
});

/** `/audit-events`: who did what, newest first; `/audit-events/verify`: is the hash chain intact. */
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

  app.get(
    '/audit-events/verify',
    {
      schema: {
        tags: ['audit'],
        summary: "Verify the organization's audit hash chain (org_admin)",
        description: 'Walks every chained event and reports the first edited, removed, inserted or reordered one. `ok` is false when the chain is broken.',
        response: { 200: ChainReport, ...errorResponses },
      },
    },
    async (request) => audit.verify(actorOf(request)),
  );
};
