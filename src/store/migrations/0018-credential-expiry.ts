import type { Kysely } from 'kysely';

/**
 * Expiry dates a person knows in advance: a credential's own (an API key or password with a
 * known end of life) and an OAuth 2.0 app's client secret. Each warning (30, 7, 1 days
 * before, and at the date) is recorded once per date in `credential_expiry_notices`, so it
 * fires exactly once however many workers watch. `contact_email`: who, besides the
 * organization's admins, hears of a credential's trouble.
 */
export const up = async (db: Kysely<unknown>): Promise<void> => {
  await db.schema.alterTable('credentials').addColumn('expires_at', 'text').execute();
  await db.schema.alterTable('credentials').addColumn('client_secret_expires_at', 'text').execute();
  await db.schema.alterTable('credentials').addColumn('contact_email', 'text').execute();
  await db.schema.createIndex('credentials_expires_at').on('credentials').column('expires_at').execute();
  await db.schema.createIndex('credentials_client_secret_expires_at').on('credentials').column('client_secret_expires_at').execute();
  await db.schema
    .createTable('credential_expiry_notices')
    .addColumn('credential_id', 'text', (c) => c.notNull().references('credentials.id').onDelete('cascade'))
    .addColumn('organization_id', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .addColumn('days_before', 'integer', (c) => c.notNull())
    .addColumn('sent_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('credential_expiry_notices_pk', ['credential_id', 'kind', 'expires_at', 'days_before'])
    .execute();
};
