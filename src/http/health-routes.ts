import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { AppError } from '../common/app-error.js';

/** `/healthz`: the process is up. `/readyz`: the database answers and the keys are loaded. */
export const healthRoutes: FastifyPluginAsyncTypebox<{ isReady: () => Promise<boolean> }> = async (app, { isReady }) => {
  const Status = Type.Object({ status: Type.String() });
  app.get('/healthz', { schema: { tags: ['health'], security: [], response: { 200: Status } } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { tags: ['health'], security: [], response: { 200: Status } } }, async () => {
    if (!(await isReady())) throw new AppError('NOT_READY', 'Not ready: the database does not answer');
    return { status: 'ready' };
  });
};
