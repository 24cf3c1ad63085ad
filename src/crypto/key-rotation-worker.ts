import { errorDetails } from '../common/app-error.js';
import type { Clock } from '../common/clock.js';
import type { KeyRotationService } from './key-rotation-service.js';

export interface KeyRotationWorkerLog {
  info(details: object, message: string): void;
  error(details: object, message: string): void;
}

/**
 * Runs scope rotations' re-encryption jobs in `credence serve --role worker|all`. Every
 * `pollMs` it claims a job whose lease is free (so two workers never run one job), runs
 * it to the end, and looks for the next. Now and then it also rotates keys whose
 * encryption count reached the threshold while no process got to rotate them.
 */
export const createKeyRotationWorker = (deps: {
  keys: Pick<KeyRotationService, 'runNextJob' | 'rotateWornKeys'>;
  clock: Clock;
  pollMs: number;
  sweepEveryMs?: number;
}) => {
  const sweepEveryMs = deps.sweepEveryMs ?? 60_000;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = true;
  // Set by stop() only, so `tick` also runs jobs in a worker that was never started (tests).
  let stopping = false;
  let lastSweep = Number.NEGATIVE_INFINITY;
  let log: KeyRotationWorkerLog | undefined;

  /** One pass: the sweep when due, then every job there is to claim. Answers how many jobs ran. */
  const tick = async (): Promise<number> => {
    const now = deps.clock.now().getTime();
    if (now - lastSweep >= sweepEveryMs) {
      lastSweep = now;
      const rotated = await deps.keys.rotateWornKeys();
      if (rotated > 0) log?.info({ rotated }, 'rotated data keys that reached their encryption threshold');
    }
    let ran = 0;
    while (!stopping) {
      const job = await deps.keys.runNextJob({ shouldStop: () => stopping });
      if (!job) break;
      ran += 1;
      log?.info({ jobId: job.id, scopeId: job.scopeId, status: job.status, done: job.done, total: Math.max(job.total, job.done) }, 'key rotation job');
    }
    return ran;
  };

  const loop = async () => {
    if (stopped) return;
    try {
      await tick();
    } catch (error) {
      log?.error({ err: errorDetails(error) }, 'key rotation pass failed');
    }
    if (!stopped) timer = setTimeout(() => (running = loop()), deps.pollMs);
  };

  return {
    tick,
    start(logger?: KeyRotationWorkerLog): void {
      if (!stopped) return;
      stopped = false;
      stopping = false;
      log = logger;
      running = loop();
    },
    /** Stops polling; a job in progress stops after its batch and is released for another worker. */
    async stop(): Promise<void> {
      stopped = true;
      stopping = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
};

export type KeyRotationWorker = ReturnType<typeof createKeyRotationWorker>;
