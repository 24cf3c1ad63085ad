import { useState, type FormEvent, type ReactNode } from 'react';
import type { EventType, WebhookEndpointInput } from '../api/types.js';
import { ErrorMessage } from '../ui/feedback.js';
import { Field } from '../ui/field.js';
import { EventChecklist } from './event-checklist.js';

/**
 * Where an endpoint is, what it is for and the events it hears: the form for a new endpoint
 * and for changing one. Asks for at least one event before it sends.
 */
export function EndpointForm({
  initial,
  label,
  submitText,
  pending,
  error,
  onSubmit,
  children,
}: {
  initial?: WebhookEndpointInput;
  label: string;
  submitText: [idle: string, busy: string];
  pending: boolean;
  error: unknown;
  onSubmit: (input: WebhookEndpointInput) => void;
  /** Further buttons (Cancel). */
  children?: ReactNode;
}) {
  const [url, setUrl] = useState(initial?.url ?? '');
  const [description, setDescription] = useState(initial?.description ?? '');
  const [events, setEvents] = useState<EventType[]>(initial?.events ?? []);
  const [noEvents, setNoEvents] = useState(false);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    setNoEvents(events.length === 0);
    if (events.length > 0) onSubmit({ url: url.trim(), events, description: description.trim() });
  };
  return (
    <form className="form-card stack" onSubmit={submit} aria-label={label}>
      <h2>{label}</h2>
      <ErrorMessage error={error} title="Nothing was saved." />
      <Field label="URL" hint="Where Credence POSTs each event: an https:// address your service answers with 2xx.">
        {(ids) => <input {...ids} type="url" required maxLength={2000} placeholder="https://example.com/webhooks/credence" value={url} onChange={(e) => setUrl(e.target.value)} />}
      </Field>
      <Field label="Description" hint="Optional: what listens here, for the next person.">
        {(ids) => <input {...ids} maxLength={500} value={description} onChange={(e) => setDescription(e.target.value)} />}
      </Field>
      <EventChecklist value={events} onChange={(next) => { setEvents(next); if (next.length > 0) setNoEvents(false); }} />
      {noEvents && <p className="alert alert-error" role="alert">Choose at least one event.</p>}
      <div className="button-row">
        <button type="submit" className="button primary" disabled={pending}>{pending ? submitText[1] : submitText[0]}</button>
        {children}
      </div>
    </form>
  );
}
