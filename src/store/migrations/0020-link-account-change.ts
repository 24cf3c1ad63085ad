import { sql, type Kysely } from 'kysely';

/**
 * A reconnect must come back for the provider account the credential was first authorized
 * for; a link issued with `allowAccountChange` may attach another one. `expiry_notified_at`:
 * when authorization_link.expired went out for a link that expired unused (once).
 */
export const up = async (db: Kysely<unknown>): Promise<void> => {
  await db.schema.alterTable('oauth_links').addColumn('allow_account_change', 'integer', (c) => c.notNull().defaultTo(0)).execute();
  await db.schema.alterTable('oauth_links').addColumn('expiry_notified_at', 'text').execute();
  await db.schema.createIndex('oauth_links_open_expiry').on('oauth_links').columns(['expires_at', 'id']).where(sql.ref('used_at'), 'is', null).execute();
};
