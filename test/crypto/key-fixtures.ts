import { credentialFieldSet } from '../../src/credentials/field-sealing.js';
import { randomBytes } from 'node:crypto';
import type { Db } from '../../src/store/database.js';
import { sealLastTest } from '../../src/credentials/last-test.js';
import { RUN_ERRORS_FIELD_SET, RUN_OUTPUTS_FIELD_SET, runSkeleton, sealRun } from '../../src/integrations/run-sealing.js';
import { createIntegrationStore, type Run } from '../../src/integrations/integration-store.js';
import { createCredentialStore } from '../../src/credentials/credential-store.js';
import { API, createCredential, sampleFor } from '../http/credential-fixtures.js';
import type { TestApp } from '../support/test-app.js';

/**
 * Shared by the key lifecycle tests: a scope filled with every kind of sealed value
 * (credential `config` and `secret` sets, OAuth tokens, PKCE verifiers), and readers of
 * the raw ciphertexts as they sit in the database.
 */

export interface SeededCredential {
  id: string;
  customerId: string | null;
  /** What resolving it must answer: every field value, and for oauth2 the access token. */
  expected: Record<string, string>;
}

export interface SeededScope {
  credentials: SeededCredential[];
  /** PKCE verifiers in progress, with the plaintext each must still open to. */
  states: Array<{ id: string; credentialId: string; verifier: string }>;
  /** A finished run of a customer's instance (customer scopes only), with the output it must still show. */
  runs: Array<{ instanceId: string; runId: string; output: string }>;
  /** Credentials with a sealed last test, and the message it must still show. */
  lastTests: Array<{ credentialId: string; message: string }>;
  /** Credentials whose health (and its one change) carry this sealed message. */
  health: Array<{ credentialId: string; message: string }>;
}

export const createCustomer = async (t: TestApp, name = `Customer ${randomBytes(3).toString('hex')}`): Promise<string> => {
  const response = await t.request('POST', `${API}/customers`, { token: t.adminToken, body: { name } });
  if (response.status !== 201) throw new Error(`could not create a customer: ${response.text}`);
  return response.body.id as string;
};

/** An oauth2 credential holding tokens (sealed as the token service seals them) and one PKCE verifier in progress. */
const seedOAuth = async (t: TestApp, customerId: string | null): Promise<{ credential: SeededCredential; state: SeededScope['states'][number] }> => {
  const sample = sampleFor('oauth2');
  const { id } = await createCredential(t, { label: `OAuth ${randomBytes(3).toString('hex')}`, sample, ...(customerId ? { customerId } : {}) });
  const db = t.runtime.store.db;
  const scopeId = customerId ?? t.organizationId;
  const accessToken = `access-${randomBytes(12).toString('hex')}`;
  const tokens = JSON.stringify({ access_token: accessToken, refresh_token: `refresh-${randomBytes(12).toString('hex')}` });
  const sealed = await t.runtime.services.keyring.seal({ organizationId: t.organizationId, scopeId, recordId: id, fieldSet: 'tokens' }, Buffer.from(tokens));
  await db
    .updateTable('oauth_grants')
    .set((eb) => ({ tokens_ciphertext: sealed, token_type: 'bearer', expires_at: '2999-01-01T00:00:00.000Z', version: eb('version', '+', 1) }))
    .where('credential_id', '=', id)
    .execute();
  const stateId = `sta_${randomBytes(14).toString('hex')}`;
  const verifier = randomBytes(32).toString('base64url');
  const now = new Date().toISOString();
  const verifierCiphertext = await t.runtime.services.keyring.seal(
    { organizationId: t.organizationId, scopeId, recordId: `${id}/${stateId}`, fieldSet: 'pkce-verifier' },
    Buffer.from(verifier),
  );
  await db
    .insertInto('oauth_states')
    .values({
      id: stateId,
      state_hash: randomBytes(16).toString('hex'),
      organization_id: t.organizationId,
      credential_id: id,
      link_id: `lnk_${randomBytes(14).toString('hex')}`,
      browser_hash: randomBytes(16).toString('hex'),
      verifier_ciphertext: verifierCiphertext,
      redirect_uri: `${t.baseUrl}/oauth2/callback`,
      issuer: 'https://auth.example.test',
      created_at: now,
      expires_at: new Date(Date.now() + 600_000).toISOString(),
      used_at: null,
    })
    .execute();
  return { credential: { id, customerId, expected: { ...sample.fields, access_token: accessToken } }, state: { id: stateId, credentialId: id, verifier } };
};

/** `secrets` credentials of assorted methods plus one oauth2 credential with tokens and a PKCE verifier. */
export const seedScope = async (t: TestApp, customerId: string | null, secrets = 3): Promise<SeededScope> => {
  const methods = ['api_key_secret', 'basic', 'api_key'] as const;
  const credentials: SeededCredential[] = [];
  for (let i = 0; i < secrets; i += 1) {
    const sample = sampleFor(methods[i % methods.length] ?? 'api_key');
    const { id } = await createCredential(t, { label: `Secret ${i} ${randomBytes(3).toString('hex')}`, sample, ...(customerId ? { customerId } : {}) });
    credentials.push({ id, customerId, expected: sample.fields });
  }
  const oauth = await seedOAuth(t, customerId);
  const lastTests = [];
  for (const credential of credentials.slice(0, 1)) {
    const store = createCredentialStore(t.runtime.store.db);
    const record = await store.find(t.organizationId, credential.id);
    if (!record) throw new Error('seeded credential not found');
    const message = `It works: ${randomBytes(8).toString('hex')}`;
    await store.setLastTest(t.organizationId, credential.id, await sealLastTest(t.runtime.services.keyring, record, { ok: true, message, at: new Date().toISOString() }));
    lastTests.push({ credentialId: credential.id, message });
  }
  const health = [];
  for (const credential of credentials.slice(1, 2)) {
    const record = await createCredentialStore(t.runtime.store.db).find(t.organizationId, credential.id);
    if (!record) throw new Error('seeded credential not found');
    const message = `The server refused the credential (${randomBytes(8).toString('hex')})`;
    await t.runtime.services.health.observe([{ credential: record, health: 'failing', source: 'test', message }]);
    health.push({ credentialId: credential.id, message });
  }
  const runs = customerId ? [await seedRun(t, customerId)] : [];
  return { credentials: [...credentials, oauth.credential], states: [oauth.state], runs, lastTests, health };
};

/** A finished run of a fresh instance of the customer, its output and logs sealed as the run service seals them. */
const seedRun = async (t: TestApp, customerId: string): Promise<SeededScope['runs'][number]> => {
  const integration = await t.request('POST', `${API}/integrations`, { token: t.adminToken, body: { name: `Seeded ${randomBytes(3).toString('hex')}`, steps: [{ name: 'call', component: 'http', action: 'request', inputs: { url: 'https://api.example.test/hello' } }] } });
  const instance = await t.request('POST', `${API}/instances`, { token: t.adminToken, body: { integrationId: integration.body.id, customerId, name: 'Seeded' } });
  if (instance.status !== 201) throw new Error(`could not deploy: ${instance.text}`);
  const at = new Date().toISOString();
  const output = `customer file ${randomBytes(8).toString('hex')}`;
  const run: Run = {
    id: `run_${randomBytes(12).toString('hex')}`,
    organizationId: t.organizationId,
    instanceId: instance.body.id,
    status: 'succeeded',
    steps: [{ name: 'call', component: 'http', action: 'request', status: 'succeeded', credentialId: null, output: { body: output }, error: null, startedAt: at, durationMs: 3, logs: [{ level: 'info', message: output, at }] }],
    error: null,
    startedAt: at,
    finishedAt: at,
  };
  const runs = createIntegrationStore(t.runtime.store.db);
  await runs.insertRun(runSkeleton(run));
  await runs.finishRun(runSkeleton(run), await sealRun(t.runtime.services.keyring, run, customerId));
  return { instanceId: instance.body.id as string, runId: run.id, output };
};

/** The output of a seeded run and the message of a seeded last test as the API shows them, or the error code. */
export const readSealedData = async (t: TestApp, scope: SeededScope): Promise<string[]> => {
  const seen: string[] = [];
  for (const { instanceId, runId } of scope.runs) {
    const response = await t.request('GET', `${API}/instances/${instanceId}/runs/${runId}`, { token: t.adminToken });
    seen.push(response.status === 200 ? String(response.body.steps[0].output.body) : `${response.status} ${response.body?.error?.code ?? ''}`);
  }
  for (const { credentialId } of scope.lastTests) {
    const response = await t.request('GET', `${API}/credentials/${credentialId}`, { token: t.adminToken });
    seen.push(response.status === 200 ? String(response.body.lastTest?.message) : `${response.status} ${response.body?.error?.code ?? ''}`);
  }
  for (const { credentialId } of scope.health) {
    const response = await t.request('GET', `${API}/credentials/${credentialId}/health`, { token: t.adminToken });
    if (response.status !== 200) seen.push(`${response.status} ${response.body?.error?.code ?? ''}`, '');
    else seen.push(String(response.body.healthMessage), String(response.body.history[0]?.message));
  }
  return seen;
};

/** What readSealedData must answer while the scope's key is there. */
export const expectedSealedData = (scope: SeededScope): string[] => [
  ...scope.runs.map((r) => r.output),
  ...scope.lastTests.map((l) => l.message),
  ...scope.health.flatMap((h) => [h.message, h.message]),
];

/** Resolves a credential as the runtime does and answers its values, or the error code. */
export const resolveFields = async (t: TestApp, token: string, id: string): Promise<Record<string, string> | string> => {
  const response = await t.request('POST', `${API}/credentials/${id}/resolve`, { token });
  return response.status === 200 ? (response.body.fields as Record<string, string>) : `${response.status} ${response.body?.error?.code ?? ''}`;
};

export interface StoredCiphertext {
  table: 'credentials' | 'oauth_grants' | 'oauth_states' | 'runs' | 'credential_health' | 'credential_health_history';
  rowId: string;
  fieldSet: string;
  recordId: string;
  scopeId: string;
  ciphertext: string;
}

/** Every ciphertext of an organization's scope (or of all its scopes), read straight from the tables. */
export const storedCiphertexts = async (db: Db, organizationId: string, scopeId?: string): Promise<StoredCiphertext[]> => {
  const credentials = await db.selectFrom('credentials').selectAll().where('organization_id', '=', organizationId).execute();
  const scopeOf = new Map(credentials.map((row) => [row.id, row.customer_id ?? organizationId]));
  const result: StoredCiphertext[] = [];
  for (const row of credentials) {
    const scope = row.customer_id ?? organizationId;
    // The destinations are part of the field set's associated data.
    const destinations = row.destinations === null ? null : (JSON.parse(row.destinations) as string[]);
    if (row.config_ciphertext) result.push({ table: 'credentials', rowId: row.id, fieldSet: credentialFieldSet('config', destinations), recordId: row.id, scopeId: scope, ciphertext: row.config_ciphertext });
    result.push({ table: 'credentials', rowId: row.id, fieldSet: credentialFieldSet('secret', destinations), recordId: row.id, scopeId: scope, ciphertext: row.secret_ciphertext });
    if (row.last_test_ciphertext) result.push({ table: 'credentials', rowId: row.id, fieldSet: 'last-test', recordId: row.id, scopeId: scope, ciphertext: row.last_test_ciphertext });
  }
  const runs = await db
    .selectFrom('runs')
    .innerJoin('instances', 'instances.id', 'runs.instance_id')
    .select(['runs.id', 'instances.customer_id', 'runs.errors_ciphertext', 'runs.outputs_ciphertext'])
    .where('runs.organization_id', '=', organizationId)
    .execute();
  for (const row of runs) {
    if (row.errors_ciphertext) result.push({ table: 'runs', rowId: row.id, fieldSet: RUN_ERRORS_FIELD_SET, recordId: row.id, scopeId: row.customer_id, ciphertext: row.errors_ciphertext });
    if (row.outputs_ciphertext) result.push({ table: 'runs', rowId: row.id, fieldSet: RUN_OUTPUTS_FIELD_SET, recordId: row.id, scopeId: row.customer_id, ciphertext: row.outputs_ciphertext });
  }
  for (const row of await db.selectFrom('oauth_grants').selectAll().where('organization_id', '=', organizationId).execute()) {
    if (row.tokens_ciphertext) {
      result.push({ table: 'oauth_grants', rowId: row.credential_id, fieldSet: 'tokens', recordId: row.credential_id, scopeId: scopeOf.get(row.credential_id) ?? '', ciphertext: row.tokens_ciphertext });
    }
  }
  for (const row of await db.selectFrom('oauth_states').selectAll().where('organization_id', '=', organizationId).execute()) {
    const recordId = `${row.credential_id}/${row.id}`;
    result.push({ table: 'oauth_states', rowId: row.id, fieldSet: 'pkce-verifier', recordId, scopeId: scopeOf.get(row.credential_id) ?? '', ciphertext: row.verifier_ciphertext });
  }
  for (const row of await db.selectFrom('credential_health').selectAll().where('organization_id', '=', organizationId).execute()) {
    if (row.message_ciphertext) {
      result.push({ table: 'credential_health', rowId: row.credential_id, fieldSet: 'health', recordId: row.credential_id, scopeId: scopeOf.get(row.credential_id) ?? '', ciphertext: row.message_ciphertext });
    }
  }
  for (const row of await db.selectFrom('credential_health_history').selectAll().where('organization_id', '=', organizationId).execute()) {
    if (row.message_ciphertext) {
      const recordId = `${row.credential_id}/${row.id}`;
      result.push({ table: 'credential_health_history', rowId: row.id, fieldSet: 'health-history', recordId, scopeId: scopeOf.get(row.credential_id) ?? '', ciphertext: row.message_ciphertext });
    }
  }
  return scopeId === undefined ? result : result.filter((entry) => entry.scopeId === scopeId);
};

/** The data-key versions a scope's ciphertexts name, sorted and without repeats. */
export const versionsIn = (ciphertexts: StoredCiphertext[]): string[] => [...new Set(ciphertexts.map((c) => c.ciphertext.split('.').slice(0, 2).join('.')))].sort();
