import { MutationCache, QueryCache, QueryClient } from '@tanstack/react-query';
import { isApiError } from './api/client.js';
import { keys } from './api/query-keys.js';

/**
 * The app's query client. Any 401 outside the session query itself means the session
 * ended (signed out elsewhere, expired): forget the user so the app shows sign-in.
 */
export const createQueryClient = (): QueryClient => {
  const client: QueryClient = new QueryClient({
    queryCache: new QueryCache({
      onError: (error, query) => {
        if (isApiError(error) && error.status === 401 && query.queryKey[0] !== keys.session[0]) client.setQueryData(keys.session, null);
      },
    }),
    mutationCache: new MutationCache({
      onError: (error) => {
        if (isApiError(error) && error.code === 'UNAUTHENTICATED') client.setQueryData(keys.session, null);
      },
    }),
    defaultOptions: {
      queries: {
        // A 4xx will answer the same again; only network trouble and 5xx are retried.
        retry: (failures, error) => failures < 2 && !(isApiError(error) && error.status >= 400 && error.status < 500),
        refetchOnWindowFocus: false,
      },
    },
  });
  return client;
};
