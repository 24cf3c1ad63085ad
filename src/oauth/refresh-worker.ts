import type { Clock } from '../common/clock.js';
import type { OAuthStore } from './oauth-store.js';
import type { TokenService } from './token-service.js';

export interface RefreshWorkerLog {
  info(details: object, message: string): void;
  error(details: object, message: string): void;
}

/**
 * The refresh worker: every `pollMs` it claims a batch of grants whose refresh is due
 * (leased, so other workers skip them) and refreshes them a few at a time. A worker that
 * dies leaves leases that expire, and another worker picks those grants up.
 */
export const createRefreshWorker = (deps: {
  store: Pick<OAuthStore, 'claimDue' | 'deleteExpiredStates'>;
  tokens: Pick<TokenService, 'refreshClaimed'>;
  clock: Clock;
  owner: string;
  pollMs: number;
  batchSize?: number;
  concurrency?: number;
  leaseMs?: number;
}) => {
  const batchSize = deps.batchSize ?? 100;
  const concurrency = deps.concurrency ?? 10;
  const leaseMs = deps.leaseMs ?? 60_000;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = true;
  let log: RefreshWorkerLog | undefined;
  let ticks = 0;

  /** One pass: claim what is due and refresh it. Returns how many grants were claimed. */
  const tick = async (): Promise<number> => {
    const now = deps.clock.now();
    const claimed = await deps.store.claimDue(deps.owner, now.toISOString(), new Date(now.getTime() + leaseMs).toISOString(), batchSize);
    const queue = [...claimed];
    const outcomes = { refreshed: 0, failed: 0, skipped: 0 };
    const lane = async () => {
      for (let grant = queue.shift(); grant; grant = queue.shift()) {
        try {
          outcomes[await deps.tokens.refreshClaimed(grant)] += 1;
        } catch (error) {
          outcomes.failed += 1;
          log?.error({ credentialId: grant.credentialId, err: error instanceof Error ? { name: error.name, message: error.message } : {} }, 'token refresh failed');
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, claimed.length) }, lane));
    if (claimed.length > 0) log?.info({ ...outcomes }, 'token refresh pass');
    ticks += 1;
    if (ticks % 600 === 0) await deps.store.deleteExpiredStates(now.toISOString());
    return claimed.length;
  };

  const loop = async () => {
    if (stopped) return;
    try {
      // A full batch means more may be waiting: go again at once.
      while (!stopped && (await tick()) === batchSize);
    } catch (error) {
      log?.error({ err: error instanceof Error ? { name: error.name, message: error.message } : {} }, 'refresh worker pass failed');
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
    },
  };
};

export type RefreshWorker = ReturnType<typeof createRefreshWorker>;
