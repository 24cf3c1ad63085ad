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

/** OAuth tokens, guarded by the grant's `version` (bumped by every token write). */
const grantSource = (db: Db): SealedSource => {
  const base = (trx: Db, organizationId: string, scopeId: string) =>
    trx
      .selectFrom('oauth_grants as g')
      .innerJoin('credentials as c', 'c.id', 'g.credential_id')
      .where('g.organization_id', '=', organizationId)
      .where('c.organization_id', '=', organizationId)
      .where(inScope(organizationId, scopeId, 'c.customer_id'))
      .where('g.tokens_ciphertext', 'is not', null);
  return {
    async read(organizationId, scopeId, after, limit, trx = db) {
      let query = base(trx, organizationId, scopeId).select(['g.credential_id', 'g.version', 'g.tokens_ciphertext']);
      if (after !== null) query = query.where('g.credential_id', '>', after);
      const rows = await query.orderBy('g.credential_id').limit(limit).execute();
      return rows.map((row) => ({
        key: row.credential_id,
        guard: Number(row.version),
        values: [{ column: 'tokens_ciphertext', fieldSet: 'tokens', recordId: row.credential_id, ciphertext: row.tokens_ciphertext ?? '' }],
      }));
    },
    write: (organizationId, rows, trx) =>
      guardedUpdate(trx, { table: 'oauth_grants', key: 'credential_id', guard: 'version', guardType: 'integer', columns: ['tokens_ciphertext'] }, organizationId, rows),
    ...countsOver(db, base, ['g.tokens_ciphertext']),
  };
};

/** PKCE verifiers of authorizations in progress; written once, so guarded by the ciphertext itself. */
const stateSource = (db: Db): SealedSource => {
  const base = (trx: Db, organizationId: string, scopeId: string) =>
    trx
      .selectFrom('oauth_states as s')
      .innerJoin('credentials as c', 'c.id', 's.credential_id')
      .where('s.organization_id', '=', organizationId)
      .where('c.organization_id', '=', organizationId)
      .where(inScope(organizationId, scopeId, 'c.customer_id'));
  return {
    async read(organizationId, scopeId, after, limit, trx = db) {
      let query = base(trx, organizationId, scopeId).select(['s.id', 's.credential_id', 's.verifier_ciphertext']);
      if (after !== null) query = query.where('s.id', '>', after);
      const rows = await query.orderBy('s.id').limit(limit).execute();
      return rows.map((row) => ({
        key: row.id,
        guard: row.verifier_ciphertext,
        values: [{ column: 'verifier_ciphertext', fieldSet: 'pkce-verifier', recordId: `${row.credential_id}/${row.id}`, ciphertext: row.verifier_ciphertext }],
      }));
    },
    write: (organizationId, rows, trx) =>
      guardedUpdate(trx, { table: 'oauth_states', key: 'id', guard: 'verifier_ciphertext', guardType: 'text', columns: ['verifier_ciphertext'] }, organizationId, rows),
    ...countsOver(db, base, ['s.verifier_ciphertext']),
  };
};

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

/** What health observations said, sealed with the credential's scope key; rewritten by each observation, so guarded by the old ciphertext. */
const healthSource = (db: Db): SealedSource => {
  const base = (trx: Db, organizationId: string, scopeId: string) =>
    trx
      .selectFrom('credential_health as h')
      .innerJoin('credentials as c', 'c.id', 'h.credential_id')
      .where('h.organization_id', '=', organizationId)
      .where('c.organization_id', '=', organizationId)
      .where(inScope(organizationId, scopeId, 'c.customer_id'))
      .where('h.message_ciphertext', 'is not', null);
  return {
    async read(organizationId, scopeId, after, limit, trx = db) {
      let query = base(trx, organizationId, scopeId).select(['h.credential_id', 'h.message_ciphertext']);
      if (after !== null) query = query.where('h.credential_id', '>', after);
      const rows = await query.orderBy('h.credential_id').limit(limit).execute();
      return rows.map((row) => ({
        key: row.credential_id,
        guard: row.message_ciphertext ?? '',
        values: [{ column: 'message_ciphertext', fieldSet: HEALTH_FIELD_SET, recordId: row.credential_id, ciphertext: row.message_ciphertext ?? '' }],
      }));
    },
    write: (organizationId, rows, trx) =>
      guardedUpdate(trx, { table: 'credential_health', key: 'credential_id', guard: 'message_ciphertext', guardType: 'text', columns: ['message_ciphertext'] }, organizationId, rows),
    ...countsOver(db, base, ['h.message_ciphertext']),
  };
};

/** The messages of each change of health; written once, so guarded by the ciphertext. */
const healthHistorySource = (db: Db): SealedSource => {
  const base = (trx: Db, organizationId: string, scopeId: string) =>
    trx
      .selectFrom('credential_health_history as h')
      .innerJoin('credentials as c', 'c.id', 'h.credential_id')
      .where('h.organization_id', '=', organizationId)
      .where('c.organization_id', '=', organizationId)
      .where(inScope(organizationId, scopeId, 'c.customer_id'))
      .where('h.message_ciphertext', 'is not', null);
  return {
    async read(organizationId, scopeId, after, limit, trx = db) {
      let query = base(trx, organizationId, scopeId).select(['h.id', 'h.credential_id', 'h.message_ciphertext']);
      if (after !== null) query = query.where('h.id', '>', after);
      const rows = await query.orderBy('h.id').limit(limit).execute();
      return rows.map((row) => ({
        key: row.id,
        guard: row.message_ciphertext ?? '',
        values: [{ column: 'message_ciphertext', fieldSet: HEALTH_HISTORY_FIELD_SET, recordId: `${row.credential_id}/${row.id}`, ciphertext: row.message_ciphertext ?? '' }],
      }));
    },
    write: (organizationId, rows, trx) =>
      guardedUpdate(trx, { table: 'credential_health_history', key: 'id', guard: 'message_ciphertext', guardType: 'text', columns: ['message_ciphertext'] }, organizationId, rows),
    ...countsOver(db, base, ['h.message_ciphertext']),
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
