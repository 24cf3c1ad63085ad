import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { Redacted } from '../../src/common/redacted.js';
import type { DatabaseConfig } from '../../src/config/config.js';

export const ENGINES = ['sqlite', 'postgres'] as const;
export type EngineName = (typeof ENGINES)[number];

export interface TestDatabase {
  engine: EngineName;
  config: DatabaseConfig;
  /** For PostgreSQL: the URL of this test's own database. */
  url?: string;
  /** A directory the test may use as CREDENCE_DATA_DIR (holds the SQLite file). */
  dataDir: string;
  drop(): Promise<void>;
}

/** The PostgreSQL server tests use; `npm test` finds or starts one and sets this. */
export const testDatabaseUrl = (): string => {
  const url = process.env.TEST_DATABASE_URL;
  if (!url) {
    throw new Error(
      'TEST_DATABASE_URL is not set. Run the tests with `npm test`, which starts PostgreSQL, or set TEST_DATABASE_URL to a server where tests may create databases.',
    );
  }
  return url;
};

/** A fresh, empty database of the given engine, removed by `drop`. */
export const createTestDatabase = async (engine: EngineName): Promise<TestDatabase> => {
  const dataDir = await mkdtemp(join(tmpdir(), 'credence-test-'));
  if (engine === 'sqlite') {
    return {
      engine,
      dataDir,
      config: { kind: 'sqlite', file: join(dataDir, 'credence.sqlite') },
      drop: () => rm(dataDir, { recursive: true, force: true }),
    };
  }
  const adminUrl = testDatabaseUrl();
  const name = `credence_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    engine,
    dataDir,
    url: url.href,
    config: { kind: 'postgres', url: new Redacted(url.href) },
    async drop() {
      const client = new pg.Client({ connectionString: adminUrl });
      await client.connect();
      try {
        await client.query(`drop database if exists ${name} with (force)`);
      } finally {
        await client.end();
      }
      await rm(dataDir, { recursive: true, force: true });
    },
  };
};
