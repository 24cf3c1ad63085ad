import { useQuery } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { Link, useSearchParams } from 'react-router';
import { api, type AuditQuery } from '../api/client.js';
import { useCustomerNames } from '../api/hooks.js';
import { keys } from '../api/query-keys.js';
import type { AuditEvent } from '../api/types.js';
import { EmptyState, ErrorMessage, Loading } from '../ui/feedback.js';
import { Field } from '../ui/field.js';
import { formatDateTime } from '../ui/format.js';
import { PageHeader } from '../ui/page.js';

const PAGE_SIZE = 50;
const COMMON_ACTIONS = [
  'credential.created',
  'credential.updated',
  'credential.deleted',
  'credential.replaced',
  'credential.resolved',
  'credential.tested',
  'customer.created',
  'customer.updated',
  'customer.deleted',
  'integration.created',
  'integration.updated',
  'integration.deleted',
  'instance.created',
  'instance.updated',
  'instance.deleted',
  'instance.run',
  'oauth.link_created',
  'oauth.link_emailed',
  'oauth.link_revoked',
  'oauth.authorized',
  'oauth.authorization_refused',
  'oauth.exchange_failed',
  'api_token.created',
  'api_token.revoked',
  'user.invited',
  'user.joined',
  'user.removed',
  'user.signed_in',
  'user.sign_in_failed',
  'organization.created',
];

const targetLink = (event: AuditEvent) => {
  if (!event.targetId) return '—';
  const to = event.targetType === 'credential' ? `/credentials/${event.targetId}` : event.targetType === 'instance' ? `/instances/${event.targetId}` : event.targetType === 'customer' ? `/customers/${event.targetId}/credentials` : null;
  const id = <span className="mono small id">{event.targetId}</span>;
  return (
    <>
      {event.targetType ?? ''}
      <br />
      {to && !event.action.endsWith('.deleted') ? <Link to={to}>{id}</Link> : id}
    </>
  );
};

/** An event's details as name: value lines. */
const Details = ({ details }: { details: Record<string, unknown> }) => {
  const entries = Object.entries(details);
  if (entries.length === 0) return <>—</>;
  return (
    <ul className="audit-details">
      {entries.map(([name, value]) => (
        <li key={name}>
          <span className="muted">{name}:</span> {typeof value === 'string' ? value : JSON.stringify(value)}
        </li>
      ))}
    </ul>
  );
};

/** `/audit`: who did what, newest first, filtered by action and target, page by page. */
export function AuditPage() {
  const [params, setParams] = useSearchParams();
  const filters = { action: params.get('action') ?? '', targetId: params.get('targetId') ?? '' };
  const [draft, setDraft] = useState(filters);
  // Cursors of the pages before the current one, to go back.
  const [cursors, setCursors] = useState<(string | undefined)[]>([]);
  const [cursor, setCursor] = useState<string | undefined>(undefined);
  const query: AuditQuery = { action: filters.action || undefined, targetId: filters.targetId || undefined, limit: PAGE_SIZE, cursor };
  const events = useQuery({ queryKey: keys.audit(query), queryFn: () => api.audit.list(query), placeholderData: (previous) => previous });
  const customerNames = useCustomerNames();

  const apply = (event: FormEvent) => {
    event.preventDefault();
    const next = new URLSearchParams();
    if (draft.action.trim()) next.set('action', draft.action.trim());
    if (draft.targetId.trim()) next.set('targetId', draft.targetId.trim());
    setParams(next);
    setCursors([]);
    setCursor(undefined);
  };
  const older = () => {
    setCursors((list) => [...list, cursor]);
    setCursor(events.data?.nextCursor ?? undefined);
  };
  const newer = () => {
    setCursor(cursors[cursors.length - 1]);
    setCursors((list) => list.slice(0, -1));
  };

  return (
    <>
      <PageHeader title="Audit log" subtitle="Every change, and every read of decrypted material, newest first." />
      <form className="filters" onSubmit={apply} aria-label="Filter audit events">
        <Field label="Action">
          {(ids) => <input {...ids} list="audit-actions" placeholder="e.g. credential.created" value={draft.action} onChange={(e) => setDraft({ ...draft, action: e.target.value })} />}
        </Field>
        <datalist id="audit-actions">{COMMON_ACTIONS.map((a) => <option key={a} value={a} />)}</datalist>
        <Field label="Target ID">{(ids) => <input {...ids} placeholder="e.g. cred_…" value={draft.targetId} onChange={(e) => setDraft({ ...draft, targetId: e.target.value })} />}</Field>
        <button type="submit" className="button secondary">Apply filters</button>
      </form>
      <ErrorMessage error={events.error} />
      {events.isPending ? (
        <Loading label="Loading audit events…" />
      ) : !events.data || events.data.items.length === 0 ? (
        <EmptyState title="No audit events match." />
      ) : (
        <div className="table-wrap">
        <table className="table responsive audit">
          <caption className="visually-hidden">Audit events</caption>
          <thead>
            <tr><th scope="col">When</th><th scope="col">Actor</th><th scope="col">Action</th><th scope="col">Target</th><th scope="col">Customer</th><th scope="col">Details</th></tr>
          </thead>
          <tbody>
            {events.data.items.map((event) => (
              <tr key={event.id}>
                <td data-label="When"><time dateTime={event.occurredAt}>{formatDateTime(event.occurredAt)}</time></td>
                <td data-label="Actor">{event.actor.type}{event.actor.role ? ` (${event.actor.role})` : ''}<br /><span className="muted mono small id">{event.actor.id ?? ''}</span></td>
                <td data-label="Action" className="mono">{event.action}</td>
                <td data-label="Target">{targetLink(event)}</td>
                <td data-label="Customer">{event.customerId ? (customerNames.get(event.customerId) ?? event.customerId) : '—'}</td>
                <td data-label="Details"><Details details={event.details} /></td>
              </tr>
            ))}
          </tbody>
        </table>
        </div>
      )}
      <nav className="pager" aria-label="Audit log pages">
        <button type="button" className="button secondary" onClick={newer} disabled={cursors.length === 0 || events.isFetching}>← Newer</button>
        <span aria-live="polite">Page {cursors.length + 1}</span>
        <button type="button" className="button secondary" onClick={older} disabled={!events.data?.nextCursor || events.isFetching}>Older →</button>
      </nav>
    </>
  );
}
