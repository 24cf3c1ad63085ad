import { sql } from 'kysely';
import type { Db } from '../store/database.js';

export interface DataKeyRecord {
  id: string;
  organizationId: string;
  scopeId: string;
  version: number;
  wrappedKey: string;
  rootKeyId: string;
  createdAt: string;
  retiredAt: string | null;
}

const toRecord = (row: {
  id: string;
  organization_id: string;
  scope_id: string;
  version: number;
  wrapped_key: string;
  root_key_id: string;
  created_at: string;
  retired_at: string | null;
}): DataKeyRecord => ({
  id: row.id,
  organizationId: row.organization_id,
  scopeId: row.scope_id,
  version: Number(row.version),
  wrappedKey: row.wrapped_key,
  rootKeyId: row.root_key_id,
  createdAt: row.created_at,
  retiredAt: row.retired_at,
});

/** A data key with how many values it has sealed. */
export type DataKeyUsage = DataKeyRecord & { encryptionCount: number };

const toUsage = (row: Parameters<typeof toRecord>[0] & { encryption_count: number | string }): DataKeyUsage => ({
  ...toRecord(row),
  encryptionCount: Number(row.encryption_count),
});

/** How findCurrentEach names a scope. */
export const scopeKey = (organizationId: string, scopeId: string): string => `${organizationId}/${scopeId}`;

/** Wrapped data keys, one row per scope and version. */
export const createDataKeyStore = (db: Db) => ({
  async insert(record: DataKeyRecord, trx: Db = db): Promise<void> {
    await trx
      .insertInto('data_keys')
      .values({
        id: record.id,
        organization_id: record.organizationId,
        scope_id: record.scopeId,
        version: record.version,
        wrapped_key: record.wrappedKey,
        root_key_id: record.rootKeyId,
        created_at: record.createdAt,
        retired_at: record.retiredAt,
      })
      .execute();
  },

  async find(organizationId: string, scopeId: string, version: number, trx: Db = db): Promise<DataKeyRecord | undefined> {
    const row = await trx
      .selectFrom('data_keys')
      .selectAll()
      .where('organization_id', '=', organizationId)
      .where('scope_id', '=', scopeId)
      .where('version', '=', version)
      .executeTakeFirst();
    return row && toRecord(row);
  },

  /** The newest unretired version, which new writes use. */
  async findCurrent(organizationId: string, scopeId: string, trx: Db = db): Promise<DataKeyRecord | undefined> {
    const row = await trx
      .selectFrom('data_keys')
      .selectAll()
      .where('organization_id', '=', organizationId)
      .where('scope_id', '=', scopeId)
      .where('retired_at', 'is', null)
      .orderBy('version', 'desc')
      .limit(1)
      .executeTakeFirst();
    return row && toRecord(row);
  },

  /** The newest unretired version of each of several scopes, in one query, by scopeKey. */
  async findCurrentEach(scopes: ReadonlyArray<{ organizationId: string; scopeId: string }>, trx: Db = db): Promise<Map<string, DataKeyRecord>> {
    const wanted = new Set(scopes.map(({ organizationId, scopeId }) => scopeKey(organizationId, scopeId)));
    const rows = await trx
      .selectFrom('data_keys')
      .selectAll()
      .where('scope_id', 'in', [...new Set(scopes.map(({ scopeId }) => scopeId))])
      .where('retired_at', 'is', null)
      .execute();
    const current = new Map<string, DataKeyRecord>();
    for (const record of rows.map(toRecord)) {
      const key = scopeKey(record.organizationId, record.scopeId);
      if (wanted.has(key) && (current.get(key)?.version ?? 0) < record.version) current.set(key, record);
    }
    return current;
  },

  /** One data key per root key id in use, to prove at start that the root key opens them. */
  async sampleByRootKey(): Promise<DataKeyRecord[]> {
    const ids = await db.selectFrom('data_keys').select('root_key_id').distinct().execute();
    const samples: DataKeyRecord[] = [];
    for (const { root_key_id } of ids) {
      const row = await db
        .selectFrom('data_keys')
        .selectAll()
        .where('root_key_id', '=', root_key_id)
        .orderBy('created_at', 'desc')
        .limit(1)
        .executeTakeFirst();
      if (row) samples.push(toRecord(row));
    }
    return samples;
  },

  /** Crypto-shredding: once these rows are gone, the scope's ciphertexts cannot be opened by anyone. */
  async deleteScope(organizationId: string, scopeId: string, trx: Db = db): Promise<number> {
    const result = await trx
      .deleteFrom('data_keys')
      .where('organization_id', '=', organizationId)
      .where('scope_id', '=', scopeId)
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  },

  /** The newest version of a scope's key, retired or not: a rotation creates the one after it. */
  async findLatest(organizationId: string, scopeId: string, trx: Db = db): Promise<DataKeyRecord | undefined> {
    const row = await trx
      .selectFrom('data_keys')
      .selectAll()
      .where('organization_id', '=', organizationId)
      .where('scope_id', '=', scopeId)
      .orderBy('version', 'desc')
      .limit(1)
      .executeTakeFirst();
    return row && toRecord(row);
  },

  /** Every version of the given scopes with its encryption count, oldest first. */
  async listVersions(organizationId: string, scopeIds: string[], trx: Db = db): Promise<DataKeyUsage[]> {
    if (scopeIds.length === 0) return [];
    const rows = await trx
      .selectFrom('data_keys')
      .selectAll()
      .where('organization_id', '=', organizationId)
      .where('scope_id', 'in', scopeIds)
      .orderBy('scope_id')
      .orderBy('version')
      .execute();
    return rows.map(toUsage);
  },

  /** Scope ids of an organization that have a data key, in order, after `afterScopeId`. */
  async listScopeIds(organizationId: string, afterScopeId: string | undefined, limit: number): Promise<string[]> {
    let query = db.selectFrom('data_keys').select('scope_id').distinct().where('organization_id', '=', organizationId);
    if (afterScopeId !== undefined) query = query.where('scope_id', '>', afterScopeId);
    const rows = await query.orderBy('scope_id').limit(limit).execute();
    return rows.map((row) => row.scope_id);
  },

  /** Adds to a key's encryption count; answers the key with its new count (undefined when it is gone). */
  async addEncryptions(id: string, count: number): Promise<DataKeyUsage | undefined> {
    const row = await db
      .updateTable('data_keys')
      .set({ encryption_count: sql`encryption_count + ${count}` })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst();
    return row && toUsage(row);
  },

  /** Unretired keys that have sealed at least `threshold` values. */
  async findWorn(threshold: number, limit: number): Promise<DataKeyUsage[]> {
    const rows = await db
      .selectFrom('data_keys')
      .selectAll()
      .where('retired_at', 'is', null)
      .where('encryption_count', '>=', threshold)
      .orderBy('id')
      .limit(limit)
      .execute();
    return rows.map(toUsage);
  },

  /** Marks every unretired version below `version` retired. Retired keys still open what they sealed. */
  async retireBelow(organizationId: string, scopeId: string, version: number, at: string, trx: Db = db): Promise<number[]> {
    const rows = await trx
      .updateTable('data_keys')
      .set({ retired_at: at })
      .where('organization_id', '=', organizationId)
      .where('scope_id', '=', scopeId)
      .where('version', '<', version)
      .where('retired_at', 'is', null)
      .returning('version')
      .execute();
    return rows.map((row) => Number(row.version)).sort((a, b) => a - b);
  },

  /** How many data keys each root key wraps. */
  async countByRootKey(): Promise<Array<{ rootKeyId: string; count: number }>> {
    const rows = await db
      .selectFrom('data_keys')
      .select((eb) => ['root_key_id', eb.fn.countAll().as('count')])
      .groupBy('root_key_id')
      .orderBy('root_key_id')
      .execute();
    return rows.map((row) => ({ rootKeyId: row.root_key_id, count: Number(row.count) }));
  },

  /** Keys not wrapped by `rootKeyId`, in id order after `afterId`: what a root rotation still has to re-wrap. */
  async listNotWrappedBy(rootKeyId: string, afterId: string | undefined, limit: number): Promise<DataKeyRecord[]> {
    let query = db.selectFrom('data_keys').selectAll().where('root_key_id', '!=', rootKeyId);
    if (afterId !== undefined) query = query.where('id', '>', afterId);
    const rows = await query.orderBy('id').limit(limit).execute();
    return rows.map(toRecord);
  },

  /** Replaces wrapped keys, each only if it is still the one that was read; answers how many changed. */
  async rewrap(updates: Array<{ id: string; previous: string; wrappedKey: string; rootKeyId: string }>, trx: Db = db): Promise<number> {
    let changed = 0;
    for (const update of updates) {
      const result = await trx
        .updateTable('data_keys')
        .set({ wrapped_key: update.wrappedKey, root_key_id: update.rootKeyId })
        .where('id', '=', update.id)
        .where('wrapped_key', '=', update.previous)
        .executeTakeFirst();
      changed += Number(result.numUpdatedRows);
    }
    return changed;
  },
});

export type DataKeyStore = ReturnType<typeof createDataKeyStore>;
