import type { AuditQuery, CredentialListQuery } from './client.js';

/** TanStack Query keys, one place: mutations invalidate by these prefixes. */
export const keys = {
  session: ['session'] as const,
  setup: ['setup'] as const,
  authMethods: ['auth-methods'] as const,
  providers: ['oauth2', 'providers'] as const,
  redirectUri: ['oauth2', 'redirect-uri'] as const,
  components: ['components'] as const,
  customers: ['customers'] as const,
  customer: (id: string) => ['customers', 'detail', id] as const,
  credentials: ['credentials'] as const,
  credentialList: (query: CredentialListQuery) => ['credentials', 'list', query] as const,
  credential: (id: string) => ['credentials', 'detail', id] as const,
  credentialHealth: (id: string) => ['credentials', 'health', id] as const,
  credentialUsage: (id: string) => ['credentials', 'usage', id] as const,
  linkStatus: (id: string) => ['credentials', 'link', id] as const,
  integrations: ['integrations'] as const,
  instances: ['instances'] as const,
  instanceList: (customerId?: string) => ['instances', 'list', customerId ?? null] as const,
  instance: (id: string) => ['instances', 'detail', id] as const,
  runs: (instanceId: string) => ['instances', 'runs', instanceId] as const,
  audit: (query: AuditQuery) => ['audit', query] as const,
  users: ['users'] as const,
  webhooks: ['webhooks'] as const,
  webhook: (id: string) => ['webhooks', 'detail', id] as const,
  webhookDeliveries: (id: string) => ['webhooks', 'deliveries', id] as const,
};
