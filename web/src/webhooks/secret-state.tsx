import type { WebhookEndpoint } from '../api/types.js';
import { formatDateTime } from '../ui/format.js';

/** "Secret rotating until …" while the secret before the last rotation still signs; `idle` otherwise. */
export function SecretState({ endpoint, idle }: { endpoint: Pick<WebhookEndpoint, 'previousSecretExpiresAt'>; idle: string }) {
  if (!endpoint.previousSecretExpiresAt) return <span className="muted">{idle}</span>;
  return (
    <span className="badge badge-warn" title="Deliveries carry a signature with the old secret too, until then">
      Secret rotating until <time dateTime={endpoint.previousSecretExpiresAt}>{formatDateTime(endpoint.previousSecretExpiresAt)}</time>
    </span>
  );
}
