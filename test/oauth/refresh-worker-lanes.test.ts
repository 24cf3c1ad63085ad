import { describe, expect, it } from 'vitest';
import { NOW, claimedGrant } from '../support/claimed-grant.js';
import type { OAuthGrant } from '../../src/oauth/oauth-store.js';
import { createRefreshWorker } from '../../src/oauth/refresh-worker.js';

// How a worker hands its claimed batch to its lanes, with a stand-in store and token service.

const grant = claimedGrant;

/** A token service whose org_a refreshes hang until released (`hung`), others succeed at once (`refreshed`). */
const orgAHangs = () => {
  const hung: Array<() => void> = [];
  const refreshed: string[] = [];
  const tokens = {
    refreshClaimed: (g: OAuthGrant) => {
      if (g.organizationId === 'org_a') return new Promise<'failed'>((resolve) => hung.push(() => resolve('failed')));
      refreshed.push(g.credentialId);
      return Promise.resolve('refreshed' as const);
    },
  };
  return { hung, refreshed, tokens };
};

describe('the refresh worker lanes', () => {
  it("refresh another organization's grant while every earlier-due grant of one organization hangs", async () => {
    const { hung, refreshed, tokens } = orgAHangs();
    const claimed = [grant('a1', 'org_a', 50), grant('a2', 'org_a', 40), grant('a3', 'org_a', 30), grant('a4', 'org_a', 20), grant('b1', 'org_b', 1)];
    const worker = createRefreshWorker({
      store: { claimDue: async () => claimed.splice(0), deleteExpiredStates: async () => undefined, releaseLease: async () => undefined },
      tokens,
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

  it('claims again while the slowest refresh of a full claim is still in flight, never exceeding its lanes', async () => {
    const batches = [
      [grant('s1', 'org_a', 9), grant('f1', 'org_a', 8), grant('f2', 'org_b', 7)],
      [grant('n1', 'org_b', 6), grant('n2', 'org_c', 5), grant('n3', 'org_c', 4)],
      [grant('m1', 'org_c', 3)],
    ];
    let claims = 0;
    let inFlight = 0;
    let mostInFlight = 0;
    const order: string[] = [];
    let releaseSlow: () => void = () => undefined;
    const worker = createRefreshWorker({
      store: { claimDue: async () => ((claims += 1), batches.shift() ?? []), deleteExpiredStates: async () => undefined, releaseLease: async () => undefined },
      tokens: {
        refreshClaimed: async (g) => {
          inFlight += 1;
          mostInFlight = Math.max(mostInFlight, inFlight);
          if (g.credentialId === 's1') await new Promise<void>((resolve) => (releaseSlow = resolve));
          else await new Promise((resolve) => setTimeout(resolve, 2));
          order.push(g.credentialId);
          inFlight -= 1;
          return 'refreshed';
        },
      },
      clock: { now: () => NOW },
      owner: 'worker-a',
      pollMs: 60_000,
      batchSize: 3,
      concurrency: 2,
    });
    worker.start();
    // Bounded wait: the second and third claims come while s1 of the first still hangs.
    // (f1 may come after m1: a free lane prefers organizations with nothing in flight, and s1 of org_a hangs.)
    const expected = ['f1', 'f2', 'n1', 'n2', 'n3'];
    for (let i = 0; i < 200 && !expected.every((id) => order.includes(id)); i += 1) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(order).not.toContain('s1');
    expect(order).toEqual(expect.arrayContaining(expected));
    expect(claims).toBeGreaterThanOrEqual(2);
    releaseSlow();
    await worker.stop();
    expect(order).toContain('s1');
    expect(order).toContain('m1');
    expect(mostInFlight).toBeLessThanOrEqual(2);
  });

  it('claims again as refreshes end when each claim comes back short, without waiting for the next poll', async () => {
    // Ten due grants of one organization at its lease cap: each claim gets only two.
    const due = Array.from({ length: 10 }, (_, i) => grant(`g${i}`, 'org_a', 10 - i));
    let claims = 0;
    const refreshed: string[] = [];
    const worker = createRefreshWorker({
      store: { claimDue: async () => ((claims += 1), due.splice(0, 2)), deleteExpiredStates: async () => undefined, releaseLease: async () => undefined },
      tokens: {
        refreshClaimed: async (g) => {
          await new Promise((resolve) => setTimeout(resolve, 2));
          refreshed.push(g.credentialId);
          return 'refreshed';
        },
      },
      clock: { now: () => NOW },
      owner: 'worker-a',
      // The poll never comes within this test.
      pollMs: 600_000,
      batchSize: 5,
      concurrency: 4,
    });
    worker.start();
    for (let i = 0; i < 400 && refreshed.length < 10; i += 1) await new Promise((resolve) => setTimeout(resolve, 5));
    await worker.stop();
    expect(refreshed.sort()).toEqual(Array.from({ length: 10 }, (_, i) => `g${i}`).sort());
    // Not one claim per ended refresh: ends that come together share the next claim.
    expect(claims).toBeLessThanOrEqual(10);
  });
  it("goes past one organization's cap with lanes that would idle, and keeps a tenth of them for the next organization to fall due", async () => {
    // A stand-in store that keeps the cap as the real one does: leases held count against it.
    const pool = Array.from({ length: 50 }, (_, i) => grant(`a${i}`, 'org_a', 50 - i));
    const leased = new Map<string, number>();
    const claimDue = async (_owner: string, _now: string, _until: string, limit: number, perOrganization = Number.MAX_SAFE_INTEGER) => {
      const taken: typeof pool = [];
      for (const g of [...pool]) {
        if (taken.length >= limit) break;
        const held = leased.get(g.organizationId) ?? 0;
        if (held >= perOrganization) continue;
        leased.set(g.organizationId, held + 1);
        pool.splice(pool.indexOf(g), 1);
        taken.push(g);
      }
      return taken;
    };
    const { hung, refreshed, tokens } = orgAHangs();
    const worker = createRefreshWorker({
      store: { claimDue, deleteExpiredStates: async () => undefined, releaseLease: async () => undefined },
      tokens,
      clock: { now: () => NOW },
      owner: 'worker-a',
      pollMs: 20,
      concurrency: 20,
      maxPerOrganization: 5,
    });
    worker.start();
    // Alone with due grants, org_a gets every lane but the reserve of two, not only its cap of five.
    for (let i = 0; i < 200 && hung.length < 18; i += 1) await new Promise((resolve) => setTimeout(resolve, 5));
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(hung.length).toBe(18);
    // Another organization falls due while every one of those requests hangs: a reserved lane takes it.
    pool.push(grant('b1', 'org_b', 0));
    for (let i = 0; i < 200 && refreshed.length === 0; i += 1) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(refreshed).toEqual(['b1']);
    expect(hung.length).toBe(18);
    while (hung.length > 0) hung.shift()?.();
    await worker.stop();
  });
});
