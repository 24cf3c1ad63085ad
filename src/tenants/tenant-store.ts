import { AppError } from '../common/app-error.js';
import type { Db } from '../store/database.js';
import type { CustomersTable, UsersTable } from '../store/schema.js';
import type { Role } from './actor.js';

export interface Organization {
  id: string;
  name: string;
  createdAt: string;
}

export interface Customer {
  id: string;
  organizationId: string;
  name: string;
  externalId: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface User {
  id: string;
  organizationId: string;
  email: string;
  /** Empty while an invited user has not chosen a password. */
  passwordHash: string;
  role: Role;
  customerId: string | null;
  createdAt: string;
  inviteExpiresAt: string | null;
}

const toCustomer = (row: CustomersTable): Customer => ({
  id: row.id,
  organizationId: row.organization_id,
  name: row.name,
  externalId: row.external_id,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

const toUser = (row: UsersTable): User => ({
  id: row.id,
  organizationId: row.organization_id,
  email: row.email,
  passwordHash: row.password_hash,
  role: row.role as Role,
  customerId: row.customer_id,
  createdAt: row.created_at,
  inviteExpiresAt: row.invite_expires_at,
});

/** Organizations, their customers and their people. Every customer query is scoped by organization. */
export const createTenantStore = (db: Db) => ({
  async insertOrganization(org: Organization, trx: Db = db): Promise<void> {
    await trx.insertInto('organizations').values({ id: org.id, name: org.name, created_at: org.createdAt }).execute();
  },

  async findOrganization(id: string, trx: Db = db): Promise<Organization | undefined> {
    const row = await trx.selectFrom('organizations').selectAll().where('id', '=', id).executeTakeFirst();
    return row && { id: row.id, name: row.name, createdAt: row.created_at };
  },

  async listOrganizations(trx: Db = db): Promise<Organization[]> {
    const rows = await trx.selectFrom('organizations').selectAll().orderBy('id').execute();
    return rows.map((row) => ({ id: row.id, name: row.name, createdAt: row.created_at }));
  },

  /** Records the first-run setup; a second one (even a concurrent one) fails with CONFLICT. */
  async markFirstRun(at: string, trx: Db = db): Promise<void> {
    const existing = await trx.selectFrom('organizations').select('id').limit(1).executeTakeFirst();
    if (existing) throw new AppError('CONFLICT', 'Credence is already set up; sign in instead');
    try {
      await trx.insertInto('setup_marks').values({ name: 'first-run', done_at: at }).execute();
    } catch {
      throw new AppError('CONFLICT', 'Credence is already set up; sign in instead');
    }
  },

  /** Until when one (email, client address) is locked out, if it is or was. */
  async findSignInLockout(emailHash: string, address: string, trx: Db = db): Promise<string | null> {
    const row = await trx
      .selectFrom('sign_in_lockouts')
      .select('locked_until')
      .where('email_hash', '=', emailHash)
      .where('address', '=', address)
      .executeTakeFirst();
    return row?.locked_until ?? null;
  },

  /**
   * Counts one more wrong password for (email, address), atomically, starting again from one
   * when the last was counted before `resetBefore`; answers the new count.
   */
  async recordFailedSignIn(emailHash: string, address: string, at: string, resetBefore: string, trx: Db = db): Promise<number> {
    const row = await trx
      .insertInto('sign_in_lockouts')
      .values({ email_hash: emailHash, address, failures: 1, locked_until: null, updated_at: at })
      .onConflict((oc) =>
        oc.columns(['email_hash', 'address']).doUpdateSet((eb) => ({
          failures: eb.case().when('sign_in_lockouts.updated_at', '<', resetBefore).then(1).else(eb('sign_in_lockouts.failures', '+', 1)).end(),
          updated_at: at,
        })),
      )
      .returning('failures')
      .executeTakeFirstOrThrow();
    return Number(row.failures);
  },

  async lockSignIn(emailHash: string, address: string, until: string, trx: Db = db): Promise<void> {
    await trx.updateTable('sign_in_lockouts').set({ locked_until: until }).where('email_hash', '=', emailHash).where('address', '=', address).execute();
  },

  /** Forgets the count of (email, address) after a right password, and counts older than `before` everywhere. */
  async clearSignInLockouts(emailHash: string, address: string, before: string, trx: Db = db): Promise<void> {
    await trx
      .deleteFrom('sign_in_lockouts')
      .where((eb) => eb.or([eb.and([eb('email_hash', '=', emailHash), eb('address', '=', address)]), eb('updated_at', '<', before)]))
      .execute();
  },

  async insertCustomer(customer: Customer, trx: Db = db): Promise<void> {
    await trx
      .insertInto('customers')
      .values({
        id: customer.id,
        organization_id: customer.organizationId,
        name: customer.name,
        external_id: customer.externalId,
        created_at: customer.createdAt,
        updated_at: customer.updatedAt,
      })
      .execute();
  },

  async findCustomer(organizationId: string, id: string, trx: Db = db): Promise<Customer | undefined> {
    const row = await trx
      .selectFrom('customers')
      .selectAll()
      .where('organization_id', '=', organizationId)
      .where('id', '=', id)
      .executeTakeFirst();
    return row && toCustomer(row);
  },

  /** Customers in creation order; `afterId` is the keyset cursor; fetches `limit` rows. */
  async listCustomers(
    organizationId: string,
    filter: { onlyId?: string | undefined; afterId?: string | undefined; limit: number },
    trx: Db = db,
  ): Promise<Customer[]> {
    let query = trx.selectFrom('customers').selectAll().where('organization_id', '=', organizationId);
    if (filter.onlyId !== undefined) query = query.where('id', '=', filter.onlyId);
    if (filter.afterId !== undefined) query = query.where('id', '>', filter.afterId);
    const rows = await query.orderBy('id').limit(filter.limit).execute();
    return rows.map(toCustomer);
  },

  async updateCustomer(
    organizationId: string,
    id: string,
    changes: { name?: string | undefined; externalId?: string | null | undefined; updatedAt: string },
    trx: Db = db,
  ): Promise<boolean> {
    const result = await trx
      .updateTable('customers')
      .set({
        updated_at: changes.updatedAt,
        ...(changes.name !== undefined ? { name: changes.name } : {}),
        ...(changes.externalId !== undefined ? { external_id: changes.externalId } : {}),
      })
      .where('organization_id', '=', organizationId)
      .where('id', '=', id)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  },

  async deleteCustomer(organizationId: string, id: string, trx: Db = db): Promise<boolean> {
    const result = await trx
      .deleteFrom('customers')
      .where('organization_id', '=', organizationId)
      .where('id', '=', id)
      .executeTakeFirst();
    return Number(result.numDeletedRows) === 1;
  },

  async insertUser(user: User, trx: Db = db, invite?: { tokenHash: string; expiresAt: string }): Promise<void> {
    await trx
      .insertInto('users')
      .values({
        id: user.id,
        organization_id: user.organizationId,
        email: user.email,
        password_hash: user.passwordHash,
        role: user.role,
        customer_id: user.customerId,
        created_at: user.createdAt,
        invite_token_hash: invite?.tokenHash ?? null,
        invite_expires_at: invite?.expiresAt ?? null,
      })
      .execute();
  },

  async findUser(organizationId: string, id: string, trx: Db = db): Promise<User | undefined> {
    const row = await trx.selectFrom('users').selectAll().where('organization_id', '=', organizationId).where('id', '=', id).executeTakeFirst();
    return row && toUser(row);
  },

  async findUserByInvite(tokenHash: string, trx: Db = db): Promise<User | undefined> {
    const row = await trx.selectFrom('users').selectAll().where('invite_token_hash', '=', tokenHash).executeTakeFirst();
    return row && toUser(row);
  },

  async listUsers(organizationId: string, trx: Db = db): Promise<User[]> {
    const rows = await trx.selectFrom('users').selectAll().where('organization_id', '=', organizationId).orderBy('id').limit(1000).execute();
    return rows.map(toUser);
  },

  async updateUser(
    id: string,
    changes: { passwordHash?: string; inviteTokenHash?: string | null; inviteExpiresAt?: string | null },
    trx: Db = db,
  ): Promise<void> {
    await trx
      .updateTable('users')
      .set({
        ...(changes.passwordHash !== undefined ? { password_hash: changes.passwordHash } : {}),
        ...(changes.inviteTokenHash !== undefined ? { invite_token_hash: changes.inviteTokenHash } : {}),
        ...(changes.inviteExpiresAt !== undefined ? { invite_expires_at: changes.inviteExpiresAt } : {}),
      })
      .where('id', '=', id)
      .execute();
  },

  async deleteUser(organizationId: string, id: string, trx: Db = db): Promise<boolean> {
    const result = await trx.deleteFrom('users').where('organization_id', '=', organizationId).where('id', '=', id).executeTakeFirst();
    return Number(result.numDeletedRows) === 1;
  },

  async insertSession(session: { id: string; tokenHash: string; userId: string; organizationId: string; createdAt: string; expiresAt: string }, trx: Db = db): Promise<void> {
    await trx
      .insertInto('sessions')
      .values({
        id: session.id,
        token_hash: session.tokenHash,
        user_id: session.userId,
        organization_id: session.organizationId,
        created_at: session.createdAt,
        expires_at: session.expiresAt,
      })
      .execute();
  },

  /** The user of a live session. */
  async findSessionUser(tokenHash: string, now: string, trx: Db = db): Promise<User | undefined> {
    const row = await trx
      .selectFrom('sessions')
      .innerJoin('users', 'users.id', 'sessions.user_id')
      .selectAll('users')
      .where('sessions.token_hash', '=', tokenHash)
      .where('sessions.expires_at', '>', now)
      .executeTakeFirst();
    return row && toUser(row);
  },

  async deleteSession(tokenHash: string, trx: Db = db): Promise<void> {
    await trx.deleteFrom('sessions').where('token_hash', '=', tokenHash).execute();
  },

  /** The person with this email in one organization (an email is unique within each). */
  async findUserByEmail(organizationId: string, email: string, trx: Db = db): Promise<User | undefined> {
    const row = await trx.selectFrom('users').selectAll().where('organization_id', '=', organizationId).where('email', '=', email.toLowerCase()).executeTakeFirst();
    return row && toUser(row);
  },

  /** Everyone who signs in with this email, one per organization, oldest first (at most `limit`). */
  async findSignInCandidates(email: string, limit: number, trx: Db = db): Promise<User[]> {
    const rows = await trx
      .selectFrom('users')
      .selectAll()
      .where('email', '=', email.toLowerCase())
      .where('password_hash', '!=', '')
      .orderBy('id')
      .limit(limit)
      .execute();
    return rows.map(toUser);
  },

  async deleteUsersOfCustomer(organizationId: string, customerId: string, trx: Db = db): Promise<void> {
    await trx.deleteFrom('users').where('organization_id', '=', organizationId).where('customer_id', '=', customerId).execute();
  },
});

export type TenantStore = ReturnType<typeof createTenantStore>;
