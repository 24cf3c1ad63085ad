import type { WebhookDelivery, WebhookEndpoint } from '../api/types.js';

const at = '2025-03-05T10:00:00.000Z';

export const endpoint = (overrides: Partial<WebhookEndpoint> = {}): WebhookEndpoint => ({
  id: 'whe_1',
  url: 'https://hooks.acme.example/credence',
  events: ['credential.deleted', 'credential.reauthorization_required'],
  description: 'Ops alerts',
  previousSecretExpiresAt: null,
  createdAt: at,
  updatedAt: at,
  ...overrides,
});

export const delivery = (overrides: Partial<WebhookDelivery> & Pick<WebhookDelivery, 'id'>): WebhookDelivery => ({
  eventId: `msg_${overrides.id}`,
  eventType: 'credential.deleted',
  status: 'delivered',
  attempts: 1,
  nextAttemptAt: null,
  createdAt: at,
  deliveredAt: at,
  payload: { type: 'credential.deleted', timestamp: at, data: { credentialId: 'cred_1', label: 'Globex API' } },
  attemptLog: [{ at, ok: true, responseStatus: 200, latencyMs: 42, error: null }],
  ...overrides,
});
