import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/databases.js';
import { startDropboxServer, type DropboxServer } from '../support/dropbox-server.js';
import { followAuthorization } from '../support/oauth-server.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { API, apiOfApp, authorizeCredential, createOAuthCredential, getCredential, resolveCredential, startProvider, type Provider } from './oauth-fixtures.js';

// A reconnect must come back for the provider account the credential was first authorized
// for (the ID token's sub, from the real OpenID provider on loopback); another account is
// refused and the old grant stays, unless the link was issued with allowAccountChange.

describe.each(ENGINES)('reconnect pinned to the account on %s', (engine) => {
  let t: TestApp;
  let provider: Provider;
  let credentialId: string;
  let runtimeToken: string;

  beforeAll(async () => {
    t = await startTestApp(engine, { listen: true, env: { CREDENCE_ALLOW_INSECURE_LOOPBACK: 'true' } });
    provider = await startProvider(t.baseUrl);
    credentialId = (await createOAuthCredential(apiOfApp(t), t.adminToken, provider, { scopes: 'openid files.read offline_access' })).id as string;
    runtimeToken = await t.token('runtime');
    await authorizeCredential(apiOfApp(t), t.adminToken, credentialId);
  });
  afterAll(async () => {
    await provider?.server.close();
    await t?.close();
  });

  const reconnect = async (body: Record<string, unknown> = {}) => {
    const link = await t.request('POST', `${API}/credentials/${credentialId}/authorization-link`, { token: t.adminToken, body });
    expect(link.status, link.text).toBe(201);
    return followAuthorization(String(link.body.url));
  };
  const events = async (action: string) => (await t.request('GET', `${API}/audit-events?action=${action}&targetId=${credentialId}`, { token: t.adminToken })).body.items;

  it('refuses a reconnect that signs in as another account, with a clear page, and the old token still resolves', async () => {
    const before = await resolveCredential(apiOfApp(t), runtimeToken, credentialId);
    expect(before.status).toBe(200);
    provider.server.setAccount('someone-else');
    const refused = await reconnect();
    expect(refused.finalStatus).toBe(409);
    expect(refused.finalBody).toContain('different account');
    expect(await events('oauth.account_mismatch')).toHaveLength(1);

    const after = await resolveCredential(apiOfApp(t), runtimeToken, credentialId);
    expect(after.status).toBe(200);
    expect(after.body.token.accessToken).toBe(before.body.token.accessToken);
    expect((await getCredential(apiOfApp(t), t.adminToken, credentialId)).status).toBe('authorized');
  });

  it('shows the scopes asked for beside those granted', async () => {
    const { oauth2 } = await getCredential(apiOfApp(t), t.adminToken, credentialId);
    expect(oauth2.requestedScopes).toEqual(['openid', 'files.read', 'offline_access']);
    expect(oauth2.grantedScopes.split(' ').sort()).toEqual(['files.read', 'offline_access', 'openid']);
    expect(oauth2.missingScopes).toEqual([]);
  });

  it('lets the original account reconnect', async () => {
    provider.server.setAccount('customer-1');
    const again = await reconnect();
    expect(again.finalStatus).toBe(200);
    expect(again.finalBody).toContain('Authorization complete');
    expect((await events('oauth.authorized'))[0].details).toMatchObject({ accountKnown: true, accountChanged: false });
  });

  it('attaches another account through a link issued with allowAccountChange, and pins the new one from then on', async () => {
    provider.server.setAccount('new-owner');
    const changed = await reconnect({ allowAccountChange: true });
    expect(changed.finalStatus).toBe(200);
    expect((await events('oauth.authorized'))[0].details).toMatchObject({ accountKnown: true, accountChanged: true });
    // The first account is now the other one.
    provider.server.setAccount('customer-1');
    expect((await reconnect()).finalStatus).toBe(409);
    provider.server.setAccount('new-owner');
    expect((await reconnect()).finalStatus).toBe(200);
  });
});

describe.each(ENGINES)('reconnect pinned through the preset identity endpoint on %s', (engine) => {
  let t: TestApp;
  let provider: Provider;
  let dropbox: DropboxServer;
  let account = 'dbid:first-account';

  beforeAll(async () => {
    t = await startTestApp(engine, { listen: true, env: { CREDENCE_ALLOW_INSECURE_LOOPBACK: 'true' } });
    provider = await startProvider(t.baseUrl);
    dropbox = await startDropboxServer({ acceptToken: async () => true, files: [], accountId: () => account });
  });
  afterAll(async () => {
    await dropbox?.close();
    await provider?.server.close();
    await t?.close();
  });

  it("learns the account from Dropbox's get_current_account when there is no ID token, and refuses a reconnect as another account", async () => {
    const created = await t.request('POST', `${API}/credentials`, {
      token: t.adminToken,
      body: {
        label: 'Dropbox without OpenID',
        authMethod: 'oauth2',
        provider: 'dropbox',
        destinations: [dropbox.baseUrl],
        fields: { client_id: provider.client.clientId, client_secret: provider.client.clientSecret, auth_uri: provider.server.authorizationEndpoint, token_uri: provider.server.tokenEndpoint, scopes: 'files.read offline_access' },
      },
    });
    expect(created.status, created.text).toBe(201);
    const id = created.body.id as string;
    await authorizeCredential(apiOfApp(t), t.adminToken, id);
    const authorized = (await t.request('GET', `${API}/audit-events?action=oauth.authorized&targetId=${id}`, { token: t.adminToken })).body.items;
    expect(authorized[0].details).toMatchObject({ accountKnown: true });

    account = 'dbid:someone-else';
    const link = await t.request('POST', `${API}/credentials/${id}/authorization-link`, { token: t.adminToken, body: {} });
    const refused = await followAuthorization(String(link.body.url));
    expect(refused.finalStatus).toBe(409);
    expect(refused.finalBody).toContain('different account');
    account = 'dbid:first-account';
    const again = await t.request('POST', `${API}/credentials/${id}/authorization-link`, { token: t.adminToken, body: {} });
    expect((await followAuthorization(String(again.body.url))).finalStatus).toBe(200);
  });
});
