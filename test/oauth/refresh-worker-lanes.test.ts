import { describe, expect, it } from 'vitest';
import { NOW, claimedGrant } from '../support/claimed-grant.js';
import { createRefreshWorker } from '../../src/oauth/refresh-worker.js';

// How a worker hands its claimed batch to its lanes, with a stand-in store and token service.

const grant = claimedGrant;

describe('the refresh worker lanes', () => {
  it("refresh another organization's grant while every earlier-due grant of one organization hangs", async () => {
    const hung: Array<() => void> = [];
    const refreshed: string[] = [];
    const claimed = [grant('a1', 'org_a', 50), grant('a2', 'org_a', 40), grant('a3', 'org_a', 30), grant('a4', 'org_a', 20), grant('b1', 'org_b', 1)];
    const worker = createRefreshWorker({
      store: { claimDue: async () => claimed.splice(0), deleteExpiredStates: async () => undefined, releaseLease: async () => undefined },
      tokens: {
        refreshClaimed: (g) => {
          if (g.organizationId === 'org_a') return new Promise((resolve) => hung.push(() => resolve('failed')));
          refreshed.push(g.credentialId);
          return Promise.resolve('refreshed');
        },
      },
      clock: { now: () => NOW },
      owner: 'worker-a',
      pollMs: 60_000,
      concurrency: 2,
    });
    const pass = worker.tick();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(refreshed).toEqual(['b1']);
    // The lane that refreshed b1 then takes the next grant of org_a: no lane idles while grants wait.
    expect(hung.length).toBe(2);
    // As each hung request gives up, its lane moves on to the next; every grant is tried.
    while (hung.length > 0) {
      hung.shift()?.();
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(await pass).toBe(5);
  });
});
