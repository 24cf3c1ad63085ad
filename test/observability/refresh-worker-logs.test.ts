import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/observability/metrics.js';
import { NOW, claimedGrant } from '../support/claimed-grant.js';
import { createRefreshWorker } from '../../src/oauth/refresh-worker.js';

// The refresh worker's log lines and metrics, with a stand-in store and token service.

const grant = (credentialId: string, dueSecondsAgo: number) => claimedGrant(credentialId, 'org_1', dueSecondsAgo);

const capture = () => {
  const lines: Array<{ level: string; details: Record<string, unknown>; message: string }> = [];
  return {
    lines,
    log: {
      info: (details: object, message: string) => void lines.push({ level: 'info', details: details as Record<string, unknown>, message }),
      error: (details: object, message: string) => void lines.push({ level: 'error', details: details as Record<string, unknown>, message }),
    },
  };
};

describe('the refresh worker', () => {
  it('tags every log line of a pass with that pass\'s id, failures included', async () => {
    const claimed = [grant('cred_a', 2), grant('cred_b', 30), grant('cred_c', 0)];
    const ids = ['pass-1', 'pass-2'];
    const worker = createRefreshWorker({
      store: { claimDue: async () => claimed.splice(0), deleteExpiredStates: async () => undefined, releaseLease: async () => undefined },
      tokens: {
        refreshClaimed: async (g) => {
          if (g.credentialId === 'cred_b') throw new Error('database went away');
          return 'refreshed';
        },
      },
      clock: { now: () => NOW },
      owner: 'worker-a',
      pollMs: 1000,
      passId: () => ids.shift() ?? 'pass-x',
    });
    const { lines, log } = capture();
    worker.start(log);
    await worker.stop();

    expect(lines.map((l) => [l.message, l.details.pass])).toEqual([
      ['token refresh failed', 'pass-1'],
      ['token refresh pass', 'pass-1'],
    ]);
    expect(lines[1]?.details).toMatchObject({ claimed: 3, refreshed: 2, failed: 1, skipped: 0 });
    expect(lines[0]?.details).toMatchObject({ credentialId: 'cred_b', err: { message: 'database went away' } });
  });

  it('logs a failed claim with the pass id, and records how late each claimed grant was', async () => {
    const metrics = createMetrics({ processMetrics: false });
    let calls = 0;
    const worker = createRefreshWorker({
      store: {
        claimDue: async () => {
          calls += 1;
          if (calls === 1) throw new Error('connection refused');
          // Two due grants, then nothing more (the worker asks again for lanes that would idle).
          return calls === 2 ? [grant('cred_a', 2), grant('cred_b', 30)] : [];
        },
        releaseLease: async () => undefined,
        deleteExpiredStates: async () => undefined,
      },
      tokens: { refreshClaimed: async () => 'refreshed' },
      clock: { now: () => NOW },
      owner: 'worker-a',
      pollMs: 1000,
      metrics,
      passId: () => `pass-${calls + 1}`,
    });
    const { lines, log } = capture();
    worker.start(log);
    await worker.stop();
    expect(lines).toEqual([{ level: 'error', details: { pass: 'pass-1', err: { name: 'Error', message: 'connection refused' } }, message: 'refresh worker pass failed' }]);

    expect(await worker.tick()).toBe(2);
    const text = await metrics.render();
    expect(text).toContain('credence_refresh_leases_total{result="taken"} 2');
    expect(text).toContain('credence_token_refresh_lag_seconds_count 2');
    expect(text).toContain('credence_token_refresh_lag_seconds_sum 32');
    expect(text).toContain('credence_token_refresh_lag_seconds_bucket{le="2"} 1');
  });

  it('starts no refresh once half the lease is gone, and lets those grants go for the next claim', async () => {
    let now = NOW.getTime();
    const released: string[] = [];
    const started: string[] = [];
    const worker = createRefreshWorker({
      store: {
        claimDue: async () => [grant('cred_a', 0), grant('cred_b', 0), grant('cred_c', 0)],
        releaseLease: async (credentialId, owner) => void released.push(`${credentialId} ${owner}`),
        deleteExpiredStates: async () => undefined,
      },
      tokens: {
        // A slow provider: the first refresh takes 60% of the lease.
        refreshClaimed: async (g) => {
          started.push(g.credentialId);
          now += 600;
          return 'refreshed';
        },
      },
      clock: { now: () => new Date(now) },
      owner: 'worker-a',
      pollMs: 1000,
      concurrency: 1,
      leaseMs: 1000,
    });
    const { lines, log } = capture();
    worker.start(log);
    await worker.stop();
    expect(started).toEqual(['cred_a']);
    expect(released).toEqual(['cred_b worker-a', 'cred_c worker-a']);
    expect(lines.find((l) => l.message === 'token refresh pass')?.details).toMatchObject({ claimed: 3, refreshed: 1, deferred: 2 });
  });
});
