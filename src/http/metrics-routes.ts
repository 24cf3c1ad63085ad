import { createHash, timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify';
import { AppError, forbidden } from '../common/app-error.js';
import type { Redacted } from '../common/redacted.js';
import { isLoopbackAddress } from '../net/address-policy.js';
import type { Metrics } from '../observability/metrics.js';
import type { ApiTokenService } from '../tenants/api-token-service.js';
import { bearerOf } from './authentication.js';
import { registerErrorHandling } from './errors.js';
import { httpsServerFactory, type TlsFiles } from './tls.js';

export interface MetricsAccess {
  tokens: Pick<ApiTokenService, 'authenticate'>;
  /** `CREDENCE_METRICS_TOKEN`: when set, every scraper must present it (or an org_admin API token). */
  metricsToken?: Redacted<string> | undefined;
}

const digest = (text: string): Buffer => createHash('sha256').update(text).digest();

/**
 * A request straight from this machine. One that carries forwarding headers came through a
 * proxy, and the client behind it may be anywhere.
 */
const FORWARDING_HEADERS = ['forwarded', 'x-forwarded-for', 'x-real-ip'];

const fromLoopback = (request: FastifyRequest): boolean =>
  isLoopbackAddress(request.socket.remoteAddress ?? '') && FORWARDING_HEADERS.every((name) => request.headers[name] === undefined);

/**
 * Who may read `/metrics`. Metrics carry no secrets and no ids, but they do tell how busy
 * the service is, so:
 * - with `CREDENCE_METRICS_TOKEN` set, every request needs `Bearer <that token>` or an
 *   org_admin API token, loopback included;
 * - without it, a scraper on this machine (loopback, not through a proxy) may read them
 *   freely, and anyone else needs an org_admin API token.
 */
const checkAccess = async (request: FastifyRequest, access: MetricsAccess): Promise<void> => {
  const bearer = bearerOf(request.headers.authorization);
  if (bearer === undefined) {
    if (!access.metricsToken && fromLoopback(request)) return;
    throw new AppError('UNAUTHENTICATED', 'Send the metrics token or an org_admin API token as "Authorization: Bearer <token>"');
  }
  // Compared as digests, in constant time, so the comparison says nothing about the token's length or prefix.
  if (access.metricsToken && timingSafeEqual(digest(bearer), digest(access.metricsToken.reveal()))) return;
  const actor = await access.tokens.authenticate(bearer);
  if (!actor) throw new AppError('UNAUTHENTICATED', 'Send the metrics token or an org_admin API token as "Authorization: Bearer <token>"');
  if (actor.role !== 'org_admin') throw forbidden('Only the metrics token or an org_admin API token may read metrics');
};

/**
 * Request durations for every route, and `GET /metrics` in the Prometheus text format.
 * Register on the root instance, before the routes, so the hook sees every request. The
 * route label is the route's pattern, never the URL: URLs can carry an authorization
 * link's token.
 */
export const registerMetrics = (app: FastifyInstance, metrics: Metrics, access: MetricsAccess): void => {
  app.addHook('onResponse', async (request, reply) => {
    metrics.httpRequest(request.method, request.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000);
  });
  app.get('/metrics', { schema: { hide: true } }, async (request, reply) => {
    await checkAccess(request, access);
    void reply.header('cache-control', 'no-store').type(metrics.contentType);
    return metrics.render();
  });
};

/**
 * The whole HTTP surface of a worker-only process (`serve --role worker` with
 * `CREDENCE_METRICS_PORT`): `/metrics`, under the same access rule, and nothing else.
 */
export const buildMetricsApp = async (options: {
  metrics: Metrics;
  access: MetricsAccess;
  loggerInstance: FastifyBaseLogger;
  /** Served over HTTPS with these, like the API: scrapers send a bearer token. */
  https?: TlsFiles | undefined;
}): Promise<FastifyInstance> => {
  const app = Fastify({ loggerInstance: options.loggerInstance, ...(options.https ? { serverFactory: httpsServerFactory(options.https) } : {}) });
  registerErrorHandling(app);
  registerMetrics(app, options.metrics, options.access);
  await app.ready();
  return app;
};
