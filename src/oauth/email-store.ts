import { sql } from 'kysely';
import type { Db, Engine } from '../store/database.js';

/** How many authorization emails were sent since a moment, per scope, and the oldest of each within it. */
export interface SendCounts {
  credential: { count: number; oldest: string | null };
  customer: { count: number; oldest: string | null };
  organization: { count: number; oldest: string | null };
}

export interface EmailSend {
  id: string;
  organizationId: string;
  customerId: string | null;
  credentialId: string;
  sentAt: string;
}

/** Authorization emails sent (for the rate limits) and each organization's allowed recipient domains. */
export const createEmailStore = (db: Db, engine: Engine) => ({
  /**
   * Serializes the sends of one organization until `trx` ends, so that concurrent requests,
   * in this process or another, count each other's sends. SQLite transactions already hold
   * the write lock from their start (BEGIN IMMEDIATE).
   */
  async lockOrganization(organizationId: string, trx: Db): Promise<void> {
    if (engine === 'postgres') await trx.selectFrom('organizations').select('id').where('id', '=', organizationId).forUpdate().execute();
  },

  async countSends(organizationId: string, credentialId: string, customerId: string | null, since: string, trx: Db = db): Promise<SendCounts> {
    const scoped = (column: 'credential_id' | 'customer_id', value: string | null) =>
      value === null
        ? sql<number>`0`
        : sql<number>`sum(case when ${sql.ref(column)} = ${value} then 1 else 0 end)`;
    const oldest = (column: 'credential_id' | 'customer_id', value: string | null) =>
      value === null ? sql<string | null>`null` : sql<string | null>`min(case when ${sql.ref(column)} = ${value} then sent_at end)`;
    const row = await trx
      .selectFrom('oauth_email_sends')
      .select([
        sql<number>`count(*)`.as('organization_count'),
        sql<string | null>`min(sent_at)`.as('organization_oldest'),
        scoped('credential_id', credentialId).as('credential_count'),
        oldest('credential_id', credentialId).as('credential_oldest'),
        scoped('customer_id', customerId).as('customer_count'),
        oldest('customer_id', customerId).as('customer_oldest'),
      ])
      .where('organization_id', '=', organizationId)
      .where('sent_at', '>', since)
      .executeTakeFirstOrThrow();
    return {
      credential: { count: Number(row.credential_count ?? 0), oldest: row.credential_oldest },
      customer: { count: Number(row.customer_count ?? 0), oldest: row.customer_oldest },
      organization: { count: Number(row.organization_count ?? 0), oldest: row.organization_oldest },
    };
  },

  async insertSend(send: EmailSend, trx: Db = db): Promise<void> {
    await trx
      .insertInto('oauth_email_sends')
      .values({ id: send.id, organization_id: send.organizationId, customer_id: send.customerId, credential_id: send.credentialId, sent_at: send.sentAt })
      .execute();
  },

  /** Drops sends older than the limits look back, so the table stays small. */
  async deleteSendsBefore(organizationId: string, before: string, trx: Db = db): Promise<void> {
    await trx.deleteFrom('oauth_email_sends').where('organization_id', '=', organizationId).where('sent_at', '<=', before).execute();
  },

  async findAllowedDomains(organizationId: string, trx: Db = db): Promise<string[]> {
    const row = await trx.selectFrom('oauth_email_settings').select('allowed_domains').where('organization_id', '=', organizationId).executeTakeFirst();
    return row ? (JSON.parse(row.allowed_domains) as string[]) : [];
  },

  async setAllowedDomains(organizationId: string, domains: readonly string[], at: string, trx: Db = db): Promise<void> {
    const allowed = JSON.stringify(domains);
    await trx
      .insertInto('oauth_email_settings')
      .values({ organization_id: organizationId, allowed_domains: allowed, updated_at: at })
      .onConflict((oc) => oc.column('organization_id').doUpdateSet({ allowed_domains: allowed, updated_at: at }))
      .execute();
  },
});

export type EmailStore = ReturnType<typeof createEmailStore>;
