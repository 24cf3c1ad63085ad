import { useInfiniteQuery } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { Link, useSearchParams } from 'react-router';
import { api, type CredentialListQuery } from '../api/client.js';
import { useAuthMethods, useCustomerNames } from '../api/hooks.js';
import { keys } from '../api/query-keys.js';
import { EmptyState, ErrorMessage, Loading } from '../ui/feedback.js';
import { formatDateTime } from '../ui/format.js';
import { CredentialStatusBadges } from './credential-status.js';

const useDebounced = <T,>(value: T, ms: number): T => {
  const [debounced, setDebounced] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setDebounced(value), ms);
    return () => clearTimeout(timer);
  }, [value, ms]);
  return debounced;
};

/**
 * A credential list with the search bar on top: `scope` narrows it to the organization
 * level or one customer; the search text (kept in the URL as `?search=`) filters labels.
 */
export function CredentialList({ scope, showCustomer = false }: { scope: Pick<CredentialListQuery, 'level' | 'customerId'>; showCustomer?: boolean }) {
  const [params, setParams] = useSearchParams();
  const search = params.get('search') ?? '';
  const term = useDebounced(search.trim(), 250);
  const query: CredentialListQuery = { ...scope, ...(term ? { search: term } : {}) };
  const list = useInfiniteQuery({
    queryKey: keys.credentialList(query),
    queryFn: ({ pageParam }) => api.credentials.list({ ...query, cursor: pageParam }),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (page) => page.nextCursor ?? undefined,
    placeholderData: (previous) => previous,
  });
  const methods = useAuthMethods();
  const methodName = (key: string) => methods.data?.items.find((m) => m.key === key)?.name ?? key;
  const customerNames = useCustomerNames();
  const items = list.data?.pages.flatMap((page) => page.items) ?? [];

  const setSearch = (value: string) => {
    const next = new URLSearchParams(params);
    if (value) next.set('search', value);
    else next.delete('search');
    setParams(next, { replace: true });
  };

  return (
    <section className="credential-list">
      <div className="search-bar" role="search">
        <label htmlFor="credential-search" className="visually-hidden">Search credentials by label</label>
        <input id="credential-search" type="search" placeholder="Search by label" value={search} onChange={(e) => setSearch(e.target.value)} />
      </div>
      <ErrorMessage error={list.error} />
      {list.isPending ? (
        <Loading label="Loading credentials…" />
      ) : items.length === 0 ? (
        <EmptyState title={term ? `No credential matches “${term}”.` : 'No credentials yet.'}>
          {!term && <p>Use “+ Credential” to store the first one.</p>}
        </EmptyState>
      ) : (
        <table className="table responsive">
          <caption className="visually-hidden">Credentials{term ? ` matching “${term}”` : ''}</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Auth method</th>
              <th scope="col">Level</th>
              {showCustomer && <th scope="col">Customer</th>}
              <th scope="col">Status</th>
              <th scope="col">Last updated</th>
            </tr>
          </thead>
          <tbody>
            {items.map((credential) => (
              <tr key={credential.id}>
                <td data-label="Name">
                  <Link to={`/credentials/${credential.id}`} className="strong-link">{credential.label}</Link>
                </td>
                <td data-label="Auth method">{methodName(credential.authMethod)}</td>
                <td data-label="Level">{credential.level === 'organization' ? 'Organization' : 'Customer'}</td>
                {showCustomer && (
                  <td data-label="Customer">
                    {credential.customerId ? <Link to={`/customers/${credential.customerId}/credentials`}>{customerNames.get(credential.customerId) ?? credential.customerId}</Link> : '—'}
                  </td>
                )}
                <td data-label="Status"><CredentialStatusBadges credential={credential} /></td>
                <td data-label="Last updated"><time dateTime={credential.updatedAt}>{formatDateTime(credential.updatedAt)}</time></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <p aria-live="polite" className="visually-hidden">
        {list.isFetching ? '' : `${items.length} credential${items.length === 1 ? '' : 's'}${list.hasNextPage ? ' shown, more available' : ''}`}
      </p>
      {list.hasNextPage && (
        <button type="button" className="button secondary" onClick={() => void list.fetchNextPage()} disabled={list.isFetchingNextPage}>
          {list.isFetchingNextPage ? 'Loading…' : 'Load more'}
        </button>
      )}
    </section>
  );
}
