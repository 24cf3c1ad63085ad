import { chmodSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import pg from 'pg';
import { Kysely, Migrator, PostgresDialect, SqliteDialect, sql, type MigrationProvider } from 'kysely';
import type { DatabaseConfig } from '../config/config.js';
import type { Database } from './schema.js';
import { migrations } from './migrations/index.js';

export type Db = Kysely<Database>;
export type Engine = DatabaseConfig['kind'];

export interface StoreHandle {
  db: Db;
  engine: Engine;
  close(): Promise<void>;
}

/** Opens the configured database (SQLite file or PostgreSQL pool). */
export const openDatabase = (config: DatabaseConfig): StoreHandle => {
  if (config.kind === 'sqlite') {
    mkdirSync(dirname(config.file), { recursive: true, mode: 0o700 });
    const sqlite = new SqliteDatabase(config.file);
    // Only ciphertexts live here, but nobody else has business reading it; SQLite gives
    // its -wal and -shm files the same mode.
    chmodSync(config.file, 0o600);
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('synchronous = FULL');
    sqlite.pragma('foreign_keys = ON');
    sqlite.pragma('busy_timeout = 5000');
    const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
    return { db, engine: 'sqlite', close: () => db.destroy() };
  }
  const pool = new pg.Pool({ connectionString: config.url.reveal(), max: 10 });
  // An idle client losing its connection must not crash the process.
  pool.on('error', () => undefined);
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return { db, engine: 'postgres', close: () => db.destroy() };
};

const provider: MigrationProvider = { getMigrations: async () => migrations };

/**
 * Applies every pending migration, in order, each in a transaction. Several processes
 * may start at once: PostgreSQL serialises them with a lock; on SQLite a process that
 * lost the race sees its transaction fail, and tries again once the winner committed.
 */
export const migrateToLatest = async (db: Db, attempts = 3): Promise<void> => {
  const migrator = new Migrator({ db, provider });
  const { error, results } = await migrator.migrateToLatest();
  if (!error) return;
  if (attempts > 1) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    return migrateToLatest(db, attempts - 1);
  }
  const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
  throw new Error(`Database migration ${failed} failed`, { cause: error });
};

/** True when the database answers a trivial query. */
export const pingDatabase = async (db: Db): Promise<boolean> => {
  try {
    await sql`select 1`.execute(db);
    return true;
  } catch {
    return false;
  }
};

/** Runs `work` in one transaction; every store call inside must be given `trx`. */
export type Transact = <T>(work: (trx: Db) => Promise<T>) => Promise<T>;

export const createTransact =
  (db: Db): Transact =>
  (work) =>
    db.transaction().execute(work);
