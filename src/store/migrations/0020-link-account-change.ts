import type { Kysely } from 'kysely';

/**
 * A reconnect must come back for the provider account the credential was first authorized
 * for; a link issued with `allowAccountChange` may attach another one.
 */
export const up = async (db: Kysely<unknown>): Promise<void> => {
  await db.schema.alterTable('oauth_links').addColumn('allow_account_change', 'integer', (c) => c.notNull().defaultTo(0)).execute();
};
