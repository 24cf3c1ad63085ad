/**
 * Paths pino blanks in every log line. Fastify's request logs carry no headers or
 * bodies; these are the second line of defence for anything logged by hand.
 */
export const LOG_REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'headers.cookie',
  'authorization',
  'password',
  'token',
  'fields',
  '*.password',
  '*.token',
  '*.fields',
  '*.api_key',
  '*.api_secret',
  '*.private_key',
  '*.client_secret',
  '*.access_token',
  '*.refresh_token',
];
