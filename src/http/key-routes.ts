import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { KeyRotationService } from '../crypto/key-rotation-service.js';
import { JOB_STATUSES, type RotationJob } from '../crypto/rotation-job-store.js';
import { actorOf } from './authentication.js';
import { IdParams, NullableString, PageQuery, Timestamp, errorResponses, pageOf } from './schemas.js';

const tags = ['keys'];

const ROOT_KEY_NOTE =
  'Rotating the root key is deliberately not in the API: the root key must never travel over HTTP. ' +
  'Operators run `credence keys rotate-root` on a host that holds the key (see the README, "Key lifecycle").';

const KeyVersion = Type.Object({
  version: Type.Integer(),
  createdAt: Timestamp,
  retiredAt: Type.Union([Timestamp, Type.Null()]),
  encryptionCount: Type.Integer({ description: 'Values sealed under this version so far (written down in batches)' }),
});

const ScopeKeys = Type.Object({
  scopeId: Type.String({ description: 'The organization id, or a customer id' }),
  level: Type.Union([Type.Literal('organization'), Type.Literal('customer')]),
  currentVersion: Type.Integer({ description: 'The version new writes use' }),
  createdAt: Timestamp,
  encryptionCount: Type.Integer(),
  versions: Type.Array(KeyVersion),
});

const Job = Type.Object({
  id: Type.String(),
  scopeId: Type.String(),
  version: Type.Integer({ description: 'The key version the rotation created' }),
  reason: Type.Union([Type.Literal('manual'), Type.Literal('automatic')]),
  status: Type.Enum(JOB_STATUSES),
  done: Type.Integer({ description: 'Rows re-encrypted so far' }),
  total: Type.Integer({ description: 'Rows of the scope holding sealed values' }),
  failed: Type.Integer({ description: 'Rows left holding a value under an older version, because it could not be opened' }),
  createdAt: Timestamp,
  finishedAt: Type.Union([Timestamp, Type.Null()]),
  error: NullableString,
});

const toJob = (job: RotationJob) => ({
  id: job.id,
  scopeId: job.scopeId,
  version: job.targetVersion,
  reason: job.reason,
  status: job.status,
  done: job.done,
  total: Math.max(job.total, job.done),
  failed: job.failed,
  createdAt: job.createdAt,
  finishedAt: job.finishedAt,
  error: job.error,
});

/** `/keys`: data-key rotation of the organization's scopes, for organization admins. */
export const keyRoutes: FastifyPluginAsyncTypebox<{ keys: KeyRotationService }> = async (app, { keys }) => {
  app.get(
    '/keys',
    {
      schema: {
        tags,
        summary: "The organization's key scopes with their data-key versions",
        description: `One entry per scope: the organization, and each customer. ${ROOT_KEY_NOTE}`,
        querystring: Type.Object({ ...PageQuery }, { additionalProperties: false }),
        response: { 200: pageOf(ScopeKeys), ...errorResponses },
      },
    },
    async (request) => keys.listScopes(actorOf(request), request.query),
  );

  app.post(
    '/keys/rotate',
    {
      schema: {
        tags,
        summary: "Rotate a scope's data key",
        description:
          'Creates the next data-key version of the scope (the organization unless `scope` names one of its customers); ' +
          'new writes use it at once. A background job re-encrypts the scope\'s values and then retires the older versions, ' +
          `which stay readable until then. Follow it at GET /keys/jobs/{id}. ${ROOT_KEY_NOTE}`,
        body: Type.Object({ scope: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })) }, { additionalProperties: false }),
        response: {
          202: Type.Object({ jobId: Type.String(), scopeId: Type.String(), version: Type.Integer(), status: Type.Enum(JOB_STATUSES) }),
          ...errorResponses,
        },
      },
      // The body is optional: a bare POST rotates the organization scope.
      preValidation: async (request) => {
        request.body ??= {};
      },
    },
    async (request, reply) => {
      const job = await keys.rotate(actorOf(request), { scope: request.body.scope });
      return reply.status(202).send({ jobId: job.id, scopeId: job.scopeId, version: job.targetVersion, status: job.status });
    },
  );

  app.get(
    '/keys/jobs/:id',
    { schema: { tags, summary: 'Progress of a key rotation job', params: IdParams, response: { 200: Job, ...errorResponses } } },
    async (request) => toJob(await keys.job(actorOf(request), request.params.id)),
  );
};
