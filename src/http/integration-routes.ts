import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { ComponentRegistry } from '../components/registry.js';
import type { InstanceService } from '../integrations/instance-service.js';
import type { Instance as InstanceRecord, Integration as IntegrationRecord, Run as RunRecord } from '../integrations/integration-store.js';
import type { IntegrationService } from '../integrations/integration-service.js';
import type { RunService } from '../integrations/run-service.js';
import { actorOf } from './authentication.js';
import { AuthMethodKey, IdParams, NullableString, PageQuery, Timestamp, errorResponses, pageOf } from './schemas.js';

const Step = Type.Object({
  name: Type.String({ maxLength: 64 }),
  component: Type.String({ maxLength: 64 }),
  action: Type.String({ maxLength: 64 }),
  inputs: Type.Optional(Type.Record(Type.String({ maxLength: 64 }), Type.Unknown(), { description: 'Values, or "{{steps.<name>.<path>}}" references to an earlier step\'s output' })),
});

export const Integration = Type.Object({
  id: Type.String(),
  name: Type.String(),
  description: NullableString,
  steps: Type.Array(Type.Object({ name: Type.String(), component: Type.String(), action: Type.String(), inputs: Type.Record(Type.String(), Type.Unknown()) })),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});

export const Instance = Type.Object({
  id: Type.String(),
  integrationId: Type.String(),
  customerId: Type.String(),
  name: Type.String(),
  bindings: Type.Record(Type.String(), NullableString, { description: 'Step name → credential id; null: the bound credential was deleted' }),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});

const StepSummary = {
  name: Type.String(),
  component: Type.String(),
  action: Type.String(),
  status: Type.String({ description: 'succeeded, failed or skipped' }),
  credentialId: NullableString,
  error: NullableString,
  startedAt: Type.Union([Timestamp, Type.Null()]),
  durationMs: Type.Union([Type.Number(), Type.Null()]),
};
const RunFields = {
  id: Type.String(),
  instanceId: Type.String(),
  status: Type.String({ description: 'running, succeeded or failed' }),
  error: NullableString,
  startedAt: Timestamp,
  finishedAt: Type.Union([Timestamp, Type.Null()]),
};

export const Run = Type.Object({
  ...RunFields,
  steps: Type.Array(
    Type.Object({
      ...StepSummary,
      output: Type.Unknown(),
      logs: Type.Array(Type.Object({ level: Type.String(), message: Type.String(), at: Timestamp })),
    }),
  ),
});

/** A run in the list: its steps' status, timing and error, without outputs or logs (fetch the run for those). */
export const RunSummary = Type.Object({ ...RunFields, steps: Type.Array(Type.Object(StepSummary)) });

const integrationBody = ({ id, name, description, steps, createdAt, updatedAt }: IntegrationRecord) => ({ id, name, description, steps, createdAt, updatedAt });
const instanceBody = ({ id, integrationId, customerId, name, bindings, createdAt, updatedAt }: InstanceRecord) => ({ id, integrationId, customerId, name, bindings, createdAt, updatedAt });

/** `/components`, `/integrations`, `/instances` and their runs. */
export const integrationRoutes: FastifyPluginAsyncTypebox<{
  components: ComponentRegistry;
  integrations: IntegrationService;
  instances: InstanceService;
  runs: RunService;
}> = async (app, { components, integrations, instances, runs }) => {
  app.get(
    '/components',
    {
      schema: {
        tags: ['integrations'],
        summary: 'Components, their actions, inputs and accepted auth methods',
        response: {
          200: Type.Object({
            items: Type.Array(
              Type.Object({
                key: Type.String(),
                name: Type.String(),
                description: Type.String(),
                testAction: Type.String(),
                actions: Type.Array(
                  Type.Object({
                    key: Type.String(),
                    name: Type.String(),
                    description: Type.String(),
                    authMethods: Type.Array(AuthMethodKey),
                    credentialRequired: Type.Boolean(),
                    scopes: Type.Array(Type.String(), { description: 'OAuth 2.0 scopes the action needs its token to carry' }),
                    inputs: Type.Unknown({ description: 'JSON Schema of the inputs' }),
                  }),
                ),
              }),
            ),
          }),
        },
      },
    },
    async () => ({
      items: components.list().map((c) => ({
        key: c.key,
        name: c.name,
        description: c.description,
        testAction: c.testAction,
        actions: c.actions.map((a) => ({ key: a.key, name: a.name, description: a.description, authMethods: [...a.authMethods], credentialRequired: a.credentialRequired, scopes: [...(a.scopes ?? [])], inputs: JSON.parse(JSON.stringify(a.inputs)) as unknown })),
      })),
    }),
  );

  const tags = ['integrations'];
  const IntegrationBody = { name: Type.String({ maxLength: 200 }), description: Type.Optional(Type.Union([Type.String({ maxLength: 2000 }), Type.Null()])), steps: Type.Array(Step, { maxItems: 50 }) };

  app.post(
    '/integrations',
    { schema: { tags, summary: 'Create an integration', body: Type.Object(IntegrationBody, { additionalProperties: false }), response: { 201: Integration, ...errorResponses } } },
    async (request, reply) => reply.status(201).send(integrationBody(await integrations.create(actorOf(request), request.body))),
  );
  app.get(
    '/integrations',
    { schema: { tags, summary: 'List integrations', querystring: Type.Object({ ...PageQuery }, { additionalProperties: false }), response: { 200: pageOf(Integration), ...errorResponses } } },
    async (request) => {
      const page = await integrations.list(actorOf(request), request.query);
      return { items: page.items.map(integrationBody), nextCursor: page.nextCursor };
    },
  );
  app.get(
    '/integrations/:id',
    { schema: { tags, summary: 'Show an integration', params: IdParams, response: { 200: Integration, ...errorResponses } } },
    async (request) => integrationBody(await integrations.get(actorOf(request), request.params.id)),
  );
  app.patch(
    '/integrations/:id',
    {
      schema: {
        tags,
        summary: 'Change an integration',
        params: IdParams,
        body: Type.Object({ name: Type.Optional(IntegrationBody.name), description: IntegrationBody.description, steps: Type.Optional(IntegrationBody.steps) }, { additionalProperties: false }),
        response: { 200: Integration, ...errorResponses },
      },
    },
    async (request) => integrationBody(await integrations.update(actorOf(request), request.params.id, request.body)),
  );
  app.delete(
    '/integrations/:id',
    { schema: { tags, summary: 'Delete an integration that has no instances', params: IdParams, response: { 204: Type.Null(), ...errorResponses } } },
    async (request, reply) => {
      await integrations.delete(actorOf(request), request.params.id);
      return reply.status(204).send(null);
    },
  );

  const Bindings = Type.Record(Type.String({ maxLength: 64 }), Type.Union([Type.String({ maxLength: 64 }), Type.Null()]), { description: 'Step name → credential id' });
  app.post(
    '/instances',
    {
      schema: {
        tags,
        summary: 'Deploy an integration for a customer, binding credentials to its steps',
        body: Type.Object(
          { integrationId: Type.String({ maxLength: 64 }), customerId: Type.String({ maxLength: 64 }), name: Type.String({ maxLength: 200 }), bindings: Type.Optional(Bindings) },
          { additionalProperties: false },
        ),
        response: { 201: Instance, ...errorResponses },
      },
    },
    async (request, reply) => reply.status(201).send(instanceBody(await instances.create(actorOf(request), request.body))),
  );
  app.get(
    '/instances',
    {
      schema: {
        tags,
        summary: 'List instances',
        querystring: Type.Object({ customerId: Type.Optional(Type.String({ maxLength: 64 })), ...PageQuery }, { additionalProperties: false }),
        response: { 200: pageOf(Instance), ...errorResponses },
      },
    },
    async (request) => {
      const page = await instances.list(actorOf(request), request.query);
      return { items: page.items.map(instanceBody), nextCursor: page.nextCursor };
    },
  );
  app.get(
    '/instances/:id',
    { schema: { tags, summary: 'Show an instance', params: IdParams, response: { 200: Instance, ...errorResponses } } },
    async (request) => instanceBody(await instances.get(actorOf(request), request.params.id)),
  );
  app.patch(
    '/instances/:id',
    {
      schema: {
        tags,
        summary: 'Rename an instance or change its bindings',
        params: IdParams,
        body: Type.Object({ name: Type.Optional(Type.String({ maxLength: 200 })), bindings: Type.Optional(Bindings) }, { additionalProperties: false }),
        response: { 200: Instance, ...errorResponses },
      },
    },
    async (request) => instanceBody(await instances.update(actorOf(request), request.params.id, request.body)),
  );
  app.delete(
    '/instances/:id',
    { schema: { tags, summary: 'Delete an instance', params: IdParams, response: { 204: Type.Null(), ...errorResponses } } },
    async (request, reply) => {
      await instances.delete(actorOf(request), request.params.id);
      return reply.status(204).send(null);
    },
  );

  const runBody = <S>({ id, instanceId, status, error, startedAt, finishedAt, steps }: Omit<RunRecord, 'steps'> & { steps: S[] }) => ({ id, instanceId, status, error, startedAt, finishedAt, steps });
  app.post(
    '/instances/:id/runs',
    { schema: { tags, summary: 'Run an instance now; answers with the finished run', params: IdParams, response: { 201: Run, ...errorResponses } } },
    async (request, reply) => reply.status(201).send(runBody(await runs.run(actorOf(request), request.params.id))),
  );
  app.get(
    '/instances/:id/runs',
    {
      schema: {
        tags,
        summary: "List runs, newest first, with each step's status, timing and error (outputs and logs: show the run)",
        params: IdParams,
        querystring: Type.Object({ ...PageQuery }, { additionalProperties: false }),
        response: { 200: pageOf(RunSummary), ...errorResponses },
      },
    },
    async (request) => {
      const page = await runs.list(actorOf(request), request.params.id, request.query);
      return { items: page.items.map(runBody), nextCursor: page.nextCursor };
    },
  );
  app.get(
    '/instances/:id/runs/:runId',
    {
      schema: {
        tags,
        summary: 'Show a run: status, and per step its output, timing and logs',
        params: Type.Object({ id: Type.String({ maxLength: 64 }), runId: Type.String({ maxLength: 64 }) }, { additionalProperties: false }),
        response: { 200: Run, ...errorResponses },
      },
    },
    async (request) => runBody(await runs.get(actorOf(request), request.params.id, request.params.runId)),
  );
};
