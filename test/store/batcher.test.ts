import { describe, expect, it } from 'vitest';
import { createBatcher } from '../../src/store/batcher.js';

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('the batcher', () => {
  it('writes an item that arrives alone on the next turn, and items arriving during a write together in the next', async () => {
    const writes: number[][] = [];
    let release: (() => void) | undefined;
    const group = createBatcher<number>(async (items) => {
      writes.push(items);
      if (writes.length === 1) await new Promise<void>((resolve) => (release = resolve));
      return items.map(() => undefined);
    });
    const first = group.add(1);
    await tick();
    expect(writes).toEqual([[1]]);
    const rest = [2, 3, 4].map((n) => group.add(n));
    await tick();
    expect(writes).toEqual([[1]]);
    release?.();
    await Promise.all([first, ...rest]);
    expect(writes).toEqual([[1], [2, 3, 4]]);
  });

  it('answers no caller before the write holding its item has finished', async () => {
    let finished = false;
    const group = createBatcher<string>(async (items) => {
      await tick();
      finished = true;
      return items.map(() => undefined);
    });
    await group.add('a');
    expect(finished).toBe(true);
  });

  it('splits a long queue into writes of at most the batch size', async () => {
    const sizes: number[] = [];
    const group = createBatcher<number>(async (items) => {
      sizes.push(items.length);
      await tick();
      return items.map(() => undefined);
    }, { maxBatch: 3 });
    await Promise.all(Array.from({ length: 8 }, (_, i) => group.add(i)));
    // All eight arrive in one turn of the event loop: they would share one write but for the bound.
    expect(sizes).toEqual([3, 3, 2]);
  });

  it('fails only the caller whose item cannot be written when a shared write fails', async () => {
    const written: number[] = [];
    let gate: Promise<void> | undefined = new Promise<void>((resolve) => setTimeout(resolve, 5));
    const group = createBatcher<number>(async (items) => {
      if (gate) {
        const wait = gate;
        gate = undefined;
        await wait;
      }
      if (items.includes(13)) throw new Error('item 13 is refused');
      written.push(...items);
      return items.map(() => undefined);
    });
    const first = group.add(0);
    const results = await Promise.allSettled([first, ...[12, 13, 14].map((n) => group.add(n))]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    expect((results[2] as PromiseRejectedResult).reason).toBeInstanceOf(Error);
    expect(written.sort((a, b) => a - b)).toEqual([0, 12, 14]);
  });

  it('hands each caller the result for its own item', async () => {
    const squares = createBatcher<number, number>(async (items) => items.map((n) => n * n));
    expect(await Promise.all([2, 3, 4].map((n) => squares.add(n)))).toEqual([4, 9, 16]);
  });

  it('runs items handed in one after another, each as soon as the caller has the previous answer', async () => {
    const runs: number[][] = [];
    const batcher = createBatcher<number>(async (items) => {
      runs.push(items);
      return items.map(() => undefined);
    });
    for (const n of [1, 2, 3]) await batcher.add(n);
    expect(runs).toEqual([[1], [2], [3]]);
  });

  it('runs up to maxConcurrent batches side by side, and no more', async () => {
    let inFlight = 0;
    let most = 0;
    const batcher = createBatcher<number>(
      async (items) => {
        inFlight += 1;
        most = Math.max(most, inFlight);
        await new Promise((resolve) => setTimeout(resolve, 5));
        inFlight -= 1;
        return items.map(() => undefined);
      },
      { maxBatch: 2, maxConcurrent: 3 },
    );
    await Promise.all(Array.from({ length: 20 }, (_, i) => batcher.add(i)));
    expect(most).toBe(3);
  });
});
