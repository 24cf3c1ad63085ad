import type { Clock } from '../common/clock.js';
import { newId } from '../common/ids.js';
import type { Db } from '../store/database.js';
import type { CredentialEventData, EventPayload, EventType } from './event-types.js';
import type { TenantStore } from '../tenants/tenant-store.js';
import type { AlertEmail, AlertReason, AlertStore } from './alert-store.js';
import type { WebhookStore } from './webhook-store.js';

/**
 * The events that also email the organization's admins (and the credential's contact): a
 * credential that needs reauthorization, turns failing (unless because it expired, which has
 * its own email), nears or reaches its expiry date.
 */
const alertReasonOf = (event: OutboxEvent): AlertReason | undefined => {
  if (event.type === 'credential.reauthorization_required') return 'reauthorization_required';
  if (event.type === 'credential.health_changed' && event.data.health === 'failing' && event.data.source !== 'expiry') return 'failing';
  if (event.type === 'credential.expiring') return 'expiring';
  if (event.type === 'credential.expired') return 'expired';
  return undefined;
};

/** An event to tell the organization's endpoints about. */
export interface OutboxEvent {
  organizationId: string;
  type: EventType;
  data: Record<string, unknown>;
}

/**
 * Puts events in the outbox: one delivery per endpoint of the organization that subscribed
 * to the event's type, written inside the caller's transaction, so the event exists exactly
 * when the change that caused it does, and the alert email it calls for, if any. The webhook
 * and alert workers send them.
 */
export const createEventOutbox = (deps: {
  store: Pick<WebhookStore, 'listEndpoints' | 'insertDeliveries'>;
  alerts?: Pick<AlertStore, 'enqueue'>;
  /** Names the customer of a customer credential's events. */
  customers?: Pick<TenantStore, 'findCustomer'>;
  clock: Clock;
  publicUrl: string;
}) => {
  const { store, clock } = deps;

  /** The customer's name, for events that carry a customer id. */
  const named = async (trx: Db, event: OutboxEvent, names: Map<string, string | null>): Promise<OutboxEvent> => {
    const customerId = event.data.customerId;
    if (typeof customerId !== 'string' || !deps.customers) return event;
    if (!names.has(customerId)) names.set(customerId, (await deps.customers.findCustomer(event.organizationId, customerId, trx))?.name ?? null);
    return { ...event, data: { ...event.data, customerName: names.get(customerId) ?? null } };
  };

  return {
    async emit(trx: Db, events: readonly OutboxEvent[]): Promise<void> {
      if (events.length === 0) return;
      const endpointsOf = new Map<string, Awaited<ReturnType<typeof store.listEndpoints>>>();
      const now = clock.now();
      const deliveries = [];
      const alerts: AlertEmail[] = [];
      const names = new Map<string, string | null>();
      for (const given of events) {
        let endpoints = endpointsOf.get(given.organizationId);
        if (!endpoints) endpointsOf.set(given.organizationId, (endpoints = await store.listEndpoints(given.organizationId, trx)));
        const subscribed = endpoints.filter((endpoint) => endpoint.events.includes(given.type));
        const reason = alertReasonOf(given);
        // Nobody hears of it: nothing to write, not even the customer's name to look up.
        if (subscribed.length === 0 && !reason) continue;
        const event = await named(trx, given, names);
        if (reason) {
          const credentialId = String(event.data.credentialId);
          alerts.push({ id: newId('alr', now), organizationId: event.organizationId, credentialId, reason, details: event.data, status: 'pending', attempts: 0, nextAttemptAt: now.toISOString(), createdAt: now.toISOString(), sentAt: null, error: null });
        }
        if (subscribed.length === 0) continue;
        const eventId = newId('msg', now);
        const payload = JSON.stringify({ type: event.type, timestamp: now.toISOString(), data: event.data } satisfies EventPayload);
        for (const endpoint of subscribed) {
          deliveries.push({
            id: newId('whd', now),
            organizationId: event.organizationId,
            endpointId: endpoint.id,
            eventId,
            eventType: event.type,
            payload,
            status: 'pending' as const,
            attempts: 0,
            nextAttemptAt: now.toISOString(),
            createdAt: now.toISOString(),
            deliveredAt: null,
          });
        }
      }
      await store.insertDeliveries(deliveries, trx);
      await deps.alerts?.enqueue(alerts, trx);
    },

    /** What an event says of a credential (never a secret, nor what a service answered). */
    credentialData(credential: { id: string; label: string; customerId: string | null }, details: Record<string, unknown> = {}): CredentialEventData {
      return {
        credentialId: credential.id,
        label: credential.label,
        level: credential.customerId === null ? 'organization' : 'customer',
        customerId: credential.customerId,
        url: `${deps.publicUrl}/credentials/${credential.id}`,
        ...details,
      };
    },
  };
};

export type EventOutbox = ReturnType<typeof createEventOutbox>;
