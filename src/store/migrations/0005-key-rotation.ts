import type { Kysely } from 'kysely';

/**
 * Key lifecycle: how many values each data key has sealed (so it is rotated long before
 * AES-GCM's 2^32 random-nonce limit), and the background re-encryption jobs of scope
 * rotations with their persisted progress and lease.
 */
export const up = async (db: Kysely<unknown>): Promise<void> => {
  // bigint: on PostgreSQL an integer stops at 2^31 - 1, below the limit it counts toward.
  await db.schema.alterTable('data_keys').addColumn('encryption_count', 'bigint', (c) => c.notNull().defaultTo(0)).execute();
  await db.schema.createIndex('data_keys_org_scope_version').on('data_keys').columns(['organization_id', 'scope_id', 'version']).execute();

  await db.schema
    .createTable('key_rotation_jobs')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('organization_id', 'text', (c) => c.notNull())
    .addColumn('scope_id', 'text', (c) => c.notNull())
    .addColumn('target_version', 'integer', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('phase', 'text', (c) => c.notNull())
    .addColumn('cursor', 'text')
    .addColumn('pass', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('done', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('total', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('failed', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('lease_owner', 'text')
    .addColumn('lease_expires_at', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addColumn('finished_at', 'text')
    .addColumn('error', 'text')
    .execute();
  await db.schema.createIndex('key_rotation_jobs_org_id').on('key_rotation_jobs').columns(['organization_id', 'id']).execute();
  await db.schema.createIndex('key_rotation_jobs_status').on('key_rotation_jobs').columns(['status', 'created_at']).execute();
  await db.schema.createIndex('key_rotation_jobs_scope').on('key_rotation_jobs').columns(['organization_id', 'scope_id', 'status']).execute();
};
