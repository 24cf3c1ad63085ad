import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import {
  API,
  createCredential,
  createCustomer,
  expectError,
  expectNoSecrets,
  listAll,
  resolve,
  sampleFor,
  unknownCredentialId,
  type Sample,
} from './credential-fixtures.js';

describe.each(ENGINES)('access by role and tenant on %s', (engine) => {
  let t: TestApp;
  let customerA: string;
  let customerB: string;
  let memberToken: string;
  let userAToken: string;
  let runtimeToken: string;
  const samples: Record<'org' | 'a' | 'b', Sample> = { org: sampleFor('api_key_secret'), a: sampleFor('basic'), b: sampleFor('oauth2') };
  const ids = { org: '', a: '', b: '' };

  beforeAll(async () => {
    t = await startTestApp(engine);
    customerA = await createCustomer(t, 'Customer A');
    customerB = await createCustomer(t, 'Customer B');
    memberToken = await t.token('org_member');
    userAToken = await t.token('customer_user', customerA);
    runtimeToken = await t.token('runtime');
    ids.org = (await createCredential(t, { label: 'Org shared AWS', sample: samples.org })).id;
    ids.a = (await createCredential(t, { label: 'A FTP', sample: samples.a, customerId: customerA })).id;
    ids.b = (await createCredential(t, { label: 'B Dropbox', sample: samples.b, customerId: customerB })).id;
  });
  afterAll(async () => t?.close());

  const get = (id: string, token: string) => t.request('GET', `${API}/credentials/${id}`, { token });

  it('answers a customer user 404 for organization-level and other customers\' credentials, exactly as for an unknown id', async () => {
    const unknown = unknownCredentialId();
    for (const [target, label] of [[ids.org, 'Org shared AWS'], [ids.b, 'B Dropbox'], [unknown, 'x']] as const) {
      const responses = [
        await get(target, userAToken),
        await t.request('PATCH', `${API}/credentials/${target}`, { token: userAToken, body: { label: 'Hijacked' } }),
        await t.request('DELETE', `${API}/credentials/${target}`, { token: userAToken, body: { confirm: label } }),
      ];
      for (const response of responses) {
        expect(response.status).toBe(404);
        expect(response.body).toEqual({ error: { code: 'NOT_FOUND', message: 'Credential not found' } });
      }
    }
    expect((await get(ids.org, t.adminToken)).body.label).toBe('Org shared AWS');
    expect((await get(ids.b, t.adminToken)).body.label).toBe('B Dropbox');
  });

  it('lists only the customer user\'s own credentials, whatever the filters ask for', async () => {
    const onlyA = (items: Array<{ customerId: string | null }>) => items.every((c) => c.customerId === customerA);
    const all = await listAll(t, '', userAToken);
    expect(all.map((c) => c.id)).toContain(ids.a);
    expect(onlyA(all)).toBe(true);
    expect(await listAll(t, 'level=organization', userAToken)).toEqual([]);
    expect(await listAll(t, `customerId=${customerB}`, userAToken)).toEqual([]);
    expect(await listAll(t, 'search=Org%20shared', userAToken)).toEqual([]);
    expect(onlyA(await listAll(t, 'level=customer', userAToken))).toBe(true);
    expect((await listAll(t, `customerId=${customerA}`, userAToken)).map((c) => c.id)).toContain(ids.a);
  });

  it('lets a customer user see only its own customer', async () => {
    const customers = await t.request('GET', `${API}/customers`, { token: userAToken });
    expect(customers.body.items.map((c: { id: string }) => c.id)).toEqual([customerA]);
    expect((await t.request('GET', `${API}/customers/${customerA}`, { token: userAToken })).status).toBe(200);
    expectError(await t.request('GET', `${API}/customers/${customerB}`, { token: userAToken }), 404, 'NOT_FOUND');
  });

  it('stores a customer user\'s new credential on its own customer, and refuses another customer with 404', async () => {
    const own = await createCredential(t, { label: 'A created by user', sample: sampleFor('api_key') }, userAToken);
    expect(own.body).toMatchObject({ level: 'customer', customerId: customerA });
    const explicit = await createCredential(t, { label: 'A explicit', sample: sampleFor('api_key'), customerId: customerA }, userAToken);
    expect(explicit.body.customerId).toBe(customerA);

    const countB = (await listAll(t, `customerId=${customerB}`)).length;
    const refused = await t.request('POST', `${API}/credentials`, {
      token: userAToken,
      body: { label: 'Into B', authMethod: 'basic', fields: sampleFor('basic').fields, customerId: customerB },
    });
    expectError(refused, 404, 'NOT_FOUND');
    expect((await listAll(t, `customerId=${customerB}`)).length).toBe(countB);
    expect((await listAll(t, 'search=Into%20B')).length).toBe(0);
  });

  it('answers an admin of another organization 404 for every credential and customer of the first', async () => {
    const other = await t.otherOrganization();
    const token = other.adminToken;
    for (const id of [ids.org, ids.a, ids.b]) {
      expectError(await get(id, token), 404, 'NOT_FOUND');
      expectError(await t.request('PATCH', `${API}/credentials/${id}`, { token, body: { label: 'Stolen' } }), 404, 'NOT_FOUND');
      expectError(await t.request('DELETE', `${API}/credentials/${id}`, { token, body: { confirm: 'Org shared AWS' } }), 404, 'NOT_FOUND');
    }
    for (const id of [customerA, customerB]) {
      expectError(await t.request('GET', `${API}/customers/${id}`, { token }), 404, 'NOT_FOUND');
      expectError(await t.request('PATCH', `${API}/customers/${id}`, { token, body: { name: 'Stolen' } }), 404, 'NOT_FOUND');
      const name = id === customerA ? 'Customer A' : 'Customer B';
      expectError(await t.request('DELETE', `${API}/customers/${id}`, { token, body: { confirm: name } }), 404, 'NOT_FOUND');
      const intoForeign = { label: 'Foreign', authMethod: 'api_key', fields: sampleFor('api_key').fields, customerId: id };
      expectError(await t.request('POST', `${API}/credentials`, { token, body: intoForeign }), 404, 'NOT_FOUND');
      expectError(await t.request('POST', `${API}/api-tokens`, { token, body: { name: 'x', role: 'customer_user', customerId: id } }), 404, 'NOT_FOUND');
    }
    const firstOrgTokens = await t.request('GET', `${API}/api-tokens`, { token: t.adminToken });
    for (const item of firstOrgTokens.body.items as Array<{ id: string }>) {
      expectError(await t.request('DELETE', `${API}/api-tokens/${item.id}`, { token }), 404, 'NOT_FOUND');
    }
    expect((await t.request('GET', `${API}/api-tokens`, { token: t.adminToken })).body.items).toEqual(firstOrgTokens.body.items);
    expect(await listAll(t, '', token)).toEqual([]);
    expect((await t.request('GET', `${API}/customers`, { token })).body.items).toEqual([]);
    expect((await get(ids.org, t.adminToken)).body.label).toBe('Org shared AWS');
    expect((await t.request('GET', `${API}/customers/${customerA}`, { token: t.adminToken })).body.name).toBe('Customer A');
  });

  it('lets an org member manage credentials and customers', async () => {
    const customer = await createCustomer(t, 'Member customer', memberToken);
    const renamed = await t.request('PATCH', `${API}/customers/${customer}`, { token: memberToken, body: { name: 'Member customer 2' } });
    expect(renamed.body.name).toBe('Member customer 2');
    const { id } = await createCredential(t, { label: 'Member cred', sample: sampleFor('api_key'), customerId: customer }, memberToken);
    expect((await get(id, memberToken)).status).toBe(200);
    expect((await get(ids.org, memberToken)).status).toBe(200);
    const patched = await t.request('PATCH', `${API}/credentials/${id}`, { token: memberToken, body: { label: 'Member cred 2' } });
    expect(patched.body.label).toBe('Member cred 2');
    expect((await listAll(t, '', memberToken)).map((c) => c.id)).toEqual(expect.arrayContaining([ids.org, ids.a, ids.b, id]));
    expect((await t.request('DELETE', `${API}/credentials/${id}`, { token: memberToken, body: { confirm: 'Member cred 2' } })).status).toBe(204);
    expect((await t.request('DELETE', `${API}/customers/${customer}`, { token: memberToken, body: { confirm: 'Member customer 2' } })).status).toBe(204);
    expectError(await t.request('GET', `${API}/customers/${customer}`, { token: t.adminToken }), 404, 'NOT_FOUND');
  });

  it('answers an org member 403 FORBIDDEN on every API token route', async () => {
    const tokens = await t.request('GET', `${API}/api-tokens`, { token: t.adminToken });
    const someId = tokens.body.items[0].id as string;
    expectError(await t.request('GET', `${API}/api-tokens`, { token: memberToken }), 403, 'FORBIDDEN');
    expectError(await t.request('POST', `${API}/api-tokens`, { token: memberToken, body: { name: 'x', role: 'org_admin' } }), 403, 'FORBIDDEN');
    expectError(await t.request('DELETE', `${API}/api-tokens/${someId}`, { token: memberToken }), 403, 'FORBIDDEN');
    const after = await t.request('GET', `${API}/api-tokens`, { token: t.adminToken });
    expect(after.body.items).toEqual(tokens.body.items);
  });

  it('answers the runtime role 403 on management routes and lets it resolve any credential of its organization', async () => {
    const token = runtimeToken;
    expectError(await t.request('GET', `${API}/credentials`, { token }), 403, 'FORBIDDEN');
    expectError(await get(ids.org, token), 403, 'FORBIDDEN');
    expectError(await t.request('POST', `${API}/credentials`, { token, body: { label: 'r', authMethod: 'api_key', fields: { api_key: 'abcdefgh' } } }), 403, 'FORBIDDEN');
    expectError(await t.request('PATCH', `${API}/credentials/${ids.a}`, { token, body: { label: 'r' } }), 403, 'FORBIDDEN');
    expectError(await t.request('DELETE', `${API}/credentials/${ids.a}`, { token, body: { confirm: 'A FTP' } }), 403, 'FORBIDDEN');
    expectError(await t.request('GET', `${API}/customers`, { token }), 403, 'FORBIDDEN');
    expectError(await t.request('GET', `${API}/api-tokens`, { token }), 403, 'FORBIDDEN');
    expectError(await t.request('GET', `${API}/audit-events`, { token }), 403, 'FORBIDDEN');
    expect((await listAll(t, 'search=r')).some((c) => c.label === 'r')).toBe(false);

    for (const key of ['org', 'a', 'b'] as const) {
      const response = await resolve(t, ids[key], token);
      expect(response.status).toBe(200);
      expect(response.body.id).toBe(ids[key]);
      expect(response.body.fields).toEqual(samples[key].fields);
      expect(String(response.headers['cache-control'])).toContain('no-store');
    }
  });

  it('answers org admins, org members and customer users 403 on resolve, even for their own credentials', async () => {
    for (const token of [t.adminToken, memberToken, userAToken]) {
      const response = await resolve(t, ids.a, token);
      expectError(response, 403, 'FORBIDDEN');
      expectNoSecrets(response.text, samples.a.secrets);
    }
  });

  it('answers the runtime role of another organization 404 on resolve', async () => {
    const other = await t.otherOrganization('Other runtime org');
    const created = await t.request('POST', `${API}/api-tokens`, { token: other.adminToken, body: { name: 'runner', role: 'runtime' } });
    expect(created.status).toBe(201);
    const unknown = await resolve(t, unknownCredentialId(), created.body.token);
    for (const id of [ids.org, ids.a, ids.b]) {
      const response = await resolve(t, id, created.body.token);
      expect(response.status).toBe(404);
      expect(response.body).toEqual(unknown.body);
      expectNoSecrets(response.text, [...samples.org.secrets, ...samples.a.secrets, ...samples.b.secrets]);
    }
  });

  it('answers 401 UNAUTHENTICATED without a token, with a malformed or unknown one, and with a revoked one', async () => {
    expectError(await t.request('GET', `${API}/credentials`), 401, 'UNAUTHENTICATED');
    expectError(await t.request('GET', `${API}/credentials`, { headers: { authorization: 'Basic YWRtaW46YWRtaW4=' } }), 401, 'UNAUTHENTICATED');
    expectError(await t.request('GET', `${API}/credentials`, { token: 'crd_not-a-real-token' }), 401, 'UNAUTHENTICATED');
    expectError(await t.request('POST', `${API}/credentials`, { body: { label: 'anon', authMethod: 'api_key', fields: { api_key: 'abcdefgh' } } }), 401, 'UNAUTHENTICATED');

    const created = await t.request('POST', `${API}/api-tokens`, { token: t.adminToken, body: { name: 'short-lived', role: 'org_member' } });
    expect(created.status).toBe(201);
    expect((await t.request('GET', `${API}/credentials`, { token: created.body.token })).status).toBe(200);
    expect((await t.request('DELETE', `${API}/api-tokens/${created.body.id}`, { token: t.adminToken })).status).toBe(204);
    expectError(await t.request('GET', `${API}/credentials`, { token: created.body.token }), 401, 'UNAUTHENTICATED');
    const listed = await t.request('GET', `${API}/api-tokens`, { token: t.adminToken });
    const revoked = listed.body.items.find((item: { id: string }) => item.id === created.body.id);
    expect(typeof revoked?.revokedAt).toBe('string');
    expect(listed.text.includes(created.body.token)).toBe(false);
  });

  it('deletes a customer\'s credentials and invalidates its customer user tokens with the customer', async () => {
    const customer = await createCustomer(t, 'Leaving customer');
    const userToken = await t.token('customer_user', customer);
    const first = await createCredential(t, { label: 'Leaving 1', sample: sampleFor('basic'), customerId: customer });
    const second = await createCredential(t, { label: 'Leaving 2', sample: sampleFor('api_key') }, userToken);
    const deleted = await t.request('DELETE', `${API}/customers/${customer}`, { token: t.adminToken, body: { confirm: 'Leaving customer' } });
    expect(deleted.status).toBe(204);

    for (const id of [first.id, second.id]) {
      expectError(await get(id, t.adminToken), 404, 'NOT_FOUND');
      expectError(await resolve(t, id, runtimeToken), 404, 'NOT_FOUND');
    }
    expect(await listAll(t, `customerId=${customer}`)).toEqual([]);
    expectError(await t.request('GET', `${API}/credentials`, { token: userToken }), 401, 'UNAUTHENTICATED');
    expect((await get(ids.a, t.adminToken)).status).toBe(200);
    expect((await get(ids.org, t.adminToken)).status).toBe(200);
  });

  it('refuses to delete a customer whose confirm is not its name with 409, keeping it and its credentials', async () => {
    const customer = await createCustomer(t, 'Staying customer');
    const { id } = await createCredential(t, { label: 'Staying', sample: sampleFor('api_key'), customerId: customer });
    const response = await t.request('DELETE', `${API}/customers/${customer}`, { token: t.adminToken, body: { confirm: 'staying customer' } });
    expectError(response, 409, 'CONFIRMATION_MISMATCH');
    expect((await t.request('GET', `${API}/customers/${customer}`, { token: t.adminToken })).status).toBe(200);
    expect((await get(id, t.adminToken)).status).toBe(200);
  });

  it('deletes a customer on a DELETE without a body, since confirm is optional', async () => {
    const customer = await createCustomer(t, 'Bodiless delete');
    const response = await t.request('DELETE', `${API}/customers/${customer}`, { token: t.adminToken });
    expect({ status: response.status, body: response.body }).toEqual({ status: 204, body: undefined });
    expectError(await t.request('GET', `${API}/customers/${customer}`, { token: t.adminToken }), 404, 'NOT_FOUND');
  });

  it('records audit events for credential and customer changes and resolves, none holding a secret value', async () => {
    const customer = await createCustomer(t, 'Audited customer');
    const sample = sampleFor('private_key');
    const { id } = await createCredential(t, { label: 'Audited', sample, customerId: customer });
    const newPassword = sampleFor('basic').fields.password ?? '';
    const newUsername = `user-${newPassword}`;
    await t.request('PATCH', `${API}/credentials/${id}`, { token: t.adminToken, body: { label: 'Audited 2', fields: { username: newUsername } } });
    expect((await resolve(t, id, runtimeToken)).status).toBe(200);
    expect((await t.request('DELETE', `${API}/credentials/${id}`, { token: t.adminToken, body: { confirm: 'Audited 2' } })).status).toBe(204);
    expect((await t.request('DELETE', `${API}/customers/${customer}`, { token: t.adminToken, body: { confirm: 'Audited customer' } })).status).toBe(204);

    const events = await t.request('GET', `${API}/audit-events?limit=200`, { token: t.adminToken });
    expect(events.status).toBe(200);
    const actions = (targetId: string) =>
      (events.body.items as Array<{ action: string; targetId: string | null }>).filter((e) => e.targetId === targetId).map((e) => e.action).sort();
    expect(actions(id)).toEqual(['credential.created', 'credential.deleted', 'credential.resolved', 'credential.updated']);
    expect(actions(customer)).toEqual(['customer.created', 'customer.deleted']);
    const resolved = events.body.items.find((e: { action: string; targetId: string }) => e.action === 'credential.resolved' && e.targetId === id);
    expect(resolved.actor.role).toBe('runtime');

    const everything = await t.request('GET', `${API}/audit-events?limit=200`, { token: memberToken });
    expect(everything.status).toBe(200);
    const allSecrets = [...sample.secrets, newUsername, ...samples.org.secrets, ...samples.a.secrets, ...samples.b.secrets];
    expectNoSecrets(everything.text, allSecrets);
  });

  it('answers a customer user 403 FORBIDDEN on the audit trail', async () => {
    expectError(await t.request('GET', `${API}/audit-events`, { token: userAToken }), 403, 'FORBIDDEN');
  });

  it('never returned a secret value from any route other than resolve', async () => {
    const secrets = [...samples.org.secrets, ...samples.a.secrets, ...samples.b.secrets];
    const managementText = t.responses.filter((r) => !r.url.endsWith('/resolve')).map((r) => r.text).join('\n');
    expect(managementText.length).toBeGreaterThan(0);
    expectNoSecrets(managementText, secrets);
  });
});
