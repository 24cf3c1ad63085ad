import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { createSqliteAuditWriter, type AuditWriter } from '../audit/sqlite-audit-writer.js';
import pg from 'pg';
import {
  CompiledQuery,
  Kysely,
  Migrator,
  PostgresDialect,
  SqliteDialect,
  sql,
  type DatabaseConnection,
  type Driver,
  type QueryResult,
  type MigrationProvider,
  type PostgresCursor,
  type PostgresPool,
  type PostgresPoolClient,
  type SqliteDatabase as SqliteDialectDatabase,
} from 'kysely';
import type { DatabaseConfig } from '../config/config.js';
import type { Database } from './schema.js';
import { migrations } from './migrations/index.js';
import { MAIN_THREAD_TAG, writeLockFor, type WriteLock } from './sqlite-write-lock.js';
import { postgresCredentialChanges, sqliteCredentialChanges, type CredentialChangeFeed } from './credential-changes.js';

export type Db = Kysely<Database>;
export type Engine = DatabaseConfig['kind'];

export interface StoreHandle {
  db: Db;
  engine: Engine;
  /** SQLite: the thread that commits standalone audit batches with a connection of its own. */
  auditWriter?: AuditWriter;
  /** How this process learns that stored credentials changed (for the credential cache). */
  credentialChanges: CredentialChangeFeed;
  close(): Promise<void>;
}

/** How many prepared SQLite statements are kept: far more than the queries Credence makes, a bound all the same. */
const STATEMENT_CACHE_SIZE = 1000;

/**
 * Kysely prepares every SQLite query again on each call; preparing costs more than running
 * a lookup by primary key. This keeps prepared statements by their SQL text, least recently
 * used dropped first. Safe because queries are run whole (`all`/`run`), never left iterating.
 */
const statementCache = (sqlite: SqliteDatabase.Database) => {
  const statements = new Map<string, SqliteDatabase.Statement>();
  return (text: string): SqliteDatabase.Statement => {
    let statement = statements.get(text);
    if (statement) statements.delete(text);
    else statement = sqlite.prepare(text);
    statements.set(text, statement);
    if (statements.size > STATEMENT_CACHE_SIZE) statements.delete(statements.keys().next().value as string);
    return statement;
  };
};

/**
 * The one SQLite connection, run through cached statements. A write made outside a
 * transaction queues for the process's write lock first, as a transaction does.
 */
class SqliteConnection implements DatabaseConnection {
  constructor(
    private readonly sqlite: SqliteDatabase.Database,
    private readonly prepare: (text: string) => SqliteDatabase.Statement,
    private readonly lock: WriteLock,
    /** Told of every statement that may write (the credential change counter's reader). */
    private readonly onWrite: () => void,
  ) {}

  /** Runs one statement now, on this thread. */
  run<R>(compiled: CompiledQuery, statement = this.prepare(compiled.sql)): QueryResult<R> {
    const parameters = compiled.parameters as unknown[];
    if (!statement.readonly) this.onWrite();
    if (statement.reader) return { rows: statement.all(parameters) as R[] };
    const { changes, lastInsertRowid } = statement.run(parameters);
    return { numAffectedRows: BigInt(changes), insertId: BigInt(lastInsertRowid), rows: [] };
  }

  async executeQuery<R>(compiled: CompiledQuery): Promise<QueryResult<R>> {
    const statement = this.prepare(compiled.sql);
    if (this.sqlite.inTransaction || statement.readonly) return this.run<R>(compiled, statement);
    await this.lock.acquire(MAIN_THREAD_TAG);
    try {
      return this.run<R>(compiled, statement);
    } finally {
      this.lock.release();
    }
  }

  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('Credence does not stream SQLite queries');
  }
}

/**
 * SQLite transactions queue for the process's write lock (sqlite-write-lock.ts), then start
 * with BEGIN IMMEDIATE, taking SQLite's write lock up front (waiting for another process up
 * to the busy timeout). A plain BEGIN reads first and fails at once with "database is
 * locked" when it then writes after another process (a CLI command beside `credence
 * serve`) committed in between; waiting cannot help it.
 */
class CredenceSqliteDriver implements Driver {
  private readonly connection: SqliteConnection;
  private readonly mutex = new ConnectionMutex();
  private holding = false;

  constructor(
    private readonly sqlite: SqliteDatabase.Database,
    private readonly lock: WriteLock,
    onWrite: () => void,
  ) {
    this.connection = new SqliteConnection(sqlite, statementCache(sqlite), lock, onWrite);
  }

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    await this.mutex.lock();
    return this.connection;
  }

  async beginTransaction(): Promise<void> {
    await this.lock.acquire(MAIN_THREAD_TAG);
    this.holding = true;
    try {
      this.connection.run(CompiledQuery.raw('begin immediate'));
    } catch (error) {
      this.letGo();
      throw error;
    }
  }

  async commitTransaction(): Promise<void> {
    try {
      this.connection.run(CompiledQuery.raw('commit'));
    } finally {
      if (!this.sqlite.inTransaction) this.letGo();
    }
  }

  async rollbackTransaction(): Promise<void> {
    try {
      if (this.sqlite.inTransaction) this.connection.run(CompiledQuery.raw('rollback'));
    } finally {
      if (!this.sqlite.inTransaction) this.letGo();
    }
  }

  async releaseConnection(): Promise<void> {
    this.mutex.unlock();
  }

  async destroy(): Promise<void> {
    this.sqlite.close();
  }

  private letGo(): void {
    if (!this.holding) return;
    this.holding = false;
    this.lock.release();
  }
}

/** SQLite has one connection: callers take turns with it. */
class ConnectionMutex {
  private waiting: Promise<void> | undefined;
  private wake: (() => void) | undefined;

  async lock(): Promise<void> {
    while (this.waiting) await this.waiting;
    this.waiting = new Promise((resolve) => (this.wake = resolve));
  }

  unlock(): void {
    const wake = this.wake;
    this.waiting = undefined;
    this.wake = undefined;
    wake?.();
  }
}

class CredenceSqliteDialect extends SqliteDialect {
  constructor(
    private readonly sqlite: SqliteDatabase.Database,
    private readonly lock: WriteLock,
    private readonly onWrite: () => void,
  ) {
    super({ database: sqlite as unknown as SqliteDialectDatabase });
  }
  override createDriver(): Driver {
    return new CredenceSqliteDriver(this.sqlite, this.lock, this.onWrite);
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
    const lock = writeLockFor(config.file);
    const credentialChanges = sqliteCredentialChanges(sqlite);
    // Any write on this connection may change a credential, whichever code made it.
    const db = new Kysely<Database>({ dialect: new CredenceSqliteDialect(sqlite, lock, () => credentialChanges.changing()) });
    const auditWriter = config.file === ':memory:' ? undefined : createSqliteAuditWriter(config.file, lock);
    return {
      db,
      engine: 'sqlite',
      ...(auditWriter ? { auditWriter } : {}),
      credentialChanges,
      close: async () => {
        await auditWriter?.close();
        await db.destroy();
      },
    };
  }
  const pool = new pg.Pool({ connectionString: config.url.reveal(), max: 10 });
  // An idle client losing its connection must not crash the process.
  pool.on('error', () => undefined);
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: withPreparedStatements(pool) }) });
  const credentialChanges = postgresCredentialChanges(config.url.reveal());
  return {
    db,
    engine: 'postgres',
    credentialChanges,
    close: async () => {
      await credentialChanges.close();
      await db.destroy();
    },
  };
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
