import type { Kysely } from 'kysely';

/**
 * Authorization emails sent, one row each, so that every process counts the same sends
 * against the per-credential, per-customer and per-organization limits; and the domains an
 * organization lets its customer users send authorization emails to.
 */
export const up = async (db: Kysely<unknown>): Promise<void> => {
  await db.schema
    .createTable('oauth_email_sends')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('organization_id', 'text', (c) => c.notNull())
    .addColumn('customer_id', 'text')
    .addColumn('credential_id', 'text', (c) => c.notNull())
    .addColumn('sent_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('oauth_email_sends_organization').on('oauth_email_sends').columns(['organization_id', 'sent_at']).execute();
  await db.schema.createIndex('oauth_email_sends_credential').on('oauth_email_sends').columns(['credential_id', 'sent_at']).execute();

  await db.schema
    .createTable('oauth_email_settings')
    .addColumn('organization_id', 'text', (c) => c.primaryKey().references('organizations.id').onDelete('cascade'))
    .addColumn('allowed_domains', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
};
