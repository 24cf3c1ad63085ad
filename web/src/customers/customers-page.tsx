import { useInfiniteQuery, useMutation, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { Link, useNavigate } from 'react-router';
import { api } from '../api/client.js';
import { keys } from '../api/query-keys.js';
import { EmptyState, ErrorMessage, Loading } from '../ui/feedback.js';
import { Field } from '../ui/field.js';
import { formatDateTime } from '../ui/format.js';
import { PageHeader } from '../ui/page.js';

function NewCustomerForm({ onDone }: { onDone: () => void }) {
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const [name, setName] = useState('');
  const [externalId, setExternalId] = useState('');
  const create = useMutation({
    mutationFn: api.customers.create,
    onSuccess: (customer) => {
      void queryClient.invalidateQueries({ queryKey: keys.customers });
      onDone();
      void navigate(`/customers/${customer.id}/credentials`);
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    create.mutate({ name: name.trim(), ...(externalId.trim() ? { externalId: externalId.trim() } : {}) });
  };
  return (
    <form className="form-card stack" onSubmit={submit} aria-label="New customer">
      <h2>New customer</h2>
      <ErrorMessage error={create.error} />
      <div className="form-row">
        <Field label="Customer name">{(ids) => <input {...ids} required maxLength={200} value={name} onChange={(e) => setName(e.target.value)} autoFocus />}</Field>
        <Field label="External ID" hint="Optional: the customer’s id in your own product.">{(ids) => <input {...ids} maxLength={200} value={externalId} onChange={(e) => setExternalId(e.target.value)} />}</Field>
      </div>
      <div className="button-row">
        <button type="submit" className="button primary" disabled={create.isPending}>{create.isPending ? 'Creating…' : 'Create customer'}</button>
        <button type="button" className="button secondary" onClick={onDone}>Cancel</button>
      </div>
    </form>
  );
}

/** `/customers`: the organization's customers. */
export function CustomersPage() {
  const [creating, setCreating] = useState(false);
  const list = useInfiniteQuery({
    queryKey: [...keys.customers, 'pages'],
    queryFn: ({ pageParam }) => api.customers.list({ cursor: pageParam }),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (page) => page.nextCursor ?? undefined,
  });
  const items = list.data?.pages.flatMap((p) => p.items) ?? [];
  return (
    <>
      <PageHeader
        title="Customers"
        subtitle="Each customer has its own credentials, encrypted with its own key."
        actions={!creating && <button type="button" className="button primary" onClick={() => setCreating(true)}>+ Customer</button>}
      />
      {creating && <NewCustomerForm onDone={() => setCreating(false)} />}
      <ErrorMessage error={list.error} />
      {list.isPending ? (
        <Loading label="Loading customers…" />
      ) : items.length === 0 ? (
        <EmptyState title="No customers yet."><p>Use “+ Customer” to add the first one.</p></EmptyState>
      ) : (
        <table className="table responsive">
          <caption className="visually-hidden">Customers</caption>
          <thead>
            <tr><th scope="col">Name</th><th scope="col">External ID</th><th scope="col">Created</th></tr>
          </thead>
          <tbody>
            {items.map((customer) => (
              <tr key={customer.id}>
                <td data-label="Name"><Link className="strong-link" to={`/customers/${customer.id}/credentials`}>{customer.name}</Link></td>
                <td data-label="External ID">{customer.externalId ?? '—'}</td>
                <td data-label="Created">{formatDateTime(customer.createdAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {list.hasNextPage && (
        <button type="button" className="button secondary" onClick={() => void list.fetchNextPage()} disabled={list.isFetchingNextPage}>Load more</button>
      )}
    </>
  );
}
