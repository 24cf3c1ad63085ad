import { newId } from '../common/ids.js';
import type { Clock } from '../common/clock.js';
import { DEFAULT_PAGE_SIZE, decodeCursor, toPage, type Page } from '../common/pagination.js';
import type { Db } from '../store/database.js';
import { requireRole, type Actor } from '../tenants/actor.js';
import { verifyChain, type ChainReport } from './audit-chain.js';
import type { AuditEvent, AuditStore } from './audit-store.js';

export interface AuditEntry {
  action: string;
  customerId?: string | null;
  targetType?: string;
  targetId?: string;
  details?: Record<string, unknown>;
}

/**
 * Records who did what. Services call `record` inside the transaction of the change it
 * describes, so a change and its audit event are committed together or not at all — and
 * as the last statement of it: recording locks the organization's chain head until the
 * commit (see audit-store.ts). Each organization's events form a hash chain (audit-chain.ts).
 */
export const createAuditService = (deps: { store: AuditStore; clock: Clock }) => {
  const { store, clock } = deps;

  return {
    async record(actor: Actor | null, organizationId: string, entry: AuditEntry, trx?: Db): Promise<void> {
      const now = clock.now();
      await store.insert(
        {
          id: newId('evt', now),
          organizationId,
          customerId: entry.customerId ?? null,
          actor: actor ? { type: actor.type, id: actor.id, role: actor.role } : { type: 'system', id: null, role: null },
          action: entry.action,
          targetType: entry.targetType ?? null,
          targetId: entry.targetId ?? null,
          details: entry.details ?? {},
          occurredAt: now.toISOString(),
        },
        trx,
      );
    },

    async list(
      actor: Actor,
      query: { action?: string | undefined; targetId?: string | undefined; customerId?: string | undefined; limit?: number | undefined; cursor?: string | undefined },
    ): Promise<Page<AuditEvent>> {
      requireRole(actor, 'org_admin', 'org_member');
      const limit = query.limit ?? DEFAULT_PAGE_SIZE;
      const beforeId = decodeCursor(query.cursor);
      const { action, targetId, customerId } = query;
      const rows = await store.list(actor.organizationId, { action, targetId, customerId, beforeId, limit: limit + 1 });
      return toPage(rows, limit);
    },

    /** Walks the caller's organization's hash chain and reports the first broken link. */
    async verify(actor: Actor): Promise<ChainReport> {
      requireRole(actor, 'org_admin');
      return verifyChain(store.chain, actor.organizationId);
    },
  };
};

export type AuditService = ReturnType<typeof createAuditService>;
