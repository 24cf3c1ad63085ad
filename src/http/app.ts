import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import cookie from '@fastify/cookie';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Redacted } from '../common/redacted.js';
import type { Services } from '../services.js';
import { apiTokenRoutes } from './api-token-routes.js';
import { auditRoutes } from './audit-routes.js';
import { webhookRoutes } from './webhook-routes.js';
import { keyRoutes } from './key-routes.js';
import { authMethodRoutes } from './auth-method-routes.js';
import { cookieSettings, requireAuthentication } from './authentication.js';
import rateLimit from '@fastify/rate-limit';
import { sessionPublicRoutes, sessionRoutes } from './session-routes.js';
import { registerWebApp } from './web-app.js';
import { credentialRoutes } from './credential-routes.js';
import { customerRoutes } from './customer-routes.js';
import { integrationRoutes } from './integration-routes.js';
import { registerErrorHandling } from './errors.js';
import { healthRoutes } from './health-routes.js';
import { AccessLog, loggerOptions } from './logging.js';
import { registerSecurityHeaders } from './security-headers.js';
import { registerMetrics } from './metrics-routes.js';
import { oauthApiRoutes, oauthPublicRoutes } from './oauth-routes.js';
import { createValidatorCompiler } from './validation.js';
import { registerInputGuards } from './input-guards.js';
import { DEFAULT_SERVER_TIMEOUTS, httpServerFactory, httpsServerFactory, type ServerTimeouts, type TlsFiles } from './tls.js';

export const BODY_LIMIT = 1024 * 1024;

export interface AppOptions {
  services: Services;
  isReady: () => Promise<boolean>;
  publicUrl: string;
  /** A pino logger to use; otherwise `logger` options (false for silence). */
  loggerInstance?: FastifyBaseLogger;
  logger?: boolean | ReturnType<typeof loggerOptions>;
  version?: string;
  /** `CREDENCE_METRICS_TOKEN`: see `registerMetrics` for who may read /metrics. */
  metricsToken?: Redacted<string> | undefined;
  /** Serve HTTPS with this certificate and key (`CREDENCE_TLS_CERT`/`CREDENCE_TLS_KEY`). */
  https?: TlsFiles | undefined;
  /** How long clients may take (`CREDENCE_REQUEST_TIMEOUT_MS` and friends). */
  timeouts?: ServerTimeouts | undefined;
  /** `CREDENCE_SIGN_INS_PER_MINUTE`: sign-in attempts per client address and minute (10). */
  signInsPerMinute?: number | undefined;
}

/** Builds the HTTP app without listening, so tests can drive it with `inject`. */
export const buildApp = async (options: AppOptions) => {
  const { services } = options;
  const app = Fastify({
    ...(options.loggerInstance ? { loggerInstance: options.loggerInstance } : { logger: options.logger ?? loggerOptions('info') }),
    bodyLimit: BODY_LIMIT,
    genReqId: (request) => {
      const given = request.headers['x-request-id'];
      return typeof given === 'string' && /^[\w-]{1,64}$/.test(given) ? given : randomUUID();
    },
    routerOptions: { maxParamLength: 200 },
    return503OnClosing: true,
    // One access line per request, written when it is answered.
    logController: new AccessLog(),
    connectionTimeout: (options.timeouts ?? DEFAULT_SERVER_TIMEOUTS).idleTimeoutMs,
    serverFactory: options.https ? httpsServerFactory(options.https, options.timeouts) : httpServerFactory(options.timeouts ?? DEFAULT_SERVER_TIMEOUTS),
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.setValidatorCompiler(createValidatorCompiler());
  registerInputGuards(app);
  // Security headers everywhere; each page kind sets its own Content-Security-Policy.
  registerSecurityHeaders(app);
  // Limits apply where a route asks for one: sign-in, authorization links, the callback.
  await app.register(rateLimit, { global: false });
  registerErrorHandling(app, await registerWebApp(app));
  registerMetrics(app, services.metrics, { tokens: services.tokens, metricsToken: options.metricsToken });

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Credence API',
        version: options.version ?? '0.1.0',
        description: 'Credential manager for integration platforms. Authenticate with `Authorization: Bearer <API token>`.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });
  // The docs pages get a strict CSP of their own: the UI's inline scripts by hash, nothing from
  // other origins, not framable. Mixed-content upgrades are left out so plain-http loopback works.
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    staticCSP: true,
    transformStaticCSP: (header) =>
      `${header
        .replace(/\s*upgrade-insecure-requests;?/, '')
        .replace(/ https:/g, '')
        .replace("frame-ancestors 'self'", "frame-ancestors 'none'")
        .trim()} form-action 'self'; connect-src 'self';`,
  });

  await app.register(cookie);
  const sessionCookie = cookieSettings(options.publicUrl, 'credence-session');
  await app.register(healthRoutes, { isReady: options.isReady });
  await app.register(oauthPublicRoutes, { authorization: services.authorization, publicUrl: options.publicUrl });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  await app.register(
    async (api) => {
      await api.register(authMethodRoutes);
      await api.register(sessionPublicRoutes, { sessions: services.sessions, cookie: sessionCookie, signInsPerMinute: options.signInsPerMinute ?? 10 });
      await api.register(async (authed) => {
        requireAuthentication(authed, { tokens: services.tokens, sessions: services.sessions, sessionCookie: sessionCookie.name });
        await authed.register(sessionRoutes, { sessions: services.sessions, cookie: sessionCookie });
        await authed.register(customerRoutes, { customers: services.customers });
        await authed.register(credentialRoutes, { credentials: services.credentials, tests: services.credentialTests, instances: services.instances });
        await authed.register(integrationRoutes, {
          components: services.components,
          integrations: services.integrations,
          instances: services.instances,
          runs: services.runs,
        });
        await authed.register(apiTokenRoutes, { tokens: services.tokens });
        await authed.register(auditRoutes, { audit: services.audit });
        await authed.register(oauthApiRoutes, { authorization: services.authorization, emailPolicy: services.emailPolicy, credentials: services.credentials });
        await authed.register(keyRoutes, { keys: services.keys });
        await authed.register(webhookRoutes, { webhooks: services.webhooks });
      });
    },
    { prefix: '/api/v1' },
  );

  return app;
};
