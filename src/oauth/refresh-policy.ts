/**
 * When tokens are refreshed, and how failures back off.
 *
 * A token is refreshed at `expires_at` minus a margin of max(5 minutes, 10% of its
 * lifetime), never more than half its lifetime (so a 5-second token is refreshed after
 * 2.5 seconds, not in a loop), minus up to 10% of the margin as jitter so tokens issued
 * together do not all come due at once. A token response without `expires_in` is given
 * `defaultLifetimeSeconds` (one hour unless configured) rather than treated as eternal.
 */
export interface RefreshPolicy {
  defaultLifetimeSeconds: number;
  /** Consecutive failures after which the status says `refresh_failed`. */
  maxFailures: number;
  /** First retry delay after a failure; doubles each time. */
  baseRetryMs: number;
  maxRetryMs: number;
}

export const DEFAULT_REFRESH_POLICY: RefreshPolicy = {
  defaultLifetimeSeconds: 3600,
  maxFailures: 5,
  baseRetryMs: 30_000,
  maxRetryMs: 60 * 60_000,
};

const MIN_MARGIN_MS = 5 * 60_000;

export const refreshMarginMs = (lifetimeMs: number): number => Math.min(Math.max(MIN_MARGIN_MS, lifetimeMs * 0.1), lifetimeMs / 2);

/** When to refresh a token that lives `lifetimeMs` from `now`. */
export const nextRefreshAt = (now: Date, lifetimeMs: number, _policy: RefreshPolicy, random: () => number): string => {
  const margin = refreshMarginMs(lifetimeMs);
  const jitter = random() * margin * 0.1;
  return new Date(now.getTime() + lifetimeMs - margin - jitter).toISOString();
};

/**
 * How long to wait after the `failures`-th consecutive failure: exponential with full
 * jitter in its upper half, capped, and never sooner than the provider's `Retry-After`.
 */
export const retryDelayMs = (failures: number, retryAfterMs: number | undefined, policy: RefreshPolicy, random: () => number): number => {
  const exponential = Math.min(policy.baseRetryMs * 2 ** Math.max(0, failures - 1), policy.maxRetryMs);
  const jittered = exponential / 2 + random() * (exponential / 2);
  return Math.max(jittered, Math.min(retryAfterMs ?? 0, policy.maxRetryMs * 24));
};
