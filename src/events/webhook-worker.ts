import { errorDetails } from '../common/app-error.js';
import { createPoller } from '../common/poller.js';
import type { Clock } from '../common/clock.js';
import { newId } from '../common/ids.js';
import type { Keyring } from '../crypto/keyring.js';
import { outboundRefusal } from '../net/guarded-fetch.js';
import { WEBHOOK_PREVIOUS_SECRET_FIELD_SET, webhookSecretContext } from './webhook-service.js';
import { signedHeaders } from './webhook-signing.js';
import type { WebhookDelivery, WebhookEndpoint, WebhookStore } from './webhook-store.js';

export interface WebhookWorkerLog {
  info(details: object, message: string): void;
  error(details: object, message: string): void;
}

/**
 * How long after each failed attempt the next one comes: eight attempts over about a day
 * (as Standard Webhooks senders do), then the delivery is marked failed.
 */
export const RETRY_DELAYS_MS = [5_000, 5 * 60_000, 30 * 60_000, 2 * 3_600_000, 5 * 3_600_000, 8 * 3_600_000, 8 * 3_600_000];
const ATTEMPT_TIMEOUT_MS = 15_000;

/**
 * Sends the outbox: claims due deliveries under a lease (one worker per delivery across every
 * process, at most `perOrganization` of one organization in a claim), signs each attempt with
 * the endpoint's secret (and the previous one during a rotation's overlap), POSTs it through
 * the outbound network policy (`fetch`), and keeps the attempt: status code, latency, error.
 * A 2xx answer delivers it; anything else is tried again on the schedule above.
 */
export const createWebhookWorker = (deps: {
  store: Pick<WebhookStore, 'claimDue' | 'recordAttempt'>;
  keyring: Pick<Keyring, 'open'>;
  fetch: typeof fetch;
  clock: Clock;
  owner: string;
  pollMs: number;
  concurrency?: number;
  perOrganization?: number;
}) => {
  const concurrency = deps.concurrency ?? 20;
  const perOrganization = deps.perOrganization ?? Math.max(1, Math.ceil(concurrency / 4));
  const leaseMs = 2 * ATTEMPT_TIMEOUT_MS + 30_000;
  let log: WebhookWorkerLog | undefined;

  const secretsOf = async (endpoint: WebhookEndpoint, now: Date): Promise<string[]> => {
    const secrets = [(await deps.keyring.open(webhookSecretContext(endpoint), endpoint.secretCiphertext)).toString('utf8')];
    if (endpoint.previousSecretCiphertext && endpoint.previousSecretExpiresAt && Date.parse(endpoint.previousSecretExpiresAt) > now.getTime()) {
      secrets.push((await deps.keyring.open(webhookSecretContext(endpoint, WEBHOOK_PREVIOUS_SECRET_FIELD_SET), endpoint.previousSecretCiphertext)).toString('utf8'));
    }
    return secrets;
  };

  const post = async (delivery: WebhookDelivery, endpoint: WebhookEndpoint, secrets: Promise<string[]>): Promise<{ status: number | null; error: string | null }> => {
    const now = deps.clock.now();
    let signing: string[];
    try {
      signing = await secrets;
    } catch {
      return { status: null, error: "The endpoint's signing secret could not be opened; nothing was sent" };
    }
    try {
      const headers = signedHeaders(signing, delivery.eventId, now, delivery.payload);
      const response = await deps.fetch(endpoint.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'Credence-Webhooks', ...headers },
        body: delivery.payload,
        redirect: 'manual',
        signal: AbortSignal.timeout(ATTEMPT_TIMEOUT_MS),
      });
      await response.arrayBuffer().catch(() => undefined);
      return { status: response.status, error: response.ok ? null : `The endpoint answered ${response.status}` };
    } catch (error) {
      const refused = outboundRefusal(error);
      if (refused) return { status: null, error: refused.message };
      if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) return { status: null, error: 'The endpoint did not answer in time' };
      const code = (error as { cause?: { code?: string } }).cause?.code;
      return { status: null, error: `Could not reach the endpoint${code ? ` (${code})` : ''}` };
    }
  };

  const deliver = async ({ delivery, endpoint }: { delivery: WebhookDelivery; endpoint: WebhookEndpoint }, secrets: Promise<string[]>): Promise<void> => {
    const started = deps.clock.now();
    const { status, error } = await post(delivery, endpoint, secrets);
    const at = deps.clock.now();
    const ok = error === null;
    const attempts = delivery.attempts + 1;
    const delay = RETRY_DELAYS_MS[attempts - 1];
    const next = ok
      ? { status: 'delivered' as const, attempts, nextAttemptAt: null, deliveredAt: at.toISOString() }
      : delay === undefined
        ? { status: 'failed' as const, attempts, nextAttemptAt: null, deliveredAt: null }
        : { status: 'pending' as const, attempts, nextAttemptAt: new Date(at.getTime() + delay).toISOString(), deliveredAt: null };
    await deps.store.recordAttempt(delivery, deps.owner, { id: newId('wha', at), at: started.toISOString(), ok, responseStatus: status, latencyMs: at.getTime() - started.getTime(), error }, next);
    if (next.status === 'failed') log?.error({ deliveryId: delivery.id, endpointId: endpoint.id, attempts }, 'webhook delivery failed for good');
  };

  /** One claim of due deliveries, sent side by side; answers how many were claimed. */
  const tick = async (): Promise<number> => {
    const now = deps.clock.now();
    const claimed = await deps.store.claimDue({ owner: deps.owner, now: now.toISOString(), until: new Date(now.getTime() + leaseMs).toISOString(), limit: concurrency, perOrganization });
    // Each endpoint's secrets are opened once for the claim, and dropped with it.
    const secrets = new Map<string, Promise<string[]>>();
    const secretsFor = (endpoint: WebhookEndpoint) => {
      let opened = secrets.get(endpoint.id);
      if (!opened) secrets.set(endpoint.id, (opened = secretsOf(endpoint, now)));
      opened.catch(() => undefined);
      return opened;
    };
    await Promise.all(
      claimed.map((item) =>
        deliver(item, secretsFor(item.endpoint)).catch((error: unknown) => log?.error({ deliveryId: item.delivery.id, err: errorDetails(error) }, 'webhook delivery attempt failed')),
      ),
    );
    return claimed.length;
  };

  const poller = createPoller({ pass: () => tick(), pollMs: deps.pollMs, full: concurrency, onError: (error) => log?.error({ err: errorDetails(error) }, 'webhook pass failed') });

  return {
    tick,
    start(logger?: WebhookWorkerLog): void {
      log = logger;
      poller.start();
    },
    /** Stops claiming and waits for the work in flight. */
    stop: () => poller.stop(),
  };
};

export type WebhookWorker = ReturnType<typeof createWebhookWorker>;
