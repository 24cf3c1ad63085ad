import type { Clock } from '../common/clock.js';
import type { IntegrationStore } from './integration-store.js';

/** How often the worker prunes runs. */
export const RUN_PRUNE_INTERVAL_MS = 60 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;

export interface RunRetentionLog {
  info(details: object, message: string): void;
  error(details: object, message: string): void;
}

/**
 * Keeps run records bounded: each prune deletes runs started more than `retentionDays` ago
 * and those beyond the newest `keepPerInstance` of each instance. The worker prunes at
 * start and then every `intervalMs`.
 *
 * @example
 * const retention = createRunRetention({ store, clock, retentionDays: 30, keepPerInstance: 1000 });
 * await retention.prune(); // → number of runs deleted
 */
export const createRunRetention = (deps: {
  store: Pick<IntegrationStore, 'pruneRuns'>;
  clock: Clock;
  retentionDays: number;
  keepPerInstance: number;
  intervalMs?: number;
}) => {
  const intervalMs = deps.intervalMs ?? RUN_PRUNE_INTERVAL_MS;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> = Promise.resolve();
  let log: RunRetentionLog | undefined;

  const prune = (): Promise<number> =>
    deps.store.pruneRuns({
      startedBefore: new Date(deps.clock.now().getTime() - deps.retentionDays * DAY_MS).toISOString(),
      keepPerInstance: deps.keepPerInstance,
    });

  const pass = async (): Promise<void> => {
    try {
      const deleted = await prune();
      if (deleted > 0) log?.info({ deleted }, 'Pruned old runs');
    } catch (error) {
      log?.error({ err: error instanceof Error ? error.name : 'error' }, 'Pruning runs failed; the next pass tries again');
    }
  };

  return {
    prune,
    start(logger?: RunRetentionLog): void {
      if (timer) return;
      log = logger;
      running = pass();
      timer = setInterval(() => (running = pass()), intervalMs);
      timer.unref();
    },
    /** Stops pruning and waits for the pass in progress. */
    async stop(): Promise<void> {
      if (timer) clearInterval(timer);
      timer = undefined;
      await running;
    },
  };
};

export type RunRetention = ReturnType<typeof createRunRetention>;
