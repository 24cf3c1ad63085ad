import type { EventOutbox, OutboxEvent } from '../events/event-outbox.js';
import type { AuditService } from '../audit/audit-service.js';
import type { Clock } from '../common/clock.js';
import { newId } from '../common/ids.js';
import type { CipherContext, Keyring } from '../crypto/keyring.js';
import { scopeOf } from '../crypto/sealed-json.js';
import type { Db, Transact } from '../store/database.js';
import type { CredentialRecord } from './credential-store.js';
import type { Health, HealthChange, HealthSource, HealthState } from './health.js';
import type { HealthStore, StoredHealth, StoredHealthChange } from './health-store.js';

export const HEALTH_FIELD_SET = 'health';
export const HEALTH_HISTORY_FIELD_SET = 'health-history';

type CredentialRef = Pick<CredentialRecord, 'id' | 'organizationId' | 'customerId' | 'label'>;

/** Something seen of a credential: what it says of its health, and in what words. */
export interface HealthObservation {
  credential: CredentialRef;
  health: Health;
  source: HealthSource;
  /** What was seen, if more than the health and its source say (sealed: it can be the service's answer). */
  message?: string | undefined;
}

/** A change of health that an observation made. */
export interface HealthTransition {
  credential: CredentialRef;
  from: Health;
  to: Health;
  source: HealthSource;
  at: string;
}

export const healthContext = (credential: CredentialRef): CipherContext => ({
  organizationId: credential.organizationId,
  scopeId: scopeOf(credential.organizationId, credential.customerId),
  recordId: credential.id,
  fieldSet: HEALTH_FIELD_SET,
});

export const healthHistoryContext = (credential: CredentialRef, changeId: string): CipherContext => ({
  ...healthContext(credential),
  recordId: `${credential.id}/${changeId}`,
  fieldSet: HEALTH_HISTORY_FIELD_SET,
});

/** Credence's own words for an observation that brought none. */
const DEFAULT_MESSAGES: Record<Health, string> = {
  healthy: 'The service accepted the credential',
  degraded: 'The last attempt to use the credential failed; it will be tried again',
  failing: 'The service refuses the credential',
  needs_reauthorization: 'The authorization is gone: someone has to authorize again',
  unknown: 'Not checked yet',
};
const SOURCE_MESSAGES: Partial<Record<`${Health}:${HealthSource}`, string>> = {
  'healthy:refresh': 'The access token was refreshed',
  'healthy:authorization': 'Authorized',
  'healthy:run': 'A run used the credential',
  'unknown:change': 'The secret was changed and has not been checked since',
};
const defaultMessage = (health: Health, source: HealthSource): string => SOURCE_MESSAGES[`${health}:${source}`] ?? DEFAULT_MESSAGES[health];

const TROUBLE: ReadonlySet<Health> = new Set(['degraded', 'failing', 'needs_reauthorization']);

/** The events a change of health makes: always health_changed; recovered out of trouble; reauthorization_required into it. */
const eventsOf = (t: HealthTransition, outbox: Pick<EventOutbox, 'credentialData'>): OutboxEvent[] => {
  const data = outbox.credentialData(t.credential, { health: t.to, previousHealth: t.from, source: t.source });
  const events: OutboxEvent[] = [{ organizationId: t.credential.organizationId, type: 'credential.health_changed', data }];
  if (t.to === 'healthy' && TROUBLE.has(t.from)) events.push({ organizationId: t.credential.organizationId, type: 'credential.recovered', data });
  if (t.to === 'needs_reauthorization') events.push({ organizationId: t.credential.organizationId, type: 'credential.reauthorization_required', data });
  return events;
};

/**
 * Keeps every credential's health true. Each observation (a refresh, an authorization, a
 * test, a check, a run step, a change of secret) sets the health and when it was seen; a
 * change of health is kept in the credential's history and recorded once as the audit
 * event `credential.health_changed` (from, to, source), never again while it stays so.
 */
export const createHealthService = (deps: {
  store: HealthStore;
  keyring: Pick<Keyring, 'sealEach' | 'open'>;
  audit: Pick<AuditService, 'record'>;
  /** Tells webhook endpoints of each change (in the same transaction). */
  events?: Pick<EventOutbox, 'emit' | 'credentialData'> | undefined;
  transact: Transact;
  clock: Clock;
}) => {
  const { store, keyring, audit, clock } = deps;

  const openMessage = async (ctx: CipherContext, ciphertext: string | null, health: Health, source: HealthSource): Promise<string> => {
    if (ciphertext === null) return defaultMessage(health, source);
    try {
      return (await keyring.open(ctx, ciphertext)).toString('utf8');
    } catch {
      // Its key destroyed or the row tampered with: the health still shows, without its words.
      return defaultMessage(health, source);
    }
  };

  /** Applies observations inside `trx`; the last one of a credential counts. Call it last in a transaction: it may record audit events. */
  const observeIn = async (trx: Db, observations: readonly HealthObservation[]): Promise<HealthTransition[]> => {
    if (observations.length === 0) return [];
    const at = clock.now().toISOString();
    const latest = new Map(observations.map((o) => [o.credential.id, o]));
    const items = [...latest.values()];
    const byOrganization = new Map<string, string[]>();
    for (const { credential } of items) {
      const ids = byOrganization.get(credential.organizationId);
      if (ids) ids.push(credential.id);
      else byOrganization.set(credential.organizationId, [credential.id]);
    }
    const current = new Map<string, StoredHealth>();
    for (const [organizationId, ids] of byOrganization) for (const row of await store.find(organizationId, ids, trx, true)) current.set(row.credentialId, row);

    const transitions: HealthTransition[] = [];
    const changes: Array<{ change: StoredHealthChange; message: string | undefined; credential: CredentialRef }> = [];
    for (const o of items) {
      const from = current.get(o.credential.id)?.health ?? 'unknown';
      if (from === o.health) continue;
      transitions.push({ credential: o.credential, from, to: o.health, source: o.source, at });
      const id = newId('hev', clock.now());
      changes.push({
        change: { id, organizationId: o.credential.organizationId, credentialId: o.credential.id, from, to: o.health, source: o.source, at, messageCiphertext: null },
        message: o.message,
        credential: o.credential,
      });
    }
    const withMessage = items.filter((o) => o.message !== undefined);
    const changesWithMessage = changes.filter((c) => c.message !== undefined);
    const sealed = await keyring.sealEach(
      [
        ...withMessage.map((o) => ({ ctx: healthContext(o.credential), plaintext: Buffer.from(o.message as string, 'utf8') })),
        ...changesWithMessage.map((c) => ({ ctx: healthHistoryContext(c.credential, c.change.id), plaintext: Buffer.from(c.message as string, 'utf8') })),
      ],
      trx,
    );
    const sealedOf = new Map(withMessage.map((o, i) => [o.credential.id, sealed[i] as string]));
    changesWithMessage.forEach((c, i) => (c.change.messageCiphertext = sealed[withMessage.length + i] as string));

    await store.upsert(
      items.map((o) => ({
        credentialId: o.credential.id,
        organizationId: o.credential.organizationId,
        health: o.health,
        since: at,
        checkedAt: at,
        source: o.source,
        messageCiphertext: sealedOf.get(o.credential.id) ?? null,
      })),
      trx,
    );
    await store.insertChanges(
      changes.map((c) => c.change),
      trx,
    );
    const events = deps.events;
    if (events) await events.emit(trx, transitions.flatMap((t) => eventsOf(t, events)));
    // Audit last, organization by organization in one order: each event holds its chain's head until the commit.
    const ordered = [...transitions].sort((a, b) => a.credential.organizationId.localeCompare(b.credential.organizationId));
    for (const t of ordered) {
      await audit.record(
        null,
        t.credential.organizationId,
        { action: 'credential.health_changed', customerId: t.credential.customerId, targetType: 'credential', targetId: t.credential.id, details: { from: t.from, to: t.to, source: t.source } },
        trx,
      );
    }
    return transitions;
  };

  return {
    observeIn,

    /** Applies observations in `trx` when given, else in a transaction of their own. */
    observe(observations: readonly HealthObservation[], trx?: Db): Promise<HealthTransition[]> {
      return trx ? observeIn(trx, observations) : deps.transact((inner) => observeIn(inner, observations));
    },

    /** The health of each credential, as the API shows it (unknown since its creation when never observed). */
    async states(records: readonly CredentialRecord[]): Promise<Map<string, HealthState>> {
      const first = records[0];
      const rows = first ? await store.find(first.organizationId, records.map((r) => r.id)) : [];
      const byId = new Map(rows.map((row) => [row.credentialId, row]));
      const states = new Map<string, HealthState>();
      await Promise.all(
        records.map(async (record) => {
          const row = byId.get(record.id);
          states.set(
            record.id,
            row
              ? { health: row.health, healthMessage: await openMessage(healthContext(record), row.messageCiphertext, row.health, row.source), healthCheckedAt: row.checkedAt, since: row.since }
              : { health: 'unknown', healthMessage: DEFAULT_MESSAGES.unknown, healthCheckedAt: null, since: record.createdAt },
          );
        }),
      );
      return states;
    },

    /** A credential's changes of health, newest first (the caller has checked it may see the credential). */
    async history(record: CredentialRecord, limit = 50): Promise<HealthChange[]> {
      const rows = await store.history(record.organizationId, record.id, limit);
      return Promise.all(
        rows.map(async (row) => ({
          id: row.id,
          from: row.from,
          to: row.to,
          source: row.source,
          message: await openMessage(healthHistoryContext(record, row.id), row.messageCiphertext, row.to, row.source),
          at: row.at,
        })),
      );
    },
  };
};

export type HealthService = ReturnType<typeof createHealthService>;
