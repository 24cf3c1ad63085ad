import { randomBytes } from 'node:crypto';
import type { Clock } from '../common/clock.js';
import type { Metrics } from '../observability/metrics.js';
import type { OAuthGrant, OAuthStore } from './oauth-store.js';
import type { TokenService } from './token-service.js';

export interface RefreshWorkerLog {
  info(details: object, message: string): void;
  error(details: object, message: string): void;
}

/**
 * A queue of claimed grants from which each free lane takes the earliest grant of the
 * organization with the fewest refreshes in flight in this worker: lanes held up by one
 * organization's slow provider leave the next free lanes to the others, and no lane idles
 * while anything is queued.
 */
const createFairQueue = (grants: readonly OAuthGrant[]) => {
  const queue = [...grants];
  const inFlight = new Map<string, number>();
  const busy = (organizationId: string) => inFlight.get(organizationId) ?? 0;
  return {
    take(): OAuthGrant | undefined {
      let best = -1;
      for (let i = 0; i < queue.length; i += 1) {
        const grant = queue[i] as OAuthGrant;
        if (best === -1 || busy(grant.organizationId) < busy((queue[best] as OAuthGrant).organizationId)) best = i;
      }
      if (best === -1) return undefined;
      const [grant] = queue.splice(best, 1) as [OAuthGrant];
      inFlight.set(grant.organizationId, busy(grant.organizationId) + 1);
      return grant;
    },
    done(grant: OAuthGrant): void {
      inFlight.set(grant.organizationId, busy(grant.organizationId) - 1);
    },
  };
};

/** At most `limit` holders at once; the others wait their turn, first come first served. */
const createLanes = (limit: number) => {
  let free = limit;
  const waiting: Array<() => void> = [];
  return {
    async acquire(): Promise<void> {
      if (free > 0) {
        free -= 1;
        return;
      }
      await new Promise<void>((resolve) => waiting.push(resolve));
    },
    release(): void {
      const next = waiting.shift();
      if (next) next();
      else free += 1;
    },
  };
};

/**
 * The refresh worker: every `pollMs` it claims a batch of grants whose refresh is due
 * (leased, so other workers skip them) and refreshes them a few at a time. A worker that
 * dies leaves leases that expire, and another worker picks those grants up. A refresh
 * starts only while at least half of its lease is left, so it ends before another worker
 * may take the grant over (given token requests time out within half a lease). Claims are
 * earliest due first and capped per organization (`maxPerOrganization` live leases), and a
 * free lane takes a grant of the organization with the fewest refreshes in flight, so a tenant whose provider never answers holds at
 * most its own share of lanes, each for at most the token request timeout. Every log
 * line of a pass carries the pass's id (`pass`), so one pass can be followed in the logs.
 *
 * Passes overlap: as soon as every grant of a full claim has been taken by a lane, the next
 * claim is made while the last refreshes of the previous one are still in flight, so lanes
 * never wait for a batch's slowest token request. `concurrency` bounds the token requests in
 * flight across all passes.
 */
export const createRefreshWorker = (deps: {
  store: Pick<OAuthStore, 'claimDue' | 'deleteExpiredStates' | 'releaseLease'>;
  tokens: Pick<TokenService, 'refreshClaimed'>;
  clock: Clock;
  owner: string;
  pollMs: number;
  batchSize?: number;
  concurrency?: number;
  leaseMs?: number;
  /** At most this many grants of one organization leased at once (default 50). */
  maxPerOrganization?: number | undefined;
  metrics?: Pick<Metrics, 'refreshLag' | 'lease'> | undefined;
  /** A new id for each pass; random unless given. */
  passId?: () => string;
}) => {
  const batchSize = deps.batchSize ?? 200;
  const concurrency = deps.concurrency ?? 50;
  const lanes = createLanes(concurrency);
  const leaseMs = deps.leaseMs ?? 60_000;
  const maxPerOrganization = deps.maxPerOrganization ?? 50;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = true;
  let log: RefreshWorkerLog | undefined;
  let ticks = 0;
  const passId = deps.passId ?? (() => randomBytes(6).toString('hex'));
  const errorDetails = (error: unknown) => (error instanceof Error ? { name: error.name, message: error.message } : {});

  /**
   * One pass: claim what is due and refresh it. `claimed` resolves with how many grants were
   * claimed once every one of them has been taken by a lane; `finished` once all are done.
   */
  const startPass = (): { claimed: Promise<number>; finished: Promise<number> } => {
    const pass = passId();
    let taken: (count: number) => void = () => undefined;
    const claimed = new Promise<number>((resolve) => (taken = resolve));
    const finished = runPass(pass, taken).catch((error: unknown) => {
      log?.error({ pass, err: errorDetails(error) }, 'refresh worker pass failed');
      throw error;
    });
    // A pass that fails before its grants are all taken ends its claim there.
    void finished.then(taken, () => taken(0));
    return { claimed, finished };
  };

  /** One pass, start to end. Returns how many grants were claimed. */
  const tick = (): Promise<number> => startPass().finished;

  const runPass = async (pass: string, allTaken: (count: number) => void): Promise<number> => {
    const now = deps.clock.now();
    const leaseEnd = now.getTime() + leaseMs;
    const claimed = await deps.store.claimDue(deps.owner, now.toISOString(), new Date(leaseEnd).toISOString(), batchSize, maxPerOrganization);
    deps.metrics?.lease('taken', claimed.length);
    for (const grant of claimed) {
      if (grant.refreshDueAt) deps.metrics?.refreshLag((now.getTime() - Date.parse(grant.refreshDueAt)) / 1000);
    }
    const queue = createFairQueue(claimed);
    const outcomes = { refreshed: 0, failed: 0, skipped: 0 };
    const deferred: string[] = [];
    let left = claimed.length;
    if (left === 0) allTaken(0);
    const lane = async () => {
      await lanes.acquire();
      try {
        for (let grant = queue.take(); grant; grant = queue.take()) {
          left -= 1;
          if (left === 0) allTaken(claimed.length);
          await refreshOne(grant);
        }
      } finally {
        lanes.release();
      }
    };
    const refreshOne = async (grant: OAuthGrant) => {
      // Started this late, the refresh could outlive the lease and race the worker that takes
      // the grant over (the same refresh token sent twice); the grant waits for the next claim.
      if (leaseEnd - deps.clock.now().getTime() < leaseMs / 2) {
        deferred.push(grant.credentialId);
        queue.done(grant);
        return;
      }
      try {
        outcomes[await deps.tokens.refreshClaimed(grant)] += 1;
      } catch (error) {
        outcomes.failed += 1;
        log?.error({ pass, credentialId: grant.credentialId, err: errorDetails(error) }, 'token refresh failed');
      } finally {
        queue.done(grant);
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, claimed.length) }, lane));
    // Deferred grants are let go at once, for the next claim by any worker.
    for (const credentialId of deferred) await deps.store.releaseLease(credentialId, deps.owner);
    if (claimed.length > 0) log?.info({ pass, claimed: claimed.length, ...outcomes, deferred: deferred.length, ms: deps.clock.now().getTime() - now.getTime() }, 'token refresh pass');
    ticks += 1;
    if (ticks % 600 === 0) await deps.store.deleteExpiredStates(now.toISOString());
    return claimed.length;
  };

  const active = new Set<Promise<number>>();
  const loop = async () => {
    if (stopped) return;
    try {
      // A full claim means more may be waiting: claim again as soon as its grants are all in
      // lanes, not when its last refresh ends.
      for (;;) {
        const pass = startPass();
        active.add(pass.finished);
        void pass.finished.then(
          () => active.delete(pass.finished),
          () => active.delete(pass.finished),
        );
        if (stopped || (await pass.claimed) !== batchSize) {
          await pass.finished;
          break;
        }
      }
    } catch {
      // Logged by the pass, with its id; the next poll tries again.
    }
    if (!stopped) timer = setTimeout(() => (running = loop()), deps.pollMs);
  };

  return {
    tick,
    start(logger?: RefreshWorkerLog): void {
      if (!stopped) return;
      stopped = false;
      log = logger;
      running = loop();
    },
    /** Stops polling and waits for the pass in progress. */
    async stop(): Promise<void> {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
      await Promise.allSettled([...active]);
    },
  };
};

export type RefreshWorker = ReturnType<typeof createRefreshWorker>;
