import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redacted } from '../../src/common/redacted.js';
import { migrateToLatest, openDatabase, type StoreHandle } from '../../src/store/database.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';

// On PostgreSQL, queries with parameters run as named prepared statements. A newer process
// changing the schema under them (a rolling upgrade) must not break the older ones.

describe('prepared statements on PostgreSQL', () => {
  let database: TestDatabase;
  let handle: StoreHandle;

  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    handle = openDatabase({ kind: 'postgres', url: new Redacted(database.url ?? '') });
    await migrateToLatest(handle.db);
    await handle.db.insertInto('organizations').values({ id: 'org_p', name: 'Prepared', created_at: new Date().toISOString() }).execute();
  });
  afterAll(async () => {
    await handle?.close();
    await database?.drop();
  });

  const find = () => handle.db.selectFrom('organizations').selectAll().where('id', '=', 'org_p').executeTakeFirst();

  it('prepares a query with parameters once and runs it by name after', async () => {
    await handle.db.connection().execute(async (connection) => {
      const once = await connection.selectFrom('organizations').selectAll().where('id', '=', 'org_p').executeTakeFirst();
      const again = await connection.selectFrom('organizations').selectAll().where('id', '=', 'org_p').executeTakeFirst();
      expect(again).toEqual(once);
      const { rows } = await sql<{ name: string }>`select name from pg_prepared_statements where name like ${'credence_%'}`.execute(connection);
      expect(rows.length).toBeGreaterThanOrEqual(1);
    });
  });

  it('answers a prepared query again after another process added a column to its table', async () => {
    for (let i = 0; i < 12; i += 1) expect((await find())?.name).toBe('Prepared');
    const other = new pg.Client({ connectionString: database.url });
    await other.connect();
    try {
      await other.query('alter table organizations add column rolled_out text');
    } finally {
      await other.end();
    }
    for (let i = 0; i < 12; i += 1) expect(await find()).toMatchObject({ name: 'Prepared', rolled_out: null });
  });
});
