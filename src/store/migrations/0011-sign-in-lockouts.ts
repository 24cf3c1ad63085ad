import type { Kysely } from 'kysely';

/**
 * Sign-in lockout moves from the user row to one row per (email, client address), so a
 * stranger guessing passwords from their own address cannot lock the owner out, and an
 * unknown email locks exactly like a known one. The same email may now belong to people in
 * several organizations (one each), so an invitation never tells whether it exists elsewhere.
 */
export const up = async (db: Kysely<unknown>): Promise<void> => {
  await db.schema
    .createTable('sign_in_lockouts')
    .addColumn('email_hash', 'text', (c) => c.notNull())
    .addColumn('address', 'text', (c) => c.notNull())
    .addColumn('failures', 'integer', (c) => c.notNull())
    .addColumn('locked_until', 'text')
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('sign_in_lockouts_pkey', ['email_hash', 'address'])
    .execute();
  await db.schema.createIndex('sign_in_lockouts_updated').on('sign_in_lockouts').column('updated_at').execute();

  await db.schema.dropIndex('users_email').execute();
  await db.schema.createIndex('users_organization_email').unique().on('users').columns(['organization_id', 'email']).execute();
  await db.schema.createIndex('users_email').on('users').column('email').execute();
  await db.schema.alterTable('users').dropColumn('failed_sign_ins').execute();
  await db.schema.alterTable('users').dropColumn('locked_until').execute();
};
