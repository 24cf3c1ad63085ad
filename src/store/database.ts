import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import pg from 'pg';
import {
  CompiledQuery,
  Kysely,
  Migrator,
  PostgresDialect,
  SqliteDialect,
  SqliteDriver,
  sql,
  type DatabaseConnection,
  type MigrationProvider,
  type PostgresCursor,
  type PostgresPool,
  type PostgresPoolClient,
  type SqliteDatabase as SqliteDialectDatabase,
} from 'kysely';
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

/** How many prepared SQLite statements are kept: far more than the queries Credence makes, a bound all the same. */
const STATEMENT_CACHE_SIZE = 1000;

/**
 * Kysely prepares every SQLite query again on each call; preparing costs more than running
 * a lookup by primary key. This keeps prepared statements by their SQL text, least recently
 * used dropped first. Safe because queries are run whole (`all`/`run`), never left iterating.
 */
const withStatementCache = (sqlite: SqliteDatabase.Database): SqliteDialectDatabase => {
  const statements = new Map<string, SqliteDatabase.Statement>();
  return {
    close: () => sqlite.close(),
    prepare(text: string) {
      let statement = statements.get(text);
      if (statement) statements.delete(text);
      else statement = sqlite.prepare(text);
      statements.set(text, statement);
      if (statements.size > STATEMENT_CACHE_SIZE) statements.delete(statements.keys().next().value as string);
      return statement;
    },
  };
};

/**
 * SQLite transactions start with BEGIN IMMEDIATE, taking the write lock up front (waiting
 * for it up to the busy timeout). A plain BEGIN reads first and fails at once with "database
 * is locked" when it then writes after another process (a CLI command beside `credence
 * serve`) committed in between; waiting cannot help it.
 */
class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}

class ImmediateSqliteDialect extends SqliteDialect {
  constructor(private readonly settings: ConstructorParameters<typeof SqliteDialect>[0]) {
    super(settings);
  }
  override createDriver() {
    return new ImmediateSqliteDriver(this.settings);
  }
}

/** How many distinct statements one process prepares on PostgreSQL; later ones run unprepared. */
const PREPARED_STATEMENT_LIMIT = 500;

/**
 * PostgreSQL: data queries (those with parameters) run as named prepared statements, so the
 * server parses and plans each once per connection instead of on every call. Names come
 * from the SQL text; past PREPARED_STATEMENT_LIMIT distinct texts (lists of varying
 * length), queries run unprepared. A prepared statement invalidated by a schema change made
 * by a newer process ("cached plan must not change result type") is run once more unprepared,
 * and its connection is closed rather than returned to the pool.
 */
const withPreparedStatements = (pool: pg.Pool): PostgresPool => {
  const names = new Map<string, string>();
  const nameOf = (text: string): string | undefined => {
    let name = names.get(text);
    if (name === undefined && names.size < PREPARED_STATEMENT_LIMIT) {
      name = `credence_${createHash('sha256').update(text).digest('hex').slice(0, 24)}`;
      names.set(text, name);
    }
    return name;
  };
  return {
    async connect() {
      const client = await pool.connect();
      // A connection whose prepared statements a schema change made stale is closed on release.
      let stale = false;
      const query = async (text: string, values: unknown[]) => {
        const name = values.length > 0 ? nameOf(text) : undefined;
        if (!name) return client.query(text, values);
        try {
          return await client.query({ name, text, values });
        } catch (error) {
          if ((error as { code?: string }).code !== '0A000') throw error;
          stale = true;
          // Outside a transaction this answers; inside one, PostgreSQL has aborted it and the first error stands.
          return client.query(text, values).catch(() => Promise.reject(error));
        }
      };
      return {
        query: ((textOrCursor: string | PostgresCursor<unknown>, values?: readonly unknown[]) =>
          typeof textOrCursor === 'string' ? query(textOrCursor, [...(values ?? [])]) : client.query(textOrCursor as never)) as unknown as PostgresPoolClient['query'],
        release: (destroy?: boolean) => client.release(destroy === true || stale),
      };
    },
    end: () => pool.end(),
  };
};

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
    const db = new Kysely<Database>({ dialect: new ImmediateSqliteDialect({ database: withStatementCache(sqlite) }) });
    return { db, engine: 'sqlite', close: () => db.destroy() };
  }
  const pool = new pg.Pool({ connectionString: config.url.reveal(), max: 10 });
  // An idle client losing its connection must not crash the process.
  pool.on('error', () => undefined);
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: withPreparedStatements(pool) }) });
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
