import type { Kysely } from 'kysely';

/**
 * The audit trail becomes a hash chain per organization: each event stores its position
 * (`seq`), the hash of the event before it and its own hash; `audit_heads` holds each
 * chain's last link. Events recorded before this migration keep null in all three: the
 * chain starts with the first event recorded after it.
 */
export const up = async (db: Kysely<unknown>): Promise<void> => {
  await db.schema.alterTable('audit_events').addColumn('seq', 'integer').execute();
  await db.schema.alterTable('audit_events').addColumn('prev_hash', 'text').execute();
  await db.schema.alterTable('audit_events').addColumn('hash', 'text').execute();
  // Unique per organization; events without a place in the chain (null) are not compared.
  await db.schema.createIndex('audit_events_org_seq').unique().on('audit_events').columns(['organization_id', 'seq']).execute();

  await db.schema
    .createTable('audit_heads')
    .addColumn('organization_id', 'text', (c) => c.primaryKey())
    .addColumn('seq', 'integer', (c) => c.notNull())
    .addColumn('prev_hash', 'text', (c) => c.notNull())
    .addColumn('hash', 'text', (c) => c.notNull())
    .execute();
};
