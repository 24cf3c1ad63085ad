import { useInfiniteQuery, useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api } from '../api/client.js';
import { keys } from '../api/query-keys.js';
import type { WebhookDelivery } from '../api/types.js';
import { EmptyState, ErrorMessage, Loading } from '../ui/feedback.js';
import { formatDateTime } from '../ui/format.js';
import { AttemptList, DeliveryStatus } from './delivery-status.js';
import { eventLabel } from './event-labels.js';

const PAGE_SIZE = 20;
/** How often the list is read again while a delivery is still on its way. */
export const DELIVERIES_POLL_MS = 3000;

function ResendButton({ endpointId, delivery }: { endpointId: string; delivery: WebhookDelivery }) {
  const queryClient = useQueryClient();
  const resend = useMutation({
    mutationFn: () => api.webhooks.resend(endpointId, delivery.id),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: keys.webhookDeliveries(endpointId) }),
  });
  return (
    <span className="inline-confirm">
      <button type="button" className="button secondary small" disabled={resend.isPending} onClick={() => resend.mutate()}>
        {resend.isPending ? 'Resending…' : 'Resend'}<span className="visually-hidden"> {delivery.eventType} of {formatDateTime(delivery.createdAt)}</span>
      </button>
      <span aria-live="polite" className="copy-status">{resend.isSuccess ? 'Queued again' : ''}</span>
      <ErrorMessage error={resend.error} />
    </span>
  );
}

function DeliveryRows({ endpointId, delivery }: { endpointId: string; delivery: WebhookDelivery }) {
  const [open, setOpen] = useState(false);
  const detailId = `delivery-${delivery.id}`;
  return (
    <>
      <tr>
        <td data-label="Event">
          <span className="event-name">{eventLabel(delivery.eventType)}<span className="mono small muted">{delivery.eventType}</span></span>
        </td>
        <td data-label="Status"><DeliveryStatus delivery={delivery} /></td>
        <td data-label="Attempts">
          <span className="attempts-cell">
            {delivery.attempts}
            <button type="button" className="button secondary small" aria-expanded={open} aria-controls={detailId} onClick={() => setOpen(!open)}>
              {open ? 'Hide attempts' : 'Show attempts'}
            </button>
          </span>
        </td>
        <td data-label="Created"><time dateTime={delivery.createdAt}>{formatDateTime(delivery.createdAt)}</time></td>
        <td data-label="Actions"><ResendButton endpointId={endpointId} delivery={delivery} /></td>
      </tr>
      {open && (
        <tr className="delivery-detail" id={detailId}>
          <td colSpan={5}>
            <div className="stack">
              <AttemptList attempts={delivery.attemptLog} />
              <p className="small muted">webhook-id <code>{delivery.eventId}</code></p>
              <details>
                <summary>What was sent</summary>
                <pre className="json">{JSON.stringify(delivery.payload, null, 2)}</pre>
              </details>
            </div>
          </td>
        </tr>
      )}
    </>
  );
}

/** An endpoint's deliveries, newest first, each with its attempts and Resend; read again while any is on its way. */
export function Deliveries({ endpointId }: { endpointId: string }) {
  const list = useInfiniteQuery({
    queryKey: keys.webhookDeliveries(endpointId),
    queryFn: ({ pageParam }) => api.webhooks.deliveries(endpointId, { limit: PAGE_SIZE, cursor: pageParam }),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (page) => page.nextCursor ?? undefined,
    refetchInterval: (query) => (query.state.data?.pages.some((page) => page.items.some((d) => d.status === 'pending')) ? DELIVERIES_POLL_MS : false),
  });
  const items = list.data?.pages.flatMap((page) => page.items) ?? [];
  return (
    <section className="stack" aria-labelledby="deliveries-heading">
      <h2 id="deliveries-heading">Deliveries</h2>
      <ErrorMessage error={list.error} />
      {list.isPending ? (
        <Loading label="Loading deliveries…" />
      ) : items.length === 0 ? (
        <EmptyState title="Nothing sent yet."><p>Each event this endpoint hears shows here, with every attempt to send it.</p></EmptyState>
      ) : (
        <table className="table responsive deliveries">
          <caption className="visually-hidden">Deliveries, newest first</caption>
          <thead>
            <tr><th scope="col">Event</th><th scope="col">Status</th><th scope="col">Attempts</th><th scope="col">Created</th><th scope="col"><span className="visually-hidden">Actions</span></th></tr>
          </thead>
          <tbody>
            {items.map((delivery) => <DeliveryRows key={delivery.id} endpointId={endpointId} delivery={delivery} />)}
          </tbody>
        </table>
      )}
      {list.hasNextPage && (
        <div>
          <button type="button" className="button secondary" onClick={() => void list.fetchNextPage()} disabled={list.isFetchingNextPage}>
            {list.isFetchingNextPage ? 'Loading…' : 'Load more'}
          </button>
        </div>
      )}
    </section>
  );
}
