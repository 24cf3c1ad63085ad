/** Queries shared by several screens. */
import { useQuery } from '@tanstack/react-query';
import { api } from './client.js';
import { keys } from './query-keys.js';
import type { Customer, Integration } from './types.js';

const STATIC = { staleTime: 5 * 60_000 } as const;

export const useAuthMethods = () => useQuery({ queryKey: keys.authMethods, queryFn: api.authMethods, ...STATIC });
export const useComponents = () => useQuery({ queryKey: keys.components, queryFn: api.components, ...STATIC });
export const useProviders = () => useQuery({ queryKey: keys.providers, queryFn: api.oauth2.providers, ...STATIC });
export const useRedirectUri = () => useQuery({ queryKey: keys.redirectUri, queryFn: api.oauth2.redirectUri, ...STATIC });

/** Reads every page of a paged list (lists here are an organization's, so small). */
export const readAll = async <T>(fetchPage: (cursor: string | undefined) => Promise<{ items: T[]; nextCursor: string | null }>): Promise<T[]> => {
  const items: T[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < 50; page++) {
    const result = await fetchPage(cursor);
    items.push(...result.items);
    if (!result.nextCursor) break;
    cursor = result.nextCursor;
  }
  return items;
};

export const useAllCustomers = () =>
  useQuery({ queryKey: [...keys.customers, 'all'], queryFn: () => readAll<Customer>((cursor) => api.customers.list({ limit: 200, cursor })) });

export const useAllIntegrations = () =>
  useQuery({ queryKey: [...keys.integrations, 'all'], queryFn: () => readAll<Integration>((cursor) => api.integrations.list({ limit: 200, cursor })) });

/** Customer id → name, for lists that show a customer. */
export const useCustomerNames = (): Map<string, string> => {
  const { data } = useAllCustomers();
  return new Map((data ?? []).map((customer) => [customer.id, customer.name]));
};
