import type { Db } from '../store/database.js';
import { claimLeased } from '../store/leases.js';
import type { AlertEmailsTable } from '../store/schema.js';

export type AlertReason = 'reauthorization_required' | 'failing' | 'expiring' | 'expired';

export interface AlertEmail {
  id: string;
  organizationId: string;
  credentialId: string;
  reason: AlertReason;
  details: Record<string, unknown>;
  status: 'pending' | 'sent' | 'failed';
  attempts: number;
  nextAttemptAt: string | null;
  createdAt: string;
  sentAt: string | null;
  error: string | null;
}

const toAlert = (row: AlertEmailsTable): AlertEmail => ({
  id: row.id,
  organizationId: row.organization_id,
  credentialId: row.credential_id,
  reason: row.reason as AlertReason,
  details: JSON.parse(row.details) as Record<string, unknown>,
  status: row.status as AlertEmail['status'],
  attempts: Number(row.attempts),
  nextAttemptAt: row.next_attempt_at,
  createdAt: row.created_at,
  sentAt: row.sent_at,
  error: row.error,
});

/** Queued alert emails. */
export const createAlertStore = (db: Db, engine: 'sqlite' | 'postgres') => ({
  async enqueue(alerts: readonly AlertEmail[], trx: Db = db): Promise<void> {
    if (alerts.length === 0) return;
    await trx
      .insertInto('alert_emails')
      .values(
        alerts.map((a) => ({
          id: a.id,
          organization_id: a.organizationId,
          credential_id: a.credentialId,
          reason: a.reason,
          details: JSON.stringify(a.details),
          status: a.status,
          attempts: a.attempts,
          next_attempt_at: a.nextAttemptAt,
          lease_owner: null,
          lease_expires_at: null,
          created_at: a.createdAt,
          sent_at: null,
          error: null,
        })),
      )
      .execute();
  },

  async claimDue(claim: { owner: string; now: string; until: string; limit: number; perOrganization: number }): Promise<AlertEmail[]> {
    return db.transaction().execute(async (trx) => {
      const ids = await claimLeased(trx, engine, { table: 'alert_emails', key: 'id', due: 'next_attempt_at' }, claim);
      if (ids.length === 0) return [];
      return (await trx.selectFrom('alert_emails').selectAll().where('id', 'in', ids).orderBy('id').execute()).map(toAlert);
    });
  },

  /** Keeps how an attempt went, if this worker still holds the alert. */
  async settle(id: string, owner: string, next: Pick<AlertEmail, 'status' | 'attempts' | 'nextAttemptAt' | 'sentAt' | 'error'>): Promise<void> {
    await db
      .updateTable('alert_emails')
      .set({ status: next.status, attempts: next.attempts, next_attempt_at: next.nextAttemptAt, sent_at: next.sentAt, error: next.error, lease_owner: null, lease_expires_at: null })
      .where('id', '=', id)
      .where('lease_owner', '=', owner)
      .execute();
  },

  async listForCredential(organizationId: string, credentialId: string): Promise<AlertEmail[]> {
    return (await db.selectFrom('alert_emails').selectAll().where('organization_id', '=', organizationId).where('credential_id', '=', credentialId).orderBy('id').execute()).map(toAlert);
  },
});

export type AlertStore = ReturnType<typeof createAlertStore>;
