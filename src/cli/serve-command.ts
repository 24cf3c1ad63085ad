import { buildApp } from '../http/app.js';
import { buildMetricsApp } from '../http/metrics-routes.js';
import { openRuntime } from '../runtime.js';
import { CliError, createLogger, readConfig } from './context.js';
import { readTlsFiles } from './tls-files.js';

export const SERVE_ROLES = ['all', 'api', 'worker'] as const;
export type ServeRole = (typeof SERVE_ROLES)[number];

/**
 * `credence serve`: the API on HOST:PORT and the token refresh worker, or one of the
 * two with `--role api|worker`. Runs until SIGINT or SIGTERM.
 */
export const serve = async (options: { role?: string }): Promise<void> => {
  const role = (options.role ?? 'all') as ServeRole;
  if (!SERVE_ROLES.includes(role)) throw new CliError(`--role must be one of ${SERVE_ROLES.join(', ')}`);
  const config = readConfig();
  const log = createLogger(config);
  // A worker has no API port; with CREDENCE_METRICS_PORT it still answers /metrics, over TLS when configured.
  const metricsPort = role === 'worker' ? config.metricsPort : undefined;
  const https = role === 'worker' && metricsPort === undefined ? undefined : readTlsFiles(config);
  const runtime = await openRuntime(config, { warn: (message) => log.warn(message) });
  const app =
    role === 'worker'
      ? undefined
      : await buildApp({ services: runtime.services, isReady: runtime.isReady, loggerInstance: log, publicUrl: config.publicUrl, metricsToken: config.metricsToken, https, timeouts: config.timeouts, signInsPerMinute: config.signInsPerMinute });
  const metricsApp =
    metricsPort === undefined
      ? undefined
      : await buildMetricsApp({ metrics: runtime.services.metrics, access: { tokens: runtime.services.tokens, metricsToken: config.metricsToken }, loggerInstance: log, https });

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    await app?.close();
    await metricsApp?.close();
    await runtime.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));

  if (app) {
    try {
      await app.listen({ host: config.host, port: config.port });
    } catch (error) {
      await runtime.close();
      throw error;
    }
  }
  if (metricsApp && metricsPort !== undefined) {
    try {
      await metricsApp.listen({ host: config.host, port: metricsPort });
    } catch (error) {
      await runtime.close();
      throw error;
    }
  }
  if (role !== 'api') {
    runtime.services.refreshWorker.start(log.child({ component: 'refresh-worker' }));
    runtime.services.healthCheckWorker.start(log.child({ component: 'health-check-worker' }));
    runtime.services.webhookWorker.start(log.child({ component: 'webhook-worker' }));
    runtime.services.expiryWatch.start(log.child({ component: 'expiry-watch' }));
    runtime.services.alertMailer.start(log.child({ component: 'alert-mailer' }));
    runtime.services.keyRotationWorker.start(log.child({ component: 'key-rotation-worker' }));
    runtime.services.runRetention.start(log.child({ component: 'run-retention' }));
  }

  const database = config.database.kind === 'sqlite' ? `SQLite at ${config.database.file}` : 'PostgreSQL';
  if (app) log.info(`Credence is serving ${config.publicUrl} (${database}, role ${role}); API docs at ${config.publicUrl}/docs`);
  else log.info(`Credence refresh worker started (${database})`);
  log.info(`OAuth redirect URI to register with providers: ${runtime.services.authorization.redirectUri}`);
  if ((await runtime.services.tenantStore.listOrganizations()).length === 0) {
    log.info('No organization yet: run `npx credence init --org NAME --admin-email EMAIL` to create one and get an API token');
  }
};
