import type { AuditService } from '../audit/audit-service.js';
import { AppError, notFound } from '../common/app-error.js';
import type { Clock } from '../common/clock.js';
import { newId } from '../common/ids.js';
import { DEFAULT_PAGE_SIZE, decodeCursor, toPage, type Page } from '../common/pagination.js';
import { Redacted } from '../common/redacted.js';
import { checkUri } from '../credentials/field-validation.js';
import type { CipherContext, Keyring } from '../crypto/keyring.js';
import type { Transact } from '../store/database.js';
import { requireRole, type Actor } from '../tenants/actor.js';
import { EVENT_TYPES, isEventType, type EventType } from './event-types.js';
import { newWebhookSecret } from './webhook-signing.js';
import type { WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookStore } from './webhook-store.js';

export const WEBHOOK_SECRET_FIELD_SET = 'webhook-secret';
export const WEBHOOK_PREVIOUS_SECRET_FIELD_SET = 'webhook-previous-secret';
/** How long the old secret keeps signing after a rotation unless told otherwise, and at most. */
export const DEFAULT_OVERLAP_SECONDS = 24 * 60 * 60;
export const MAX_OVERLAP_SECONDS = 7 * 24 * 60 * 60;

export const webhookSecretContext = (endpoint: Pick<WebhookEndpoint, 'id' | 'organizationId'>, fieldSet = WEBHOOK_SECRET_FIELD_SET): CipherContext => ({
  organizationId: endpoint.organizationId,
  scopeId: endpoint.organizationId,
  recordId: endpoint.id,
  fieldSet,
});

/** An endpoint as the API shows it: never its secret. */
export interface WebhookEndpointView {
  id: string;
  url: string;
  events: EventType[];
  description: string;
  /** Until when the secret before the last rotation still signs deliveries. */
  previousSecretExpiresAt: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface EndpointInput {
  url: string;
  events: string[];
  description?: string | undefined;
}

/**
 * An endpoint's address as the audit log keeps it: origin and path, not the query, which some
 * receivers use to carry a token of their own.
 */
const auditedUrl = (url: string): string => {
  const parsed = new URL(url);
  return `${parsed.origin}${parsed.pathname}`;
};

const view = (endpoint: WebhookEndpoint, now: Date): WebhookEndpointView => ({
  id: endpoint.id,
  url: endpoint.url,
  events: endpoint.events,
  description: endpoint.description,
  previousSecretExpiresAt: endpoint.previousSecretExpiresAt && Date.parse(endpoint.previousSecretExpiresAt) > now.getTime() ? endpoint.previousSecretExpiresAt : null,
  createdAt: endpoint.createdAt,
  updatedAt: endpoint.updatedAt,
});

/**
 * Webhook endpoints, for organization admins: where Credence sends its events, signed with
 * a secret shown once (and rotatable with an overlap, while both secrets sign), with every
 * delivery and attempt kept for inspection and resending.
 */
export const createWebhookService = (deps: {
  store: WebhookStore;
  keyring: Pick<Keyring, 'seal' | 'open'>;
  audit: Pick<AuditService, 'record'>;
  transact: Transact;
  clock: Clock;
  allowInsecureLoopback: boolean;
}) => {
  const { store, keyring, audit, transact, clock } = deps;

  const checkUrl = (url: string): string => {
    const problem = url.length > 2000 ? 'is too long' : checkUri(url, { allowInsecureLoopback: deps.allowInsecureLoopback });
    if (problem) throw new AppError('VALIDATION_FAILED', `url ${problem}`);
    return new URL(url).toString();
  };
  const checkEvents = (events: string[]): EventType[] => {
    const unknown = events.filter((event) => !isEventType(event));
    if (unknown.length > 0) throw new AppError('VALIDATION_FAILED', `Unknown events: ${unknown.join(', ')}; use any of ${EVENT_TYPES.join(', ')}`);
    if (events.length === 0) throw new AppError('VALIDATION_FAILED', 'events must name at least one event');
    return [...new Set(events as EventType[])].sort();
  };
  const find = async (actor: Actor, id: string): Promise<WebhookEndpoint> => {
    requireRole(actor, 'org_admin');
    const endpoint = await store.findEndpoint(actor.organizationId, id);
    if (!endpoint) throw notFound('Webhook endpoint');
    return endpoint;
  };

  return {
    async create(actor: Actor, input: EndpointInput): Promise<{ endpoint: WebhookEndpointView; secret: Redacted<string> }> {
      requireRole(actor, 'org_admin');
      const url = checkUrl(input.url);
      const events = checkEvents(input.events);
      const now = clock.now();
      const id = newId('whe', now);
      const secret = newWebhookSecret();
      const endpoint = await transact(async (trx) => {
        const created: WebhookEndpoint = {
          id,
          organizationId: actor.organizationId,
          url,
          events,
          description: input.description ?? '',
          secretCiphertext: await keyring.seal(webhookSecretContext({ id, organizationId: actor.organizationId }), Buffer.from(secret, 'utf8'), trx),
          previousSecretCiphertext: null,
          previousSecretExpiresAt: null,
          createdAt: now.toISOString(),
          updatedAt: now.toISOString(),
        };
        await store.insertEndpoint(created, trx);
        await audit.record(actor, actor.organizationId, { action: 'webhook_endpoint.created', targetType: 'webhook_endpoint', targetId: id, details: { url: auditedUrl(url), events } }, trx);
        return created;
      });
      return { endpoint: view(endpoint, now), secret: new Redacted(secret) };
    },

    async list(actor: Actor): Promise<WebhookEndpointView[]> {
      requireRole(actor, 'org_admin');
      const now = clock.now();
      return (await store.listEndpoints(actor.organizationId)).map((endpoint) => view(endpoint, now));
    },

    async get(actor: Actor, id: string): Promise<WebhookEndpointView> {
      return view(await find(actor, id), clock.now());
    },

    async update(actor: Actor, id: string, input: Partial<EndpointInput>): Promise<WebhookEndpointView> {
      const current = await find(actor, id);
      const changes = {
        ...(input.url !== undefined ? { url: checkUrl(input.url) } : {}),
        ...(input.events !== undefined ? { events: checkEvents(input.events) } : {}),
        ...(input.description !== undefined ? { description: input.description } : {}),
      };
      const now = clock.now();
      await transact(async (trx) => {
        await store.updateEndpoint(actor.organizationId, id, { ...changes, updatedAt: now.toISOString() }, trx);
        await audit.record(
          actor,
          actor.organizationId,
          { action: 'webhook_endpoint.updated', targetType: 'webhook_endpoint', targetId: id, details: { ...changes, ...(changes.url ? { url: auditedUrl(changes.url) } : {}) } },
          trx,
        );
      });
      return view({ ...current, ...changes, updatedAt: now.toISOString() }, now);
    },

    async delete(actor: Actor, id: string): Promise<void> {
      const current = await find(actor, id);
      await transact(async (trx) => {
        await store.deleteEndpoint(actor.organizationId, id, trx);
        await audit.record(actor, actor.organizationId, { action: 'webhook_endpoint.deleted', targetType: 'webhook_endpoint', targetId: id, details: { url: auditedUrl(current.url) } }, trx);
      });
    },

    /** A new signing secret, shown once; the old one keeps signing for `overlapSeconds` (default a day), so receivers can switch over. */
    async rotateSecret(actor: Actor, id: string, input: { overlapSeconds?: number | undefined }): Promise<{ endpoint: WebhookEndpointView; secret: Redacted<string> }> {
      const current = await find(actor, id);
      const overlap = input.overlapSeconds ?? DEFAULT_OVERLAP_SECONDS;
      if (!Number.isInteger(overlap) || overlap < 0 || overlap > MAX_OVERLAP_SECONDS) throw new AppError('VALIDATION_FAILED', `overlapSeconds must be a whole number from 0 to ${MAX_OVERLAP_SECONDS}`);
      const now = clock.now();
      const secret = newWebhookSecret();
      const updated = await transact(async (trx) => {
        const old = (await keyring.open(webhookSecretContext(current), current.secretCiphertext, trx)).toString('utf8');
        const changes = {
          secretCiphertext: await keyring.seal(webhookSecretContext(current), Buffer.from(secret, 'utf8'), trx),
          previousSecretCiphertext: overlap > 0 ? await keyring.seal(webhookSecretContext(current, WEBHOOK_PREVIOUS_SECRET_FIELD_SET), Buffer.from(old, 'utf8'), trx) : null,
          previousSecretExpiresAt: overlap > 0 ? new Date(now.getTime() + overlap * 1000).toISOString() : null,
          updatedAt: now.toISOString(),
        };
        await store.updateEndpoint(actor.organizationId, id, changes, trx);
        await audit.record(actor, actor.organizationId, { action: 'webhook_endpoint.secret_rotated', targetType: 'webhook_endpoint', targetId: id, details: { overlapSeconds: overlap } }, trx);
        return { ...current, ...changes };
      });
      return { endpoint: view(updated, now), secret: new Redacted(secret) };
    },

    async deliveries(actor: Actor, id: string, query: { limit?: number | undefined; cursor?: string | undefined }): Promise<Page<WebhookDelivery & { attemptLog: WebhookAttempt[] }>> {
      await find(actor, id);
      const limit = query.limit ?? DEFAULT_PAGE_SIZE;
      const rows = await store.listDeliveries(actor.organizationId, id, { beforeId: decodeCursor(query.cursor), limit: limit + 1 });
      return toPage(rows, limit);
    },

    /** Sends a delivery again (same webhook-id, so a receiver that has it can tell). */
    async resend(actor: Actor, id: string, deliveryId: string): Promise<void> {
      await find(actor, id);
      const delivery = await store.findDelivery(actor.organizationId, id, deliveryId);
      if (!delivery) throw notFound('Delivery');
      await store.resend(actor.organizationId, deliveryId, clock.now().toISOString());
      await audit.record(actor, actor.organizationId, { action: 'webhook_delivery.resent', targetType: 'webhook_endpoint', targetId: id, details: { deliveryId, event: delivery.eventType } });
    },
  };
};

export type WebhookService = ReturnType<typeof createWebhookService>;
