import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { EVENT_TYPES } from '../events/event-types.js';
import type { WebhookService } from '../events/webhook-service.js';
import { actorOf } from './authentication.js';
import { IdParams, NullableString, PageQuery, Timestamp, errorResponses, pageOf } from './schemas.js';

const tags = ['webhooks'];

const EventType = Type.Enum(EVENT_TYPES);
const Endpoint = Type.Object({
  id: Type.String(),
  url: Type.String(),
  events: Type.Array(EventType),
  description: Type.String(),
  previousSecretExpiresAt: Type.Union([Timestamp, Type.Null()], { description: 'Until when the secret before the last rotation still signs deliveries' }),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});
const WithSecret = Type.Object({ ...Endpoint.properties, secret: Type.String({ description: 'The signing secret (whsec_…); it is not shown again' }) });
const EndpointBody = {
  url: Type.String({ maxLength: 2000, description: 'https:// (http:// on loopback only with CREDENCE_ALLOW_INSECURE_LOOPBACK)' }),
  events: Type.Array(EventType, { minItems: 1, maxItems: EVENT_TYPES.length }),
  description: Type.Optional(Type.String({ maxLength: 500 })),
};
const Delivery = Type.Object({
  id: Type.String(),
  eventId: Type.String({ description: 'The webhook-id header: the same on every attempt and resend' }),
  eventType: EventType,
  status: Type.Enum(['pending', 'delivered', 'failed'] as const),
  attempts: Type.Integer(),
  nextAttemptAt: Type.Union([Timestamp, Type.Null()]),
  createdAt: Timestamp,
  deliveredAt: Type.Union([Timestamp, Type.Null()]),
  payload: Type.Unknown({ description: 'The body sent' }),
  attemptLog: Type.Array(
    Type.Object({ at: Timestamp, ok: Type.Boolean(), responseStatus: Type.Union([Type.Integer(), Type.Null()]), latencyMs: Type.Integer(), error: NullableString }),
  ),
});
const DeliveryParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }), deliveryId: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false });

/**
 * `/webhook-endpoints`: where Credence sends its events, signed as Standard Webhooks, for
 * organization admins.
 */
export const webhookRoutes: FastifyPluginAsyncTypebox<{ webhooks: WebhookService }> = async (app, { webhooks }) => {
  app.post(
    '/webhook-endpoints',
    {
      schema: {
        tags,
        summary: 'Add a webhook endpoint (its signing secret is shown once)',
        body: Type.Object(EndpointBody, { additionalProperties: false }),
        response: { 201: WithSecret, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { endpoint, secret } = await webhooks.create(actorOf(request), request.body);
      void reply.header('cache-control', 'no-store');
      return reply.status(201).send({ ...endpoint, secret: secret.reveal() });
    },
  );

  app.get(
    '/webhook-endpoints',
    { schema: { tags, summary: 'List webhook endpoints', response: { 200: Type.Object({ items: Type.Array(Endpoint) }), ...errorResponses } } },
    async (request) => ({ items: await webhooks.list(actorOf(request)) }),
  );

  app.get(
    '/webhook-endpoints/:id',
    { schema: { tags, summary: 'Show a webhook endpoint', params: IdParams, response: { 200: Endpoint, ...errorResponses } } },
    async (request) => webhooks.get(actorOf(request), request.params.id),
  );

  app.patch(
    '/webhook-endpoints/:id',
    {
      schema: {
        tags,
        summary: 'Change where a webhook endpoint is, what it hears or its description',
        params: IdParams,
        body: Type.Object({ url: Type.Optional(EndpointBody.url), events: Type.Optional(EndpointBody.events), description: EndpointBody.description }, { additionalProperties: false }),
        response: { 200: Endpoint, ...errorResponses },
      },
    },
    async (request) => webhooks.update(actorOf(request), request.params.id, request.body),
  );

  app.delete(
    '/webhook-endpoints/:id',
    { schema: { tags, summary: 'Remove a webhook endpoint and its deliveries', params: IdParams, response: { 204: Type.Null(), ...errorResponses } } },
    async (request, reply) => {
      await webhooks.delete(actorOf(request), request.params.id);
      return reply.status(204).send(null);
    },
  );

  app.post(
    '/webhook-endpoints/:id/rotate-secret',
    {
      schema: {
        tags,
        summary: 'Give a webhook endpoint a new signing secret (shown once)',
        description: 'The old secret keeps signing too (both signatures are sent) for overlapSeconds, a day by default, so the receiver can switch without missing an event.',
        params: IdParams,
        body: Type.Object({ overlapSeconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 604_800 })) }, { additionalProperties: false }),
        response: { 200: WithSecret, ...errorResponses },
      },
      // No body at all means the defaults.
      preValidation: async (request) => {
        request.body ??= {};
      },
    },
    async (request, reply) => {
      const { endpoint, secret } = await webhooks.rotateSecret(actorOf(request), request.params.id, request.body);
      void reply.header('cache-control', 'no-store');
      return { ...endpoint, secret: secret.reveal() };
    },
  );

  app.get(
    '/webhook-endpoints/:id/deliveries',
    {
      schema: {
        tags,
        summary: "A webhook endpoint's deliveries, newest first, with every attempt",
        params: IdParams,
        querystring: Type.Object({ ...PageQuery }, { additionalProperties: false }),
        response: { 200: pageOf(Delivery), ...errorResponses },
      },
    },
    async (request) => {
      const page = await webhooks.deliveries(actorOf(request), request.params.id, request.query);
      return {
        nextCursor: page.nextCursor,
        items: page.items.map(({ payload, attemptLog, ...delivery }) => ({ ...delivery, payload: JSON.parse(payload) as unknown, attemptLog: attemptLog.map(({ id: _id, ...attempt }) => attempt) })),
      };
    },
  );

  app.post(
    '/webhook-endpoints/:id/deliveries/:deliveryId/resend',
    { schema: { tags, summary: 'Send a delivery again, with the same webhook-id', params: DeliveryParams, response: { 202: Type.Null(), ...errorResponses } } },
    async (request, reply) => {
      await webhooks.resend(actorOf(request), request.params.id, request.params.deliveryId);
      return reply.status(202).send(null);
    },
  );
};
