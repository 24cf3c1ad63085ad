import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { Timestamp } from './schemas.js';
import type { CredentialService } from '../credentials/credential-service.js';
import type { CredentialTestService } from '../credentials/credential-test-service.js';
import type { InstanceService } from '../integrations/instance-service.js';
import { actorOf } from './authentication.js';
import {
  AuthMethodKey,
  Credential,
  CredentialHealth,
  HealthCheckBody,
  CredentialStatus,
  Health,
  Destinations,
  FieldValue,
  IdParams,
  NullableString,
  PageQuery,
  errorResponses,
  pageOf,
} from './schemas.js';

const tags = ['credentials'];

/** `/credentials`: create, list and search, read, update, delete, resolve. */
export const credentialRoutes: FastifyPluginAsyncTypebox<{
  credentials: CredentialService;
  tests: CredentialTestService;
  instances: InstanceService;
}> = async (app, { credentials, tests, instances }) => {
  app.post(
    '/credentials/:id/test',
    {
      schema: {
        tags,
        summary: 'Test a credential with a real call to the service',
        description: 'Runs the component\'s test action (or `action`) with this credential. The result is kept as the credential\'s lastTest.',
        params: IdParams,
        body: Type.Object(
          { component: Type.String({ maxLength: 64 }), action: Type.Optional(Type.String({ maxLength: 64 })), inputs: Type.Optional(Type.Record(Type.String({ maxLength: 64 }), Type.Unknown())) },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ ok: Type.Boolean(), message: Type.String(), durationMs: Type.Number() }), ...errorResponses },
      },
    },
    async (request) => tests.test(actorOf(request), request.params.id, request.body),
  );

  app.post(
    '/credentials/:id/replace',
    {
      schema: {
        tags,
        summary: 'Move every instance binding of this credential to another one',
        params: IdParams,
        body: Type.Object({ with: Type.String({ maxLength: 64 }) }, { additionalProperties: false }),
        response: { 200: Type.Object({ moved: Type.Integer() }), ...errorResponses },
      },
    },
    async (request) => instances.replaceCredential(actorOf(request), request.params.id, request.body.with),
  );

  app.get(
    '/credentials/:id/usage',
    {
      schema: {
        tags,
        summary: 'Where the credential is used: the instances and steps it is bound to',
        params: IdParams,
        response: { 200: Type.Object({ items: Type.Array(Type.Object({ instanceId: Type.String(), instanceName: Type.String(), step: Type.String() })) }), ...errorResponses },
      },
    },
    async (request) => ({ items: await credentials.usage(actorOf(request), request.params.id) }),
  );

  app.post(
    '/credentials',
    {
      schema: {
        tags,
        summary: 'Store a new credential',
        description: 'Secret values are encrypted with the scope\'s data key and never returned.',
        body: Type.Object(
          {
            label: Type.String({ maxLength: 200 }),
            authMethod: Type.String({ maxLength: 64, description: 'One of api_key_secret, basic, private_key, api_key, oauth2' }),
            customerId: Type.Optional(NullableString),
            fields: Type.Record(Type.String({ maxLength: 64 }), FieldValue),
            provider: Type.Optional(Type.String({ maxLength: 64, description: 'oauth2: a preset from GET /oauth2/providers; fills in URLs and scopes' })),
            grantType: Type.Optional(Type.Enum(['authorization_code', 'client_credentials'] as const, { description: 'oauth2: default authorization_code' })),
            issuer: Type.Optional(Type.String({ maxLength: 500, description: 'oauth2: expected iss of authorization responses (default: the authorization URL origin)' })),
            destinations: Type.Optional(Destinations),
            healthCheck: Type.Optional(Type.Union([HealthCheckBody, Type.Null()])),
            expiresAt: Type.Optional(Type.Union([Type.String({ format: 'date-time' }), Type.Null()])),
            clientSecretExpiresAt: Type.Optional(Type.Union([Type.String({ format: 'date-time' }), Type.Null()])),
            contactEmail: Type.Optional(Type.Union([Type.String({ maxLength: 320 }), Type.Null()])),
          },
          { additionalProperties: false },
        ),
        response: { 201: Credential, ...errorResponses },
      },
    },
    async (request, reply) => {
      const created = await credentials.create(actorOf(request), request.body);
      return reply.status(201).send(created);
    },
  );

  app.get(
    '/credentials',
    {
      schema: {
        tags,
        summary: 'List credentials',
        description: 'Filter by level, customer, auth method, status and health; `search` matches labels case-insensitively.',
        querystring: Type.Object(
          {
            level: Type.Optional(Type.Union([Type.Literal('organization'), Type.Literal('customer')])),
            customerId: Type.Optional(Type.String({ maxLength: 64 })),
            search: Type.Optional(Type.String({ maxLength: 200 })),
            authMethod: Type.Optional(AuthMethodKey),
            status: Type.Optional(CredentialStatus),
            health: Type.Optional(Health),
            sort: Type.Optional(Type.Enum(['created', 'expiresAt'] as const, { description: 'expiresAt: the earliest expiry (expiresAt or clientSecretExpiresAt) first, credentials without one last; default created' })),
            ...PageQuery,
          },
          { additionalProperties: false },
        ),
        response: { 200: pageOf(Credential), ...errorResponses },
      },
    },
    async (request) => credentials.list(actorOf(request), request.query),
  );

  app.get(
    '/credentials/:id',
    { schema: { tags, summary: 'Show a credential (never its secret values)', params: IdParams, response: { 200: Credential, ...errorResponses } } },
    async (request) => credentials.get(actorOf(request), request.params.id),
  );

  app.get(
    '/credentials/:id/health',
    {
      schema: {
        tags,
        summary: "A credential's health and each change of it",
        description: 'The health every credential response carries, with its history: each change, what showed it, and when (newest first, the last 50).',
        params: IdParams,
        response: { 200: CredentialHealth, ...errorResponses },
      },
    },
    async (request) => {
      const { current, history } = await credentials.health(actorOf(request), request.params.id);
      return { ...current, history };
    },
  );

  app.patch(
    '/credentials/:id',
    {
      schema: {
        tags,
        summary: 'Rename a credential or set new field values',
        description:
          'Only the fields sent change. An empty string or null clears an optional field. Changing destinations, or an oauth2 credential\'s auth_uri, token_uri or client_id, needs every secret field in the same request (409 SECRETS_REQUIRED otherwise); an oauth2 URL or client id change also drops the authorization.',
        params: IdParams,
        body: Type.Object(
          {
            label: Type.Optional(Type.String({ maxLength: 200 })),
            fields: Type.Optional(Type.Record(Type.String({ maxLength: 64 }), Type.Union([FieldValue, Type.Null()]))),
            destinations: Type.Optional(Destinations),
            healthCheck: Type.Optional(Type.Union([HealthCheckBody, Type.Null()])),
            expiresAt: Type.Optional(Type.Union([Type.String({ format: 'date-time' }), Type.Null()])),
            clientSecretExpiresAt: Type.Optional(Type.Union([Type.String({ format: 'date-time' }), Type.Null()])),
            contactEmail: Type.Optional(Type.Union([Type.String({ maxLength: 320 }), Type.Null()])),
          },
          { additionalProperties: false },
        ),
        response: { 200: Credential, ...errorResponses },
      },
    },
    async (request) => credentials.update(actorOf(request), request.params.id, request.body),
  );

  app.delete(
    '/credentials/:id',
    {
      schema: {
        tags,
        summary: 'Delete a credential',
        description: 'Send the credential\'s label as `confirm`. Refused while bound to an instance unless `force` is true.',
        params: IdParams,
        body: Type.Object(
          { confirm: Type.String({ maxLength: 200 }), force: Type.Optional(Type.Boolean()) },
          { additionalProperties: false },
        ),
        response: { 204: Type.Null(), ...errorResponses },
      },
    },
    async (request, reply) => {
      await credentials.delete(actorOf(request), request.params.id, request.body);
      return reply.status(204).send(null);
    },
  );

  app.post(
    '/credentials/:id/resolve',
    {
      schema: {
        tags,
        summary: 'Decrypt a credential for a run (runtime role only; audited)',
        params: IdParams,
        response: {
          200: Type.Object({
            id: Type.String(),
            label: Type.String(),
            authMethod: AuthMethodKey,
            level: Type.Union([Type.Literal('organization'), Type.Literal('customer')]),
            customerId: NullableString,
            status: CredentialStatus,
            fields: Type.Record(Type.String(), Type.String(), { description: 'Every field value; for oauth2 also access_token' }),
            token: Type.Union([
              Type.Object({
                accessToken: Type.String(),
                tokenType: Type.String(),
                expiresAt: Type.Union([Timestamp, Type.Null()]),
                scopes: NullableString,
              }),
              Type.Null(),
            ]),
          }),
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      const { credential, values, token } = await credentials.resolve(actorOf(request), request.params.id);
      void reply.header('cache-control', 'no-store');
      const { id, label, authMethod, level, customerId, status } = credential;
      const accessToken = token?.accessToken.reveal();
      return {
        id,
        label,
        authMethod,
        level,
        customerId,
        status,
        fields: { ...values.reveal(), ...(accessToken ? { access_token: accessToken } : {}) },
        token: token && accessToken ? { accessToken, tokenType: token.tokenType, expiresAt: token.expiresAt, scopes: token.scopes } : null,
      };
    },
  );
};
