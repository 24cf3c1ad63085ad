import { sql, type ExpressionBuilder } from 'kysely';
import type { Db } from '../store/database.js';
import type { CredentialsTable, Database } from '../store/schema.js';
import type { OAuthSettings } from '../oauth/oauth-settings.js';
import type { AuthMethodKey, CredentialStatus } from './auth-methods.js';
import type { CredentialCache } from './credential-cache.js';

/** A credential as stored: identity and metadata in the clear, every field value sealed. */
export interface CredentialRecord {
  id: string;
  organizationId: string;
  customerId: string | null;
  label: string;
  authMethod: AuthMethodKey;
  status: CredentialStatus;
  /** Names of the fields that hold a value (names are not secret). */
  setFields: string[];
  /** Sealed JSON of the values that may be shown back (oauth2 configuration), if any. */
  configCiphertext: string | null;
  /** Sealed JSON of the write-only values. */
  secretCiphertext: string;
  /** OAuth 2.0 settings (oauth2 only). */
  oauthSettings: OAuthSettings | null;
  /** The last credential test's outcome, sealed with the credential's scope key (see last-test.ts). */
  lastTestCiphertext: string | null;
  /** A last test kept in clear before migration 0012, until the start-up migration seals it. */
  legacyLastTest: LastTest | null;
  /**
   * The origins the secret may be sent to, canonical and sorted. They are part of the sealed
   * sets' associated data, so they open only together. Null: sealed before destinations
   * existed and not yet resealed; such a credential is sent nowhere.
   */
  destinations: string[] | null;
  /** When the credential itself stops working, if known. */
  expiresAt: string | null;
  /** oauth2: when the app's client secret expires, if known. */
  clientSecretExpiresAt: string | null;
  /** Who besides the organization's admins is told of the credential's trouble. */
  contactEmail: string | null;
  version: number;
  createdAt: string;
  updatedAt: string;
}

export interface LastTest {
  ok: boolean;
  message: string;
  at: string;
}

export interface CredentialFilter {
  /** A customer id, or null for organization-level credentials only. */
  customerId?: string | null | undefined;
  level?: 'organization' | 'customer' | undefined;
  /** Case-insensitive substring of the label. */
  search?: string | undefined;
  authMethod?: string | undefined;
  status?: string | undefined;
  /** A health value; `unknown` also finds credentials never observed. */
  health?: string | undefined;
  afterId?: string | undefined;
  /** Earliest expiry first (the sooner of `expiresAt` and `clientSecretExpiresAt`; none last), after this key and id. */
  byExpiry?: { afterKey?: string | undefined } | undefined;
  limit: number;
}

/** What a credential sorts by when the earliest expiry comes first: the sooner of its dates, or the end of time. */
export const NO_EXPIRY = '9999-12-31T23:59:59.999Z';
export const expiryKeyOf = (record: Pick<CredentialRecord, 'expiresAt' | 'clientSecretExpiresAt'>): string =>
  [record.expiresAt, record.clientSecretExpiresAt].filter((d): d is string => d !== null).sort()[0] ?? NO_EXPIRY;
const expiryKey = sql<string>`coalesce(case
  when expires_at is null then client_secret_expires_at
  when client_secret_expires_at is null then expires_at
  when expires_at < client_secret_expires_at then expires_at
  else client_secret_expires_at end, ${NO_EXPIRY})`;

export type CredentialChanges = Partial<
  Pick<CredentialRecord, 'label' | 'status' | 'setFields' | 'configCiphertext' | 'secretCiphertext' | 'destinations' | 'expiresAt' | 'clientSecretExpiresAt' | 'contactEmail'>
> & { updatedAt: string };

/** The form of a label that searches match against, the same on every engine. */
export const searchableLabel = (label: string): string => label.normalize('NFKC').toLowerCase();

const escapeLike = (text: string): string => text.replace(/[\\%_]/g, (c) => `\\${c}`);

const toRecord = (row: CredentialsTable): CredentialRecord => ({
  id: row.id,
  organizationId: row.organization_id,
  customerId: row.customer_id,
  label: row.label,
  authMethod: row.auth_method as AuthMethodKey,
  status: row.status as CredentialStatus,
  setFields: JSON.parse(row.set_fields) as string[],
  configCiphertext: row.config_ciphertext,
  secretCiphertext: row.secret_ciphertext,
  oauthSettings: row.oauth_settings === null ? null : (JSON.parse(row.oauth_settings) as OAuthSettings),
  lastTestCiphertext: row.last_test_ciphertext,
  legacyLastTest: row.last_test === null ? null : (JSON.parse(row.last_test) as LastTest),
  destinations: row.destinations === null ? null : (JSON.parse(row.destinations) as string[]),
  expiresAt: row.expires_at ?? null,
  clientSecretExpiresAt: row.client_secret_expires_at ?? null,
  contactEmail: row.contact_email ?? null,
  version: Number(row.row_version),
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

/**
 * Credentials. Every query is scoped by organization id. Reads by id outside a transaction
 * go through `cache` when there is one; every write here tells it first.
 */
export const createCredentialStore = (db: Db, cache?: CredentialCache) => ({
  async insert(record: CredentialRecord, trx: Db = db): Promise<void> {
    await trx
      .insertInto('credentials')
      .values({
        id: record.id,
        organization_id: record.organizationId,
        customer_id: record.customerId,
        label: record.label,
        label_search: searchableLabel(record.label),
        auth_method: record.authMethod,
        status: record.status,
        set_fields: JSON.stringify(record.setFields),
        config_ciphertext: record.configCiphertext,
        secret_ciphertext: record.secretCiphertext,
        oauth_settings: record.oauthSettings === null ? null : JSON.stringify(record.oauthSettings),
        last_test: null,
        last_test_ciphertext: record.lastTestCiphertext,
        destinations: record.destinations === null ? null : JSON.stringify(record.destinations),
        expires_at: record.expiresAt,
        client_secret_expires_at: record.clientSecretExpiresAt,
        contact_email: record.contactEmail,
        row_version: record.version,
        created_at: record.createdAt,
        updated_at: record.updatedAt,
      })
      .execute();
  },

  async find(organizationId: string, id: string, trx: Db = db): Promise<CredentialRecord | undefined> {
    const load = async () => {
      const row = await trx
        .selectFrom('credentials')
        .selectAll()
        .where('organization_id', '=', organizationId)
        .where('id', '=', id)
        .executeTakeFirst();
      return row && toRecord(row);
    };
    return cache && trx === db ? cache.find(organizationId, id, load) : load();
  },

  /** Several credentials by id, in one query; each answer only if it belongs to the organization asked with it. */
  async findEach(keys: ReadonlyArray<{ organizationId: string; id: string }>, trx: Db = db): Promise<Array<CredentialRecord | undefined>> {
    if (keys.length === 0) return [];
    const rows = await trx
      .selectFrom('credentials')
      .selectAll()
      .where('id', 'in', [...new Set(keys.map((key) => key.id))])
      .execute();
    const byId = new Map(rows.map((row) => [row.id, toRecord(row)]));
    return keys.map(({ organizationId, id }) => {
      const record = byId.get(id);
      return record?.organizationId === organizationId ? record : undefined;
    });
  },

  /** Every credential, of any organization, whose last test is still kept in clear (before migration 0012). */
  async listWithClearLastTest(trx: Db = db): Promise<CredentialRecord[]> {
    const rows = await trx.selectFrom('credentials').selectAll().where('last_test', 'is not', null).orderBy('id').execute();
    return rows.map(toRecord);
  },

  /** Seals a clear last test in place, unless a newer test replaced it meanwhile (which clears it). */
  async sealLegacyLastTest(organizationId: string, id: string, ciphertext: string, trx: Db = db): Promise<boolean> {
    cache?.changing(id);
    const result = await trx
      .updateTable('credentials')
      .set({ last_test_ciphertext: ciphertext, last_test: null })
      .where('organization_id', '=', organizationId)
      .where('id', '=', id)
      .where('last_test', 'is not', null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  },

  /** Every credential, of any organization, sealed before destinations existed (see destination-migration.ts). */
  async listWithoutDestinations(trx: Db = db): Promise<CredentialRecord[]> {
    const rows = await trx.selectFrom('credentials').selectAll().where('destinations', 'is', null).orderBy('id').execute();
    return rows.map(toRecord);
  },

  /** Credentials in creation order, `filter.limit` rows after the cursor. */
  async list(organizationId: string, filter: CredentialFilter, trx: Db = db): Promise<CredentialRecord[]> {
    let query = trx.selectFrom('credentials').selectAll().where('organization_id', '=', organizationId);
    if (filter.customerId === null) query = query.where('customer_id', 'is', null);
    else if (filter.customerId !== undefined) query = query.where('customer_id', '=', filter.customerId);
    if (filter.level === 'organization') query = query.where('customer_id', 'is', null);
    if (filter.level === 'customer') query = query.where('customer_id', 'is not', null);
    if (filter.search !== undefined && filter.search !== '') {
      const pattern = `%${escapeLike(searchableLabel(filter.search))}%`;
      query = query.where(sql<boolean>`label_search like ${pattern} escape '\\'`);
    }
    if (filter.authMethod !== undefined) query = query.where('auth_method', '=', filter.authMethod);
    if (filter.status !== undefined) query = query.where('status', '=', filter.status);
    if (filter.health !== undefined) {
      const health = filter.health;
      const healthRow = (eb: ExpressionBuilder<Database, 'credentials'>, op: '=' | '<>') =>
        eb.exists(eb.selectFrom('credential_health as h').select('h.credential_id').whereRef('h.credential_id', '=', 'credentials.id').where('h.health', op, health));
      // No health row at all is unknown too.
      query = health === 'unknown' ? query.where((eb) => eb.not(healthRow(eb, '<>'))) : query.where((eb) => healthRow(eb, '='));
    }
    if (filter.byExpiry) {
      const { afterKey } = filter.byExpiry;
      if (afterKey !== undefined && filter.afterId !== undefined) {
        query = query.where(sql<boolean>`(${expiryKey} > ${afterKey} or (${expiryKey} = ${afterKey} and id > ${filter.afterId}))`);
      }
      const rows = await query.orderBy(expiryKey).orderBy('id').limit(filter.limit).execute();
      return rows.map(toRecord);
    }
    if (filter.afterId !== undefined) query = query.where('id', '>', filter.afterId);
    const rows = await query.orderBy('id').limit(filter.limit).execute();
    return rows.map(toRecord);
  },

  /** Applies changes if the row is still at `expectedVersion`; false if it changed meanwhile or is gone. */
  async update(organizationId: string, id: string, expectedVersion: number, changes: CredentialChanges, trx: Db = db): Promise<boolean> {
    cache?.changing(id);
    const result = await trx
      .updateTable('credentials')
      .set({
        updated_at: changes.updatedAt,
        row_version: expectedVersion + 1,
        ...(changes.label !== undefined ? { label: changes.label, label_search: searchableLabel(changes.label) } : {}),
        ...(changes.status !== undefined ? { status: changes.status } : {}),
        ...(changes.setFields !== undefined ? { set_fields: JSON.stringify(changes.setFields) } : {}),
        ...(changes.configCiphertext !== undefined ? { config_ciphertext: changes.configCiphertext } : {}),
        ...(changes.secretCiphertext !== undefined ? { secret_ciphertext: changes.secretCiphertext } : {}),
        ...(changes.destinations !== undefined ? { destinations: changes.destinations === null ? null : JSON.stringify(changes.destinations) } : {}),
        ...(changes.expiresAt !== undefined ? { expires_at: changes.expiresAt } : {}),
        ...(changes.clientSecretExpiresAt !== undefined ? { client_secret_expires_at: changes.clientSecretExpiresAt } : {}),
        ...(changes.contactEmail !== undefined ? { contact_email: changes.contactEmail } : {}),
      })
      .where('organization_id', '=', organizationId)
      .where('id', '=', id)
      .where('row_version', '=', expectedVersion)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  },

  /** Sets the status without a version check: status follows the grant, which has its own. */
  async setStatus(organizationId: string, id: string, status: CredentialStatus, updatedAt: string, trx: Db = db): Promise<void> {
    cache?.changing(id);
    await trx
      .updateTable('credentials')
      .set({ status, updated_at: updatedAt })
      .where('organization_id', '=', organizationId)
      .where('id', '=', id)
      .execute();
  },

  /** Keeps a test's sealed outcome, replacing any earlier one (clear or sealed). */
  async setLastTest(organizationId: string, id: string, ciphertext: string, trx: Db = db): Promise<void> {
    cache?.changing(id);
    await trx
      .updateTable('credentials')
      .set({ last_test_ciphertext: ciphertext, last_test: null })
      .where('organization_id', '=', organizationId)
      .where('id', '=', id)
      .execute();
  },

  async delete(organizationId: string, id: string, trx: Db = db): Promise<boolean> {
    cache?.changing(id);
    const result = await trx.deleteFrom('credentials').where('organization_id', '=', organizationId).where('id', '=', id).executeTakeFirst();
    return Number(result.numDeletedRows) === 1;
  },

  async deleteByCustomer(organizationId: string, customerId: string, trx: Db = db): Promise<number> {
    cache?.changing();
    const result = await trx
      .deleteFrom('credentials')
      .where('organization_id', '=', organizationId)
      .where('customer_id', '=', customerId)
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  },
});

export type CredentialStore = ReturnType<typeof createCredentialStore>;
