import type { Db } from '../store/database.js';
import type { AuditEventsTable } from '../store/schema.js';

export interface AuditEvent {
  id: string;
  organizationId: string;
  customerId: string | null;
  actor: { type: string; id: string | null; role: string | null };
  action: string;
  targetType: string | null;
  targetId: string | null;
  /** Never holds a secret: names of fields, labels, ids, outcomes. */
  details: Record<string, unknown>;
  occurredAt: string;
}

export interface AuditFilter {
  action?: string | undefined;
  targetId?: string | undefined;
  customerId?: string | undefined;
  beforeId?: string | undefined;
  limit: number;
}

const toEvent = (row: AuditEventsTable): AuditEvent => ({
  id: row.id,
  organizationId: row.organization_id,
  customerId: row.customer_id,
  actor: { type: row.actor_type, id: row.actor_id, role: row.actor_role },
  action: row.action,
  targetType: row.target_type,
  targetId: row.target_id,
  details: JSON.parse(row.details) as Record<string, unknown>,
  occurredAt: row.occurred_at,
});

/** The audit trail: append-only, newest first when listed. */
export const createAuditStore = (db: Db) => ({
  async insert(event: AuditEvent, trx: Db = db): Promise<void> {
    await trx
      .insertInto('audit_events')
      .values({
        id: event.id,
        organization_id: event.organizationId,
        customer_id: event.customerId,
        actor_type: event.actor.type,
        actor_id: event.actor.id,
        actor_role: event.actor.role,
        action: event.action,
        target_type: event.targetType,
        target_id: event.targetId,
        details: JSON.stringify(event.details),
        occurred_at: event.occurredAt,
      })
      .execute();
  },

  async list(organizationId: string, filter: AuditFilter, trx: Db = db): Promise<AuditEvent[]> {
    let query = trx.selectFrom('audit_events').selectAll().where('organization_id', '=', organizationId);
    if (filter.action !== undefined) query = query.where('action', '=', filter.action);
    if (filter.targetId !== undefined) query = query.where('target_id', '=', filter.targetId);
    if (filter.customerId !== undefined) query = query.where('customer_id', '=', filter.customerId);
    if (filter.beforeId !== undefined) query = query.where('id', '<', filter.beforeId);
    const rows = await query.orderBy('id', 'desc').limit(filter.limit).execute();
    return rows.map(toEvent);
  },
});

export type AuditStore = ReturnType<typeof createAuditStore>;
