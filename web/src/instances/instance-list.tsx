import { useInfiniteQuery } from '@tanstack/react-query';
import { Link } from 'react-router';
import { api } from '../api/client.js';
import { useAllIntegrations, useCustomerNames } from '../api/hooks.js';
import { keys } from '../api/query-keys.js';
import { EmptyState, ErrorMessage, Loading } from '../ui/feedback.js';
import { formatDateTime } from '../ui/format.js';

/** Instances, of one customer or of all the user may see. */
export function InstanceList({ customerId, showCustomer = true }: { customerId?: string; showCustomer?: boolean }) {
  const list = useInfiniteQuery({
    queryKey: keys.instanceList(customerId),
    queryFn: ({ pageParam }) => api.instances.list({ customerId, cursor: pageParam }),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (page) => page.nextCursor ?? undefined,
  });
  const integrations = useAllIntegrations();
  const customerNames = useCustomerNames();
  const integrationName = (id: string) => integrations.data?.find((i) => i.id === id)?.name ?? id;
  const items = list.data?.pages.flatMap((p) => p.items) ?? [];
  if (list.isPending) return <Loading label="Loading instances…" />;
  if (list.isError) return <ErrorMessage error={list.error} />;
  if (items.length === 0) return <EmptyState title="No instances deployed yet." />;
  return (
    <>
      <table className="table responsive">
        <caption className="visually-hidden">Instances</caption>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Integration</th>
            {showCustomer && <th scope="col">Customer</th>}
            <th scope="col">Deployed</th>
          </tr>
        </thead>
        <tbody>
          {items.map((instance) => (
            <tr key={instance.id}>
              <td data-label="Name"><Link className="strong-link" to={`/instances/${instance.id}`}>{instance.name}</Link></td>
              <td data-label="Integration">{integrationName(instance.integrationId)}</td>
              {showCustomer && <td data-label="Customer">{customerNames.get(instance.customerId) ?? instance.customerId}</td>}
              <td data-label="Deployed">{formatDateTime(instance.createdAt)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {list.hasNextPage && (
        <button type="button" className="button secondary" onClick={() => void list.fetchNextPage()} disabled={list.isFetchingNextPage}>Load more</button>
      )}
    </>
  );
}
