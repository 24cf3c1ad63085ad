import { errorDetails } from '../common/app-error.js';
import { sql } from 'kysely';
import type { Clock } from '../common/clock.js';
import type { EventOutbox } from '../events/event-outbox.js';
import type { Db, Transact } from '../store/database.js';
import type { HealthService } from './health-service.js';

const DAY_MS = 24 * 60 * 60 * 1000;
/** How often the watch looks at expiry dates. */
export const EXPIRY_WATCH_MS = 60_000;

export type ExpiryKind = 'credential' | 'client_secret';
const COLUMN: Record<ExpiryKind, 'expires_at' | 'client_secret_expires_at'> = { credential: 'expires_at', client_secret: 'client_secret_expires_at' };

export interface ExpiryWatchLog {
  info(details: object, message: string): void;
  error(details: object, message: string): void;
}

interface Candidate {
  id: string;
  organization_id: string;
  customer_id: string | null;
  label: string;
  expires_at: string;
}

/** One expiry warning the watch just sent: what, for which credential, how far ahead. */
export interface ExpiryNotice {
  credential: { id: string; organizationId: string; customerId: string | null; label: string };
  kind: ExpiryKind;
  expiresAt: string;
  /** 0: it has expired. */
  daysBefore: number;
}

/**
 * Watches expiry dates a person entered: a credential's own (`expiresAt`) and an OAuth 2.0
 * app's client secret (`clientSecretExpiresAt`). As each of `warningDays` before the date
 * passes it sends `credential.expiring` once, and `credential.expired` at the date (the
 * credential's health then turns failing). Each warning is recorded in the same transaction
 * as its event, keyed by the date, so it goes out exactly once however many workers watch,
 * and a new date starts the warnings over. A watch that was down sends only the nearest
 * warning it missed, not each one.
 */
export const createExpiryWatch = (deps: {
  db: Db;
  transact: Transact;
  events: Pick<EventOutbox, 'emit' | 'credentialData'>;
  health: Pick<HealthService, 'observeIn'>;
  clock: Clock;
  warningDays: readonly number[];
}) => {
  const days = [...new Set(deps.warningDays)].filter((d) => d > 0).sort((a, b) => b - a);
  const horizon = days[0] ?? 0;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> = Promise.resolve();
  let log: ExpiryWatchLog | undefined;

  /** Credentials whose `daysBefore` warning for their current date is due and not yet sent. */
  const candidates = async (kind: ExpiryKind, now: Date, daysBefore: number): Promise<Candidate[]> => {
    const column = sql.ref(`c.${COLUMN[kind]}`);
    const result = await sql<Candidate>`
      select c.id, c.organization_id, c.customer_id, c.label, ${column} as expires_at
      from credentials c
      where ${column} is not null and ${column} <= ${new Date(now.getTime() + daysBefore * DAY_MS).toISOString()}
        and not exists (
          select 1 from credential_expiry_notices n
          where n.credential_id = c.id and n.kind = ${kind} and n.expires_at = ${column} and n.days_before = ${daysBefore}
        )
      order by ${column}, c.id
      limit 500`.execute(deps.db);
    return result.rows;
  };

  /** Records the warnings due for one date and sends the nearest new one; answers it, if any. */
  const warn = async (candidate: Candidate, kind: ExpiryKind, now: Date): Promise<ExpiryNotice | undefined> => {
    const expiresMs = Date.parse(candidate.expires_at);
    const due = [...days.filter((d) => now.getTime() >= expiresMs - d * DAY_MS), ...(now.getTime() >= expiresMs ? [0] : [])];
    if (due.length === 0) return undefined;
    return deps.transact(async (trx) => {
      const inserted = await trx
        .insertInto('credential_expiry_notices')
        .values(due.map((d) => ({ credential_id: candidate.id, organization_id: candidate.organization_id, kind, expires_at: candidate.expires_at, days_before: d, sent_at: now.toISOString() })))
        .onConflict((oc) => oc.doNothing())
        .returning('days_before')
        .execute();
      if (inserted.length === 0) return undefined;
      const daysBefore = Math.min(...inserted.map((row) => Number(row.days_before)));
      const credential = { id: candidate.id, organizationId: candidate.organization_id, customerId: candidate.customer_id, label: candidate.label };
      const data = deps.events.credentialData(credential, { kind, expiresAt: candidate.expires_at, daysLeft: Math.max(0, Math.ceil((expiresMs - now.getTime()) / DAY_MS)) });
      await deps.events.emit(trx, [{ organizationId: candidate.organization_id, type: daysBefore === 0 ? 'credential.expired' : 'credential.expiring', data }]);
      if (daysBefore === 0) {
        const what = kind === 'credential' ? 'The credential expired' : "The OAuth app's client secret expired";
        await deps.health.observeIn(trx, [{ credential, health: 'failing', source: 'expiry', message: `${what} on ${candidate.expires_at.slice(0, 10)}` }]);
      }
      return { credential, kind, expiresAt: candidate.expires_at, daysBefore };
    });
  };

  /**
   * Authorization links that expired unused (not revoked, not spent) tell the organization
   * once: authorization_link.expired. Links that expired more than a week before the watch
   * first saw them (say, before an upgrade) are left alone.
   */
  const expiredLinks = async (now: Date): Promise<number> => {
    const rows = await deps.db
      .selectFrom('oauth_links as l')
      .innerJoin('credentials as c', 'c.id', 'l.credential_id')
      .select(['l.id', 'l.organization_id', 'l.expires_at', 'c.id as credential_id', 'c.label', 'c.customer_id'])
      .where('l.used_at', 'is', null)
      .where('l.revoked_at', 'is', null)
      .where('l.expiry_notified_at', 'is', null)
      .where('l.expires_at', '<=', now.toISOString())
      .where('l.expires_at', '>', new Date(now.getTime() - 7 * DAY_MS).toISOString())
      .orderBy('l.expires_at')
      .limit(500)
      .execute();
    let told = 0;
    for (const row of rows) {
      await deps.transact(async (trx) => {
        const claimed = await trx.updateTable('oauth_links').set({ expiry_notified_at: now.toISOString() }).where('id', '=', row.id).where('expiry_notified_at', 'is', null).executeTakeFirst();
        if (Number(claimed.numUpdatedRows) !== 1) return;
        told += 1;
        const credential = { id: row.credential_id, label: row.label, customerId: row.customer_id };
        await deps.events.emit(trx, [{ organizationId: row.organization_id, type: 'authorization_link.expired', data: deps.events.credentialData(credential, { linkId: row.id, expiredAt: row.expires_at }) }]);
      });
    }
    return told;
  };

  /** One look at every date coming up (and at links that expired); answers the warnings sent. */
  const tick = async (): Promise<ExpiryNotice[]> => {
    const now = deps.clock.now();
    await expiredLinks(now);
    if (horizon === 0) return [];
    const sent: ExpiryNotice[] = [];
    for (const kind of ['credential', 'client_secret'] as const) {
      const seen = new Set<string>();
      // The nearest warnings first: a credential due for several gets the nearest one only.
      for (const daysBefore of [0, ...[...days].reverse()]) {
        for (const candidate of await candidates(kind, now, daysBefore)) {
          if (seen.has(candidate.id)) continue;
          seen.add(candidate.id);
          const notice = await warn(candidate, kind, now);
          if (notice) sent.push(notice);
        }
      }
    }
    if (sent.length > 0) log?.info({ warnings: sent.length }, 'expiry warnings sent');
    return sent;
  };

  const pass = async (): Promise<void> => {
    try {
      await tick();
    } catch (error) {
      log?.error({ err: errorDetails(error) }, 'expiry watch failed; the next pass tries again');
    }
  };

  return {
    tick,
    start(logger?: ExpiryWatchLog): void {
      if (timer) return;
      log = logger;
      running = pass();
      timer = setInterval(() => (running = pass()), EXPIRY_WATCH_MS);
      timer.unref();
    },
    async stop(): Promise<void> {
      if (timer) clearInterval(timer);
      timer = undefined;
      await running;
    },
  };
};

export type ExpiryWatch = ReturnType<typeof createExpiryWatch>;
