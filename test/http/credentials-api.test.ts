import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import {
  API,
  AUTH_METHOD_KEYS,
  createCredential,
  createCustomer,
  expectError,
  expectNoSecrets,
  listAll,
  resolve,
  rsaPkcs1KeyPair,
  sampleFor,
  type MethodKey,
  type Sample,
} from './credential-fixtures.js';

const CREDENTIAL_KEYS = ['authMethod', 'authorizedAt', 'clientSecretExpiresAt', 'contactEmail', 'createdAt', 'customerId', 'destinations', 'expiresAt', 'fields', 'health', 'healthCheck', 'healthCheckedAt', 'healthMessage', 'id', 'label', 'lastTest', 'level', 'oauth2', 'since', 'status', 'updatedAt'];

/** The `fields` object the API must answer for a sample: `{set}` everywhere, `value` only where shown. */
const expectedFields = (sample: Sample): Record<string, { set: boolean; value?: string }> => {
  const result: Record<string, { set: boolean; value?: string }> = {};
  for (const name of Object.keys(sample.fields)) {
    const shown = sample.shown[name];
    result[name] = shown === undefined ? { set: true } : { set: true, value: shown };
  }
  return result;
};

describe.each(ENGINES)('credentials API on %s', (engine) => {
  let t: TestApp;
  let runtimeToken: string;
  let customerId: string;

  beforeAll(async () => {
    t = await startTestApp(engine);
    runtimeToken = await t.token('runtime');
    customerId = await createCustomer(t, 'Initech');
  });
  afterAll(async () => t?.close());

  it('lists the five auth methods and which of their fields are secret, without a token', async () => {
    const response = await t.request('GET', `${API}/auth-methods`);
    expect(response.status).toBe(200);
    const methods = response.body.items as Array<{ key: string; fields: Array<{ name: string; secret: boolean }> }>;
    expect(methods.map((m) => m.key).sort()).toEqual([...AUTH_METHOD_KEYS].sort());
    const oauth2 = methods.find((m) => m.key === 'oauth2');
    expect(Object.fromEntries(oauth2?.fields.map((f) => [f.name, f.secret]) ?? [])).toEqual({
      client_id: false,
      client_secret: true,
      scopes: false,
      auth_uri: false,
      token_uri: false,
    });
    const basic = methods.find((m) => m.key === 'basic');
    expect(basic?.fields.map((f) => [f.name, f.secret])).toEqual([['username', true], ['password', true]]);
  });

  it.each(AUTH_METHOD_KEYS)('creates a %s credential and answers with which fields are set, never a secret value', async (method: MethodKey) => {
    const sample = sampleFor(method);
    const response = await t.request('POST', `${API}/credentials`, {
      token: t.adminToken,
      body: { label: `Created ${method}`, authMethod: method, fields: sample.fields },
    });
    expect(response.status).toBe(201);
    expect(Object.keys(response.body).sort()).toEqual(CREDENTIAL_KEYS);
    expect(response.body).toMatchObject({
      label: `Created ${method}`,
      authMethod: method,
      level: 'organization',
      customerId: null,
      status: method === 'oauth2' ? 'pending_authorization' : 'active',
    });
    expect(response.body.id).toMatch(/^cred_[0-9a-f]{28}$/);
    expect(new Date(response.body.createdAt).toISOString()).toBe(response.body.createdAt);
    expect(response.body.updatedAt).toBe(response.body.createdAt);
    expect(response.body.fields).toEqual(expectedFields(sample));
    expectNoSecrets(response.text, sample.secrets);

    const shown = await t.request('GET', `${API}/credentials/${response.body.id}`, { token: t.adminToken });
    expect(shown.status).toBe(200);
    expect(shown.body).toEqual(response.body);
    expectNoSecrets(shown.text, sample.secrets);
  });

  it('shows the oauth2 configuration values but only whether client_secret is set', async () => {
    const sample = sampleFor('oauth2');
    const { body } = await createCredential(t, { label: 'Dropbox', sample });
    expect(body.fields.client_secret).toEqual({ set: true });
    expect(body.fields.client_id).toEqual({ set: true, value: sample.shown.client_id });
    expect(body.fields.scopes).toEqual({ set: true, value: 'files.content.read files.content.write' });
    expect(body.fields.auth_uri).toEqual({ set: true, value: 'https://auth.example.test/oauth2/authorize' });
    expect(body.fields.token_uri).toEqual({ set: true, value: 'https://auth.example.test/oauth2/token' });
  });

  it('accepts an oauth2 credential without scopes and reports scopes as not set', async () => {
    const { scopes: _scopes, ...fields } = sampleFor('oauth2').fields;
    const response = await t.request('POST', `${API}/credentials`, { token: t.adminToken, body: { label: 'No scopes', authMethod: 'oauth2', fields } });
    expect(response.status).toBe(201);
    expect(response.body.fields.scopes).toEqual({ set: false });
  });

  it('accepts an RSA private key in PKCS#1 PEM and keeps it out of every response', async () => {
    const sample = sampleFor('private_key', { privateKey: rsaPkcs1KeyPair().privateKey });
    const { id, body } = await createCredential(t, { label: 'SFTP RSA', sample });
    expect(body.fields).toEqual({ username: { set: true }, private_key: { set: true } });
    const shown = await t.request('GET', `${API}/credentials/${id}`, { token: t.adminToken });
    expectNoSecrets(shown.text, sample.secrets);
    const resolved = await resolve(t, id, runtimeToken);
    expect(resolved.body.fields.private_key).toBe(sample.fields.private_key);
  });

  it('stores a credential at customer level when a customerId is given', async () => {
    const { id, body } = await createCredential(t, { label: 'Customer SFTP', sample: sampleFor('basic'), customerId });
    expect(body).toMatchObject({ level: 'customer', customerId });
    const shown = await t.request('GET', `${API}/credentials/${id}`, { token: t.adminToken });
    expect(shown.body).toMatchObject({ id, level: 'customer', customerId });
  });

  it('filters the list by level, customer, auth method, status and a case-insensitive label search', async () => {
    const tag = `flt${randomBytes(4).toString('hex')}`;
    const filterCustomer = await createCustomer(t, `Filter customer ${tag}`);
    await createCredential(t, { label: `${tag} Dropbox PROD`, sample: sampleFor('oauth2') });
    await createCredential(t, { label: `${tag} shared key`, sample: sampleFor('api_key') });
    await createCredential(t, { label: `${tag} SFTP upload`, sample: sampleFor('private_key'), customerId: filterCustomer });
    await createCredential(t, { label: `${tag} FTP login`, sample: sampleFor('basic'), customerId: filterCustomer });
    const labels = async (query: string) => (await listAll(t, query)).map((c) => c.label as string).sort();

    expect(await labels(`search=${tag}`)).toHaveLength(4);
    expect(await labels(`search=${tag.toUpperCase()}%20dropbox%20prod`)).toEqual([`${tag} Dropbox PROD`]);
    expect(await labels(`search=${tag}%20sftp%20UPLOAD`)).toEqual([`${tag} SFTP upload`]);
    expect(await labels(`search=${tag}&level=organization`)).toEqual([`${tag} Dropbox PROD`, `${tag} shared key`]);
    expect(await labels(`search=${tag}&level=customer`)).toEqual([`${tag} FTP login`, `${tag} SFTP upload`]);
    expect(await labels(`customerId=${filterCustomer}`)).toEqual([`${tag} FTP login`, `${tag} SFTP upload`]);
    expect(await labels(`search=${tag}&authMethod=basic`)).toEqual([`${tag} FTP login`]);
    expect(await labels(`search=${tag}&status=pending_authorization`)).toEqual([`${tag} Dropbox PROD`]);
    expect(await labels(`search=${tag}&status=active`)).toEqual([`${tag} FTP login`, `${tag} SFTP upload`, `${tag} shared key`]);
    // LIKE wildcards in a search are literal characters, not patterns.
    expect(await labels(`search=${tag}%25`)).toEqual([]);
    expect(await labels(`search=${tag}_`)).toEqual([]);

    const orgLevel = await listAll(t, 'level=organization');
    expect(orgLevel.every((c) => c.level === 'organization' && c.customerId === null)).toBe(true);
    const customerLevel = await listAll(t, 'level=customer');
    expect(customerLevel.length).toBeGreaterThan(0);
    expect(customerLevel.every((c) => c.level === 'customer' && typeof c.customerId === 'string')).toBe(true);
  });

  it('pages through the list with limit and cursor, without duplicates, ending with a null nextCursor', async () => {
    const pageCustomer = await createCustomer(t, 'Paging customer');
    const created: string[] = [];
    for (let i = 0; i < 5; i++) {
      created.push((await createCredential(t, { label: `Page item ${i}`, sample: sampleFor('api_key'), customerId: pageCustomer })).id);
    }
    const seen: string[] = [];
    const sizes: number[] = [];
    let cursor: string | null = null;
    do {
      const response = await t.request('GET', `${API}/credentials?customerId=${pageCustomer}&limit=2${cursor ? `&cursor=${cursor}` : ''}`, {
        token: t.adminToken,
      });
      expect(response.status).toBe(200);
      sizes.push(response.body.items.length);
      seen.push(...response.body.items.map((c: { id: string }) => c.id));
      cursor = response.body.nextCursor;
    } while (cursor && sizes.length < 10);
    expect(sizes).toEqual([2, 2, 1]);
    expect(new Set(seen).size).toBe(5);
    expect([...seen].sort()).toEqual([...created].sort());

    const whole = await t.request('GET', `${API}/credentials?customerId=${pageCustomer}&limit=5`, { token: t.adminToken });
    expect(whole.body.items).toHaveLength(5);
    expect(whole.body.nextCursor).toBeNull();
  });

  it('refuses a cursor it did not issue with 400 INVALID_CURSOR', async () => {
    const response = await t.request('GET', `${API}/credentials?cursor=not-a-cursor`, { token: t.adminToken });
    expectError(response, 400, 'INVALID_CURSOR');
  });

  it('renames a credential and replaces one field, keeping the other field and showing the new value on resolve', async () => {
    const sample = sampleFor('api_key_secret');
    const { id, body: created } = await createCredential(t, { label: 'AWS prod', sample, customerId });
    const newSecret = `rotated-${randomBytes(12).toString('hex')}`;
    const response = await t.request('PATCH', `${API}/credentials/${id}`, {
      token: t.adminToken,
      body: { label: 'AWS production', fields: { api_secret: newSecret } },
    });
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ id, label: 'AWS production', level: 'customer', customerId, createdAt: created.createdAt, status: 'active' });
    expect(response.body.fields).toEqual({ api_key: { set: true }, api_secret: { set: true } });
    expect(Date.parse(response.body.updatedAt)).toBeGreaterThanOrEqual(Date.parse(created.updatedAt));
    expectNoSecrets(response.text, [...sample.secrets, newSecret]);

    const shown = await t.request('GET', `${API}/credentials/${id}`, { token: t.adminToken });
    expect(shown.body.label).toBe('AWS production');
    const resolved = await resolve(t, id, runtimeToken);
    expect(resolved.status).toBe(200);
    expect(resolved.body.fields).toEqual({ api_key: sample.fields.api_key, api_secret: newSecret });
  });

  it('renames a credential without touching its values', async () => {
    const sample = sampleFor('basic');
    const { id } = await createCredential(t, { label: 'FTP', sample });
    const response = await t.request('PATCH', `${API}/credentials/${id}`, { token: t.adminToken, body: { label: 'FTP archive' } });
    expect(response.status).toBe(200);
    expect(response.body.label).toBe('FTP archive');
    expect((await resolve(t, id, runtimeToken)).body.fields).toEqual(sample.fields);
  });

  it('clears the optional oauth2 scopes with null and keeps the other configuration', async () => {
    const sample = sampleFor('oauth2');
    const { id } = await createCredential(t, { label: 'Google', sample });
    const response = await t.request('PATCH', `${API}/credentials/${id}`, { token: t.adminToken, body: { fields: { scopes: null } } });
    expect(response.status).toBe(200);
    expect(response.body.fields).toEqual({
      client_id: { set: true, value: sample.shown.client_id },
      client_secret: { set: true },
      scopes: { set: false },
      auth_uri: { set: true, value: sample.shown.auth_uri },
      token_uri: { set: true, value: sample.shown.token_uri },
    });
    const { scopes: _scopes, ...remaining } = sample.fields;
    expect((await resolve(t, id, runtimeToken)).body.fields).toEqual(remaining);
  });

  it('refuses a delete whose confirm is not the label with 409 CONFIRMATION_MISMATCH and keeps the credential', async () => {
    const { id } = await createCredential(t, { label: 'Keep me', sample: sampleFor('api_key') });
    for (const confirm of ['keep me', 'Keep', 'Something else', '']) {
      const response = await t.request('DELETE', `${API}/credentials/${id}`, { token: t.adminToken, body: { confirm } });
      expectError(response, 409, 'CONFIRMATION_MISMATCH');
    }
    const shown = await t.request('GET', `${API}/credentials/${id}`, { token: t.adminToken });
    expect(shown.status).toBe(200);
    expect(shown.body.label).toBe('Keep me');
  });

  it('deletes a credential when confirm is its label, then answers 404 for it', async () => {
    const { id } = await createCredential(t, { label: 'Delete me', sample: sampleFor('basic') });
    const response = await t.request('DELETE', `${API}/credentials/${id}`, { token: t.adminToken, body: { confirm: 'Delete me' } });
    expect(response.status).toBe(204);
    expect(response.text).toBe('');
    expectError(await t.request('GET', `${API}/credentials/${id}`, { token: t.adminToken }), 404, 'NOT_FOUND');
    expectError(await t.request('DELETE', `${API}/credentials/${id}`, { token: t.adminToken, body: { confirm: 'Delete me' } }), 404, 'NOT_FOUND');
    expectError(await resolve(t, id, runtimeToken), 404, 'NOT_FOUND');
    expect((await listAll(t)).some((c) => c.id === id)).toBe(false);
  });

  it('publishes the credential routes in /openapi.json', async () => {
    const response = await t.request('GET', '/openapi.json');
    expect(response.status).toBe(200);
    const paths = response.body.paths as Record<string, Record<string, unknown>>;
    expect(Object.keys(paths['/api/v1/credentials'] ?? {}).sort()).toEqual(['get', 'post']);
    expect(Object.keys(paths['/api/v1/credentials/{id}'] ?? {}).sort()).toEqual(['delete', 'get', 'patch']);
    expect(Object.keys(paths['/api/v1/credentials/{id}/resolve'] ?? {})).toEqual(['post']);
    expect(Object.keys(paths)).toContain('/api/v1/auth-methods');
  });

  it('serves the API documentation at /docs', async () => {
    let response = await t.request('GET', '/docs');
    for (let hops = 0; hops < 3 && response.status >= 300 && response.status < 400; hops++) {
      const location = new URL(String(response.headers.location), 'http://localhost/docs');
      response = await t.request('GET', `${location.pathname}${location.search}`);
    }
    expect(response.status).toBe(200);
    expect(String(response.headers['content-type'])).toContain('text/html');
  });

  it('never wrote a stored secret value into a log line', async () => {
    const secret = `logged-${randomBytes(12).toString('hex')}`;
    const { id } = await createCredential(t, { label: 'Log probe', sample: { ...sampleFor('api_key'), fields: { api_key: secret } } });
    await resolve(t, id, runtimeToken);
    expect(t.logs.length).toBeGreaterThan(0);
    expectNoSecrets(t.logs.join('\n'), [secret]);
  });
});
