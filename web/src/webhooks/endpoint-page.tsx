import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Link, useParams } from 'react-router';
import { api } from '../api/client.js';
import { keys } from '../api/query-keys.js';
import type { WebhookEndpoint } from '../api/types.js';
import { ErrorMessage, LiveRegion, Loading } from '../ui/feedback.js';
import { formatDateTime } from '../ui/format.js';
import { DeleteEndpoint } from './delete-endpoint.js';
import { Deliveries } from './deliveries.js';
import { EndpointForm } from './endpoint-form.js';
import { EventChips } from './event-chips.js';
import { RotateSecret } from './rotate-secret.js';
import { SecretState } from './secret-state.js';

function Summary({ endpoint, onEdit }: { endpoint: WebhookEndpoint; onEdit: () => void }) {
  return (
    <section className="panel stack" aria-labelledby="endpoint-heading">
      <div className="card-header">
        <h2 id="endpoint-heading" className="mono endpoint-url">{endpoint.url}</h2>
        <button type="button" className="button secondary small" onClick={onEdit}>Edit</button>
      </div>
      <dl className="details">
        <dt>Description</dt><dd>{endpoint.description || '—'}</dd>
        <dt>Events</dt><dd><EventChips events={endpoint.events} /></dd>
        <dt>Signing secret</dt><dd><SecretState endpoint={endpoint} idle="Current secret only" /></dd>
        <dt>Added</dt><dd><time dateTime={endpoint.createdAt}>{formatDateTime(endpoint.createdAt)}</time></dd>
      </dl>
    </section>
  );
}

function EditEndpoint({ endpoint, onSaved, onCancel }: { endpoint: WebhookEndpoint; onSaved: () => void; onCancel: () => void }) {
  const queryClient = useQueryClient();
  const update = useMutation({
    mutationFn: (input: Parameters<typeof api.webhooks.update>[1]) => api.webhooks.update(endpoint.id, input),
    onSuccess: (saved) => {
      queryClient.setQueryData(keys.webhook(endpoint.id), saved);
      void queryClient.invalidateQueries({ queryKey: [...keys.webhooks, 'list'] });
      onSaved();
    },
  });
  return (
    <EndpointForm label="Change endpoint" initial={endpoint} submitText={['Save changes', 'Saving…']} pending={update.isPending} error={update.error} onSubmit={(input) => update.mutate(input)}>
      <button type="button" className="button secondary" onClick={onCancel}>Cancel</button>
    </EndpointForm>
  );
}

/** Settings → Webhooks → an endpoint: what it hears, its deliveries, its secret, and Delete. */
export function EndpointPage() {
  const { id = '' } = useParams();
  const endpoint = useQuery({ queryKey: keys.webhook(id), queryFn: () => api.webhooks.get(id) });
  const [editing, setEditing] = useState(false);
  const [saved, setSaved] = useState(false);
  return (
    <div className="stack">
      <p><Link to="/settings/webhooks">← All webhook endpoints</Link></p>
      {endpoint.isPending ? (
        <Loading label="Loading endpoint…" />
      ) : endpoint.isError ? (
        <ErrorMessage error={endpoint.error} />
      ) : (
        <>
          {editing ? (
            <EditEndpoint endpoint={endpoint.data} onSaved={() => { setEditing(false); setSaved(true); }} onCancel={() => setEditing(false)} />
          ) : (
            <Summary endpoint={endpoint.data} onEdit={() => { setEditing(true); setSaved(false); }} />
          )}
          <LiveRegion>{saved && !editing && <p className="alert alert-success">Changes saved.</p>}</LiveRegion>
          <Deliveries endpointId={id} />
          <RotateSecret endpoint={endpoint.data} />
          <DeleteEndpoint endpoint={endpoint.data} />
        </>
      )}
    </div>
  );
}
