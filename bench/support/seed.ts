import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { newId } from '../../src/common/ids.js';
import { systemClock } from '../../src/common/clock.js';
import type { AuthMethodKey, CredentialStatus } from '../../src/credentials/auth-methods.js';
import { searchableLabel } from '../../src/credentials/credential-store.js';
import { sealFieldValues } from '../../src/credentials/field-sealing.js';
import { createDataKeyStore, type DataKeyRecord } from '../../src/crypto/data-key-store.js';
import { createLocalKeyProvider } from '../../src/crypto/key-provider.js';
import { createKeyring, type Keyring } from '../../src/crypto/keyring.js';
import type { OAuthSettings } from '../../src/oauth/oauth-settings.js';
import { createTransact, type Db, type Engine } from '../../src/store/database.js';
import type { CredentialsTable, Database, OAuthGrantsTable } from '../../src/store/schema.js';
import type { BenchEnvironment } from './environment.js';
import { fmt, progress } from './report.js';

/**
 * Seeding at benchmark scale: rows go in by the thousand, with values sealed by the real
 * keyring (so every ciphertext opens exactly as one written through the API would), but
 * without one API call, audit event and key lookup per credential.
 */

/** Creates `count` customers, each with its own data key, in batches of one transaction each. */
export const createCustomers = async (bench: BenchEnvironment, count: number, onProgress?: (done: number) => void): Promise<string[]> => {
  const { db } = bench.runtime.store;
  const { tenantStore, keyring } = bench.runtime.services;
  const transact = createTransact(db);
  const ids: string[] = [];
  for (let start = 0; start < count; start += 500) {
    const now = new Date();
    await transact(async (trx) => {
      for (let i = start; i < Math.min(count, start + 500); i += 1) {
        const id = newId('cus', now);
        await tenantStore.insertCustomer({ id, organizationId: bench.organizationId, name: customerName(i), externalId: null, createdAt: now.toISOString(), updatedAt: now.toISOString() }, trx);
        await keyring.createScopeKey(bench.organizationId, id, trx);
        ids.push(id);
      }
    });
    onProgress?.(ids.length);
  }
  return ids;
};

const NAME_STARTS = ['Bel', 'Cor', 'Dan', 'Eld', 'Fen', 'Gal', 'Har', 'Ist', 'Jor', 'Kel', 'Lum', 'Mar', 'Nor', 'Orv', 'Pel', 'Quin', 'Ros', 'Sar', 'Tor', 'Ul', 'Val', 'Wes', 'Xan', 'Yor', 'Zel', 'Am', 'Bri', 'Cal', 'Dor', 'Ev'];
const NAME_ENDS = ['mora', 'vex', 'tano', 'lith', 'dara', 'quist', 'ven', 'rock', 'field', 'wick', 'stone', 'brook', 'haven', 'mont', 'gard', 'ley', 'ton', 'ford', 'by', 'well', 'dale', 'moor', 'crest', 'ridge', 'worth', 'shaw', 'wood', 'bury', 'combe', 'holm'];
const TRADES = ['Freight', 'Dental', 'Bakery', 'Logistics', 'Clinic', 'Studios', 'Foods', 'Labs', 'Realty', 'Motors', 'Textiles', 'Energy'];

/** A distinct, company-like name for the i-th customer ("Belmora Freight"), unique up to 10,800. */
export const customerName = (i: number): string => {
  const name = `${NAME_STARTS[i % 30]}${NAME_ENDS[Math.floor(i / 30) % 30]} ${TRADES[Math.floor(i / 900) % 12]}`;
  return i < 10_800 ? name : `${name} ${Math.floor(i / 10_800) + 1}`;
};

/**
 * A keyring for seeding: the real one over the same root key and data keys, except that
 * the current key version of each scope is looked up once instead of on every seal.
 */
export const createSeedingKeyring = (bench: BenchEnvironment): Keyring => {
  const store = createDataKeyStore(bench.runtime.store.db);
  const current = new Map<string, Promise<DataKeyRecord | undefined>>();
  const findCurrent: typeof store.findCurrent = (organizationId, scopeId) => {
    const key = `${organizationId}/${scopeId}`;
    let found = current.get(key);
    if (!found) current.set(key, (found = store.findCurrent(organizationId, scopeId)));
    return found;
  };
  const provider = createLocalKeyProvider(Buffer.from(bench.masterKey, 'base64'));
  return createKeyring({ provider, store: { ...store, findCurrent }, clock: systemClock });
};

export interface SeedCredential {
  id: string;
  customerId: string | null;
  label: string;
  authMethod: AuthMethodKey;
  status: CredentialStatus;
  values: Record<string, string>;
  oauthSettings?: OAuthSettings;
  destinations?: string[];
}

export const OAUTH_SETTINGS: OAuthSettings = { grantType: 'authorization_code', provider: null, issuer: null, extraAuthParams: {}, clientAuth: 'client_secret_basic' };

/** The stored row of a credential, its values sealed as the credential service seals them. */
export const credentialRow = async (keyring: Keyring, organizationId: string, credential: SeedCredential, at: string): Promise<CredentialsTable> => {
  const sealed = await sealFieldValues(keyring, { id: credential.id, organizationId, customerId: credential.customerId, authMethod: credential.authMethod, destinations: credential.destinations ?? [] }, credential.values);
  return {
    id: credential.id,
    organization_id: organizationId,
    customer_id: credential.customerId,
    label: credential.label,
    label_search: searchableLabel(credential.label),
    auth_method: credential.authMethod,
    status: credential.status,
    set_fields: JSON.stringify(sealed.setFields),
    config_ciphertext: sealed.configCiphertext,
    secret_ciphertext: sealed.secretCiphertext,
    oauth_settings: credential.oauthSettings ? JSON.stringify(credential.oauthSettings) : null,
    last_test: null,
    last_test_ciphertext: null,
    expires_at: null,
    client_secret_expires_at: null,
    contact_email: null,
    destinations: JSON.stringify(credential.destinations ?? []),
    row_version: 1,
    created_at: at,
    updated_at: at,
  };
};

/** The grant row of an authorized oauth2 credential, its tokens sealed as the token service seals them. */
export const grantRow = async (
  keyring: Keyring,
  credential: { id: string; organizationId: string; customerId: string | null },
  tokens: { access_token: string; refresh_token: string },
  schedule: { at: string; refreshDueAt: string; expiresAt: string },
): Promise<OAuthGrantsTable> => ({
  credential_id: credential.id,
  organization_id: credential.organizationId,
  tokens_ciphertext: await keyring.seal(
    { organizationId: credential.organizationId, scopeId: credential.customerId ?? credential.organizationId, recordId: credential.id, fieldSet: 'tokens' },
    Buffer.from(JSON.stringify(tokens)),
  ),
  token_type: 'bearer',
  granted_scopes: 'files.read',
  expires_at: schedule.expiresAt,
  refresh_due_at: schedule.refreshDueAt,
  authorized_at: schedule.at,
  last_refreshed_at: schedule.at,
  failure_count: 0,
  last_error: null,
  lease_owner: null,
  lease_expires_at: null,
  version: 1,
});

/** Inserts rows in multi-row statements, a few at a time on PostgreSQL. */
export const insertRows = async <T extends 'credentials' | 'oauth_grants' | 'credential_health'>(db: Db, engine: Engine, table: T, rows: Database[T][]): Promise<void> => {
  const chunk = engine === 'postgres' ? 1000 : 500;
  const parallel = engine === 'postgres' ? 4 : 1;
  const chunks: Database[T][][] = [];
  for (let i = 0; i < rows.length; i += chunk) chunks.push(rows.slice(i, i + chunk));
  const lane = async () => {
    for (let next = chunks.shift(); next; next = chunks.shift()) await db.insertInto(table).values(next as never).execute();
  };
  await Promise.all(Array.from({ length: parallel }, lane));
};

export const randomSecret = (bytes = 18): string => randomBytes(bytes).toString('base64url');

/**
 * Seeds `count` credentials made by `make(i, now)`, sealing and inserting 5,000 at a
 * time; `afterChunk` may add rows that belong with them (grants).
 */
export const seedCredentials = async (
  bench: BenchEnvironment,
  count: number,
  make: (i: number, now: Date) => SeedCredential,
  options: { afterChunk?: (rows: CredentialsTable[], first: number) => Promise<void>; label?: string } = {},
): Promise<void> => {
  const { db, engine } = bench.runtime.store;
  const keyring = createSeedingKeyring(bench);
  const started = Date.now();
  const chunk = 5000;
  for (let start = 0; start < count; start += chunk) {
    const now = new Date();
    const at = now.toISOString();
    const rows = await Promise.all(Array.from({ length: Math.min(chunk, count - start) }, (_, offset) => credentialRow(keyring, bench.organizationId, make(start + offset, now), at)));
    await insertRows(db, engine, 'credentials', rows);
    await options.afterChunk?.(rows, start);
    if ((start / chunk) % 20 === 19) {
      const done = start + rows.length;
      progress(`${options.label ?? 'seeding'}: ${fmt.int(done)} of ${fmt.int(count)} credentials (${fmt.int(done / ((Date.now() - started) / 1000))}/s)`);
    }
  }
  // A settled table, as autovacuum leaves it: statistics fresh, GIN pending list merged.
  await (engine === 'postgres' ? sql`vacuum analyze` : sql`analyze`).execute(db);
};
