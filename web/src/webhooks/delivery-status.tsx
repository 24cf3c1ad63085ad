import type { WebhookAttempt, WebhookDelivery } from '../api/types.js';
import { formatDateTime } from '../ui/format.js';

const When = ({ at }: { at: string }) => <time dateTime={at}>{formatDateTime(at)}</time>;
// Retries come seconds apart: an attempt's time shows its seconds.
const withSeconds = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
const AttemptTime = ({ at }: { at: string }) => <time dateTime={at}>{withSeconds.format(new Date(at))}</time>;

/** Delivered, Failed, Retrying (with when), or Sending when it is due now. */
export function DeliveryStatus({ delivery, now = Date.now() }: { delivery: Pick<WebhookDelivery, 'status' | 'attempts' | 'nextAttemptAt' | 'deliveredAt'>; now?: number }) {
  if (delivery.status === 'delivered') {
    return <span className="badge badge-ok" title={delivery.deliveredAt ? `Delivered ${formatDateTime(delivery.deliveredAt)}` : undefined}>Delivered</span>;
  }
  if (delivery.status === 'failed') return <span className="badge badge-error" title="Every attempt failed; Resend tries again">Failed</span>;
  const next = delivery.nextAttemptAt;
  if (delivery.attempts === 0 || !next || Date.parse(next) <= now) return <span className="badge badge-neutral">Sending…</span>;
  return (
    <span className="badge badge-warn">
      Retrying — next attempt <When at={next} />
    </span>
  );
}

const resultOf = (attempt: WebhookAttempt): string =>
  attempt.responseStatus !== null ? `Answered ${attempt.responseStatus}` : (attempt.error ?? 'No answer');

/** Every attempt of a delivery, oldest first: when, what the endpoint answered (or why not), how long it took. */
export function AttemptList({ attempts }: { attempts: WebhookAttempt[] }) {
  if (attempts.length === 0) return <p className="muted">Not sent yet.</p>;
  return (
    <ol className="attempts" aria-label="Attempts, oldest first">
      {attempts.map((attempt, index) => (
        <li key={`${attempt.at}-${index}`}>
          <AttemptTime at={attempt.at} />
          <span className={attempt.ok ? 'badge badge-ok' : 'badge badge-error'}>{resultOf(attempt)}</span>
          <span className="muted">{attempt.latencyMs} ms</span>
        </li>
      ))}
    </ol>
  );
}
