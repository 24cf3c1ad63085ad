import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import {
  API,
  basicHeader,
  createCredential,
  createCustomer,
  createIntegration,
  deploy,
  deployed,
  runInstance,
  startHttpPeer,
  uniqueValue,
  type HttpPeer,
} from './fixtures.js';

// Integrations, instances with credential bindings, runs and credential tests over the API,
// with http steps calling a loopback server that checks Basic and Bearer auth.

const USERNAME = 'northwind-sync';
const PASSWORD = uniqueValue('peer-password');
const WRONG_PASSWORD = uniqueValue('wrong-password');
const API_KEY = uniqueValue('peer-api-key');

describe.each(ENGINES)('integrations, instances and runs on %s', (engine) => {
  let t: TestApp;
  let peer: HttpPeer;
  let customerA: string;
  let customerB: string;
  let userA: string;
  let userB: string;
  const cred = { basicA: '', wrongA: '', keyA: '', keyB: '', privateKeyA: '', orgBasic: '', oauthA: '' };
  const integration = { hello: '', echo: '', mixed: '', dropbox: '' };

  const httpStep = (name: string, path: string) => ({ name, component: 'http', action: 'request', inputs: { url: `${peer.baseUrl}${path}` } });
  const dropboxStep = { name: 'list', component: 'dropbox', action: 'listFolder', inputs: { path: '/Reports' } };
  const oauthFields = () => ({ client_id: 'dropbox-app', client_secret: uniqueValue('client-secret'), auth_uri: 'https://auth.example.test/authorize', token_uri: 'https://auth.example.test/token' });
  const getInstance = async (id: string) => (await t.request('GET', `${API}/instances/${id}`, { token: t.adminToken })).body;
  const usage = async (id: string) => (await t.request('GET', `${API}/credentials/${id}/usage`, { token: t.adminToken })).body.items;

  beforeAll(async () => {
    peer = await startHttpPeer({ username: USERNAME, password: PASSWORD, apiKey: API_KEY });
    t = await startTestApp(engine, { env: { CREDENCE_ALLOW_INSECURE_LOOPBACK: 'true' } });
    customerA = await createCustomer(t, 'Northwind Traders');
    customerB = await createCustomer(t, 'Contoso');
    userA = await t.token('customer_user', customerA);
    userB = await t.token('customer_user', customerB);
    const privateKey = generateKeyPairSync('ed25519', { privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } }).privateKey;
    cred.basicA = await createCredential(t, { destinations: [peer.baseUrl], authMethod: 'basic', customerId: customerA, fields: { username: USERNAME, password: PASSWORD } });
    cred.wrongA = await createCredential(t, { destinations: [peer.baseUrl], authMethod: 'basic', customerId: customerA, fields: { username: USERNAME, password: WRONG_PASSWORD } });
    cred.keyA = await createCredential(t, { destinations: [peer.baseUrl], authMethod: 'api_key', customerId: customerA, fields: { api_key: API_KEY } });
    cred.keyB = await createCredential(t, { destinations: [peer.baseUrl], authMethod: 'api_key', customerId: customerB, fields: { api_key: API_KEY } });
    cred.privateKeyA = await createCredential(t, { destinations: [peer.baseUrl], authMethod: 'private_key', customerId: customerA, fields: { username: USERNAME, private_key: privateKey } });
    cred.orgBasic = await createCredential(t, { destinations: [peer.baseUrl], label: 'Shared peer login', authMethod: 'basic', fields: { username: USERNAME, password: PASSWORD } });
    cred.oauthA = await createCredential(t, { destinations: [peer.baseUrl], authMethod: 'oauth2', customerId: customerA, fields: oauthFields() });
    integration.hello = await createIntegration(t, 'Say hello', [httpStep('call', '/hello')]);
    integration.echo = await createIntegration(t, 'Echo', [httpStep('call', '/echo')]);
    integration.mixed = await createIntegration(t, 'Hello then Dropbox', [httpStep('call', '/hello'), dropboxStep]);
    integration.dropbox = await createIntegration(t, 'List Dropbox folder', [dropboxStep]);
  });

  afterAll(async () => {
    await Promise.all([t?.close(), peer?.close()]);
  });

  /** Expects a 400 INVALID_BINDING whose message names `step` and says `problem`. */
  const expectInvalidBinding = (response: { status: number; body: any }, step: string, problem: RegExp) => {
    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe('INVALID_BINDING');
    expect(response.body.error.message).toContain(`step ${step}`);
    expect(response.body.error.message).toMatch(problem);
  };

  describe('binding credentials to steps', () => {
    it('refuses a credential of another customer, naming the step', async () => {
      const response = await deploy(t, { integrationId: integration.hello, customerId: customerA, name: 'Cross-customer', bindings: { call: cred.keyB } });
      expectInvalidBinding(response, 'call', /another customer/);
    });

    it('refuses a credential whose auth method the step does not accept', async () => {
      const response = await deploy(t, { integrationId: integration.hello, customerId: customerA, name: 'Key for http', bindings: { call: cred.privateKeyA } });
      expectInvalidBinding(response, 'call', /accepts basic, api_key, api_key_secret, oauth2, not private_key/);
    });

    it('refuses to deploy while a step that requires a credential has none', async () => {
      const response = await deploy(t, { integrationId: integration.mixed, customerId: customerA, name: 'No Dropbox', bindings: { call: cred.basicA } });
      expectInvalidBinding(response, 'list', /needs a credential \(oauth2\)/);
    });

    it('refuses a binding for a step the integration does not have', async () => {
      const response = await deploy(t, { integrationId: integration.hello, customerId: customerA, name: 'Ghost step', bindings: { call: cred.basicA, ghost: cred.basicA } });
      expectInvalidBinding(response, 'ghost', /no such step/);
    });

    it('deploys with a step that does not need a credential left unbound', async () => {
      const response = await deploy(t, { integrationId: integration.hello, customerId: customerA, name: 'Anonymous hello' });
      expect(response.status, response.text).toBe(201);
      expect(response.body).toMatchObject({ integrationId: integration.hello, customerId: customerA, name: 'Anonymous hello', bindings: {} });
    });

    it('binds an organization-level credential for any customer', async () => {
      for (const customerId of [customerA, customerB]) {
        const response = await deploy(t, { integrationId: integration.hello, customerId, name: 'Shared login', bindings: { call: cred.orgBasic } });
        expect(response.status, response.text).toBe(201);
        expect(response.body.bindings).toEqual({ call: cred.orgBasic });
      }
    });

    it('refuses a customer user an organization-level credential exactly as if it did not exist', async () => {
      const base = { integrationId: integration.hello, customerId: customerA, name: 'My hello' };
      const orgLevel = await deploy(t, { ...base, bindings: { call: cred.orgBasic } }, userA);
      const missing = await deploy(t, { ...base, bindings: { call: 'cred_0000000000000000000000' } }, userA);
      expectInvalidBinding(orgLevel, 'call', /does not exist/);
      expect(orgLevel.body.error.message).toBe(missing.body.error.message);
      expect(orgLevel.text).not.toContain('Shared peer login');
      const own = await deploy(t, { ...base, bindings: { call: cred.keyA } }, userA);
      expect(own.status, own.text).toBe(201);
    });

    it('shows a customer user that a step uses an organization credential, never its id, in the instance, its list and its runs', async () => {
      const id = await deployed(t, { integrationId: integration.hello, customerId: customerA, name: 'Shared login for A', bindings: { call: cred.orgBasic } });
      const seen: string[] = [];
      const look = async (method: string, url: string, body?: unknown) => {
        const answer = await t.request(method, url, { token: userA, ...(body ? { body } : {}) });
        expect(answer.status, answer.text).toBeLessThan(300);
        seen.push(answer.text);
        return answer.body;
      };
      expect((await look('GET', `${API}/instances/${id}`)).bindings).toEqual({ call: 'organization-credential' });
      const listed = (await look('GET', `${API}/instances?customerId=${customerA}`)).items.find((item: { id: string }) => item.id === id);
      expect(listed.bindings).toEqual({ call: 'organization-credential' });
      const run = await look('POST', `${API}/instances/${id}/runs`);
      expect(run.status).toBe('succeeded');
      expect(run.steps[0].credentialId).toBe('organization-credential');
      expect((await look('GET', `${API}/instances/${id}/runs/${run.id}`)).steps[0].credentialId).toBe('organization-credential');
      expect((await look('GET', `${API}/instances/${id}/runs`)).items[0].steps[0].credentialId).toBe('organization-credential');
      // Sending back what it was shown keeps the organization credential bound.
      const renamed = await look('PATCH', `${API}/instances/${id}`, { name: 'Renamed by A', bindings: { call: 'organization-credential' } });
      expect(renamed.bindings).toEqual({ call: 'organization-credential' });
      for (const text of seen) expect(text).not.toContain(cred.orgBasic);
      // The organization's own people still see which credential it is.
      expect((await getInstance(id)).bindings).toEqual({ call: cred.orgBasic });
      const runs = await t.request('GET', `${API}/instances/${id}/runs/${run.id}`, { token: t.adminToken });
      expect(runs.body.steps[0].credentialId).toBe(cred.orgBasic);
      // Its own customer's credentials stay visible to it, and the marker cannot conjure a binding.
      expect((await look('PATCH', `${API}/instances/${id}`, { bindings: { call: cred.keyA } })).bindings).toEqual({ call: cred.keyA });
      const fresh = await deploy(t, { integrationId: integration.hello, customerId: customerA, name: 'Marker', bindings: { call: 'organization-credential' } }, userA);
      expectInvalidBinding(fresh, 'call', /does not exist/);
    });

    it('hides an instance from a customer user of another customer', async () => {
      const id = await deployed(t, { integrationId: integration.hello, customerId: customerA, name: 'Private to A', bindings: { call: cred.basicA } });
      expect((await t.request('GET', `${API}/instances/${id}`, { token: userB })).status).toBe(404);
      expect((await t.request('PATCH', `${API}/instances/${id}`, { token: userB, body: { name: 'Taken' } })).status).toBe(404);
      const listed = await t.request('GET', `${API}/instances`, { token: userB });
      expect(listed.body.items.map((item: { id: string }) => item.id)).not.toContain(id);
      expect((await t.request('GET', `${API}/instances/${id}`, { token: userA })).status).toBe(200);
    });

    it('checks bindings changed later exactly as at deployment', async () => {
      const id = await deployed(t, { integrationId: integration.hello, customerId: customerA, name: 'Rebound later', bindings: { call: cred.basicA } });
      const patch = (bindings: Record<string, string>) => t.request('PATCH', `${API}/instances/${id}`, { token: t.adminToken, body: { bindings } });
      expectInvalidBinding(await patch({ call: cred.keyB }), 'call', /another customer/);
      expectInvalidBinding(await patch({ call: cred.privateKeyA }), 'call', /not private_key/);
      expectInvalidBinding(await patch({ ghost: cred.keyA }), 'ghost', /no such step/);
      expect((await getInstance(id)).bindings).toEqual({ call: cred.basicA });
      const changed = await patch({ call: cred.keyA });
      expect(changed.status, changed.text).toBe(200);
      expect(changed.body.bindings).toEqual({ call: cred.keyA });
      expect((await getInstance(id)).bindings).toEqual({ call: cred.keyA });
    });
  });

  describe('integrations', () => {
    const refusal = async (steps: unknown[]) => {
      const response = await t.request('POST', `${API}/integrations`, { token: t.adminToken, body: { name: 'Broken', steps } });
      expect(response.status).toBe(400);
      expect(response.body.error.code).toBe('VALIDATION_FAILED');
      return String(response.body.error.message);
    };

    it('refuses a step name that is not a name, naming the step by position', async () => {
      expect(await refusal([httpStep('ok', '/hello'), httpStep('2 words', '/hello')])).toMatch(/^step 2: a step name starts with a letter/);
      expect(await refusal([httpStep('call', '/hello'), httpStep('call', '/hello')])).toMatch(/^step 2 \(call\): another step already has this name/);
    });

    it('refuses an unknown component or action, naming the step', async () => {
      expect(await refusal([{ name: 'fetch', component: 'ftp', action: 'get', inputs: {} }])).toMatch(/^step 1 \(fetch\): Unknown component "ftp"/);
      expect(await refusal([httpStep('ok', '/hello'), { name: 'fetch', component: 'http', action: 'explode' }])).toMatch(/^step 2 \(fetch\): http has no action "explode"/);
    });

    it('refuses a reference to a step that does not run before it', async () => {
      const first = { name: 'first', component: 'http', action: 'request', inputs: { url: `${peer.baseUrl}/files/{{steps.second.body.file}}` } };
      expect(await refusal([first, httpStep('second', '/hello')])).toMatch(/^step 1 \(first\): its inputs refer to step second, which does not run before it/);
    });

    it('refuses to delete an integration while an instance of it exists', async () => {
      const id = await createIntegration(t, 'Short-lived', [httpStep('call', '/hello')]);
      const instance = await deployed(t, { integrationId: id, customerId: customerB, name: 'Blocking' });
      const refused = await t.request('DELETE', `${API}/integrations/${id}`, { token: t.adminToken });
      expect(refused.status).toBe(409);
      expect(refused.body.error.code).toBe('CONFLICT');
      expect((await t.request('DELETE', `${API}/instances/${instance}`, { token: t.adminToken })).status).toBe(204);
      expect((await t.request('DELETE', `${API}/integrations/${id}`, { token: t.adminToken })).status).toBe(204);
    });
  });

  describe('deleting and replacing a bound credential', () => {
    const remove = (id: string, body: Record<string, unknown>) => t.request('DELETE', `${API}/credentials/${id}`, { token: t.adminToken, body });

    it('refuses to delete a bound credential, naming the instance, and leaves both as they were', async () => {
      const label = uniqueValue('bound login');
      const id = await createCredential(t, { destinations: [peer.baseUrl], label, authMethod: 'basic', customerId: customerA, fields: { username: USERNAME, password: PASSWORD } });
      const instance = await deployed(t, { integrationId: integration.hello, customerId: customerA, name: 'Nightly hello', bindings: { call: id } });
      const refused = await remove(id, { confirm: label });
      expect(refused.status).toBe(409);
      expect(refused.body.error.code).toBe('CREDENTIAL_IN_USE');
      expect(refused.body.error.message).toContain('"Nightly hello"');
      expect((await t.request('GET', `${API}/credentials/${id}`, { token: t.adminToken })).status).toBe(200);
      expect((await getInstance(instance)).bindings).toEqual({ call: id });
    });

    it('deletes a bound credential with force, leaving the binding missing, and a run then fails on that step', async () => {
      const label = uniqueValue('forced login');
      const id = await createCredential(t, { destinations: [peer.baseUrl], label, authMethod: 'basic', customerId: customerA, fields: { username: USERNAME, password: PASSWORD } });
      const instance = await deployed(t, { integrationId: integration.hello, customerId: customerA, name: 'Orphaned hello', bindings: { call: id } });
      expect((await remove(id, { confirm: label, force: true })).status).toBe(204);
      expect((await getInstance(instance)).bindings).toEqual({ call: null });
      const run = await runInstance(t, instance);
      expect(run.status).toBe(201);
      expect(run.body.steps[0]).toMatchObject({ name: 'call', status: 'failed', credentialId: null });
      expect(run.body.steps[0].error).toMatch(/no credential is bound to step call/i);
      expect(run.body.status).toBe('failed');
    });

    it('fails a run on a step requiring a credential whose credential was deleted with force', async () => {
      const label = uniqueValue('forced dropbox');
      const id = await createCredential(t, { destinations: ['https://api.dropboxapi.com'], label, authMethod: 'oauth2', customerId: customerA, fields: oauthFields() });
      const instance = await deployed(t, { integrationId: integration.dropbox, customerId: customerA, name: 'Orphaned listing', bindings: { list: id } });
      expect((await remove(id, { confirm: label, force: true })).status).toBe(204);
      expect((await getInstance(instance)).bindings).toEqual({ list: null });
      const run = await runInstance(t, instance);
      expect(run.body).toMatchObject({ status: 'failed', error: 'Step list failed: No credential is bound to step list' });
      expect(run.body.steps[0]).toMatchObject({ name: 'list', status: 'failed', error: 'No credential is bound to step list' });
    });

    it('moves every binding to another credential on replace, refusing a wrong auth method or another customer\'s credential', async () => {
      const from = await createCredential(t, { destinations: [peer.baseUrl], authMethod: 'basic', customerId: customerA, fields: { username: USERNAME, password: PASSWORD } });
      const instance = await deployed(t, { integrationId: integration.hello, customerId: customerA, name: 'Rotating login', bindings: { call: from } });
      expect(await usage(from)).toEqual([{ instanceId: instance, instanceName: 'Rotating login', step: 'call' }]);
      const replace = (to: string) => t.request('POST', `${API}/credentials/${from}/replace`, { token: t.adminToken, body: { with: to } });
      expectInvalidBinding(await replace(cred.privateKeyA), 'call', /not private_key/);
      expectInvalidBinding(await replace(cred.keyB), 'call', /another customer/);
      expect((await getInstance(instance)).bindings).toEqual({ call: from });

      const to = await createCredential(t, { destinations: [peer.baseUrl], authMethod: 'api_key', customerId: customerA, fields: { api_key: API_KEY } });
      const moved = await replace(to);
      expect(moved.status, moved.text).toBe(200);
      expect(moved.body).toEqual({ moved: 1 });
      expect((await getInstance(instance)).bindings).toEqual({ call: to });
      expect(await usage(from)).toEqual([]);
      expect(await usage(to)).toEqual([{ instanceId: instance, instanceName: 'Rotating login', step: 'call' }]);
    });
  });

  describe('runs', () => {
    it('runs an http step with Basic auth and keeps the server\'s answer as its output', async () => {
      const instance = await deployed(t, { integrationId: integration.hello, customerId: customerA, name: 'Hello run', bindings: { call: cred.basicA } });
      const seen = peer.requests.length;
      const run = await runInstance(t, instance);
      expect(run.status, run.text).toBe(201);
      expect(run.body).toMatchObject({ instanceId: instance, status: 'succeeded', error: null, finishedAt: expect.any(String) });
      expect(run.body.steps).toHaveLength(1);
      expect(run.body.steps[0]).toMatchObject({ name: 'call', status: 'succeeded', credentialId: cred.basicA, error: null, durationMs: expect.any(Number) });
      expect(run.body.steps[0].output).toEqual({ status: 200, headers: expect.objectContaining({ 'content-type': 'application/json' }), body: { greeting: 'hello from the peer' }, truncated: false });
      expect(peer.requests.slice(seen)).toEqual([{ method: 'GET', path: '/hello', authorization: basicHeader(USERNAME, PASSWORD) }]);
    });

    it('keeps the password out of the run record even when the server echoes the Authorization header', async () => {
      const instance = await deployed(t, { integrationId: integration.echo, customerId: customerA, name: 'Echo run', bindings: { call: cred.basicA } });
      const run = await runInstance(t, instance);
      expect(run.body.status).toBe('succeeded');
      const again = await t.request('GET', `${API}/instances/${instance}/runs/${run.body.id}`, { token: t.adminToken });
      const header = basicHeader(USERNAME, PASSWORD);
      for (const text of [run.text, again.text]) {
        // Booleans only, so a failure does not print the secret.
        expect(text.includes(PASSWORD)).toBe(false);
        expect(text.includes(header.slice('Basic '.length))).toBe(false);
      }
    });

    it('fails the run when the server refuses the credential, saying so in the step error', async () => {
      const instance = await deployed(t, { integrationId: integration.hello, customerId: customerA, name: 'Wrong password run', bindings: { call: cred.wrongA } });
      const run = await runInstance(t, instance);
      expect(run.status).toBe(201);
      expect(run.body.status).toBe('failed');
      expect(run.body.steps[0]).toMatchObject({ name: 'call', status: 'failed', output: null, error: 'The server refused the credential (401 Unauthorized)' });
      expect(run.body.error).toBe('Step call failed: The server refused the credential (401 Unauthorized)');
      expect(run.text.includes(WRONG_PASSWORD)).toBe(false);
    });

    it('lets the runtime role run an instance and read its runs', async () => {
      const runtime = await t.token('runtime');
      const instance = await deployed(t, { integrationId: integration.hello, customerId: customerB, name: 'Runtime run', bindings: { call: cred.keyB } });
      const run = await runInstance(t, instance, runtime);
      expect(run.status, run.text).toBe(201);
      expect(run.body.status).toBe('succeeded');
      const read = await t.request('GET', `${API}/instances/${instance}/runs/${run.body.id}`, { token: runtime });
      expect(read.status).toBe(200);
      expect(read.body).toEqual(run.body);
      const listed = await t.request('GET', `${API}/instances/${instance}/runs`, { token: runtime });
      expect(listed.body.items.map((item: { id: string }) => item.id)).toEqual([run.body.id]);
    });

    it('answers 404 to a customer user of another customer for an instance\'s runs', async () => {
      const instance = await deployed(t, { integrationId: integration.hello, customerId: customerA, name: 'A only', bindings: { call: cred.keyA } });
      const own = await runInstance(t, instance, userA);
      expect(own.status, own.text).toBe(201);
      expect(own.body.status).toBe('succeeded');
      expect((await runInstance(t, instance, userB)).status).toBe(404);
      expect((await t.request('GET', `${API}/instances/${instance}/runs/${own.body.id}`, { token: userB })).status).toBe(404);
      expect((await t.request('GET', `${API}/instances/${instance}/runs`, { token: userB })).status).toBe(404);
      expect((await t.request('GET', `${API}/instances/${instance}/runs/${own.body.id}`, { token: userA })).status).toBe(200);
    });
  });

  describe('testing a credential', () => {
    const test = (id: string, body: Record<string, unknown>) => t.request('POST', `${API}/credentials/${id}/test`, { token: t.adminToken, body });
    const lastTestOf = async (id: string) => (await t.request('GET', `${API}/credentials/${id}`, { token: t.adminToken })).body.lastTest;

    it('answers ok for a password the server accepts and shows it as the credential\'s last test', async () => {
      const response = await test(cred.basicA, { component: 'http', inputs: { url: `${peer.baseUrl}/hello` } });
      expect(response.status, response.text).toBe(200);
      expect(response.body).toEqual({ ok: true, message: 'It works: the service answered 200', durationMs: expect.any(Number) });
      expect(await lastTestOf(cred.basicA)).toEqual({ ok: true, message: 'It works: the service answered 200', at: expect.any(String) });
    });

    it('answers not ok naming the refusal for a wrong password, without the password', async () => {
      const response = await test(cred.wrongA, { component: 'http', inputs: { url: `${peer.baseUrl}/hello` } });
      expect(response.status).toBe(200);
      expect(response.body).toMatchObject({ ok: false, message: 'The server refused the credential (401 Unauthorized)' });
      expect(response.text.includes(WRONG_PASSWORD)).toBe(false);
      const lastTest = await lastTestOf(cred.wrongA);
      expect(lastTest).toEqual({ ok: false, message: 'The server refused the credential (401 Unauthorized)', at: expect.any(String) });
      expect(Date.parse(lastTest.at)).toBeGreaterThan(Date.now() - 60_000);
    });

    it('refuses to test with an action that does not accept the credential\'s auth method', async () => {
      const before = await lastTestOf(cred.keyA);
      for (const component of ['dropbox', 'aws-s3', 'sftp']) {
        const response = await test(cred.keyA, { component, inputs: {} });
        expect(response.status, component).toBe(400);
        expect(response.body.error.code).toBe('VALIDATION_FAILED');
        expect(response.body.error.message).toContain('not api_key');
      }
      expect(await lastTestOf(cred.keyA)).toEqual(before);
    });
  });
});
