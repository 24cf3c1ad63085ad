import { sql } from 'kysely';
import type { Db, Engine } from '../store/database.js';
import { createBatcher } from '../store/batcher.js';
import type { AuditWriter } from './sqlite-audit-writer.js';
import type { AuditEventsTable } from '../store/schema.js';
import { GENESIS_HASH, contentHash, linkHash, type ChainSource, type ChainedRow, type EventContent } from './audit-chain.js';

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

const contentOf = (event: AuditEvent): EventContent => ({
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
});

/** The organization's first chained event finds no head row: create it, unless a peer just did. */
const createHead = async (db: Db, organizationId: string): Promise<void> => {
  await db
    .insertInto('audit_heads')
    .values({ organization_id: organizationId, seq: 0, prev_hash: GENESIS_HASH, hash: GENESIS_HASH })
    .onConflict((oc) => oc.column('organization_id').doNothing())
    .execute();
};

/**
 * PostgreSQL: one statement bumps the head row and inserts the event, the link hash computed
 * in SQL (the same bytes as linkHash). The UPDATE locks the head row until the transaction
 * ends — for an event recorded on its own, only for this statement — so concurrent inserts
 * for one organization, from any process, queue there; READ COMMITTED re-reads the row it
 * waited for, so each sees the link its predecessor committed. SET expressions read the
 * old row: `prev_hash = hash` keeps the previous link for the event. The price of one chain:
 * appends for one organization are serial, each holding the lock through its commit.
 */
const appendOnPostgres = async (db: Db, content: EventContent): Promise<boolean> => {
  const c = content;
  const { rows } = await sql<{ seq: number }>`
    with head as (
      update audit_heads
      set prev_hash = hash,
          seq = seq + 1,
          hash = encode(sha256(decode(hash, 'hex') || int8send((seq + 1)::bigint) || decode(${contentHash(content)}, 'hex')), 'hex')
      where organization_id = ${c.organizationId}
      returning seq, prev_hash, hash
    )
    insert into audit_events
      (id, organization_id, customer_id, actor_type, actor_id, actor_role, action, target_type, target_id, details, occurred_at, seq, prev_hash, hash)
    select ${c.id}::text, ${c.organizationId}::text, ${c.customerId}::text, ${c.actorType}::text, ${c.actorId}::text, ${c.actorRole}::text,
      ${c.action}::text, ${c.targetType}::text, ${c.targetId}::text, ${c.details}::text, ${c.occurredAt}::text, head.seq, head.prev_hash, head.hash
    from head
    returning seq`.execute(db);
  return rows.length === 1;
};

/** PostgreSQL: appends events, already in chain order, in one statement (migration 0013's function). */
const appendBatchOnPostgres = async (db: Db, contents: readonly EventContent[]): Promise<void> => {
  const events = contents.map((c) => {
    // The row as stored, but for its place in the chain, which the function works out.
    const { seq: _seq, prev_hash: _prevHash, hash: _hash, ...row } = chainedRow(c, 0, '', '');
    return { ...row, content_hash: contentHash(c) };
  });
  const { rows } = await sql<{ appended: number }>`select credence_append_audit(${JSON.stringify(events)}::jsonb, ${GENESIS_HASH}) as appended`.execute(db);
  if (Number(rows[0]?.appended) !== contents.length) throw new Error('The audit batch was not appended whole');
};

/** The stored row for one event at `seq`, linked to `prevHash`. */
const chainedRow = (c: EventContent, seq: number, prevHash: string, hash: string): AuditEventsTable => ({
  id: c.id,
  organization_id: c.organizationId,
  customer_id: c.customerId,
  actor_type: c.actorType,
  actor_id: c.actorId,
  actor_role: c.actorRole,
  action: c.action,
  target_type: c.targetType,
  target_id: c.targetId,
  details: c.details,
  occurred_at: c.occurredAt,
  seq,
  prev_hash: prevHash,
  hash,
});

/** Rows per INSERT: 14 parameters each stays far below either engine's limit. */
const INSERT_CHUNK = 500;

/**
 * Any engine: reserve `contents.length` places at the end of one organization's chain by
 * bumping the head (locking it, as above), link the events here, insert them, move the
 * head's hash on — inside the caller's transaction. SQLite serialises writers anyway.
 * The contents must all belong to `organizationId`, in the order they are to be chained.
 */
const appendPortable = async (trx: Db, organizationId: string, contents: readonly EventContent[]): Promise<boolean> => {
  const head = await trx
    .updateTable('audit_heads')
    .set((eb) => ({ seq: eb('seq', '+', contents.length) }))
    .where('organization_id', '=', organizationId)
    .returning(['seq', 'hash'])
    .executeTakeFirst();
  if (!head) return false;
  let seq = Number(head.seq) - contents.length;
  let prevHash = head.hash;
  const rows = contents.map((content) => {
    seq += 1;
    const hash = linkHash(prevHash, seq, contentHash(content));
    const row = chainedRow(content, seq, prevHash, hash);
    prevHash = hash;
    return row;
  });
  for (let i = 0; i < rows.length; i += INSERT_CHUNK) await trx.insertInto('audit_events').values(rows.slice(i, i + INSERT_CHUNK)).execute();
  const last = rows[rows.length - 1];
  await trx.updateTable('audit_heads').set({ prev_hash: last?.prev_hash ?? head.hash, hash: prevHash }).where('organization_id', '=', organizationId).execute();
  return true;
};

/** Groups events by organization, keeping their order; organizations in a fixed order so two processes never lock heads in opposite orders. */
const byOrganization = (contents: readonly EventContent[]): Array<[string, EventContent[]]> => {
  const groups = new Map<string, EventContent[]>();
  for (const content of contents) {
    const group = groups.get(content.organizationId);
    if (group) group.push(content);
    else groups.set(content.organizationId, [content]);
  }
  return [...groups.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
};

/**
 * The audit trail: append-only, chained by hash per organization, newest first when listed.
 * An event recorded inside a change's transaction is appended there (with `engine` 'postgres'
 * in a single statement); events recorded on their own are appended in shared batches.
 */
export const createAuditStore = (db: Db, engine?: Engine, writer?: AuditWriter) => {
  /** Runs `append`, creating the organization's chain head first when it has none yet (its first event). */
  const withHead = async (trx: Db, organizationId: string, append: () => Promise<boolean>): Promise<void> => {
    if (await append()) return;
    await createHead(trx, organizationId);
    if (!(await append())) throw new Error('The audit chain head could not be claimed');
  };

  /** Appends events at the end of their organizations' chains. */
  const appendAll = async (trx: Db, contents: readonly EventContent[]): Promise<void> => {
    for (const [organizationId, group] of byOrganization(contents)) await withHead(trx, organizationId, () => appendPortable(trx, organizationId, group));
  };

  /** Appends one event inside the caller's transaction: on PostgreSQL in a single statement. */
  const appendInTransaction = async (event: AuditEvent, trx: Db): Promise<void> => {
    const content = contentOf(event);
    if (engine !== 'postgres') return appendAll(trx, [content]);
    return withHead(trx, event.organizationId, () => appendOnPostgres(trx, content));
  };

  /**
   * Events recorded on their own share transactions: one commit and one head update per
   * organization for many events. On PostgreSQL a batch is one call of credence_append_audit
   * (migration 0013) — one round trip, its own transaction — and two batches may be in flight,
   * queueing on the head rows they share. SQLite has one writer, so one batch at a time, on
   * the audit writer thread (sqlite-audit-writer.ts) when the database is a file.
   */
  const standalone =
    engine === 'postgres'
      ? createBatcher<EventContent>(
          async (contents) => {
            await appendBatchOnPostgres(db, byOrganization(contents).flatMap(([, group]) => group));
            return contents.map(() => undefined);
          },
          { maxConcurrent: 2 },
        )
      : createBatcher<EventContent>(async (contents) => {
          // On the writer thread when there is one, so the commit never blocks this one.
          if (writer?.usable) {
            try {
              await writer.append(byOrganization(contents).map(([organizationId, group]) => [organizationId, group.map((c) => ({ ...c, contentHash: contentHash(c) }))]));
              return contents.map(() => undefined);
            } catch (error) {
              // A batch the thread refused is refused; one it never took (the thread is gone) is appended here.
              if (writer.usable) throw error;
            }
          }
          await db.transaction().execute((trx) => appendAll(trx, contents));
          return contents.map(() => undefined);
        });

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
     * it describes. Callers record last in their transaction: the chain's head stays locked
     * from here until the commit. Without one it resolves once the event is committed,
     * possibly together with events recorded at the same moment (group commit).
     */
    async insert(event: AuditEvent, trx?: Db): Promise<void> {
      await (trx?.isTransaction ? appendInTransaction(event, trx) : standalone.add(contentOf(event)));
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
