import { describe, expect, it } from 'vitest';
import type { DataKeyUsage } from '../../src/crypto/data-key-store.js';
import { DEFAULT_ROTATION_THRESHOLD, NONCE_LIMIT, createEncryptionCounter } from '../../src/crypto/encryption-counter.js';

const usage = (id: string, encryptionCount: number, retiredAt: string | null = null): DataKeyUsage => ({
  id,
  organizationId: 'org_1',
  scopeId: 'cus_1',
  version: 1,
  wrappedKey: 'lk1.x.y',
  rootKeyId: 'r',
  createdAt: '2025-01-01T00:00:00.000Z',
  retiredAt,
  encryptionCount,
});

/** A store that adds counts up in memory, failing while `down` is set. */
const fakeStore = () => {
  const counts = new Map<string, number>();
  const calls: Array<[string, number]> = [];
  const state = { down: false, retired: false };
  return {
    counts,
    calls,
    state,
    async addEncryptions(id: string, values: number) {
      if (state.down) throw new Error('database unavailable');
      calls.push([id, values]);
      counts.set(id, (counts.get(id) ?? 0) + values);
      return usage(id, counts.get(id) ?? 0, state.retired ? '2025-01-02T00:00:00.000Z' : null);
    },
  };
};

const clock = { now: () => new Date('2025-03-01T12:00:00.000Z') };

describe('createEncryptionCounter', () => {
  it('rotates well before the 2^32 random-nonce limit by default', () => {
    expect(NONCE_LIMIT - DEFAULT_ROTATION_THRESHOLD).toBe(2 ** 20);
  });

  it('writes counts down in one statement per key per batch, not per seal', async () => {
    const store = fakeStore();
    const counter = createEncryptionCounter({ store, clock, threshold: DEFAULT_ROTATION_THRESHOLD, onWorn: async () => undefined, flushEvery: 100 });
    for (let i = 0; i < 99; i += 1) counter.tally.count(i % 2 === 0 ? 'dek_a' : 'dek_b', 1);
    expect(store.calls).toEqual([]);
    expect(counter.pendingCount()).toBe(99);
    counter.tally.count('dek_a', 1);
    await counter.flush();
    expect(store.calls).toEqual([
      ['dek_a', 51],
      ['dek_b', 49],
    ]);
    expect(counter.pendingCount()).toBe(0);
  });

  it('keeps counts that could not be written down for the next flush, so it never undercounts', async () => {
    const store = fakeStore();
    const errors: unknown[] = [];
    const counter = createEncryptionCounter({ store, clock, threshold: 1000, onWorn: async () => undefined, onError: (e) => errors.push(e), flushEvery: 1000 });
    counter.tally.count('dek_a', 7);
    store.state.down = true;
    await counter.flush();
    expect(errors).toHaveLength(1);
    expect(counter.pendingCount()).toBe(7);
    store.state.down = false;
    counter.tally.count('dek_a', 3);
    await counter.flush();
    expect(store.counts.get('dek_a')).toBe(10);
  });

  it('hands a key to onWorn once its written count reaches the threshold, unless it is retired', async () => {
    const store = fakeStore();
    const worn: DataKeyUsage[] = [];
    const counter = createEncryptionCounter({ store, clock, threshold: 5, onWorn: async (key) => void worn.push(key) });
    for (let i = 0; i < 4; i += 1) counter.tally.count('dek_a', 1);
    await counter.flush();
    expect(worn).toEqual([]);
    counter.tally.count('dek_a', 1);
    await counter.flush();
    expect(worn.map((key) => [key.id, key.encryptionCount])).toEqual([['dek_a', 5]]);
    store.state.retired = true;
    counter.tally.count('dek_a', 1);
    await counter.flush();
    expect(worn).toHaveLength(1);
  });

  it('flushes on its own after every seal when the threshold is tiny', async () => {
    const store = fakeStore();
    const counter = createEncryptionCounter({ store, clock, threshold: 8, onWorn: async () => undefined });
    counter.tally.count('dek_a', 1);
    await counter.flush();
    expect(store.calls).toEqual([['dek_a', 1]]);
  });
});
