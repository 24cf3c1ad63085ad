import { errorDetails } from '../common/app-error.js';
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
 * Claimed grants waiting for a lane. A free lane takes the earliest grant of the organization
 * with the fewest refreshes in flight in this worker: lanes held up by one organization's slow
 * provider leave the next free lanes to the others, and no lane idles while anything waits.
 */
const createFairQueue = <T extends { grant: OAuthGrant }>() => {
  const queue: T[] = [];
  const inFlight = new Map<string, number>();
  const busy = (organizationId: string) => inFlight.get(organizationId) ?? 0;
  return {
    get size(): number {
      return queue.length;
    },
    add(entries: readonly T[]): void {
      queue.push(...entries);
    },
    take(): T | undefined {
      let best = -1;
      let bestBusy = Number.POSITIVE_INFINITY;
      for (let i = 0; i < queue.length && bestBusy > 0; i += 1) {
        const load = busy((queue[i] as T).grant.organizationId);
        if (load < bestBusy) {
          best = i;
          bestBusy = load;
        }
      }
      if (best === -1) return undefined;
      const [entry] = queue.splice(best, 1) as [T];
      inFlight.set(entry.grant.organizationId, bestBusy + 1);
      return entry;
    },
    done(grant: OAuthGrant): void {
      const left = busy(grant.organizationId) - 1;
      if (left > 0) inFlight.set(grant.organizationId, left);
      else inFlight.delete(grant.organizationId);
    },
  };
};

/** How often the worker deletes expired authorization states. */
const STATE_SWEEP_MS = 10 * 60_000;

/** After a claim that found fewer grants than it asked for, the next one waits at least this long (and for a refresh to end, or the poll). */
const SHORT_CLAIM_PAUSE_MS = 10;

/**
 * The refresh worker claims grants whose refresh is due (leased, so other workers skip them)
 * and refreshes `concurrency` at a time. A worker that dies leaves leases that expire, and
 * another worker picks those grants up. A refresh starts only while at least half of its
 * lease is left, so it ends before another worker may take the grant over (given token
 * requests time out within half a lease). Claims are earliest due first and capped per
 * organization (`maxPerOrganization` live leases across every worker), and a free lane takes
 * a grant of the organization with the fewest refreshes in flight, so a tenant whose provider
 * never answers holds at most its own share of lanes, each for at most the token request
 * timeout. The cap binds only while others wait: once every organization's share is claimed,
 * lanes that would idle take more of the same organizations' grants, except a reserve of a
 * tenth of the lanes kept free for the next organization to fall due (so one organization
 * alone refreshes at the worker's full speed, and still cannot make another wait for a lane).
 * Every log line of a claim carries its id (`pass`), so one claim can be followed.
 *
 * Claiming is continuous: whenever fewer grants wait than there are lanes, the worker claims
 * enough to fill them again (at most `batchSize` at a time), so a lane never waits for a
 * batch's slowest token request, nor for the next poll while grants are due. A claim that
 * comes back short (nothing more is due, or an organization is at its cap) is followed by
 * another only once a refresh has ended (freeing a capped organization) or at the next poll.
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
  /** At most this many grants of one organization leased at once (default 100). */
  maxPerOrganization?: number | undefined;
  metrics?: Pick<Metrics, 'refreshLag' | 'lease'> | undefined;
  /** A new id for each claim; random unless given. */
  passId?: () => string;
}) => {
  const batchSize = deps.batchSize ?? 200;
  const concurrency = deps.concurrency ?? 200;
  const leaseMs = deps.leaseMs ?? 60_000;
  const maxPerOrganization = deps.maxPerOrganization ?? 100;
  const reserve = Math.ceil(concurrency / 10);
  const passId = deps.passId ?? (() => randomBytes(6).toString('hex'));
  let log: RefreshWorkerLog | undefined;
  let stopped = true;
  let sweptAt = deps.clock.now().getTime();

  /** One claim's grants, followed until the last is done. */
  interface Claim {
    pass: string;
    startedAt: number;
    leaseEnd: number;
    count: number;
    left: number;
    outcomes: { refreshed: number; failed: number; skipped: number };
    deferred: string[];
    finished: Promise<number>;
    finish(count: number): void;
  }
  const queue = createFairQueue<{ grant: OAuthGrant; claim: Claim }>();
  const open = new Set<Claim>();
  let inLanes = 0;

  const claimDue = async (limit: number): Promise<Claim> => {
    const pass = passId();
    const now = deps.clock.now();
    const leaseEnd = now.getTime() + leaseMs;
    let finish: (count: number) => void = () => undefined;
    const finished = new Promise<number>((resolve) => (finish = resolve));
    const claim: Claim = { pass, startedAt: now.getTime(), leaseEnd, count: 0, left: 0, outcomes: { refreshed: 0, failed: 0, skipped: 0 }, deferred: [], finished, finish };
    let grants: OAuthGrant[];
    try {
      const [at, until] = [now.toISOString(), new Date(leaseEnd).toISOString()];
      grants = await deps.store.claimDue(deps.owner, at, until, limit, maxPerOrganization);
      // Every organization's share is claimed: lanes that would idle may go past the cap,
      // all but the reserve, which stays free for whoever falls due next.
      const spare = Math.min(limit - grants.length, concurrency - reserve - inLanes - queue.size - grants.length);
      if (grants.length < limit && spare > 0) grants = grants.concat(await deps.store.claimDue(deps.owner, at, until, spare));
    } catch (error) {
      log?.error({ pass, err: errorDetails(error) }, 'refresh worker pass failed');
      throw error;
    }
    deps.metrics?.lease('taken', grants.length);
    for (const grant of grants) {
      if (grant.refreshDueAt) deps.metrics?.refreshLag((now.getTime() - Date.parse(grant.refreshDueAt)) / 1000);
    }
    claim.count = grants.length;
    claim.left = grants.length;
    if (grants.length === 0) {
      void closeClaim(claim);
      return claim;
    }
    open.add(claim);
    queue.add(grants.map((grant) => ({ grant, claim })));
    fillLanes();
    return claim;
  };

  /** Lets deferred grants go, logs the claim, and answers those waiting for it. */
  const closeClaim = async (claim: Claim): Promise<void> => {
    try {
      // Deferred grants are let go at once, for the next claim by any worker.
      for (const credentialId of claim.deferred) await deps.store.releaseLease(credentialId, deps.owner);
      if (claim.count > 0) {
        log?.info({ pass: claim.pass, claimed: claim.count, ...claim.outcomes, deferred: claim.deferred.length, ms: deps.clock.now().getTime() - claim.startedAt }, 'token refresh pass');
      }
      // Expired authorization states go on a clock, not per claim: claims come often under load.
      const now = deps.clock.now();
      if (now.getTime() - sweptAt >= STATE_SWEEP_MS) {
        sweptAt = now.getTime();
        await deps.store.deleteExpiredStates(now.toISOString());
      }
    } catch (error) {
      log?.error({ pass: claim.pass, err: errorDetails(error) }, 'refresh worker pass failed');
    } finally {
      open.delete(claim);
      claim.finish(claim.count);
    }
  };

  const refreshOne = async (grant: OAuthGrant, claim: Claim): Promise<void> => {
    // Started this late, the refresh could outlive the lease and race the worker that takes
    // the grant over (the same refresh token sent twice); the grant waits for the next claim.
    if (claim.leaseEnd - deps.clock.now().getTime() < leaseMs / 2) {
      claim.deferred.push(grant.credentialId);
      return;
    }
    try {
      claim.outcomes[await deps.tokens.refreshClaimed(grant)] += 1;
    } catch (error) {
      claim.outcomes.failed += 1;
      log?.error({ pass: claim.pass, credentialId: grant.credentialId, err: errorDetails(error) }, 'token refresh failed');
    }
  };

  /** Hands waiting grants to free lanes. */
  const fillLanes = (): void => {
    while (inLanes < concurrency) {
      const entry = queue.take();
      if (!entry) return;
      inLanes += 1;
      void refreshOne(entry.grant, entry.claim).finally(() => {
        inLanes -= 1;
        queue.done(entry.grant);
        entry.claim.left -= 1;
        if (entry.claim.left === 0) void closeClaim(entry.claim);
        fillLanes();
        endedSinceClaim = true;
        pump();
      });
    }
  };

  // Continuous claiming (see above).
  let claiming: Promise<unknown> | undefined;
  let lastClaimShort = false;
  let endedSinceClaim = false;
  let nextClaimAt = 0;
  let soon: NodeJS.Timeout | undefined;
  let poll: NodeJS.Timeout | undefined;

  const pump = (): void => {
    if (stopped || claiming || queue.size >= concurrency) return;
    const room = Math.min(batchSize, 2 * concurrency - queue.size - inLanes);
    if (room <= 0) return;
    if (lastClaimShort) {
      if (!endedSinceClaim) return;
      const wait = nextClaimAt - Date.now();
      if (wait > 0) {
        soon ??= setTimeout(() => {
          soon = undefined;
          pump();
        }, wait);
        return;
      }
    }
    endedSinceClaim = false;
    claiming = claimDue(room)
      .then(
        (claim) => {
          lastClaimShort = claim.count < room;
        },
        () => {
          // Logged with the claim's id; the next poll tries again.
          lastClaimShort = true;
          endedSinceClaim = false;
        },
      )
      .finally(() => {
        nextClaimAt = Date.now() + SHORT_CLAIM_PAUSE_MS;
        claiming = undefined;
        pump();
      });
  };

  const schedulePoll = (): void => {
    poll = setTimeout(() => {
      // Grants may have come due since the last claim came back short.
      lastClaimShort = false;
      pump();
      schedulePoll();
    }, deps.pollMs);
  };

  return {
    /** One claim of up to `batchSize` grants, refreshed; resolves with how many were claimed once all are done. */
    async tick(): Promise<number> {
      const claim = await claimDue(batchSize);
      return claim.finished;
    },
    start(logger?: RefreshWorkerLog): void {
      if (!stopped) return;
      stopped = false;
      log = logger;
      lastClaimShort = false;
      pump();
      schedulePoll();
    },
    /** Stops claiming and waits for the refreshes in flight. */
    async stop(): Promise<void> {
      stopped = true;
      if (poll) clearTimeout(poll);
      if (soon) clearTimeout(soon);
      await claiming;
      await Promise.allSettled([...open].map((claim) => claim.finished));
    },
  };
};

export type RefreshWorker = ReturnType<typeof createRefreshWorker>;
