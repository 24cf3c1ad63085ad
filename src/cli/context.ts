import pino from 'pino';
import { ConfigError, loadConfig, type Config } from '../config/config.js';
import { MasterKeyError } from '../crypto/master-key.js';
import { RootKeyMismatchError } from '../crypto/keyring.js';
import { AppError } from '../common/app-error.js';
import { loggerOptions } from '../http/logging.js';
import { openRuntime, type Runtime } from '../runtime.js';
import type { Actor } from '../tenants/actor.js';

export class CliError extends Error {
  override readonly name = 'CliError';
}

export const createLogger = (config: Pick<Config, 'logLevel'>) =>
  pino(loggerOptions(config.logLevel), pino.destination({ fd: 2, sync: true }));

/** Reads the environment once; a bad configuration is reported in full. */
export const readConfig = (): Config => loadConfig(process.env);

/** Runs a command against an open runtime and always closes it. */
export const withRuntime = async <T>(work: (runtime: Runtime, config: Config) => Promise<T>): Promise<T> => {
  const config = readConfig();
  const runtime = await openRuntime(config, { warn: (message) => process.stderr.write(`warning: ${message}\n`) });
  try {
    return await work(runtime, config);
  } finally {
    await runtime.close();
  }
};

/**
 * The actor for operator commands: an organization admin of the chosen organization.
 * With one organization, `--org` may be left out.
 */
export const operatorActor = async (runtime: Runtime, orgId: string | undefined): Promise<Actor> => {
  const organizations = await runtime.services.tenantStore.listOrganizations();
  const organization = orgId ? organizations.find((org) => org.id === orgId) : organizations.length === 1 ? organizations[0] : undefined;
  if (!organization) {
    if (orgId) throw new CliError(`No organization ${orgId}`);
    throw new CliError(
      organizations.length === 0 ? 'No organization yet: run `credence init --org NAME --admin-email EMAIL` first' : 'Several organizations: choose one with --org',
    );
  }
  return { type: 'cli', id: 'cli', organizationId: organization.id, role: 'org_admin', customerId: null };
};

/** Turns any failure into a clear message on stderr and a non-zero exit code. */
export const reportFailure = (error: unknown): number => {
  if (error instanceof ConfigError) process.stderr.write(`${error.message}\n`);
  else if (error instanceof MasterKeyError || error instanceof RootKeyMismatchError || error instanceof CliError) {
    process.stderr.write(`credence: ${error.message}\n`);
  } else if (error instanceof AppError && error.expose) process.stderr.write(`credence: ${error.code}: ${error.message}\n`);
  else {
    process.stderr.write(`credence: ${error instanceof Error ? error.message : String(error)}\n`);
    return 2;
  }
  return 1;
};

/** Reads all of stdin when it is piped; undefined when it is a terminal or nothing arrives in time. */
export const readStdin = async (waitMs = 2000): Promise<string | undefined> => {
  if (process.stdin.isTTY) return undefined;
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined = setTimeout(() => finish(), waitMs);
    const finish = () => {
      if (timer) clearTimeout(timer);
      timer = undefined;
      process.stdin.off('data', onData).off('end', finish).off('error', finish);
      process.stdin.pause();
      const text = Buffer.concat(chunks).toString('utf8');
      resolve(text === '' ? undefined : text);
    };
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      if (timer) {
        clearTimeout(timer);
        timer = setTimeout(() => finish(), waitMs);
      }
    };
    process.stdin.on('data', onData).on('end', finish).on('error', finish);
  });
};
