import { sql, type Kysely } from 'kysely';

/**
 * Every credential's health, kept in a table of its own: it changes with every refresh, run
 * and check, and the credential rows (cached by every process) stay as they are meanwhile.
 * A credential with no row here has never been checked (`unknown`). Each change of health is
 * kept in `credential_health_history`; the checks credentials carry are scheduled in
 * `credential_health_checks`. Messages can carry what a service said (a customer's
 * data), so they are sealed with the credential's scope key.
 *
 * Credentials whose OAuth grant already says how it stands start from that.
 */
export const up = async (db: Kysely<unknown>): Promise<void> => {
  await db.schema
    .createTable('credential_health')
    .addColumn('credential_id', 'text', (c) => c.primaryKey().references('credentials.id').onDelete('cascade'))
    .addColumn('organization_id', 'text', (c) => c.notNull())
    .addColumn('health', 'text', (c) => c.notNull())
    .addColumn('since', 'text', (c) => c.notNull())
    .addColumn('checked_at', 'text', (c) => c.notNull())
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('message_ciphertext', 'text')
    .execute();
  await db.schema.createIndex('credential_health_organization').on('credential_health').columns(['organization_id', 'health']).execute();
  await db.schema
    .createTable('credential_health_history')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('organization_id', 'text', (c) => c.notNull())
    .addColumn('credential_id', 'text', (c) => c.notNull().references('credentials.id').onDelete('cascade'))
    .addColumn('from_health', 'text', (c) => c.notNull())
    .addColumn('to_health', 'text', (c) => c.notNull())
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('at', 'text', (c) => c.notNull())
    .addColumn('message_ciphertext', 'text')
    .execute();
  await db.schema.createIndex('credential_health_history_credential').on('credential_health_history').columns(['credential_id', 'at', 'id']).execute();
  // A check a credential may carry, run by the worker every `every_minutes` under a lease.
  await db.schema
    .createTable('credential_health_checks')
    .addColumn('credential_id', 'text', (c) => c.primaryKey().references('credentials.id').onDelete('cascade'))
    .addColumn('organization_id', 'text', (c) => c.notNull())
    .addColumn('component', 'text', (c) => c.notNull())
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('inputs', 'text', (c) => c.notNull())
    .addColumn('every_minutes', 'integer', (c) => c.notNull())
    .addColumn('due_at', 'text', (c) => c.notNull())
    .addColumn('lease_owner', 'text')
    .addColumn('lease_expires_at', 'text')
    .addColumn('last_run_at', 'text')
    .execute();
  await db.schema.createIndex('credential_health_checks_due').on('credential_health_checks').columns(['due_at', 'credential_id']).execute();
  await sql`
    insert into credential_health (credential_id, organization_id, health, since, checked_at, source, message_ciphertext)
    select c.id, c.organization_id,
      case c.status when 'authorized' then 'healthy' when 'refresh_failed' then 'failing' else 'needs_reauthorization' end,
      c.updated_at, c.updated_at, 'refresh', null
    from credentials c
    where c.auth_method = 'oauth2' and c.status in ('authorized', 'refresh_failed', 'reauthorization_required')`.execute(db);
};
