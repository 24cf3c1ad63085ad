import type { Kysely } from 'kysely';

/** OAuth 2.0: grants (tokens and their refresh schedule), authorization links, and one-time states. */
export const up = async (db: Kysely<unknown>): Promise<void> => {
  await db.schema.alterTable('credentials').addColumn('oauth_settings', 'text').execute();

  await db.schema
    .createTable('oauth_grants')
    .addColumn('credential_id', 'text', (c) => c.primaryKey().references('credentials.id').onDelete('cascade'))
    .addColumn('organization_id', 'text', (c) => c.notNull())
    .addColumn('tokens_ciphertext', 'text')
    .addColumn('token_type', 'text')
    .addColumn('granted_scopes', 'text')
    .addColumn('expires_at', 'text')
    .addColumn('refresh_due_at', 'text')
    .addColumn('authorized_at', 'text')
    .addColumn('last_refreshed_at', 'text')
    .addColumn('failure_count', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('last_error', 'text')
    .addColumn('lease_owner', 'text')
    .addColumn('lease_expires_at', 'text')
    .addColumn('version', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema.createIndex('oauth_grants_refresh_due').on('oauth_grants').column('refresh_due_at').execute();

  await db.schema
    .createTable('oauth_links')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('organization_id', 'text', (c) => c.notNull())
    .addColumn('credential_id', 'text', (c) => c.notNull().references('credentials.id').onDelete('cascade'))
    .addColumn('token_hash', 'text', (c) => c.notNull())
    .addColumn('created_by', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .addColumn('used_at', 'text')
    .addColumn('revoked_at', 'text')
    .execute();
  await db.schema.createIndex('oauth_links_token_hash').unique().on('oauth_links').column('token_hash').execute();
  await db.schema.createIndex('oauth_links_credential').on('oauth_links').columns(['organization_id', 'credential_id']).execute();

  await db.schema
    .createTable('oauth_states')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('state_hash', 'text', (c) => c.notNull())
    .addColumn('organization_id', 'text', (c) => c.notNull())
    .addColumn('credential_id', 'text', (c) => c.notNull().references('credentials.id').onDelete('cascade'))
    .addColumn('link_id', 'text', (c) => c.notNull())
    .addColumn('browser_hash', 'text', (c) => c.notNull())
    .addColumn('verifier_ciphertext', 'text', (c) => c.notNull())
    .addColumn('redirect_uri', 'text', (c) => c.notNull())
    .addColumn('issuer', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .addColumn('used_at', 'text')
    .execute();
  await db.schema.createIndex('oauth_states_hash').unique().on('oauth_states').column('state_hash').execute();
};
