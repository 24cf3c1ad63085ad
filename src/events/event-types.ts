/** Every event Credence tells webhook endpoints about. */
export const EVENT_TYPES = [
  'credential.authorized',
  'credential.reauthorization_required',
  'credential.refresh_failed',
  'credential.health_changed',
  'credential.recovered',
  'credential.expiring',
  'credential.expired',
  'credential.deleted',
  'authorization_link.opened',
  'authorization_link.expired',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export const isEventType = (value: string): value is EventType => (EVENT_TYPES as readonly string[]).includes(value);

/**
 * What an event says of a credential: ids, label, customer, health and where to look, never
 * a secret nor what a service answered.
 */
export interface CredentialEventData {
  credentialId: string;
  label: string;
  level: 'organization' | 'customer';
  customerId: string | null;
  /** The customer's name (set when the event is put in the outbox). */
  customerName?: string | null;
  /** The credential's page in the web app. */
  url: string;
  [detail: string]: unknown;
}

/** The body of a webhook delivery (the Standard Webhooks payload shape). */
export interface EventPayload {
  type: EventType;
  timestamp: string;
  data: Record<string, unknown>;
}
