import type SqliteDatabase from 'better-sqlite3';
import pg from 'pg';

/**
 * How a process learns that stored credentials changed, so that a cached credential row is
 * never served once the stored one differs (src/credentials/credential-cache.ts). Migration
 * 0014 makes every update and delete of a credential signal it, whoever makes it.
 */
export interface CredentialChangeFeed {
  /** Taken before a row is read; undefined while changes cannot be followed (nothing is cached then). */
  stamp(id: string): number | undefined;
  /** After the read: whether the row read since `stamp` may be kept. */
  keeps(stamp: number, id: string): boolean;
  /** Whether a row kept with `stamp` is still the stored one. */
  fresh(stamp: number, id: string): boolean;
  /** This process is changing `id` (every credential when undefined). */
  changing(id?: string): void;
  /** `drop` is told of each change seen, with the credential's id (or undefined: any may have changed). */
  subscribe(drop: (id?: string) => void): void;
  close(): Promise<void>;
}

/**
 * SQLite: migration 0014's counter, moved on by triggers in the same transaction as the
 * change. Reading it is one prepared statement on this process's connection, which sees its
 * own uncommitted changes and every committed one, from any process. A row is fresh while
 * the counter still has the value read before the row was. The value read is reused until
 * the event loop's next turn (requests answered in one turn share one read) or until this
 * process's connection runs any statement that may write, whichever comes first.
 */
export const sqliteCredentialChanges = (sqlite: SqliteDatabase.Database): CredentialChangeFeed => {
  let statement: SqliteDatabase.Statement | undefined;
  let known: number | undefined;
  const forget = (): void => {
    known = undefined;
  };
  const generation = (): number => {
    if (known !== undefined) return known;
    // Prepared at first use: the table exists only once the migrations have run.
    known = Number((statement ??= sqlite.prepare('select generation from credential_changes where id = 1').pluck()).get());
    setImmediate(forget);
    return known;
  };
  return {
    stamp: () => (sqlite.open ? generation() : undefined),
    keeps: () => true,
    fresh: (stamp) => sqlite.open && generation() === stamp,
    changing: forget,
    subscribe: () => undefined,
    close: async () => undefined,
  };
};

/** How long a credential this process changed is read from the database, whatever the cache holds: far longer than NOTIFY takes to come back. */
const CHANGING_MS = 2000;
const RECONNECT_MS = { first: 500, max: 30_000 };

/**
 * PostgreSQL: a connection of its own LISTENs on `credence_credential_changed`, where
 * migration 0014's trigger sends every changed credential's id when the change commits.
 * Each id seen is dropped from the cache. Nothing is cached while that connection is not
 * listening (and the cache is emptied when it stops, as changes may have been missed). A
 * row is kept only if no change at all was seen while it was read, so a read racing a
 * change is never kept. A credential this process changes is read from the database for
 * CHANGING_MS, so a change is seen here at once, before its NOTIFY comes back.
 */
export const postgresCredentialChanges = (connectionString: string): CredentialChangeFeed => {
  let listening = false;
  let closed = false;
  let epoch = 0;
  let client: pg.Client | undefined;
  let connecting: Promise<void> | undefined;
  let retryMs = RECONNECT_MS.first;
  let timer: NodeJS.Timeout | undefined;
  const drops: Array<(id?: string) => void> = [];
  const changingUntil = new Map<string, number>();
  let allChangingUntil = 0;

  const dropped = (id?: string): void => {
    epoch += 1;
    for (const drop of drops) drop(id);
  };

  const stopListening = (): void => {
    if (listening) dropped();
    listening = false;
    client?.removeAllListeners();
    client?.on('error', () => undefined);
    void client?.end().catch(() => undefined);
    client = undefined;
    if (closed || timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      listen();
    }, retryMs);
    timer.unref();
    retryMs = Math.min(RECONNECT_MS.max, retryMs * 2);
  };

  const listen = (): void => {
    // While a reconnect waits out its back-off, reads do not open connections of their own.
    if (closed || client || timer) return;
    const next = new pg.Client({ connectionString });
    client = next;
    next.on('error', stopListening);
    next.on('end', stopListening);
    next.on('notification', (message) => {
      if (message.channel === 'credence_credential_changed') dropped(message.payload || undefined);
    });
    connecting = next
      .connect()
      .then(() => next.query('listen credence_credential_changed'))
      .then(() => {
        if (client !== next) return;
        // Whatever was cached before this connection listened may have changed unseen.
        dropped();
        listening = true;
        retryMs = RECONNECT_MS.first;
      })
      .catch(() => {
        if (client === next) stopListening();
      })
      .finally(() => {
        connecting = undefined;
      });
  };

  const isChanging = (id: string): boolean => {
    const now = Date.now();
    if (now < allChangingUntil) return true;
    const until = changingUntil.get(id);
    if (until === undefined) return false;
    if (now < until) return true;
    changingUntil.delete(id);
    return false;
  };

  return {
    stamp(id) {
      if (!listening) {
        listen();
        return undefined;
      }
      return isChanging(id) ? undefined : epoch;
    },
    keeps: (stamp, id) => listening && epoch === stamp && !isChanging(id),
    fresh: (_stamp, id) => listening && !isChanging(id),
    changing(id) {
      const until = Date.now() + CHANGING_MS;
      if (id === undefined) allChangingUntil = until;
      else {
        // Bounded: entries past their time go at the next look, or here when there are many.
        if (changingUntil.size > 10_000) for (const [key, end] of changingUntil) if (end <= Date.now()) changingUntil.delete(key);
        changingUntil.set(id, until);
      }
      dropped(id);
    },
    subscribe(drop) {
      drops.push(drop);
    },
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      await connecting;
      listening = false;
      const open = client;
      client = undefined;
      open?.removeAllListeners();
      open?.on('error', () => undefined);
      await open?.end().catch(() => undefined);
    },
  };
};
