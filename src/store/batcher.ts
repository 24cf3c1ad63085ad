/**
 * Combines calls made close together into one piece of work: one transaction for many
 * writes (group commit: one commit, one fsync, one lock), or one query for many lookups.
 * Callers hand in an item and wait for their own result. Up to `maxConcurrent` runs (one
 * unless given) are in progress at a time; items that arrive meanwhile go into the next. A run starts on the event loop's
 * next turn, so requests already being handled can join it; an item that arrives alone
 * waits no longer than that. A caller is answered only after the run holding its item
 * has finished, so for writes nothing acknowledged can be lost.
 *
 * If a shared run fails, each of its items is run again alone, so one bad item fails
 * only its own caller.
 */
export const createBatcher = <T, R = void>(run: (items: T[]) => Promise<R[]>, options: { maxBatch?: number; maxConcurrent?: number } = {}) => {
  const maxBatch = options.maxBatch ?? 1000;
  const maxConcurrent = options.maxConcurrent ?? 1;
  interface Entry {
    item: T;
    settle(result: { ok: true; value: R } | { ok: false; error: unknown }): void;
  }
  let queue: Entry[] = [];
  let running = 0;

  const runAlone = async (entry: Entry): Promise<void> => {
    try {
      const [value] = await run([entry.item]);
      entry.settle({ ok: true, value: value as R });
    } catch (error) {
      entry.settle({ ok: false, error });
    }
  };

  const drain = async (): Promise<void> => {
    while (queue.length > 0) {
      const batch = queue.slice(0, maxBatch);
      queue = queue.slice(batch.length);
      let results: R[];
      try {
        results = await run(batch.map((entry) => entry.item));
      } catch (error) {
        if (batch.length === 1) batch[0]?.settle({ ok: false, error });
        else for (const entry of batch) await runAlone(entry);
        continue;
      }
      batch.forEach((entry, i) => entry.settle({ ok: true, value: results[i] as R }));
    }
  };

  /** Starts a run on the next turn; a caller answered by the last run may already have queued more. */
  const schedule = (): void => {
    running += 1;
    void new Promise((next) => setImmediate(next))
      .then(drain)
      .finally(() => {
        running -= 1;
        if (queue.length > 0 && running < maxConcurrent) schedule();
      });
  };

  return {
    /** Resolves with this item's result once its run has finished; rejects with the error that failed it. */
    add(item: T): Promise<R> {
      return new Promise<R>((resolve, reject) => {
        queue.push({ item, settle: (result) => (result.ok ? resolve(result.value) : reject(result.error)) });
        if (running < maxConcurrent) schedule();
      });
    },
  };
};
