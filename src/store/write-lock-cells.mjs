// @ts-check
/**
 * The cells of the process's SQLite write lock (sqlite-write-lock.ts), shared between the
 * main thread and the audit writer thread (plain JavaScript, so a worker can load it from
 * the sources as from dist): an Int32Array over a SharedArrayBuffer whose cell 0 is the next
 * ticket, cell 1 the ticket being served, cell 2 the tag of the holder (0 for none).
 */
export const NEXT = 0;
export const SERVING = 1;
export const HOLDER = 2;
export const CELLS = 3;

/** Takes a ticket: the caller's turn comes when cell SERVING holds it. @param {Int32Array} cells */
export const takeTicket = (cells) => Atomics.add(cells, NEXT, 1);

/** Records who holds the lock once its turn has come. @param {Int32Array} cells @param {number} tag */
export const hold = (cells, tag) => Atomics.store(cells, HOLDER, tag);

/** Passes the lock to the next ticket and wakes its waiter. @param {Int32Array} cells */
export const release = (cells) => {
  Atomics.store(cells, HOLDER, 0);
  Atomics.add(cells, SERVING, 1);
  Atomics.notify(cells, SERVING);
};

/** For a worker thread: blocks until the lock is the caller's. @param {Int32Array} cells @param {number} tag */
export const acquireBlocking = (cells, tag) => {
  const ticket = takeTicket(cells);
  for (;;) {
    const serving = Atomics.load(cells, SERVING);
    if (serving === ticket) break;
    Atomics.wait(cells, SERVING, serving);
  }
  hold(cells, tag);
};
