import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { api } from '../api/client.js';
import { keys } from '../api/query-keys.js';
import type { WebhookEndpoint } from '../api/types.js';
import { ErrorMessage } from '../ui/feedback.js';
import { Field } from '../ui/field.js';
import { SecretOnce } from './secret-once.js';
import { SecretState } from './secret-state.js';

const HOUR = 3600;
/** How long the old secret may keep signing (the server allows 0 to 7 days). */
const OVERLAPS = [
  { seconds: 0, label: 'No overlap: the old secret stops now' },
  { seconds: HOUR, label: '1 hour' },
  { seconds: 24 * HOUR, label: '1 day' },
  { seconds: 7 * 24 * HOUR, label: '7 days' },
];

/** A new signing secret, shown once; the old one may keep signing for a while so the receiver can switch. */
export function RotateSecret({ endpoint }: { endpoint: WebhookEndpoint }) {
  const queryClient = useQueryClient();
  const [overlap, setOverlap] = useState(24 * HOUR);
  const [secret, setSecret] = useState<string | null>(null);
  const rotate = useMutation({
    mutationFn: () => api.webhooks.rotateSecret(endpoint.id, overlap),
    gcTime: 0,
    onSuccess: ({ secret: fresh, ...shown }) => {
      queryClient.setQueryData(keys.webhook(endpoint.id), shown);
      void queryClient.invalidateQueries({ queryKey: [...keys.webhooks, 'list'] });
      setSecret(fresh);
    },
  });
  if (secret) return <SecretOnce title="New signing secret" url={endpoint.url} secret={secret} onDone={() => { setSecret(null); rotate.reset(); }} />;
  const submit = (event: FormEvent) => {
    event.preventDefault();
    rotate.mutate();
  };
  return (
    <form className="panel stack rotate-secret" onSubmit={submit} aria-labelledby="rotate-heading">
      <h2 id="rotate-heading">Signing secret</h2>
      <p><SecretState endpoint={endpoint} idle="Deliveries are signed with the current secret only." /></p>
      <ErrorMessage error={rotate.error} title="The secret was not changed." />
      <Field label="Keep the old secret signing for" hint="During the overlap each delivery carries a signature with each secret, so your receiver can switch without missing one.">
        {(ids) => (
          <select {...ids} value={overlap} onChange={(e) => setOverlap(Number(e.target.value))}>
            {OVERLAPS.map((o) => <option key={o.seconds} value={o.seconds}>{o.label}</option>)}
          </select>
        )}
      </Field>
      <div className="button-row">
        <button type="submit" className="button secondary" disabled={rotate.isPending}>{rotate.isPending ? 'Rotating…' : 'Rotate secret'}</button>
      </div>
    </form>
  );
}
