import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { useNavigate } from 'react-router';
import { api } from '../api/client.js';
import { keys } from '../api/query-keys.js';
import type { WebhookEndpoint } from '../api/types.js';
import { ErrorMessage, LiveRegion } from '../ui/feedback.js';

/** Delete, then "Delete for good" / "Cancel": the endpoint goes with its deliveries. */
export function DeleteEndpoint({ endpoint }: { endpoint: WebhookEndpoint }) {
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const [confirming, setConfirming] = useState(false);
  const remove = useMutation({
    mutationFn: () => api.webhooks.remove(endpoint.id),
    onSuccess: () => {
      queryClient.removeQueries({ queryKey: keys.webhook(endpoint.id) });
      queryClient.removeQueries({ queryKey: keys.webhookDeliveries(endpoint.id) });
      void queryClient.invalidateQueries({ queryKey: keys.webhooks });
      void navigate('/settings/webhooks', { replace: true });
    },
  });
  return (
    <section className="panel danger-zone stack" aria-labelledby="delete-endpoint-heading">
      <h2 id="delete-endpoint-heading">Delete endpoint</h2>
      <p>Credence stops sending events here at once, and forgets this endpoint’s deliveries. This cannot be undone.</p>
      {confirming && (
        <p className="alert alert-warning" id="delete-endpoint-question">
          Delete <strong className="mono">{endpoint.url}</strong> and all its deliveries?
        </p>
      )}
      <div className="button-row">
        {confirming ? (
          <>
            <button type="button" className="button danger" aria-describedby="delete-endpoint-question" disabled={remove.isPending} onClick={() => remove.mutate()}>
              {remove.isPending ? 'Deleting…' : 'Delete for good'}
            </button>
            <button type="button" className="button secondary" onClick={() => setConfirming(false)}>Cancel</button>
          </>
        ) : (
          <button type="button" className="button danger-outline" onClick={() => setConfirming(true)}>Delete endpoint</button>
        )}
      </div>
      <LiveRegion>
        <ErrorMessage error={remove.error} title="The endpoint was not deleted." />
      </LiveRegion>
    </section>
  );
}
