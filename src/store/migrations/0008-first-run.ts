import type { Kysely } from 'kysely';

/**
 * A one-row marker that the first-run setup has happened. Its primary key makes two
 * setups racing each other collide, so only one of them creates an organization.
 */
export const up = async (db: Kysely<unknown>): Promise<void> => {
  await db.schema
    .createTable('setup_marks')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('done_at', 'text', (c) => c.notNull())
    .execute();
};
