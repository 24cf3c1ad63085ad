import { PostgresAdapter, sql, type Kysely } from 'kysely';

/**
 * A trigram index for label search on PostgreSQL. Search is a case-insensitive substring
 * match (`label_search LIKE '%term%'`), which no B-tree can serve: without this index every
 * search reads all of an organization's credentials. With pg_trgm's GIN index, a search of
 * three characters or more reads only the rows whose labels share its trigrams.
 *
 * pg_trgm ships with PostgreSQL and is a trusted extension (13+): a user allowed to create
 * objects in the database may install it. Where it cannot be installed, the migration leaves
 * search unindexed (still correct, only slower) rather than failing. SQLite has no such
 * index; it is the engine for small installations.
 */
export const up = async (db: Kysely<unknown>): Promise<void> => {
  if (!(db.getExecutor().adapter instanceof PostgresAdapter)) return;
  const installed = await sql<{ present: boolean }>`select exists (select 1 from pg_extension where extname = 'pg_trgm') as present`.execute(db);
  if (!installed.rows[0]?.present) {
    // A failed statement would abort the migration's transaction: try behind a savepoint.
    await sql`savepoint install_pg_trgm`.execute(db);
    try {
      await sql`create extension if not exists pg_trgm`.execute(db);
      await sql`release savepoint install_pg_trgm`.execute(db);
    } catch {
      await sql`rollback to savepoint install_pg_trgm`.execute(db);
      return;
    }
  }
  await sql`create index if not exists credentials_label_search_trgm on credentials using gin (label_search gin_trgm_ops)`.execute(db);
};
