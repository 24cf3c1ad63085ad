import { errorDetails } from '../common/app-error.js';
import { createPoller } from '../common/poller.js';
import type { Clock } from '../common/clock.js';
import type { Actor } from '../tenants/actor.js';
import type { CredentialStore } from './credential-store.js';
import type { CredentialTestService } from './credential-test-service.js';
import { TEST_TIMEOUT_MS } from './credential-test-service.js';
import type { HealthCheckStore, ScheduledHealthCheck } from './health-checks.js';

export interface HealthCheckWorkerLog {
  info(details: object, message: string): void;
  error(details: object, message: string): void;
}

/** The share of its interval a check's next run moves by at random, either way. */
const JITTER = 0.1;

/**
 * Runs the health checks credentials carry, each when it is due. A check is leased to one
 * worker at a time across every process (a lease of twice the test timeout), so no credential
 * is checked twice at once; a claim takes at most `perOrganization` checks of one organization,
 * so one organization's thousands of checks do not hold up the others'; and each next run is
 * moved by up to a tenth of its interval at random, so checks created together spread out.
 * Each check runs as the `worker` actor through the same path as a credential test: its
 * targets are checked against the credential's destinations, and its resolve is audited.
 */
export const createHealthCheckWorker = (deps: {
  store: Pick<HealthCheckStore, 'claimDue' | 'reschedule'>;
  credentials: Pick<CredentialStore, 'find'>;
  checks: Pick<CredentialTestService, 'check'>;
  clock: Clock;
  owner: string;
  pollMs: number;
  concurrency?: number;
  perOrganization?: number;
  random?: () => number;
}) => {
  const concurrency = deps.concurrency ?? 20;
  const perOrganization = deps.perOrganization ?? Math.max(1, Math.ceil(concurrency / 4));
  const random = deps.random ?? Math.random;
  const leaseMs = 2 * TEST_TIMEOUT_MS + 30_000;
  let log: HealthCheckWorkerLog | undefined;

  const actorFor = (organizationId: string): Actor => ({ type: 'worker', id: 'health-check', organizationId, role: 'runtime', customerId: null });

  const runOne = async (check: ScheduledHealthCheck): Promise<void> => {
    try {
      const record = await deps.credentials.find(check.organizationId, check.credentialId);
      // Deleted meanwhile: its check went with it.
      if (!record) return;
      await deps.checks.check(actorFor(check.organizationId), record, check);
    } catch (error) {
      log?.error({ credentialId: check.credentialId, err: errorDetails(error) }, 'health check failed');
    } finally {
      const now = deps.clock.now().getTime();
      const interval = check.everyMinutes * 60_000;
      const next = now + interval * (1 - JITTER + 2 * JITTER * random());
      await deps.store.reschedule(check.credentialId, deps.owner, new Date(now).toISOString(), new Date(next).toISOString()).catch(() => false);
    }
  };

  /** One claim of due checks, run side by side; answers how many were claimed. */
  const tick = async (): Promise<number> => {
    const now = deps.clock.now();
    const claimed = await deps.store.claimDue(deps.owner, now.toISOString(), new Date(now.getTime() + leaseMs).toISOString(), concurrency, perOrganization);
    await Promise.all(claimed.map(runOne));
    if (claimed.length > 0) log?.info({ checked: claimed.length, ms: deps.clock.now().getTime() - now.getTime() }, 'health checks');
    return claimed.length;
  };

  const poller = createPoller({ pass: () => tick(), pollMs: deps.pollMs, full: concurrency, onError: (error) => log?.error({ err: errorDetails(error) }, 'health check pass failed') });

  return {
    tick,
    start(logger?: HealthCheckWorkerLog): void {
      log = logger;
      poller.start();
    },
    /** Stops claiming and waits for the work in flight. */
    stop: () => poller.stop(),
  };
};

export type HealthCheckWorker = ReturnType<typeof createHealthCheckWorker>;
