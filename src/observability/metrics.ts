import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** How a call to resolve a credential ended. */
export type ResolveOutcome = 'resolved' | 'not_found' | 'forbidden' | 'failed';

/** How one token refresh ended: new tokens stored, a retryable or permanent failure, or nothing to do. */
export type RefreshOutcome = 'refreshed' | 'failed' | 'invalid_grant' | 'skipped';

/** A refresh lease: taken (by a worker's claim or an on-demand refresh), or held by someone else. */
export type LeaseResult = 'taken' | 'contended';

const HTTP_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const LAG_BUCKETS = [0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600];

/**
 * Prometheus metrics of one Credence process, in a registry of its own (so tests and
 * several apps in one process never share counters), with Node's default process metrics.
 *
 * Rule: no label ever carries a secret or an identifier. Labels are closed sets (outcomes,
 * HTTP methods and status codes) or route patterns such as `/api/v1/credentials/:id` —
 * never a raw URL, which can carry an authorization link's token.
 *
 * @example
 * const metrics = createMetrics();
 * metrics.credentialResolved('resolved');
 * const text = await metrics.render(); // Prometheus text format, metrics.contentType
 */
export const createMetrics = (options: { processMetrics?: boolean } = {}) => {
  const registry = new Registry();
  if (options.processMetrics !== false) collectDefaultMetrics({ register: registry });
  const registers = [registry];

  const httpDuration = new Histogram({
    name: 'credence_http_request_duration_seconds',
    help: 'HTTP request duration by method, route pattern and status code',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: HTTP_BUCKETS,
    registers,
  });
  /** A counter with one label, each of whose values exists from the start at zero, so rates and ratios are defined before the first event. */
  const labelledCounter = <L extends string>(name: string, help: string, label: L, values: readonly string[]) => {
    const counter = new Counter<L>({ name, help, labelNames: [label], registers });
    for (const value of values) counter.inc({ [label]: value } as Partial<Record<L, string>>, 0);
    return counter;
  };
  const resolves = labelledCounter('credence_credential_resolves_total', 'Credential resolves (decryptions for runs) by outcome', 'outcome', [
    'resolved',
    'not_found',
    'forbidden',
    'failed',
  ] satisfies ResolveOutcome[]);
  const refreshes = labelledCounter('credence_token_refreshes_total', 'OAuth 2.0 token refreshes by outcome', 'outcome', [
    'refreshed',
    'failed',
    'invalid_grant',
    'skipped',
  ] satisfies RefreshOutcome[]);
  const refreshLag = new Histogram({
    name: 'credence_token_refresh_lag_seconds',
    help: 'How late the refresh worker claimed a grant, against its scheduled refresh time',
    buckets: LAG_BUCKETS,
    registers,
  });
  const leases = labelledCounter('credence_refresh_leases_total', 'Refresh leases taken, and lease attempts that found another process holding one', 'result', [
    'taken',
    'contended',
  ] satisfies LeaseResult[]);
  const dataKeyCache = labelledCounter(
    'credence_data_key_cache_lookups_total',
    'Lookups of unwrapped data keys: hit (cached) or miss (unwrapped, or waiting for an unwrap)',
    'result',
    ['hit', 'miss'],
  );

  const credentialCache = labelledCounter(
    'credence_credential_cache_lookups_total',
    'Reads of a credential row by id: hit (the cached row, still the stored one) or miss (read from the database)',
    'result',
    ['hit', 'miss'],
  );

  return {
    contentType: registry.contentType,
    /** The whole registry in the Prometheus text exposition format. */
    render: (): Promise<string> => registry.metrics(),

    /** `route` is the route pattern (`/api/v1/credentials/:id`), never the requested URL. */
    httpRequest(method: string, route: string, status: number, seconds: number): void {
      httpDuration.observe({ method, route, status: String(status) }, seconds);
    },
    credentialResolved(outcome: ResolveOutcome): void {
      resolves.inc({ outcome });
    },
    tokenRefreshed(outcome: RefreshOutcome): void {
      refreshes.inc({ outcome });
    },
    /** Seconds between a grant's `refresh_due_at` and the moment a worker claimed it. */
    refreshLag(seconds: number): void {
      refreshLag.observe(Math.max(0, seconds));
    },
    lease(result: LeaseResult, count = 1): void {
      if (count > 0) leases.inc({ result }, count);
    },
    dataKeyLookup(result: 'hit' | 'miss'): void {
      dataKeyCache.inc({ result });
    },
    credentialLookup(result: 'hit' | 'miss'): void {
      credentialCache.inc({ result });
    },
  };
};

export type Metrics = ReturnType<typeof createMetrics>;
