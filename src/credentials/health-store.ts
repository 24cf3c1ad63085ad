import { sql } from 'kysely';
import type { Db } from '../store/database.js';
import type { CredentialHealthHistoryTable, CredentialHealthTable } from '../store/schema.js';
import type { Health, HealthSource } from './health.js';

/** A credential's health row as stored; the message is sealed. */
export interface StoredHealth {
  credentialId: string;
  organizationId: string;
  health: Health;
  since: string;
  checkedAt: string;
  source: HealthSource;
  messageCiphertext: string | null;
}

export interface StoredHealthChange {
  id: string;
  organizationId: string;
  credentialId: string;
  from: Health;
  to: Health;
  source: HealthSource;
  at: string;
  messageCiphertext: string | null;
}

const toHealth = (row: CredentialHealthTable): StoredHealth => ({
  credentialId: row.credential_id,
  organizationId: row.organization_id,
  health: row.health as Health,
  since: row.since,
  checkedAt: row.checked_at,
  source: row.source as HealthSource,
  messageCiphertext: row.message_ciphertext,
});

const toChange = (row: CredentialHealthHistoryTable): StoredHealthChange => ({
  id: row.id,
  organizationId: row.organization_id,
  credentialId: row.credential_id,
  from: row.from_health as Health,
  to: row.to_health as Health,
  source: row.source as HealthSource,
  at: row.at,
  messageCiphertext: row.message_ciphertext,
});

/** Credentials' health and its history. Every query is scoped by organization id. */
export const createHealthStore = (db: Db, engine: 'sqlite' | 'postgres') => ({
  /**
   * The health rows of `ids` (absent: never observed). With `lock` on PostgreSQL the rows are
   * locked for the transaction, so two observers of one credential take turns (SQLite's
   * writers take turns anyway).
   */
  async find(organizationId: string, ids: readonly string[], trx: Db = db, lock = false): Promise<StoredHealth[]> {
    if (ids.length === 0) return [];
    let query = trx.selectFrom('credential_health').selectAll().where('organization_id', '=', organizationId).where('credential_id', 'in', [...ids]);
    if (lock && engine === 'postgres') query = query.orderBy('credential_id').forUpdate();
    return (await query.execute()).map(toHealth);
  },

  /** Writes the rows, creating those that are new; `since` moves only where the health changes. */
  async upsert(rows: readonly StoredHealth[], trx: Db = db): Promise<void> {
    if (rows.length === 0) return;
    await trx
      .insertInto('credential_health')
      .values(
        rows.map((row) => ({
          credential_id: row.credentialId,
          organization_id: row.organizationId,
          health: row.health,
          since: row.since,
          checked_at: row.checkedAt,
          source: row.source,
          message_ciphertext: row.messageCiphertext,
        })),
      )
      .onConflict((oc) =>
        oc.column('credential_id').doUpdateSet({
          health: sql`excluded.health`,
          since: sql`case when credential_health.health = excluded.health then credential_health.since else excluded.since end`,
          checked_at: sql`excluded.checked_at`,
          source: sql`excluded.source`,
          message_ciphertext: sql`excluded.message_ciphertext`,
        }),
      )
      .execute();
  },

  async insertChanges(changes: readonly StoredHealthChange[], trx: Db = db): Promise<void> {
    if (changes.length === 0) return;
    await trx
      .insertInto('credential_health_history')
      .values(
        changes.map((change) => ({
          id: change.id,
          organization_id: change.organizationId,
          credential_id: change.credentialId,
          from_health: change.from,
          to_health: change.to,
          source: change.source,
          at: change.at,
          message_ciphertext: change.messageCiphertext,
        })),
      )
      .execute();
  },

  /** A credential's changes of health, newest first. */
  async history(organizationId: string, credentialId: string, limit: number, trx: Db = db): Promise<StoredHealthChange[]> {
    const rows = await trx
      .selectFrom('credential_health_history')
      .selectAll()
      .where('organization_id', '=', organizationId)
      .where('credential_id', '=', credentialId)
      .orderBy('at', 'desc')
      .orderBy('id', 'desc')
      .limit(limit)
      .execute();
    return rows.map(toChange);
  },
});

export type HealthStore = ReturnType<typeof createHealthStore>;
