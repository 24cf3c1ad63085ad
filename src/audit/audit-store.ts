import type { Db } from '../store/database.js';
import type { AuditEventsTable } from '../store/schema.js';
import { GENESIS_HASH, hashEvent, type ChainSource, type ChainedRow } from './audit-chain.js';

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

const toChainedRow = (row: AuditEventsTable): ChainedRow => ({
  seq: row.seq ?? 0,
  // A hash blanked by hand must fail the check, not crash it.
  prevHash: row.prev_hash ?? '',
  hash: row.hash ?? '',
  id: row.id,
  organizationId: row.organization_id,
  customerId: row.customer_id,
  actorType: row.actor_type,
  actorId: row.actor_id,
  actorRole: row.actor_role,
  action: row.action,
  targetType: row.target_type,
  targetId: row.target_id,
  details: row.details,
  occurredAt: row.occurred_at,
});

/**
 * Takes the next position in the organization's chain: bumps the head row and returns the
 * new seq with the hash of the event before it. The UPDATE locks the head row until the
 * transaction ends, so on PostgreSQL concurrent inserts for one organization — from any
 * process — queue here and each sees the link its predecessor committed (READ COMMITTED
 * re-reads a row it waited for). SQLite serialises writers anyway.
 */
const claimNextLink = async (trx: Db, organizationId: string): Promise<{ seq: number; prevHash: string }> => {
  const bump = () =>
    trx
      .updateTable('audit_heads')
      .set((eb) => ({ seq: eb('seq', '+', 1) }))
      .where('organization_id', '=', organizationId)
      .returning(['seq', 'hash'])
      .executeTakeFirst();
  let head = await bump();
  if (!head) {
    // The organization's first chained event: create the head, unless a peer just did.
    await trx
      .insertInto('audit_heads')
      .values({ organization_id: organizationId, seq: 0, hash: GENESIS_HASH })
      .onConflict((oc) => oc.column('organization_id').doNothing())
      .execute();
    head = await bump();
  }
  if (!head) throw new Error('The audit chain head could not be claimed');
  return { seq: Number(head.seq), prevHash: head.hash };
};

/** The audit trail: append-only, chained by hash per organization, newest first when listed. */
export const createAuditStore = (db: Db) => {
  /** Appends one event at the end of its organization's chain, inside `trx`. */
  const append = async (event: AuditEvent, trx: Db): Promise<void> => {
    const { seq, prevHash } = await claimNextLink(trx, event.organizationId);
    const row: Omit<ChainedRow, 'hash'> = {
      seq,
      prevHash,
      id: event.id,
      organizationId: event.organizationId,
      customerId: event.customerId,
      actorType: event.actor.type,
      actorId: event.actor.id,
      actorRole: event.actor.role,
      action: event.action,
      targetType: event.targetType,
      targetId: event.targetId,
      details: JSON.stringify(event.details),
      occurredAt: event.occurredAt,
    };
    const hash = hashEvent(row);
    await trx
      .insertInto('audit_events')
      .values({
        id: row.id,
        organization_id: row.organizationId,
        customer_id: row.customerId,
        actor_type: row.actorType,
        actor_id: row.actorId,
        actor_role: row.actorRole,
        action: row.action,
        target_type: row.targetType,
        target_id: row.targetId,
        details: row.details,
        occurred_at: row.occurredAt,
        seq,
        prev_hash: prevHash,
        hash,
      })
      .execute();
    await trx.updateTable('audit_heads').set({ hash }).where('organization_id', '=', event.organizationId).execute();
  };

  const chain: ChainSource = {
    async head(organizationId) {
      const row = await db.selectFrom('audit_heads').select(['seq', 'hash']).where('organization_id', '=', organizationId).executeTakeFirst();
      return row ? { seq: Number(row.seq), hash: row.hash } : undefined;
    },
    async chainPage(organizationId, afterSeq, uptoSeq, limit) {
      const rows = await db
        .selectFrom('audit_events')
        .selectAll()
        .where('organization_id', '=', organizationId)
        .where('seq', '>', afterSeq)
        .where('seq', '<=', uptoSeq)
        .orderBy('seq', 'asc')
        .orderBy('id', 'asc')
        .limit(limit)
        .execute();
      return rows.map(toChainedRow);
    },
    async unchained(organizationId) {
      const row = await db
        .selectFrom('audit_events')
        .select((eb) => [eb.fn.countAll<number | string>().as('count'), eb.fn.max('id').as('newest')])
        .where('organization_id', '=', organizationId)
        .where('seq', 'is', null)
        .executeTakeFirst();
      return { count: Number(row?.count ?? 0), newestId: row?.newest ?? null };
    },
    async firstChainedId(organizationId) {
      const row = await db.selectFrom('audit_events').select('id').where('organization_id', '=', organizationId).where('seq', '=', 1).executeTakeFirst();
      return row?.id ?? null;
    },
  };

  return {
    /**
     * Records an event. Inside a caller's transaction it commits or rolls back with the change
     * it describes; otherwise it gets a transaction of its own. Callers record last in their
     * transaction: the chain's head stays locked from here until the commit.
     */
    async insert(event: AuditEvent, trx: Db = db): Promise<void> {
      if (trx.isTransaction) await append(event, trx);
      else await trx.transaction().execute((own) => append(event, own));
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

    /** Read access to the chains, for verification. */
    chain,
  };
};

export type AuditStore = ReturnType<typeof createAuditStore>;
