import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import {
  API,
  createCredential,
  createCustomer,
  ed25519KeyPair,
  expectError,
  expectNoSecrets,
  listAll,
  resolve,
  sampleFor,
  uniqueValue,
  unknownCredentialId,
} from './credential-fixtures.js';

const oauth2With = (overrides: Record<string, string>) => ({ ...sampleFor('oauth2').fields, ...overrides });
const basic = () => sampleFor('basic').fields;

/** Create requests the API must refuse, with the status and code it must answer. */
const invalidCreates: Array<[string, () => unknown, number, string]> = [
  ['a missing required field', () => ({ label: 'x', authMethod: 'basic', fields: { username: uniqueValue('u') } }), 400, 'FIELD_REQUIRED'],
  ['an empty required field', () => ({ label: 'x', authMethod: 'basic', fields: { ...basic(), password: '' } }), 400, 'FIELD_REQUIRED'],
  ['a blank required field', () => ({ label: 'x', authMethod: 'api_key', fields: { api_key: '   ' } }), 400, 'FIELD_REQUIRED'],
  ['an oauth2 credential without token_uri', () => {
    const { token_uri: _tokenUri, ...fields } = sampleFor('oauth2').fields;
    return { label: 'x', authMethod: 'oauth2', fields };
  }, 400, 'FIELD_REQUIRED'],
  ['a field the method does not have', () => ({ label: 'x', authMethod: 'basic', fields: { ...basic(), api_key: uniqueValue('k') } }), 400, 'UNKNOWN_FIELD'],
  ['an unknown auth method', () => ({ label: 'x', authMethod: 'kerberos', fields: basic() }), 400, 'UNKNOWN_AUTH_METHOD'],
  ['a private_key that is not a key', () => ({ label: 'x', authMethod: 'private_key', fields: { username: 'deploy', private_key: uniqueValue('not-a-key') } }), 400, 'INVALID_FIELD'],
  ['a public key given as private_key', () => ({ label: 'x', authMethod: 'private_key', fields: { username: 'deploy', private_key: ed25519KeyPair().publicKey } }), 400, 'INVALID_FIELD'],
  ['an oauth2 auth_uri over plain http', () => ({ label: 'x', authMethod: 'oauth2', fields: oauth2With({ auth_uri: 'http://auth.example.test/authorize' }) }), 400, 'INVALID_FIELD'],
  ['an oauth2 token_uri on http loopback without the development flag', () => ({ label: 'x', authMethod: 'oauth2', fields: oauth2With({ token_uri: 'http://127.0.0.1:8080/token' }) }), 400, 'INVALID_FIELD'],
  ['a relative oauth2 token_uri', () => ({ label: 'x', authMethod: 'oauth2', fields: oauth2With({ token_uri: '/oauth2/token' }) }), 400, 'INVALID_FIELD'],
  ['a label that is a number', () => ({ label: 42, authMethod: 'basic', fields: basic() }), 400, 'VALIDATION_FAILED'],
  ['a field value that is a number', () => ({ label: 'x', authMethod: 'api_key', fields: { api_key: 12345 } }), 400, 'VALIDATION_FAILED'],
  ['fields given as an array', () => ({ label: 'x', authMethod: 'api_key', fields: ['abc'] }), 400, 'VALIDATION_FAILED'],
  ['no authMethod', () => ({ label: 'x', fields: basic() }), 400, 'VALIDATION_FAILED'],
  ['an empty label', () => ({ label: '   ', authMethod: 'basic', fields: basic() }), 400, 'VALIDATION_FAILED'],
  ['an unknown top-level property', () => ({ label: 'x', authMethod: 'basic', fields: basic(), owner: 'someone' }), 400, 'VALIDATION_FAILED'],
  ['a field value over 64 KiB', () => ({ label: 'x', authMethod: 'api_key', fields: { api_key: 'k'.repeat(65537) } }), 400, 'VALIDATION_FAILED'],
  ['a customerId that does not exist', () => ({ label: 'x', authMethod: 'basic', fields: basic(), customerId: 'cus_0000000000000000000000000000' }), 404, 'NOT_FOUND'],
];

describe.each(ENGINES)('credential validation on %s', (engine) => {
  let t: TestApp;
  let runtimeToken: string;

  beforeAll(async () => {
    t = await startTestApp(engine);
    runtimeToken = await t.token('runtime');
  });
  afterAll(async () => t?.close());

  it.each(invalidCreates)('refuses to create a credential with %s, answering %i %s and storing nothing', async (_what, body, status, code) => {
    const before = (await listAll(t)).length;
    const sent = body();
    const response = await t.request('POST', `${API}/credentials`, { token: t.adminToken, body: sent });
    expectError(response, status, code);
    const values = Object.values((sent as { fields?: Record<string, unknown> }).fields ?? {}).filter((v): v is string => typeof v === 'string' && v.length >= 8);
    expectNoSecrets(response.text, values);
    expect((await listAll(t)).length).toBe(before);
  });

  it('accepts http loopback oauth2 URIs only when started with CREDENCE_ALLOW_INSECURE_LOOPBACK=true, and never other http hosts', async () => {
    const dev = await startTestApp(engine, { env: { CREDENCE_ALLOW_INSECURE_LOOPBACK: 'true' } });
    try {
      const loopback = oauth2With({ auth_uri: 'http://127.0.0.1:8080/authorize', token_uri: 'http://127.0.0.1:8080/token' });
      const accepted = await dev.request('POST', `${API}/credentials`, { token: dev.adminToken, body: { label: 'Local IdP', authMethod: 'oauth2', fields: loopback } });
      expect(accepted.status).toBe(201);
      expect(accepted.body.fields.auth_uri).toEqual({ set: true, value: 'http://127.0.0.1:8080/authorize' });

      const remote = oauth2With({ token_uri: 'http://auth.example.test/token' });
      const refused = await dev.request('POST', `${API}/credentials`, { token: dev.adminToken, body: { label: 'Remote', authMethod: 'oauth2', fields: remote } });
      expectError(refused, 400, 'INVALID_FIELD');
      expect((await listAll(dev, '', dev.adminToken)).map((c) => c.label)).toEqual(['Local IdP']);
    } finally {
      await dev.close();
    }
  });

  it('refuses a body over 1 MiB with 413 PAYLOAD_TOO_LARGE and stores nothing', async () => {
    const before = (await listAll(t)).length;
    const body = { label: 'Huge', authMethod: 'api_key', fields: { api_key: 'x'.repeat(1024 * 1024 + 10) } };
    const response = await t.request('POST', `${API}/credentials`, { token: t.adminToken, body });
    expectError(response, 413, 'PAYLOAD_TOO_LARGE');
    expect((await listAll(t)).length).toBe(before);
  });

  it('refuses malformed JSON with 400 INVALID_JSON and stores nothing', async () => {
    const before = (await listAll(t)).length;
    const response = await t.request('POST', `${API}/credentials`, {
      token: t.adminToken,
      body: '{"label": "Broken", "authMethod": "api_key", "fields": {"api_key": "abc"',
      headers: { 'content-type': 'application/json' },
    });
    expectError(response, 400, 'INVALID_JSON');
    expect((await listAll(t)).length).toBe(before);
  });

  it('refuses unknown list filters and values with 400 VALIDATION_FAILED', async () => {
    expectError(await t.request('GET', `${API}/credentials?owner=me`, { token: t.adminToken }), 400, 'VALIDATION_FAILED');
    expectError(await t.request('GET', `${API}/credentials?level=galaxy`, { token: t.adminToken }), 400, 'VALIDATION_FAILED');
    expectError(await t.request('GET', `${API}/credentials?limit=0`, { token: t.adminToken }), 400, 'VALIDATION_FAILED');
  });

  it('answers 404 NOT_FOUND for an unknown credential id on every route', async () => {
    const id = unknownCredentialId();
    expectError(await t.request('GET', `${API}/credentials/${id}`, { token: t.adminToken }), 404, 'NOT_FOUND');
    expectError(await t.request('PATCH', `${API}/credentials/${id}`, { token: t.adminToken, body: { label: 'x' } }), 404, 'NOT_FOUND');
    expectError(await t.request('DELETE', `${API}/credentials/${id}`, { token: t.adminToken, body: { confirm: 'x' } }), 404, 'NOT_FOUND');
    expectError(await resolve(t, id, runtimeToken), 404, 'NOT_FOUND');
  });

  describe('a refused update changes nothing', () => {
    let id: string;
    let original: any;
    let sample: ReturnType<typeof sampleFor>;

    beforeAll(async () => {
      sample = sampleFor('oauth2');
      const customerId = await createCustomer(t, 'Umbrella');
      ({ id, body: original } = await createCredential(t, { label: 'Salesforce', sample, customerId }));
    });

    const invalidPatches: Array<[string, unknown, number, string]> = [
      ['a field the method does not have', { fields: { password: 'hunter2-hunter2' } }, 400, 'UNKNOWN_FIELD'],
      ['a required field cleared with null', { label: 'Renamed', fields: { client_secret: null } }, 400, 'FIELD_REQUIRED'],
      ['a required field cleared with an empty string', { fields: { client_id: '' } }, 400, 'FIELD_REQUIRED'],
      ['an http token_uri', { label: 'Renamed', fields: { token_uri: 'http://auth.example.test/token' } }, 400, 'INVALID_FIELD'],
      ['a field value that is a number', { fields: { client_id: 7 } }, 400, 'VALIDATION_FAILED'],
      ['an empty label', { label: '' }, 400, 'VALIDATION_FAILED'],
      ['an unknown top-level property', { label: 'Renamed', status: 'authorized' }, 400, 'VALIDATION_FAILED'],
      ['a new authMethod', { authMethod: 'basic' }, 400, 'VALIDATION_FAILED'],
    ];

    it.each(invalidPatches)('refuses an update with %s, answering %i %s', async (_what, body, status, code) => {
      const response = await t.request('PATCH', `${API}/credentials/${id}`, { token: t.adminToken, body });
      expectError(response, status, code);
      const shown = await t.request('GET', `${API}/credentials/${id}`, { token: t.adminToken });
      expect(shown.body).toEqual(original);
      expect((await resolve(t, id, runtimeToken)).body.fields).toEqual(sample.fields);
    });

    it('refuses malformed JSON in an update with 400 INVALID_JSON', async () => {
      const response = await t.request('PATCH', `${API}/credentials/${id}`, {
        token: t.adminToken,
        body: '{"label": ',
        headers: { 'content-type': 'application/json' },
      });
      expectError(response, 400, 'INVALID_JSON');
      expect((await t.request('GET', `${API}/credentials/${id}`, { token: t.adminToken })).body).toEqual(original);
    });

    it('refuses a delete without a confirm body and keeps the credential', async () => {
      expectError(await t.request('DELETE', `${API}/credentials/${id}`, { token: t.adminToken }), 400, 'VALIDATION_FAILED');
      expectError(await t.request('DELETE', `${API}/credentials/${id}`, { token: t.adminToken, body: {} }), 400, 'VALIDATION_FAILED');
      expect((await t.request('GET', `${API}/credentials/${id}`, { token: t.adminToken })).status).toBe(200);
    });
  });
});
