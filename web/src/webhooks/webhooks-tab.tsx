import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Link } from 'react-router';
import { api } from '../api/client.js';
import { keys } from '../api/query-keys.js';
import type { WebhookEndpoint } from '../api/types.js';
import { EmptyState, ErrorMessage, Loading } from '../ui/feedback.js';
import { formatDateTime } from '../ui/format.js';
import { EndpointForm } from './endpoint-form.js';
import { EventChips } from './event-chips.js';
import { SecretOnce } from './secret-once.js';
import { SecretState } from './secret-state.js';

function EndpointTable({ endpoints }: { endpoints: WebhookEndpoint[] }) {
  return (
    <table className="table responsive webhooks">
      <caption className="visually-hidden">Webhook endpoints</caption>
      <thead>
        <tr><th scope="col">Endpoint</th><th scope="col">Events</th><th scope="col">Signing secret</th><th scope="col">Added</th></tr>
      </thead>
      <tbody>
        {endpoints.map((endpoint) => (
          <tr key={endpoint.id}>
            <td data-label="Endpoint">
              <span className="endpoint-name">
                <Link to={`/settings/webhooks/${endpoint.id}`} className="strong-link mono endpoint-url">{endpoint.url}</Link>
                {endpoint.description && <span className="muted">{endpoint.description}</span>}
              </span>
            </td>
            <td data-label="Events"><EventChips events={endpoint.events} /></td>
            <td data-label="Signing secret"><SecretState endpoint={endpoint} idle="—" /></td>
            <td data-label="Added"><time dateTime={endpoint.createdAt}>{formatDateTime(endpoint.createdAt)}</time></td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** Settings → Webhooks: where Credence sends its events (organization admins only). */
export function WebhooksTab() {
  const queryClient = useQueryClient();
  const list = useQuery({ queryKey: [...keys.webhooks, 'list'], queryFn: api.webhooks.list });
  const [adding, setAdding] = useState(false);
  const [created, setCreated] = useState<{ url: string; secret: string } | null>(null);
  const create = useMutation({
    mutationFn: api.webhooks.create,
    // The answer holds the secret: keep it in this screen's state only, not in a cache.
    gcTime: 0,
    onSuccess: ({ url, secret }) => {
      void queryClient.invalidateQueries({ queryKey: keys.webhooks });
      setAdding(false);
      setCreated({ url, secret });
    },
  });
  const endpoints = list.data?.items ?? [];
  return (
    <div className="stack">
      <div className="section-header">
        <p>Credence POSTs a signed event to each endpoint when a credential needs attention, so your service can act without polling.</p>
        {!adding && <button type="button" className="button primary" onClick={() => { setAdding(true); setCreated(null); }}>+ Endpoint</button>}
      </div>
      {adding && (
        <EndpointForm label="New endpoint" submitText={['Add endpoint', 'Adding…']} pending={create.isPending} error={create.error} onSubmit={(input) => create.mutate(input)}>
          <button type="button" className="button secondary" onClick={() => { setAdding(false); create.reset(); }}>Cancel</button>
        </EndpointForm>
      )}
      {created && <SecretOnce title="Endpoint added" url={created.url} secret={created.secret} onDone={() => { setCreated(null); create.reset(); }} />}
      <ErrorMessage error={list.error} />
      {list.isPending ? (
        <Loading label="Loading webhook endpoints…" />
      ) : endpoints.length === 0 ? (
        !adding && <EmptyState title="No webhook endpoints yet."><p>Use “+ Endpoint” to have Credence tell your service when a credential is authorized, fails or is deleted.</p></EmptyState>
      ) : (
        <EndpointTable endpoints={endpoints} />
      )}
    </div>
  );
}
