import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, isAppError, type ErrorCode } from '../common/app-error.js';

const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'VALIDATION_FAILED',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_INVALID_JSON_BODY: 'INVALID_JSON',
};

/** Turns any error into the one error body. Only exposed errors say what went wrong. */
export const toAppError = (error: FastifyError | Error): AppError => {
  if (isAppError(error)) return error;
  const fastifyError = error as FastifyError;
  if (fastifyError.validation) {
    const context = fastifyError.validationContext ?? 'request';
    const detail = fastifyError.validation
      .slice(0, 5)
      .map((issue) => `${context}${issue.instancePath || ''} ${issue.message ?? 'is invalid'}`.trim())
      .join('; ');
    return new AppError('VALIDATION_FAILED', detail);
  }
  const mapped = fastifyError.code ? FASTIFY_CODES[fastifyError.code] : undefined;
  if (mapped) return new AppError(mapped, mappedMessage(mapped));
  if (error instanceof SyntaxError && fastifyError.statusCode === 400) return new AppError('INVALID_JSON', mappedMessage('INVALID_JSON'));
  if (fastifyError.statusCode === 429) return new AppError('RATE_LIMITED', 'Too many requests; slow down');
  if (fastifyError.statusCode !== undefined && fastifyError.statusCode >= 400 && fastifyError.statusCode < 500) {
    return new AppError('VALIDATION_FAILED', 'The request is not valid');
  }
  return new AppError('INTERNAL', 'Internal error', { cause: error });
};

const mappedMessage = (code: ErrorCode): string =>
  ({
    PAYLOAD_TOO_LARGE: 'The request body is larger than 1 MiB',
    UNSUPPORTED_MEDIA_TYPE: 'Send the request body as application/json',
    INVALID_JSON: 'The request body is not valid JSON',
  })[code as string] ?? 'The request is not valid';

export const registerErrorHandling = (
  app: FastifyInstance,
  /** Serves the web app for its own routes; true when it answered. */
  webApp?: (request: FastifyRequest, reply: FastifyReply) => boolean,
): void => {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const appError = toAppError(error);
    if (appError.expose) {
      request.log.info({ code: appError.code }, 'request refused');
    } else {
      request.log.error({ err: error }, 'request failed');
    }
    const message = appError.expose ? appError.message : 'Internal error';
    const code = appError.expose ? appError.code : 'INTERNAL';
    if (appError.expose && appError.retryAfterSeconds !== undefined) void reply.header('retry-after', String(appError.retryAfterSeconds));
    void reply.status(appError.status).send({ error: { code, message } });
  });

  app.setNotFoundHandler((request, reply) => {
    if (webApp?.(request, reply)) return;
    void reply.status(404).send({ error: { code: 'NOT_FOUND', message: `No route for ${request.method} on this path` } });
  });
};
