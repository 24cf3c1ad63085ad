import { sql } from 'kysely';
import type { Db } from './database.js';

/** A table whose rows fall due and are leased to one worker at a time. */
export interface LeasedTable {
  table: string;
  key: string;
  /** The column saying when the row is due (null: never). */
  due: string;
}

/**
 * Leases up to `limit` rows that are due and free to `owner` until `until`, earliest due first
 * and at most `perOrganization` of one organization in a claim, inside `trx`; answers their
 * keys. Workers claiming at once get disjoint rows: FOR UPDATE SKIP LOCKED on PostgreSQL
 * (rechecking each row is still due and free once locked), SQLite's writers take turns.
 */
export const claimLeased = async (
  trx: Db,
  engine: 'sqlite' | 'postgres',
  spec: LeasedTable,
  claim: { owner: string; now: string; until: string; limit: number; perOrganization: number },
): Promise<string[]> => {
  const table = sql.table(spec.table);
  const key = sql.ref(spec.key);
  const due = sql.ref(spec.due);
  const free = sql`${due} <= ${claim.now} and (lease_expires_at is null or lease_expires_at <= ${claim.now})`;
  const ranked = await sql<{ k: string }>`
    select k from (
      select ${key} as k, ${due} as d, row_number() over (partition by organization_id order by ${due}, ${key}) as place
      from ${table} where ${free}
    ) ranked
    where place <= ${claim.perOrganization}
    order by d, k
    limit ${claim.limit}`.execute(trx);
  let keys = ranked.rows.map((row) => row.k);
  if (keys.length === 0) return [];
  if (engine === 'postgres') {
    const locked = await sql<{ k: string }>`
      select ${key} as k from ${table} where ${key} in (${sql.join(keys)}) and ${free}
      for update skip locked`.execute(trx);
    keys = locked.rows.map((row) => row.k);
    if (keys.length === 0) return [];
  }
  await sql`update ${table} set lease_owner = ${claim.owner}, lease_expires_at = ${claim.until} where ${key} in (${sql.join(keys)})`.execute(trx);
  return keys;
};
