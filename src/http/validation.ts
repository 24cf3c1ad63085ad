import { Ajv, type Options } from 'ajv';
import addFormats from 'ajv-formats';
import type { FastifySchemaCompiler } from 'fastify';

/**
 * Request validation. Query strings and path parameters are coerced from text (`limit=10`
 * is a number); bodies are not, so a number where a string belongs is refused rather
 * than quietly converted. Unknown properties are refused, never silently dropped.
 */
export const createValidatorCompiler = (): FastifySchemaCompiler<unknown> => {
  const base: Options = { allErrors: false, strict: false, removeAdditional: false, useDefaults: true };
  const body = addFormats.default(new Ajv({ ...base, coerceTypes: false }));
  const text = addFormats.default(new Ajv({ ...base, coerceTypes: 'array' }));
  return ({ schema, httpPart }) => (httpPart === 'body' ? body : text).compile(schema as object);
};
