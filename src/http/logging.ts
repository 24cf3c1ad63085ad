import { LogController, type FastifyReply, type FastifyRequest } from 'fastify';

/**
 * Paths pino blanks in every log line. Fastify's request logs carry no headers or
 * bodies; these are the second line of defence for anything logged by hand.
 */
const SECRET_NAMES = ['authorization', 'cookie', 'password', 'token', 'fields', 'api_key', 'api_secret', 'private_key', 'client_secret', 'access_token', 'refresh_token'];
/** Where a hand-written log call could put one: at the top, or one level down in the objects Credence logs. */
const SECRET_PARENTS = ['', 'req.headers.', 'headers.', 'body.', 'values.', 'input.', 'err.'];

/**
 * Every path is spelled out (no wildcards), so pino's redaction costs a few property
 * lookups per line rather than a walk of the object.
 */
export const LOG_REDACT_PATHS = SECRET_PARENTS.flatMap((parent) => SECRET_NAMES.map((name) => `${parent}${name}`));

/**
 * URLs can carry secrets: an authorization link's token in its path, an authorization
 * code and state in the callback's query. Logs get the path with those blanked and no
 * query string at all.
 */
export const TOKEN_BEARING_PATHS = ['/oauth2/authorize/:linkToken', '/invite/:token', '/api/v1/invitations/:token/accept'];

// Each path's prefix up to its last parameter, tolerant of repeated slashes and case, so a
// request the router refuses (`//invite/<token>`) is still blanked.
const TOKEN_PATTERNS = TOKEN_BEARING_PATHS.map((pattern) => {
  const segments = pattern.split('/').filter(Boolean);
  const last = segments.findLastIndex((segment) => segment.startsWith(':'));
  const prefix = segments.slice(0, last + 1).map((segment) => (segment.startsWith(':') ? '[^/]+' : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  return { regex: new RegExp(`^/+${prefix.join('/+')}`, 'i'), replacement: `/${segments.slice(0, last + 1).map((s) => (s.startsWith(':') ? '[redacted]' : s)).join('/')}` };
});

export const redactUrl = (url: string): string => {
  const path = url.split('?')[0] ?? '';
  for (const { regex, replacement } of TOKEN_PATTERNS) if (regex.test(path)) return path.replace(regex, replacement);
  return path;
};

const serializeRequest = (request: FastifyRequest) => ({
  method: request.method,
  url: redactUrl(request.url),
  remoteAddress: request.ip,
});

/**
 * One line per request, written when it has been answered: method, blanked path, client
 * address, status and time taken — instead of fastify's two (incoming, completed).
 */
export class AccessLog extends LogController {
  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const line = { req: request, res: { statusCode: reply.statusCode }, responseTime: reply.elapsedTime };
    if (error) request.log.error({ ...line, err: error }, 'request errored');
    else request.log.info(line, 'request completed');
  }
}

/** Logger options for every Credence process: redaction and URL-safe request lines. */
export const loggerOptions = (level: string) => ({
  level,
  redact: LOG_REDACT_PATHS,
  serializers: { req: serializeRequest },
});
