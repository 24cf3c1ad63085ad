import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/databases.js';
import { DROPBOX_TEST_ACCOUNT, startDropboxServer, type DropboxServer, type DropboxTestFile } from '../support/dropbox-server.js';
import { followAuthorization, startOAuthServer, type OAuthServer } from '../support/oauth-server.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { API, createCredential, createCustomer, createIntegration, deployed, runInstance, startHttpPeer, waitFor, type HttpPeer } from './fixtures.js';

// The brief's example end to end on loopback: a customer's Dropbox credential authorized
// through the OAuth 2.0 flow against a real oidc-provider, a Dropbox stand-in that accepts
// only tokens that provider says are active, an instance of a "list Dropbox folder"
// integration binding the credential, and runs before and after the token expires.

const CLIENT_ID = 'credence-dropbox-app';
const CLIENT_SECRET = randomBytes(24).toString('base64url');
const TTL_SECONDS = 6;
const REPORTS = ['q1-revenue.pdf', 'q2-revenue.pdf', 'q3-revenue.pdf', 'q4-revenue.pdf', 'board-summary.docx'];
const FILES: DropboxTestFile[] = [
  { tag: 'folder', name: 'Reports', path: '/Reports' },
  ...REPORTS.map((name, index): DropboxTestFile => ({ tag: 'file', name, path: `/Reports/${name}`, size: 1000 + index })),
  { tag: 'folder', name: 'Archive', path: '/Archive' },
  { tag: 'file', name: 'old.pdf', path: '/Archive/old.pdf', size: 5 },
];

describe.each(ENGINES)('the Dropbox walkthrough on %s', (engine) => {
  let t: TestApp;
  let oauth: OAuthServer;
  let dropbox: DropboxServer;
  let peer: HttpPeer;
  let customerId: string;
  let credentialId: string;
  let instanceId: string;
  let firstRun: { id: string; text: string };
  /** Every access token Dropbox was shown, in order. */
  const tokensSeen: string[] = [];

  const refreshRequests = () => oauth.tokenRequestsByGrantType['refresh_token'] ?? 0;
  const lastToken = () => tokensSeen.at(-1) ?? '';
  const getCredential = async () => (await t.request('GET', `${API}/credentials/${credentialId}`, { token: t.adminToken })).body;
  const testCredential = () => t.request('POST', `${API}/credentials/${credentialId}/test`, { token: t.adminToken, body: { component: 'dropbox', inputs: { apiBaseUrl: dropbox.baseUrl } } });
  /** Waits, no longer than just past the TTL, until the provider no longer accepts `token`. */
  const waitUntilExpired = (token: string) =>
    waitFor('the access token to expire at the provider', async () => ((await oauth.introspect(token)).active ? undefined : true), (TTL_SECONDS + 3) * 1000);
  /** Asserts with booleans only, so a failure does not print the secret it found. */
  const expectNoSecrets = (text: string) => {
    expect(tokensSeen.length).toBeGreaterThan(0);
    expect(tokensSeen.some((token) => text.includes(token))).toBe(false);
    expect(text.includes(CLIENT_SECRET)).toBe(false);
  };

  beforeAll(async () => {
    t = await startTestApp(engine, { listen: true, env: { CREDENCE_ALLOW_INSECURE_LOOPBACK: 'true' } });
    oauth = await startOAuthServer({
      clients: [{ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUris: [`${t.baseUrl}/oauth2/callback`] }],
      accessTokenTtlSeconds: TTL_SECONDS,
      // Dropbox's own scopes, which its actions declare they need.
      scopes: ['files.metadata.read', 'account_info.read'],
    });
    dropbox = await startDropboxServer({
      files: FILES,
      pageSize: 2,
      acceptToken: async (token) => {
        tokensSeen.push(token);
        return (await oauth.introspect(token)).active;
      },
    });
    peer = await startHttpPeer({ username: 'unused', password: randomBytes(8).toString('hex'), apiKey: randomBytes(8).toString('hex') });
    customerId = await createCustomer(t, 'Northwind Traders');
  });

  afterAll(async () => {
    await Promise.all([t?.close(), oauth?.close(), dropbox?.close(), peer?.close()]);
  });

  it('lists dropbox among the components, its listFolder action requiring an oauth2 credential', async () => {
    const response = await t.request('GET', `${API}/components`, { token: t.adminToken });
    expect(response.status).toBe(200);
    const component = response.body.items.find((item: { key: string }) => item.key === 'dropbox');
    expect(component).toMatchObject({ key: 'dropbox', name: 'Dropbox', testAction: 'getCurrentAccount' });
    const listFolder = component.actions.find((action: { key: string }) => action.key === 'listFolder');
    expect(listFolder).toMatchObject({ authMethods: ['oauth2'], credentialRequired: true });
    expect(Object.keys(listFolder.inputs.properties)).toEqual(expect.arrayContaining(['path', 'apiBaseUrl']));
  });

  it('authorizes the customer\'s Dropbox credential through an authorization link and tests it with a real call', async () => {
    credentialId = await createCredential(t, {
      label: 'Northwind Dropbox',
      authMethod: 'oauth2',
      customerId,
      provider: 'dropbox',
      // The fake Dropbox API on loopback stands in for api.dropboxapi.com.
      destinations: [dropbox.baseUrl],
      fields: { client_id: CLIENT_ID, client_secret: CLIENT_SECRET, auth_uri: oauth.authorizationEndpoint, token_uri: oauth.tokenEndpoint, scopes: 'files.metadata.read account_info.read offline_access' },
    });
    expect((await getCredential()).status).toBe('pending_authorization');
    const link = await t.request('POST', `${API}/credentials/${credentialId}/authorization-link`, { token: t.adminToken, body: {} });
    expect(link.status, link.text).toBe(201);
    const followed = await followAuthorization(String(link.body.url));
    expect(followed.finalStatus).toBe(200);
    expect(followed.finalUrl).toBe(`${t.baseUrl}/oauth2/complete`);
    expect(oauth.tokenRequestLog.at(-1)).toEqual({ grantType: 'authorization_code', status: 200, overridden: false });
    expect((await getCredential()).status).toBe('authorized');

    const tested = await testCredential();
    expect(tested.status, tested.text).toBe(200);
    expect(tested.body).toEqual({ ok: true, message: `It works: signed in as ${DROPBOX_TEST_ACCOUNT.displayName}`, durationMs: expect.any(Number) });
    expect((await getCredential()).lastTest).toMatchObject({ ok: true, message: tested.body.message });
    expectNoSecrets(tested.text);
  });

  it('runs an instance binding the credential, listing every file of the folder across pages and handing a name to the next step', async () => {
    const integrationId = await createIntegration(t, 'List Dropbox folder', [
      { name: 'list', component: 'dropbox', action: 'listFolder', inputs: { path: '/Reports', apiBaseUrl: dropbox.baseUrl } },
      { name: 'fetch', component: 'http', action: 'request', inputs: { url: `${peer.baseUrl}/files/{{steps.list.entries.0.name}}` } },
    ]);
    instanceId = await deployed(t, { integrationId, customerId, name: 'Northwind reports', bindings: { list: credentialId } });
    const dropboxRequests = dropbox.requests;
    const peerRequests = peer.requests.length;

    const run = await runInstance(t, instanceId);
    expect(run.status, run.text).toBe(201);
    expect(run.body).toMatchObject({ instanceId, status: 'succeeded', error: null });
    const [list, fetched] = run.body.steps;
    expect(list).toMatchObject({ name: 'list', status: 'succeeded', credentialId, error: null });
    expect(list.output.entries.map((entry: { name: string }) => entry.name)).toEqual(REPORTS);
    expect(list.output.entries[0]).toMatchObject({ tag: 'file', pathDisplay: '/Reports/q1-revenue.pdf', size: 1000 });
    // Five files, two a page: list_folder and two list_folder/continue calls.
    expect(dropbox.requests - dropboxRequests).toBe(3);
    expect(fetched).toMatchObject({ name: 'fetch', status: 'succeeded', credentialId: null });
    expect(fetched.output.body).toEqual({ file: 'q1-revenue.pdf' });
    expect(peer.requests.slice(peerRequests).map((request) => request.path)).toEqual(['/files/q1-revenue.pdf']);
    firstRun = { id: run.body.id, text: run.text };
  });

  it('reads the same run back, with neither the access token nor the client secret anywhere in it', async () => {
    const read = await t.request('GET', `${API}/instances/${instanceId}/runs/${firstRun.id}`, { token: t.adminToken });
    expect(read.status).toBe(200);
    expect(read.body).toEqual(JSON.parse(firstRun.text));
    expectNoSecrets(firstRun.text);
    expectNoSecrets(read.text);
  });

  it('refreshes the access token once it has expired at the provider, and the next run succeeds', { timeout: 30_000 }, async () => {
    const usedBefore = lastToken();
    await waitUntilExpired(usedBefore);
    const refreshesBefore = refreshRequests();

    const run = await runInstance(t, instanceId);
    expect(run.status, run.text).toBe(201);
    expect(run.body.status).toBe('succeeded');
    expect(run.body.steps[0].output.entries.map((entry: { name: string }) => entry.name)).toEqual(REPORTS);
    expect(refreshRequests()).toBe(refreshesBefore + 1);
    expect(oauth.tokenRequestLog.at(-1)).toEqual({ grantType: 'refresh_token', status: 200, overridden: false });
    expect(lastToken()).not.toBe(usedBefore);
    expect((await oauth.introspect(lastToken())).active).toBe(true);
    expect((await getCredential()).status).toBe('authorized');
    expectNoSecrets(run.text);
  });

  it('fails the run with an authorization error once the provider refuses the refresh, and the credential test says so', { timeout: 30_000 }, async () => {
    oauth.revokeRefreshTokens();
    await waitUntilExpired(lastToken());
    const dropboxRequests = dropbox.requests;

    const run = await runInstance(t, instanceId);
    expect(run.status, run.text).toBe(201);
    expect(run.body.status).toBe('failed');
    expect(run.body.steps[0]).toMatchObject({ name: 'list', status: 'failed', output: null });
    expect(run.body.steps[0].error).toMatch(/authoriz/i);
    expect(run.body.steps[1]).toMatchObject({ name: 'fetch', status: 'skipped' });
    expect(run.body.error).toMatch(/^Step list failed: .*authoriz/i);
    expect(oauth.tokenRequestLog.at(-1)).toMatchObject({ grantType: 'refresh_token', status: 400 });
    // The expired token was never sent to Dropbox.
    expect(dropbox.requests).toBe(dropboxRequests);
    expectNoSecrets(run.text);

    const tested = await testCredential();
    expect(tested.status, tested.text).toBe(200);
    expect(tested.body.ok).toBe(false);
    expect(tested.body.message).toMatch(/authoriz/i);
    const credential = await getCredential();
    expect(credential.status).toBe('reauthorization_required');
    expect(credential.lastTest).toMatchObject({ ok: false, message: tested.body.message });
    expectNoSecrets(tested.text);
  });
});
