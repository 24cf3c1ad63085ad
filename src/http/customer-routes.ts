import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { CustomerService } from '../tenants/customer-service.js';
import type { Customer as CustomerRecord } from '../tenants/tenant-store.js';
import { actorOf } from './authentication.js';
import { Customer, IdParams, NullableString, PageQuery, errorResponses, pageOf } from './schemas.js';

const tags = ['customers'];

const toBody = ({ id, name, externalId, createdAt, updatedAt }: CustomerRecord) => ({ id, name, externalId, createdAt, updatedAt });

/** `/customers`: the organization's customers, each a tenant with its own data key. */
export const customerRoutes: FastifyPluginAsyncTypebox<{ customers: CustomerService }> = async (app, { customers }) => {
  const CustomerBody = {
    name: Type.String({ maxLength: 200 }),
    externalId: Type.Optional(Type.Union([Type.String({ maxLength: 200 }), Type.Null()])),
  };

  app.post(
    '/customers',
    {
      schema: {
        tags,
        summary: 'Create a customer',
        body: Type.Object(CustomerBody, { additionalProperties: false }),
        response: { 201: Customer, ...errorResponses },
      },
    },
    async (request, reply) => reply.status(201).send(toBody(await customers.create(actorOf(request), request.body))),
  );

  app.get(
    '/customers',
    {
      schema: {
        tags,
        summary: 'List customers',
        querystring: Type.Object({ ...PageQuery }, { additionalProperties: false }),
        response: { 200: pageOf(Customer), ...errorResponses },
      },
    },
    async (request) => {
      const page = await customers.list(actorOf(request), request.query);
      return { items: page.items.map(toBody), nextCursor: page.nextCursor };
    },
  );

  app.get(
    '/customers/:id',
    { schema: { tags, summary: 'Show a customer', params: IdParams, response: { 200: Customer, ...errorResponses } } },
    async (request) => toBody(await customers.get(actorOf(request), request.params.id)),
  );

  app.patch(
    '/customers/:id',
    {
      schema: {
        tags,
        summary: 'Rename a customer or change its external id',
        params: IdParams,
        body: Type.Object(
          { name: Type.Optional(CustomerBody.name), externalId: Type.Optional(NullableString) },
          { additionalProperties: false },
        ),
        response: { 200: Customer, ...errorResponses },
      },
    },
    async (request) => toBody(await customers.update(actorOf(request), request.params.id, request.body)),
  );

  app.delete(
    '/customers/:id',
    {
      schema: {
        tags,
        summary: 'Delete a customer with its credentials, and destroy its data key',
        description: 'Optionally send the customer\'s name as `confirm`; a mismatch deletes nothing.',
        params: IdParams,
        body: Type.Object({ confirm: Type.Optional(Type.String({ maxLength: 200 })) }, { additionalProperties: false }),
        response: { 204: Type.Null(), ...errorResponses },
      },
      // The body is optional: a bare DELETE is checked as an empty object.
      preValidation: async (request) => {
        request.body ??= {};
      },
    },
    async (request, reply) => {
      await customers.delete(actorOf(request), request.params.id, { confirm: request.body.confirm });
      return reply.status(204).send(null);
    },
  );
};
