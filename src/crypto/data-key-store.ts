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
});

export type DataKeyStore = ReturnType<typeof createDataKeyStore>;
