import { sql, type SelectQueryBuilder } from 'kysely';
import type { Db } from '../store/database.js';
import type { Database } from '../store/schema.js';
import { ciphertextPrefix } from './keyring.js';
import { credentialFieldSet } from '../credentials/field-sealing.js';
import { HEALTH_FIELD_SET, HEALTH_HISTORY_FIELD_SET } from '../credentials/health-service.js';
import { LAST_TEST_FIELD_SET } from '../credentials/last-test.js';
import { WEBHOOK_PREVIOUS_SECRET_FIELD_SET, WEBHOOK_SECRET_FIELD_SET } from '../events/webhook-service.js';
import { RUN_ERRORS_FIELD_SET, RUN_OUTPUTS_FIELD_SET } from '../integrations/run-sealing.js';

/**
 * Every sealed column in the database, in one place: what a scope rotation re-encrypts.
 * A new sealed column must be added here, or rotating its scope would leave it under a
 * retired key.
 */

/** One sealed value of a row, with the context it was sealed for. */
export interface SealedValue {
  column: string;
  fieldSet: string;
  recordId: string;
  ciphertext: string;
}

/** A row holding sealed values; `guard` is what a write must still find (a version, or the old ciphertext). */
export interface SealedRow {
  key: string;
  guard: number | string;
  values: SealedValue[];
}

/** New ciphertexts for a row, by column; columns not named keep their value. */
export interface Resealed {
  row: SealedRow;
  replacements: Map<string, string>;
}

export type SealedSourceName = 'credentials' | 'grants' | 'states' | 'lastTests' | 'runs' | 'health' | 'healthHistory' | 'webhookSecrets';

export interface SealedSource {
  /** Up to `limit` rows of the scope after `after`, in key order. */
  read(organizationId: string, scopeId: string, after: string | null, limit: number, trx?: Db): Promise<SealedRow[]>;
  /** Writes re-sealed rows whose guard still holds; answers how many were written. */
  write(organizationId: string, rows: Resealed[], trx: Db): Promise<number>;
  /** Rows of the scope still holding a value sealed under one of `versions`. */
  countSealedUnder(organizationId: string, scopeId: string, versions: number[]): Promise<number>;
  /** Rows of the scope holding sealed values. */
  count(organizationId: string, scopeId: string): Promise<number>;
}

/** The organization scope holds organization-level credentials; a customer scope, that customer's. */
const inScope = (organizationId: string, scopeId: string, customerColumn: string) =>
  scopeId === organizationId ? sql<boolean>`${sql.ref(customerColumn)} is null` : sql<boolean>`${sql.ref(customerColumn)} = ${scopeId}`;

/** Any of `columns` holds a ciphertext sealed under one of `versions` (its clear prefix says so). */
const sealedUnder = (columns: string[], versions: number[]) =>
  sql<boolean>`(${sql.join(
    versions.flatMap((version) => columns.map((column) => sql`${sql.ref(column)} like ${`${ciphertextPrefix(version)}%`}`)),
    sql` or `,
  )})`;

const toNumber = (row: { count: string | number | bigint } | undefined): number => Number(row?.count ?? 0);

/** The rows of one organization's scope that a source holds sealed values in. */
type ScopeRows = (trx: Db, organizationId: string, scopeId: string) => SelectQueryBuilder<any, any, object>;

/** A source's two counts over the rows `rows` selects, looking for old versions in `columns`. */
const countsOver = (db: Db, rows: ScopeRows, columns: string[]): Pick<SealedSource, 'countSealedUnder' | 'count'> => ({
  async countSealedUnder(organizationId, scopeId, versions) {
    if (versions.length === 0) return 0;
    const row = await rows(db, organizationId, scopeId)
      .select((eb) => eb.fn.countAll().as('count'))
      .where(sealedUnder(columns, versions))
      .executeTakeFirst();
    return toNumber(row as { count: string | number | bigint } | undefined);
  },
  async count(organizationId, scopeId) {
    return toNumber((await rows(db, organizationId, scopeId).select((eb) => eb.fn.countAll().as('count')).executeTakeFirst()) as { count: string | number | bigint } | undefined);
  },
});

/**
 * Rewrites many rows in one statement (`WITH v AS (VALUES …) UPDATE … FROM v`, which both
 * SQLite and PostgreSQL run), each only where its guard column still holds the value read.
 */
const guardedUpdate = async (
  trx: Db,
  spec: { table: keyof Database; key: string; guard: string; guardType: 'integer' | 'text'; columns: string[] },
  organizationId: string,
  rows: Resealed[],
): Promise<number> => {
  let written = 0;
  for (let start = 0; start < rows.length; start += 500) {
    const chunk = rows.slice(start, start + 500);
    const names = ['k', 'g', ...spec.columns.map((_, i) => `c${i}`)].join(', ');
    const tuples = chunk.map(({ row, replacements }) => {
      const values = spec.columns.map((column) => replacements.get(column) ?? row.values.find((v) => v.column === column)?.ciphertext ?? null);
      return sql`(${row.key}, cast(${row.guard} as ${sql.raw(spec.guardType)}), ${sql.join(values.map((value) => sql`cast(${value} as text)`))})`;
    });
    const assignments = sql.join(spec.columns.map((column, i) => sql`${sql.ref(column)} = v.${sql.raw(`c${i}`)}`));
    const result = await sql`with v(${sql.raw(names)}) as (values ${sql.join(tuples)})
      update ${sql.table(spec.table)} set ${assignments} from v
      where ${sql.ref(`${spec.table}.${spec.key}`)} = v.k
        and ${sql.ref(`${spec.table}.organization_id`)} = ${organizationId}
        and ${sql.ref(`${spec.table}.${spec.guard}`)} = v.g`.execute(trx);
    written += Number(result.numAffectedRows ?? 0n);
  }
  return written;
};

/** Tells the credential cache of rows about to be rewritten. */
type ChangingCredentials = ((id: string) => void) | undefined;
const announce = (changing: ChangingCredentials, rows: Resealed[]): void => {
  for (const { row } of rows) changing?.(row.key);
};

/** Credential values: the `config` and `secret` sets, guarded by `row_version`. */
const credentialSource = (db: Db, changing: ChangingCredentials): SealedSource => ({
  async read(organizationId, scopeId, after, limit, trx = db) {
    let query = trx
      .selectFrom('credentials')
      .select(['id', 'row_version', 'config_ciphertext', 'secret_ciphertext', 'destinations'])
      .where('organization_id', '=', organizationId)
      .where(inScope(organizationId, scopeId, 'credentials.customer_id'));
    if (after !== null) query = query.where('id', '>', after);
    const rows = await query.orderBy('id').limit(limit).execute();
    return rows.map((row) => {
      const destinations = row.destinations === null ? null : (JSON.parse(row.destinations) as string[]);
      return {
        key: row.id,
        guard: Number(row.row_version),
        values: [
          ...(row.config_ciphertext === null ? [] : [{ column: 'config_ciphertext', fieldSet: credentialFieldSet('config', destinations), recordId: row.id, ciphertext: row.config_ciphertext }]),
          { column: 'secret_ciphertext', fieldSet: credentialFieldSet('secret', destinations), recordId: row.id, ciphertext: row.secret_ciphertext },
        ],
      };
    });
  },
  write(organizationId, rows, trx) {
    announce(changing, rows);
    return guardedUpdate(trx, { table: 'credentials', key: 'id', guard: 'row_version', guardType: 'integer', columns: ['config_ciphertext', 'secret_ciphertext'] }, organizationId, rows);
  },
  async countSealedUnder(organizationId, scopeId, versions) {
    if (versions.length === 0) return 0;
    const row = await db
      .selectFrom('credentials')
      .select((eb) => eb.fn.countAll().as('count'))
      .where('organization_id', '=', organizationId)
      .where(inScope(organizationId, scopeId, 'credentials.customer_id'))
      .where(sealedUnder(['config_ciphertext', 'secret_ciphertext'], versions))
      .executeTakeFirst();
    return toNumber(row);
  },
  async count(organizationId, scopeId) {
    const row = await db
      .selectFrom('credentials')
      .select((eb) => eb.fn.countAll().as('count'))
      .where('organization_id', '=', organizationId)
      .where(inScope(organizationId, scopeId, 'credentials.customer_id'))
      .executeTakeFirst();
    return toNumber(row);
  },
});

/** A table whose rows belong to a credential (`credential_id`), each holding one sealed column. */
interface CredentialRowsSpec {
  table: 'oauth_grants' | 'oauth_states' | 'credential_health' | 'credential_health_history';
  key: 'credential_id' | 'id';
  column: 'tokens_ciphertext' | 'verifier_ciphertext' | 'message_ciphertext';
  fieldSet: string;
  /** The record id the value is sealed for: the credential, or the credential and the row. */
  recordOf: 'credential' | 'credential/row';
  /** What a rewrite must still find: the row's version, or the old ciphertext. */
  guard: { column: 'version' | 'verifier_ciphertext' | 'message_ciphertext'; type: 'integer' | 'text' };
}

/** The sealed column of rows that belong to credentials, in the credential's scope. */
const credentialRowsSource = (db: Db, spec: CredentialRowsSpec): SealedSource => {
  const ref = (column: string) => sql.ref(`x.${column}`);
  const base = (trx: Db, organizationId: string, scopeId: string) =>
    trx
      .selectFrom(`${spec.table} as x` as 'oauth_grants as x')
      .innerJoin('credentials as c', 'c.id', 'x.credential_id')
      .where('x.organization_id', '=', organizationId)
      .where('c.organization_id', '=', organizationId)
      .where(inScope(organizationId, scopeId, 'c.customer_id'))
      .where(sql<boolean>`${ref(spec.column)} is not null`);
  return {
    async read(organizationId, scopeId, after, limit, trx = db) {
      let query = base(trx, organizationId, scopeId).select([
        sql<string>`${ref(spec.key)}`.as('k'),
        'x.credential_id',
        sql<string | number>`${ref(spec.guard.column)}`.as('g'),
        sql<string>`${ref(spec.column)}`.as('v'),
      ]);
      if (after !== null) query = query.where(sql<boolean>`${ref(spec.key)} > ${after}`);
      const rows = await query.orderBy(sql`${ref(spec.key)}`).limit(limit).execute();
      return rows.map((row) => ({
        key: row.k,
        guard: spec.guard.type === 'integer' ? Number(row.g) : String(row.g),
        values: [{ column: spec.column, fieldSet: spec.fieldSet, recordId: spec.recordOf === 'credential' ? row.credential_id : `${row.credential_id}/${row.k}`, ciphertext: row.v }],
      }));
    },
    write: (organizationId, rows, trx) =>
      guardedUpdate(trx, { table: spec.table, key: spec.key, guard: spec.guard.column, guardType: spec.guard.type, columns: [spec.column] }, organizationId, rows),
    ...countsOver(db, base, [`x.${spec.column}`]),
  };
};

/** OAuth tokens, guarded by the grant's `version` (bumped by every token write). */
const grantSource = (db: Db): SealedSource =>
  credentialRowsSource(db, { table: 'oauth_grants', key: 'credential_id', column: 'tokens_ciphertext', fieldSet: 'tokens', recordOf: 'credential', guard: { column: 'version', type: 'integer' } });

/** PKCE verifiers of authorizations in progress; written once, so guarded by the ciphertext itself. */
const stateSource = (db: Db): SealedSource =>
  credentialRowsSource(db, { table: 'oauth_states', key: 'id', column: 'verifier_ciphertext', fieldSet: 'pkce-verifier', recordOf: 'credential/row', guard: { column: 'verifier_ciphertext', type: 'text' } });

/** What health observations said, sealed with the credential's scope key; rewritten by each observation, so guarded by the old ciphertext. */
const healthSource = (db: Db): SealedSource =>
  credentialRowsSource(db, { table: 'credential_health', key: 'credential_id', column: 'message_ciphertext', fieldSet: HEALTH_FIELD_SET, recordOf: 'credential', guard: { column: 'message_ciphertext', type: 'text' } });

/** The messages of each change of health; written once, so guarded by the ciphertext. */
const healthHistorySource = (db: Db): SealedSource =>
  credentialRowsSource(db, {
    table: 'credential_health_history',
    key: 'id',
    column: 'message_ciphertext',
    fieldSet: HEALTH_HISTORY_FIELD_SET,
    recordOf: 'credential/row',
    guard: { column: 'message_ciphertext', type: 'text' },
  });

/** Credential tests' answers; rewritten by every test, so guarded by the old ciphertext. */
const lastTestSource = (db: Db, changing: ChangingCredentials): SealedSource => {
  const base = (trx: Db, organizationId: string, scopeId: string) =>
    trx
      .selectFrom('credentials')
      .where('organization_id', '=', organizationId)
      .where(inScope(organizationId, scopeId, 'credentials.customer_id'))
      .where('last_test_ciphertext', 'is not', null);
  return {
    async read(organizationId, scopeId, after, limit, trx = db) {
      let query = base(trx, organizationId, scopeId).select(['id', 'last_test_ciphertext']);
      if (after !== null) query = query.where('id', '>', after);
      const rows = await query.orderBy('id').limit(limit).execute();
      return rows.map((row) => ({
        key: row.id,
        guard: row.last_test_ciphertext ?? '',
        values: [{ column: 'last_test_ciphertext', fieldSet: LAST_TEST_FIELD_SET, recordId: row.id, ciphertext: row.last_test_ciphertext ?? '' }],
      }));
    },
    write(organizationId, rows, trx) {
      announce(changing, rows);
      return guardedUpdate(trx, { table: 'credentials', key: 'id', guard: 'last_test_ciphertext', guardType: 'text', columns: ['last_test_ciphertext'] }, organizationId, rows);
    },
    ...countsOver(db, base, ['last_test_ciphertext']),
  };
};

/** What runs' steps said, sealed with the instance's customer key; written once when the run ends, so guarded by the old ciphertext. */
const runSource = (db: Db): SealedSource => {
  const base = (trx: Db, organizationId: string, scopeId: string) =>
    trx
      .selectFrom('runs as r')
      .innerJoin('instances as i', 'i.id', 'r.instance_id')
      .where('r.organization_id', '=', organizationId)
      .where('i.organization_id', '=', organizationId)
      .where(inScope(organizationId, scopeId, 'i.customer_id'))
      .where('r.errors_ciphertext', 'is not', null);
  return {
    async read(organizationId, scopeId, after, limit, trx = db) {
      let query = base(trx, organizationId, scopeId).select(['r.id', 'r.errors_ciphertext', 'r.outputs_ciphertext']);
      if (after !== null) query = query.where('r.id', '>', after);
      const rows = await query.orderBy('r.id').limit(limit).execute();
      return rows.map((row) => ({
        key: row.id,
        guard: row.errors_ciphertext ?? '',
        values: [
          { column: 'errors_ciphertext', fieldSet: RUN_ERRORS_FIELD_SET, recordId: row.id, ciphertext: row.errors_ciphertext ?? '' },
          ...(row.outputs_ciphertext === null ? [] : [{ column: 'outputs_ciphertext', fieldSet: RUN_OUTPUTS_FIELD_SET, recordId: row.id, ciphertext: row.outputs_ciphertext }]),
        ],
      }));
    },
    write: (organizationId, rows, trx) =>
      guardedUpdate(trx, { table: 'runs', key: 'id', guard: 'errors_ciphertext', guardType: 'text', columns: ['errors_ciphertext', 'outputs_ciphertext'] }, organizationId, rows),
    ...countsOver(db, base, ['r.errors_ciphertext', 'r.outputs_ciphertext']),
  };
};

/** Webhook endpoints' signing secrets, sealed with the organization's key (no customer scope holds any); guarded by the current secret's ciphertext. */
const webhookSecretSource = (db: Db): SealedSource => {
  const base = (trx: Db, organizationId: string, scopeId: string) =>
    trx
      .selectFrom('webhook_endpoints')
      .where('organization_id', '=', organizationId)
      .where(sql<boolean>`1 = ${scopeId === organizationId ? 1 : 0}`);
  return {
    async read(organizationId, scopeId, after, limit, trx = db) {
      let query = base(trx, organizationId, scopeId).select(['id', 'secret_ciphertext', 'previous_secret_ciphertext']);
      if (after !== null) query = query.where('id', '>', after);
      const rows = await query.orderBy('id').limit(limit).execute();
      return rows.map((row) => ({
        key: row.id,
        guard: row.secret_ciphertext,
        values: [
          { column: 'secret_ciphertext', fieldSet: WEBHOOK_SECRET_FIELD_SET, recordId: row.id, ciphertext: row.secret_ciphertext },
          ...(row.previous_secret_ciphertext === null ? [] : [{ column: 'previous_secret_ciphertext', fieldSet: WEBHOOK_PREVIOUS_SECRET_FIELD_SET, recordId: row.id, ciphertext: row.previous_secret_ciphertext }]),
        ],
      }));
    },
    write: (organizationId, rows, trx) =>
      guardedUpdate(trx, { table: 'webhook_endpoints', key: 'id', guard: 'secret_ciphertext', guardType: 'text', columns: ['secret_ciphertext', 'previous_secret_ciphertext'] }, organizationId, rows),
    ...countsOver(db, base, ['secret_ciphertext', 'previous_secret_ciphertext']),
  };
};

/**
 * The sealed columns of every table, in the order a rotation job walks them. `changing` is
 * told of each credential row before it is rewritten (the credential cache).
 */
export const createSealedValueStore = (db: Db, changing?: (id: string) => void): Record<SealedSourceName, SealedSource> => ({
  credentials: credentialSource(db, changing),
  grants: grantSource(db),
  states: stateSource(db),
  lastTests: lastTestSource(db, changing),
  runs: runSource(db),
  health: healthSource(db),
  healthHistory: healthHistorySource(db),
  webhookSecrets: webhookSecretSource(db),
});

export type SealedValueStore = ReturnType<typeof createSealedValueStore>;
