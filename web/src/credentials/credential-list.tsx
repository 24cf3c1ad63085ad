import { useInfiniteQuery } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { Link, useSearchParams } from 'react-router';
import { api, type CredentialListQuery } from '../api/client.js';
import { useAuthMethods, useCustomerNames } from '../api/hooks.js';
import { keys } from '../api/query-keys.js';
import type { Health } from '../api/types.js';
import { EmptyState, ErrorMessage, Loading } from '../ui/feedback.js';
import { formatDateTime } from '../ui/format.js';
import { CredentialStatusBadges } from './credential-status.js';
import { ExpiryBadges } from './expiry-badges.js';
import { sortByExpiry } from './expiry.js';
import { HEALTH_VALUES, HealthBadge, healthLabel, isHealth } from './health-badge.js';

const useDebounced = <T,>(value: T, ms: number): T => {
  const [debounced, setDebounced] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setDebounced(value), ms);
    return () => clearTimeout(timer);
  }, [value, ms]);
  return debounced;
};

const HEALTH_FILTER_ID = 'credential-health-filter';
const SORT_ID = 'credential-sort';

/** The URL parameters the search bar keeps. */
type ListParam = 'search' | 'health' | 'sort';
/** '' is the API's order (oldest first); 'expires' puts the earliest expiry first. */
type Sort = '' | 'expires';

/** The search bar: the label search, the health filter and the order. */
function CredentialFilters({ search, health, sort, onChange }: { search: string; health: Health | ''; sort: Sort; onChange: (name: ListParam, value: string) => void }) {
  return (
    <div className="search-bar" role="search">
      <label htmlFor="credential-search" className="visually-hidden">Search credentials by label</label>
      <input id="credential-search" type="search" placeholder="Search by label" value={search} onChange={(e) => onChange('search', e.target.value)} />
      <label htmlFor={HEALTH_FILTER_ID} className="visually-hidden">Health</label>
      <select id={HEALTH_FILTER_ID} value={health} onChange={(e) => onChange('health', e.target.value)}>
        <option value="">Any health</option>
        {HEALTH_VALUES.map((value) => <option key={value} value={value}>{healthLabel(value)}</option>)}
      </select>
      <label htmlFor={SORT_ID} className="visually-hidden">Sort</label>
      <select id={SORT_ID} value={sort} onChange={(e) => onChange('sort', e.target.value)}>
        <option value="">Oldest first</option>
        <option value="expires">Expires first</option>
      </select>
    </div>
  );
}

const emptyTitle = (term: string, health: Health | ''): string => {
  const healthPart = health ? ` with health “${healthLabel(health)}”` : '';
  if (term) return `No credential matches “${term}”${healthPart}.`;
  return health ? `No credentials${healthPart}.` : 'No credentials yet.';
};

/**
 * A credential list with the search bar on top: `scope` narrows it to the organization
 * level or one customer; the search text and the health (kept in the URL as `?search=`
 * and `?health=`) filter it, and `?sort=expires` puts the earliest expiry first (the API
 * sorts across pages; the loaded pages are kept in that order).
 */
export function CredentialList({ scope, showCustomer = false }: { scope: Pick<CredentialListQuery, 'level' | 'customerId'>; showCustomer?: boolean }) {
  const [params, setParams] = useSearchParams();
  const search = params.get('search') ?? '';
  const healthParam = params.get('health');
  const health = isHealth(healthParam) ? healthParam : '';
  const sort: Sort = params.get('sort') === 'expires' ? 'expires' : '';
  const term = useDebounced(search.trim(), 250);
  const query: CredentialListQuery = { ...scope, ...(term ? { search: term } : {}), ...(health ? { health } : {}), ...(sort === 'expires' ? { sort: 'expiresAt' as const } : {}) };
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
  const loaded = list.data?.pages.flatMap((page) => page.items) ?? [];
  const items = sort === 'expires' ? sortByExpiry(loaded) : loaded;
  const filtered = Boolean(term || health);

  const setFilter = (name: ListParam, value: string) => {
    const next = new URLSearchParams(params);
    if (value) next.set(name, value);
    else next.delete(name);
    setParams(next, { replace: true });
  };

  return (
    <section className="credential-list">
      <CredentialFilters search={search} health={health} sort={sort} onChange={setFilter} />
      <ErrorMessage error={list.error} />
      {list.isPending ? (
        <Loading label="Loading credentials…" />
      ) : items.length === 0 ? (
        <EmptyState title={emptyTitle(term, health)}>
          {!filtered && <p>Use “+ Credential” to store the first one.</p>}
        </EmptyState>
      ) : (
        <table className="table responsive">
          <caption className="visually-hidden">Credentials{term ? ` matching “${term}”` : ''}{health ? ` with health ${healthLabel(health)}` : ''}{sort ? ', earliest expiry first' : ''}</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Auth method</th>
              <th scope="col">Level</th>
              {showCustomer && <th scope="col">Customer</th>}
              <th scope="col">Status</th>
              <th scope="col">Health</th>
              <th scope="col">Expires</th>
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
                <td data-label="Health"><HealthBadge credential={credential} /></td>
                <td data-label="Expires">{credential.expiresAt || credential.clientSecretExpiresAt ? <ExpiryBadges credential={credential} /> : '—'}</td>
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
