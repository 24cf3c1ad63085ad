/**
 * The one client of `/api/v1`. Every call goes through `request`, which sends the
 * session cookie, adds the CSRF token to every change, and turns an error body
 * `{error: {code, message}}` into an `ApiError` whose message can be shown as it is.
 */
import type {
  AuditEvent,
  AuthMethod,
  AuthMethodKey,
  AuthorizationEmailReceipt,
  AuthorizationLink,
  AuthorizationLinkStatus,
  Component,
  Credential,
  CredentialHealth,
  CredentialLevel,
  CredentialStatus,
  CredentialTestResult,
  CredentialUsage,
  Customer,
  Health,
  HealthCheckChange,
  Instance,
  Integration,
  IntegrationStep,
  Invitation,
  Page,
  ProviderPreset,
  Role,
  Run,
  RunSummary,
  SessionResponse,
  SessionUser,
  User,
  WebhookDelivery,
  WebhookEndpoint,
  WebhookEndpointInput,
  WebhookEndpointWithSecret,
} from './types.js';

export const API_BASE = '/api/v1';

/** An answer other than 2xx, or no answer at all (status 0, code NETWORK_ERROR). */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export const isApiError = (error: unknown, code?: string): error is ApiError =>
  error instanceof ApiError && (code === undefined || error.code === code);

// The CSRF token lives only in memory: it comes with every session response and is
// fetched again (GET /session) when the page loads.
let csrfToken: string | null = null;
export const setCsrfToken = (token: string | null): void => {
  csrfToken = token;
};

type QueryValue = string | number | boolean | null | undefined;
interface RequestOptions {
  body?: unknown;
  query?: Record<string, QueryValue>;
}

const queryString = (query: Record<string, QueryValue> = {}): string => {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== '') params.set(key, String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : '';
};

const errorOf = (status: number, body: unknown): ApiError => {
  const error = (body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  const code = typeof error?.code === 'string' ? error.code : `HTTP_${status}`;
  const message = typeof error?.message === 'string' ? error.message : `The server answered with status ${status}.`;
  return new ApiError(status, code, message);
};

const send = async (method: string, path: string, options: RequestOptions): Promise<Response> => {
  const headers: Record<string, string> = { accept: 'application/json' };
  const init: RequestInit = { method, headers, credentials: 'same-origin' };
  if (options.body !== undefined) {
    headers['content-type'] = 'application/json';
    init.body = JSON.stringify(options.body);
  }
  if (method !== 'GET' && method !== 'HEAD' && csrfToken) headers['x-csrf-token'] = csrfToken;
  try {
    return await fetch(`${API_BASE}${path}${queryString(options.query)}`, init);
  } catch {
    throw new ApiError(0, 'NETWORK_ERROR', 'Could not reach the Credence server. Check your connection and try again.');
  }
};

const readBody = async (response: Response): Promise<unknown> => {
  const text = await response.text();
  if (!text) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
};

async function request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
  let response = await send(method, path, options);
  if (response.status === 403 && method !== 'GET') {
    const body = await readBody(response.clone());
    // A stale CSRF token (another tab signed in again): fetch the current one, retry once.
    if (errorOf(403, body).code === 'CSRF_FAILED' && (await refreshCsrfToken())) response = await send(method, path, options);
  }
  const body = await readBody(response);
  if (!response.ok) throw errorOf(response.status, body);
  return body as T;
}

const rememberSession = (session: SessionResponse): SessionUser => {
  setCsrfToken(session.csrfToken);
  return session.user;
};

/** The signed-in user, or null; also refreshes the CSRF token. */
const currentSession = async (): Promise<SessionUser | null> => {
  try {
    return rememberSession(await request<SessionResponse>('GET', '/session'));
  } catch (error) {
    if (isApiError(error) && error.status === 401) {
      setCsrfToken(null);
      return null;
    }
    throw error;
  }
};

const refreshCsrfToken = async (): Promise<boolean> => (await currentSession().catch(() => null)) !== null;

/** What an authorization link (or the email carrying one) asks for besides the credential's own settings. */
export interface LinkOptions {
  allowAccountChange?: boolean;
  addScopes?: string[];
}

export interface CredentialListQuery {
  level?: CredentialLevel | undefined;
  customerId?: string | undefined;
  search?: string | undefined;
  authMethod?: AuthMethodKey | undefined;
  status?: CredentialStatus | undefined;
  health?: Health | undefined;
  /** `expiresAt`: the earliest expiry first, across pages. */
  sort?: 'created' | 'expiresAt' | undefined;
  limit?: number | undefined;
  cursor?: string | undefined;
}

export interface NewCredential {
  label: string;
  authMethod: AuthMethodKey;
  customerId?: string | null;
  fields: Record<string, string>;
  provider?: string;
  grantType?: 'authorization_code' | 'client_credentials';
  /** Origins the secret may be sent to. */
  destinations?: string[];
  /** When the credential stops working, if known (ISO 8601). */
  expiresAt?: string | null;
  /** oauth2: when the app's client secret expires, if known (ISO 8601). */
  clientSecretExpiresAt?: string | null;
  /** Who besides the organization's admins is emailed about the credential. */
  contactEmail?: string | null;
}

export interface CredentialChanges {
  label?: string;
  /** Only the fields to change; null clears a field. */
  fields?: Record<string, string | null>;
  /** New destinations: the server then needs every secret field in `fields` (SECRETS_REQUIRED otherwise). */
  destinations?: string[];
  /** A check the worker runs on a schedule; null stops it. */
  healthCheck?: HealthCheckChange | null;
  /** null clears each of these. */
  expiresAt?: string | null;
  clientSecretExpiresAt?: string | null;
  contactEmail?: string | null;
}

export interface NewIntegration {
  name: string;
  description?: string | null;
  steps: IntegrationStep[];
}

export interface NewInstance {
  integrationId: string;
  customerId: string;
  name: string;
  bindings: Record<string, string | null>;
}

export interface AuditQuery {
  action?: string | undefined;
  targetId?: string | undefined;
  customerId?: string | undefined;
  limit?: number | undefined;
  cursor?: string | undefined;
}

type PageQuery = { limit?: number; cursor?: string | undefined };

/** Every endpoint the web app uses, grouped by resource. */
export const api = {
  setup: {
    status: () => request<{ needsSetup: boolean }>('GET', '/setup'),
    create: async (body: { organizationName: string; email: string; password: string }) => rememberSession(await request<SessionResponse>('POST', '/setup', { body })),
  },
  session: {
    current: currentSession,
    signIn: async (body: { email: string; password: string; organization?: string }) => rememberSession(await request<SessionResponse>('POST', '/sessions', { body })),
    signOut: async () => {
      await request<void>('DELETE', '/session');
      setCsrfToken(null);
    },
  },
  users: {
    list: () => request<{ items: User[] }>('GET', '/users'),
    invite: (body: { email: string; role: Role; customerId?: string }) => request<Invitation>('POST', '/users', { body }),
    remove: (id: string) => request<void>('DELETE', `/users/${encodeURIComponent(id)}`),
    acceptInvitation: async (token: string, password: string) =>
      rememberSession(await request<SessionResponse>('POST', `/invitations/${encodeURIComponent(token)}/accept`, { body: { password } })),
  },
  authMethods: () => request<{ items: AuthMethod[] }>('GET', '/auth-methods'),
  oauth2: {
    providers: () => request<{ items: ProviderPreset[] }>('GET', '/oauth2/providers'),
    redirectUri: () => request<{ redirectUri: string }>('GET', '/oauth2/redirect-uri'),
  },
  customers: {
    list: (query: PageQuery = {}) => request<Page<Customer>>('GET', '/customers', { query }),
    get: (id: string) => request<Customer>('GET', `/customers/${encodeURIComponent(id)}`),
    create: (body: { name: string; externalId?: string | null }) => request<Customer>('POST', '/customers', { body }),
    update: (id: string, body: { name?: string; externalId?: string | null }) => request<Customer>('PATCH', `/customers/${encodeURIComponent(id)}`, { body }),
    remove: (id: string, confirm: string) => request<void>('DELETE', `/customers/${encodeURIComponent(id)}`, { body: { confirm } }),
  },
  credentials: {
    list: (query: CredentialListQuery = {}) => request<Page<Credential>>('GET', '/credentials', { query: { ...query } }),
    get: (id: string) => request<Credential>('GET', `/credentials/${encodeURIComponent(id)}`),
    create: (body: NewCredential) => request<Credential>('POST', '/credentials', { body }),
    update: (id: string, body: CredentialChanges) =>
      request<Credential>('PATCH', `/credentials/${encodeURIComponent(id)}`, { body }),
    remove: (id: string, body: { confirm: string; force?: boolean }) => request<void>('DELETE', `/credentials/${encodeURIComponent(id)}`, { body }),
    test: (id: string, body: { component: string; action?: string; inputs: Record<string, unknown> }) =>
      request<CredentialTestResult>('POST', `/credentials/${encodeURIComponent(id)}/test`, { body }),
    health: (id: string) => request<CredentialHealth>('GET', `/credentials/${encodeURIComponent(id)}/health`),
    usage: (id: string) => request<{ items: CredentialUsage[] }>('GET', `/credentials/${encodeURIComponent(id)}/usage`),
    linkStatus: (id: string) => request<AuthorizationLinkStatus>('GET', `/credentials/${encodeURIComponent(id)}/authorization-link`),
    /**
     * `allowAccountChange`: the link may attach another provider account than the one the credential was authorized for.
     * `addScopes`: added to the credential's scopes (the union) before the link is issued.
     */
    createLink: (id: string, options: LinkOptions = {}) =>
      request<AuthorizationLink>('POST', `/credentials/${encodeURIComponent(id)}/authorization-link`, { body: { ...options } }),
    revokeLink: (id: string) => request<void>('DELETE', `/credentials/${encodeURIComponent(id)}/authorization-link`),
    sendAuthorizationEmail: (id: string, email: string, options: LinkOptions = {}) =>
      request<AuthorizationEmailReceipt>('POST', `/credentials/${encodeURIComponent(id)}/authorization-emails`, { body: { email, ...options } }),
  },
  components: () => request<{ items: Component[] }>('GET', '/components'),
  integrations: {
    list: (query: PageQuery = {}) => request<Page<Integration>>('GET', '/integrations', { query }),
    get: (id: string) => request<Integration>('GET', `/integrations/${encodeURIComponent(id)}`),
    create: (body: NewIntegration) => request<Integration>('POST', '/integrations', { body }),
  },
  instances: {
    list: (query: PageQuery & { customerId?: string | undefined } = {}) => request<Page<Instance>>('GET', '/instances', { query }),
    get: (id: string) => request<Instance>('GET', `/instances/${encodeURIComponent(id)}`),
    create: (body: NewInstance) => request<Instance>('POST', '/instances', { body }),
    run: (id: string) => request<Run>('POST', `/instances/${encodeURIComponent(id)}/runs`),
    runs: (id: string, query: PageQuery = {}) => request<Page<RunSummary>>('GET', `/instances/${encodeURIComponent(id)}/runs`, { query }),
    getRun: (id: string, runId: string) => request<Run>('GET', `/instances/${encodeURIComponent(id)}/runs/${encodeURIComponent(runId)}`),
  },
  webhooks: {
    list: () => request<{ items: WebhookEndpoint[] }>('GET', '/webhook-endpoints'),
    get: (id: string) => request<WebhookEndpoint>('GET', `/webhook-endpoints/${encodeURIComponent(id)}`),
    create: (body: WebhookEndpointInput) => request<WebhookEndpointWithSecret>('POST', '/webhook-endpoints', { body }),
    update: (id: string, body: Partial<WebhookEndpointInput>) => request<WebhookEndpoint>('PATCH', `/webhook-endpoints/${encodeURIComponent(id)}`, { body }),
    remove: (id: string) => request<void>('DELETE', `/webhook-endpoints/${encodeURIComponent(id)}`),
    /** The old secret keeps signing for `overlapSeconds` (the server's default is a day). */
    rotateSecret: (id: string, overlapSeconds: number) =>
      request<WebhookEndpointWithSecret>('POST', `/webhook-endpoints/${encodeURIComponent(id)}/rotate-secret`, { body: { overlapSeconds } }),
    deliveries: (id: string, query: PageQuery = {}) => request<Page<WebhookDelivery>>('GET', `/webhook-endpoints/${encodeURIComponent(id)}/deliveries`, { query }),
    resend: (id: string, deliveryId: string) =>
      request<void>('POST', `/webhook-endpoints/${encodeURIComponent(id)}/deliveries/${encodeURIComponent(deliveryId)}/resend`),
  },
  audit: {
    list: (query: AuditQuery) => request<Page<AuditEvent>>('GET', '/audit-events', { query: { ...query } }),
  },
};
