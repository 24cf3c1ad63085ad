import type { Kysely } from 'kysely';

/** Integrations, instances with their credential bindings, runs, and the last test of each credential. */
export const up = async (db: Kysely<unknown>): Promise<void> => {
  await db.schema.alterTable('credentials').addColumn('last_test', 'text').execute();

  await db.schema
    .createTable('integrations')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('organization_id', 'text', (c) => c.notNull().references('organizations.id'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('description', 'text')
    .addColumn('steps', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('integrations_org_id').on('integrations').columns(['organization_id', 'id']).execute();

  await db.schema
    .createTable('instances')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('organization_id', 'text', (c) => c.notNull().references('organizations.id'))
    .addColumn('integration_id', 'text', (c) => c.notNull().references('integrations.id'))
    .addColumn('customer_id', 'text', (c) => c.notNull().references('customers.id'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('instances_org_id').on('instances').columns(['organization_id', 'id']).execute();
  await db.schema.createIndex('instances_org_customer').on('instances').columns(['organization_id', 'customer_id', 'id']).execute();

  await db.schema
    .createTable('instance_bindings')
    .addColumn('instance_id', 'text', (c) => c.notNull().references('instances.id').onDelete('cascade'))
    .addColumn('step_name', 'text', (c) => c.notNull())
    .addColumn('organization_id', 'text', (c) => c.notNull())
    .addColumn('credential_id', 'text')
    .addPrimaryKeyConstraint('instance_bindings_pk', ['instance_id', 'step_name'])
    .execute();
  await db.schema.createIndex('instance_bindings_credential').on('instance_bindings').columns(['organization_id', 'credential_id']).execute();

  await db.schema
    .createTable('runs')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('organization_id', 'text', (c) => c.notNull())
    .addColumn('instance_id', 'text', (c) => c.notNull().references('instances.id').onDelete('cascade'))
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('steps', 'text', (c) => c.notNull())
    .addColumn('error', 'text')
    .addColumn('started_at', 'text', (c) => c.notNull())
    .addColumn('finished_at', 'text')
    .execute();
  await db.schema.createIndex('runs_instance').on('runs').columns(['organization_id', 'instance_id', 'id']).execute();
};
