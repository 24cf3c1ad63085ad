import { buildApp } from '../http/app.js';
import { openRuntime } from '../runtime.js';
import { createLogger, readConfig } from './context.js';

/** `credence serve`: the API on HOST:PORT until SIGINT or SIGTERM. */
export const serve = async (): Promise<void> => {
  const config = readConfig();
  const log = createLogger(config);
  const runtime = await openRuntime(config, { warn: (message) => log.warn(message) });
  const app = await buildApp({ services: runtime.services, isReady: runtime.isReady, loggerInstance: log });

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    await app.close();
    await runtime.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));

  try {
    await app.listen({ host: config.host, port: config.port });
  } catch (error) {
    await runtime.close();
    throw error;
  }
  const database = config.database.kind === 'sqlite' ? `SQLite at ${config.database.file}` : 'PostgreSQL';
  log.info(`Credence is serving ${config.publicUrl} (${database}); API docs at ${config.publicUrl}/docs`);
  if ((await runtime.services.tenantStore.listOrganizations()).length === 0) {
    log.info('No organization yet: run `npx credence init --org NAME --admin-email EMAIL` to create one and get an API token');
  }
};
