import { randomBytes } from 'node:crypto';
import { operatorActor } from '../../src/cli/context.js';
import { Redacted } from '../../src/common/redacted.js';
import { loadConfig, type Config } from '../../src/config/config.js';
import { openRuntime, type Runtime } from '../../src/runtime.js';
import type { Actor } from '../../src/tenants/actor.js';
import { createTestDatabase, type EngineName, type TestDatabase } from '../../test/support/databases.js';

export type { EngineName };

export const DEFAULT_POSTGRES_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

/**
 * The PostgreSQL server the benchmarks create throwaway databases on: BENCH_DATABASE_URL,
 * else TEST_DATABASE_URL, else a local server. DATABASE_URL is deliberately not used: it
 * names a real deployment's database.
 */
export const postgresServerUrl = (): string => process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? DEFAULT_POSTGRES_URL;

/** A fresh, empty database (a temporary SQLite file, or a new PostgreSQL database), removed by `drop`. */
export const createBenchDatabase = (engine: EngineName): Promise<TestDatabase> => {
  process.env.TEST_DATABASE_URL = postgresServerUrl();
  return createTestDatabase(engine);
};

export interface BenchEnvironment {
  engine: EngineName;
  database: TestDatabase;
  config: Config;
  /** The environment a `credence` process needs to share this database. */
  env: Record<string, string>;
  masterKey: string;
  runtime: Runtime;
  organizationId: string;
  adminToken: string;
  /** An org_admin operator, for calling services directly. */
  admin: Actor;
  close(): Promise<void>;
}

/** Opens Credence (migrated, keys loaded) on a throwaway database with one organization. */
export const openBenchEnvironment = async (engine: EngineName, extraEnv: Record<string, string> = {}): Promise<BenchEnvironment> => {
  const database = await createBenchDatabase(engine);
  const masterKey = randomBytes(32).toString('base64');
  const env: Record<string, string> = {
    CREDENCE_DATA_DIR: database.dataDir,
    CREDENCE_MASTER_KEY: masterKey,
    CREDENCE_ALLOW_INSECURE_LOOPBACK: 'true',
    ...(database.url ? { DATABASE_URL: database.url } : {}),
    ...extraEnv,
  };
  let runtime: Runtime | undefined;
  try {
    const config = loadConfig(env);
    runtime = await openRuntime(config, { warn: () => undefined });
    const setUp = await runtime.services.organizations.setUp({
      name: 'Bench Integrations',
      adminEmail: `bench-${randomBytes(4).toString('hex')}@example.test`,
      adminPassword: new Redacted(randomBytes(16).toString('hex')),
    });
    const organizationId = setUp.organization.id;
    const opened = runtime;
    return {
      engine,
      database,
      config,
      env,
      masterKey,
      runtime,
      organizationId,
      adminToken: setUp.apiToken.reveal(),
      admin: { type: 'cli', id: 'bench', organizationId, role: 'org_admin', customerId: null },
      async close() {
        await opened.close();
        await database.drop();
      },
    };
  } catch (error) {
    await runtime?.close();
    await database.drop();
    throw error;
  }
};

/** Walks every organization's audit chain, as `credence audit verify` does: events checked, and whether all verify. */
export const verifyAuditChains = async (runtime: Runtime): Promise<{ ok: boolean; events: number }> => {
  let ok = true;
  let events = 0;
  for (const organization of await runtime.services.tenantStore.listOrganizations()) {
    const report = await runtime.services.audit.verify(await operatorActor(runtime, organization.id));
    ok &&= report.ok;
    events += report.events;
  }
  return { ok, events };
};
