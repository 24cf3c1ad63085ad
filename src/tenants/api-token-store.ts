import type { Db } from '../store/database.js';
import type { ApiTokensTable } from '../store/schema.js';
import type { Role } from './actor.js';

export interface ApiToken {
  id: string;
  organizationId: string;
  name: string;
  role: Role;
  customerId: string | null;
  createdBy: string | null;
  createdAt: string;
  revokedAt: string | null;
}

const toToken = (row: ApiTokensTable): ApiToken => ({
  id: row.id,
  organizationId: row.organization_id,
  name: row.name,
  role: row.role as Role,
  customerId: row.customer_id,
  createdBy: row.created_by,
  createdAt: row.created_at,
  revokedAt: row.revoked_at,
});

/** API tokens. Only a hash of each token is stored; the token itself is shown once. */
export const createApiTokenStore = (db: Db) => ({
  async insert(token: ApiToken, tokenHash: string, trx: Db = db): Promise<void> {
    await trx
      .insertInto('api_tokens')
      .values({
        id: token.id,
        organization_id: token.organizationId,
        name: token.name,
        role: token.role,
        customer_id: token.customerId,
        token_hash: tokenHash,
        created_by: token.createdBy,
        created_at: token.createdAt,
        revoked_at: token.revokedAt,
      })
      .execute();
  },

  async findActiveByHash(tokenHash: string, trx: Db = db): Promise<ApiToken | undefined> {
    const row = await trx
      .selectFrom('api_tokens')
      .selectAll()
      .where('token_hash', '=', tokenHash)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return row && toToken(row);
  },

  async find(organizationId: string, id: string, trx: Db = db): Promise<ApiToken | undefined> {
    const row = await trx
      .selectFrom('api_tokens')
      .selectAll()
      .where('organization_id', '=', organizationId)
      .where('id', '=', id)
      .executeTakeFirst();
    return row && toToken(row);
  },

  async list(organizationId: string, filter: { afterId?: string | undefined; limit: number }, trx: Db = db): Promise<ApiToken[]> {
    let query = trx.selectFrom('api_tokens').selectAll().where('organization_id', '=', organizationId);
    if (filter.afterId !== undefined) query = query.where('id', '>', filter.afterId);
    const rows = await query.orderBy('id').limit(filter.limit).execute();
    return rows.map(toToken);
  },

  async revoke(organizationId: string, id: string, at: string, trx: Db = db): Promise<boolean> {
    const result = await trx
      .updateTable('api_tokens')
      .set({ revoked_at: at })
      .where('organization_id', '=', organizationId)
      .where('id', '=', id)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  },

  /** Removes every token bound to a customer (when the customer is deleted). */
  async deleteForCustomer(organizationId: string, customerId: string, trx: Db = db): Promise<void> {
    await trx.deleteFrom('api_tokens').where('organization_id', '=', organizationId).where('customer_id', '=', customerId).execute();
  },
});

export type ApiTokenStore = ReturnType<typeof createApiTokenStore>;
