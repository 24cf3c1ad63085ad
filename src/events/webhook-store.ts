import type { Db } from '../store/database.js';
import { claimLeased } from '../store/leases.js';
import type { WebhookAttemptsTable, WebhookDeliveriesTable, WebhookEndpointsTable } from '../store/schema.js';
import type { EventType } from './event-types.js';

export interface WebhookEndpoint {
  id: string;
  organizationId: string;
  url: string;
  events: EventType[];
  description: string;
  /** Sealed with the organization's data key. */
  secretCiphertext: string;
  /** The secret before the last rotation, still signing until `previousSecretExpiresAt`. */
  previousSecretCiphertext: string | null;
  previousSecretExpiresAt: string | null;
  createdAt: string;
  updatedAt: string;
}

export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

export interface WebhookDelivery {
  id: string;
  organizationId: string;
  endpointId: string;
  /** The `webhook-id`: the same for every attempt, so receivers can drop repeats. */
  eventId: string;
  eventType: EventType;
  payload: string;
  status: DeliveryStatus;
  attempts: number;
  nextAttemptAt: string | null;
  createdAt: string;
  deliveredAt: string | null;
}

export interface WebhookAttempt {
  id: string;
  at: string;
  ok: boolean;
  responseStatus: number | null;
  latencyMs: number;
  error: string | null;
}

const toEndpoint = (row: WebhookEndpointsTable): WebhookEndpoint => ({
  id: row.id,
  organizationId: row.organization_id,
  url: row.url,
  events: JSON.parse(row.events) as EventType[],
  description: row.description,
  secretCiphertext: row.secret_ciphertext,
  previousSecretCiphertext: row.previous_secret_ciphertext,
  previousSecretExpiresAt: row.previous_secret_expires_at,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

const toDelivery = (row: WebhookDeliveriesTable): WebhookDelivery => ({
  id: row.id,
  organizationId: row.organization_id,
  endpointId: row.endpoint_id,
  eventId: row.event_id,
  eventType: row.event_type as EventType,
  payload: row.payload,
  status: row.status as DeliveryStatus,
  attempts: Number(row.attempts),
  nextAttemptAt: row.next_attempt_at,
  createdAt: row.created_at,
  deliveredAt: row.delivered_at,
});

const toAttempt = (row: WebhookAttemptsTable): WebhookAttempt => ({
  id: row.id,
  at: row.at,
  ok: Number(row.ok) === 1,
  responseStatus: row.response_status === null ? null : Number(row.response_status),
  latencyMs: Number(row.latency_ms),
  error: row.error,
});

export type EndpointChanges = Partial<Pick<WebhookEndpoint, 'url' | 'events' | 'description' | 'secretCiphertext' | 'previousSecretCiphertext' | 'previousSecretExpiresAt'>> & { updatedAt: string };

/** Webhook endpoints, their outbox of deliveries and each attempt. Every query but the worker's claim is scoped by organization id. */
export const createWebhookStore = (db: Db, engine: 'sqlite' | 'postgres') => ({
  async insertEndpoint(endpoint: WebhookEndpoint, trx: Db = db): Promise<void> {
    await trx
      .insertInto('webhook_endpoints')
      .values({
        id: endpoint.id,
        organization_id: endpoint.organizationId,
        url: endpoint.url,
        events: JSON.stringify(endpoint.events),
        description: endpoint.description,
        secret_ciphertext: endpoint.secretCiphertext,
        previous_secret_ciphertext: endpoint.previousSecretCiphertext,
        previous_secret_expires_at: endpoint.previousSecretExpiresAt,
        created_at: endpoint.createdAt,
        updated_at: endpoint.updatedAt,
      })
      .execute();
  },

  async findEndpoint(organizationId: string, id: string, trx: Db = db): Promise<WebhookEndpoint | undefined> {
    const row = await trx.selectFrom('webhook_endpoints').selectAll().where('organization_id', '=', organizationId).where('id', '=', id).executeTakeFirst();
    return row && toEndpoint(row);
  },

  async listEndpoints(organizationId: string, trx: Db = db): Promise<WebhookEndpoint[]> {
    const rows = await trx.selectFrom('webhook_endpoints').selectAll().where('organization_id', '=', organizationId).orderBy('id').execute();
    return rows.map(toEndpoint);
  },

  async updateEndpoint(organizationId: string, id: string, changes: EndpointChanges, trx: Db = db): Promise<void> {
    await trx
      .updateTable('webhook_endpoints')
      .set({
        updated_at: changes.updatedAt,
        ...(changes.url !== undefined ? { url: changes.url } : {}),
        ...(changes.events !== undefined ? { events: JSON.stringify(changes.events) } : {}),
        ...(changes.description !== undefined ? { description: changes.description } : {}),
        ...(changes.secretCiphertext !== undefined ? { secret_ciphertext: changes.secretCiphertext } : {}),
        ...(changes.previousSecretCiphertext !== undefined ? { previous_secret_ciphertext: changes.previousSecretCiphertext } : {}),
        ...(changes.previousSecretExpiresAt !== undefined ? { previous_secret_expires_at: changes.previousSecretExpiresAt } : {}),
      })
      .where('organization_id', '=', organizationId)
      .where('id', '=', id)
      .execute();
  },

  async deleteEndpoint(organizationId: string, id: string, trx: Db = db): Promise<boolean> {
    const result = await trx.deleteFrom('webhook_endpoints').where('organization_id', '=', organizationId).where('id', '=', id).executeTakeFirst();
    return Number(result.numDeletedRows) === 1;
  },

  async insertDeliveries(deliveries: readonly WebhookDelivery[], trx: Db = db): Promise<void> {
    if (deliveries.length === 0) return;
    await trx
      .insertInto('webhook_deliveries')
      .values(
        deliveries.map((d) => ({
          id: d.id,
          organization_id: d.organizationId,
          endpoint_id: d.endpointId,
          event_id: d.eventId,
          event_type: d.eventType,
          payload: d.payload,
          status: d.status,
          attempts: d.attempts,
          next_attempt_at: d.nextAttemptAt,
          lease_owner: null,
          lease_expires_at: null,
          created_at: d.createdAt,
          delivered_at: d.deliveredAt,
        })),
      )
      .execute();
  },

  /** Leases due deliveries (see claimLeased), each with its endpoint. */
  async claimDue(claim: { owner: string; now: string; until: string; limit: number; perOrganization: number }): Promise<Array<{ delivery: WebhookDelivery; endpoint: WebhookEndpoint }>> {
    return db.transaction().execute(async (trx) => {
      const ids = await claimLeased(trx, engine, { table: 'webhook_deliveries', key: 'id', due: 'next_attempt_at' }, claim);
      if (ids.length === 0) return [];
      const deliveries = (await trx.selectFrom('webhook_deliveries').selectAll().where('id', 'in', ids).orderBy('next_attempt_at').orderBy('id').execute()).map(toDelivery);
      const endpoints = new Map(
        (await trx.selectFrom('webhook_endpoints').selectAll().where('id', 'in', [...new Set(deliveries.map((d) => d.endpointId))]).execute()).map((row) => [row.id, toEndpoint(row)]),
      );
      return deliveries.flatMap((delivery) => {
        const endpoint = endpoints.get(delivery.endpointId);
        return endpoint ? [{ delivery, endpoint }] : [];
      });
    });
  },

  /** Keeps an attempt and what follows it, if this worker still holds the delivery's lease. */
  async recordAttempt(
    delivery: Pick<WebhookDelivery, 'id' | 'organizationId'>,
    owner: string,
    attempt: WebhookAttempt,
    next: { status: DeliveryStatus; attempts: number; nextAttemptAt: string | null; deliveredAt: string | null },
  ): Promise<boolean> {
    return db.transaction().execute(async (trx) => {
      const moved = await trx
        .updateTable('webhook_deliveries')
        .set({ status: next.status, attempts: next.attempts, next_attempt_at: next.nextAttemptAt, delivered_at: next.deliveredAt, lease_owner: null, lease_expires_at: null })
        .where('id', '=', delivery.id)
        .where('lease_owner', '=', owner)
        .executeTakeFirst();
      if (Number(moved.numUpdatedRows) !== 1) return false;
      await trx
        .insertInto('webhook_attempts')
        .values({
          id: attempt.id,
          delivery_id: delivery.id,
          organization_id: delivery.organizationId,
          at: attempt.at,
          ok: attempt.ok ? 1 : 0,
          response_status: attempt.responseStatus,
          latency_ms: attempt.latencyMs,
          error: attempt.error,
        })
        .execute();
      return true;
    });
  },

  /** An endpoint's deliveries, newest first, each with its attempts (oldest first). */
  async listDeliveries(organizationId: string, endpointId: string, page: { beforeId?: string | undefined; limit: number }): Promise<Array<WebhookDelivery & { attemptLog: WebhookAttempt[] }>> {
    let query = db.selectFrom('webhook_deliveries').selectAll().where('organization_id', '=', organizationId).where('endpoint_id', '=', endpointId);
    if (page.beforeId !== undefined) query = query.where('id', '<', page.beforeId);
    const deliveries = (await query.orderBy('id', 'desc').limit(page.limit).execute()).map(toDelivery);
    if (deliveries.length === 0) return [];
    const attempts = await db
      .selectFrom('webhook_attempts')
      .selectAll()
      .where('organization_id', '=', organizationId)
      .where('delivery_id', 'in', deliveries.map((d) => d.id))
      .orderBy('at')
      .orderBy('id')
      .execute();
    const byDelivery = new Map<string, WebhookAttempt[]>();
    for (const row of attempts) byDelivery.set(row.delivery_id, [...(byDelivery.get(row.delivery_id) ?? []), toAttempt(row)]);
    return deliveries.map((d) => ({ ...d, attemptLog: byDelivery.get(d.id) ?? [] }));
  },

  async findDelivery(organizationId: string, endpointId: string, id: string): Promise<WebhookDelivery | undefined> {
    const row = await db.selectFrom('webhook_deliveries').selectAll().where('organization_id', '=', organizationId).where('endpoint_id', '=', endpointId).where('id', '=', id).executeTakeFirst();
    return row && toDelivery(row);
  },

  /** Queues a delivery again, now, keeping its id and attempts. */
  async resend(organizationId: string, id: string, now: string): Promise<void> {
    await db
      .updateTable('webhook_deliveries')
      .set({ status: 'pending', next_attempt_at: now, lease_owner: null, lease_expires_at: null })
      .where('organization_id', '=', organizationId)
      .where('id', '=', id)
      .execute();
  },
});


export type WebhookStore = ReturnType<typeof createWebhookStore>;
