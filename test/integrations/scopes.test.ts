import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/databases.js';
import { followAuthorization } from '../support/oauth-server.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { API, apiOfApp, authorizeCredential, createOAuthCredential, getCredential, startProvider, type Provider } from '../oauth/oauth-fixtures.js';
import { createCustomer, createIntegration, deploy } from './fixtures.js';

// A component action names the scopes its token must carry; deploying an instance whose
// bound credential was not granted them is refused with the step and the scopes named, and
// a new link asking for the union of scopes fixes it.

const DROPBOX_BASE = 'http://127.0.0.1:9';

describe.each(ENGINES)('scopes an action needs on %s', (engine) => {
  let t: TestApp;
  let provider: Provider;

  beforeAll(async () => {
    t = await startTestApp(engine, { listen: true, env: { CREDENCE_ALLOW_INSECURE_LOOPBACK: 'true' } });
    provider = await startProvider(t.baseUrl, { scopes: ['account_info.read'] });
  });
  afterAll(async () => {
    await provider?.server.close();
    await t?.close();
  });

  it('refuses to deploy a step whose credential lacks the scopes, names them, and deploys once a link asked for them', async () => {
    const api = apiOfApp(t);
    const customer = await createCustomer(t, 'Scoped customer');
    const credential = await createOAuthCredential(api, t.adminToken, provider, { scopes: 'files.read offline_access' });
    await t.request('PATCH', `${API}/credentials/${credential.id}`, {
      token: t.adminToken,
      body: { destinations: [DROPBOX_BASE], fields: { client_secret: provider.client.clientSecret } },
    });
    await authorizeCredential(api, t.adminToken, credential.id);
    const integration = await createIntegration(t, 'Who am I', [{ name: 'whoami', component: 'dropbox', action: 'getCurrentAccount', inputs: { apiBaseUrl: DROPBOX_BASE } }]);

    const refused = await deploy(t, { integrationId: integration, customerId: customer, name: 'Scoped', bindings: { whoami: credential.id } });
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('MISSING_SCOPES');
    expect(refused.body.error.message).toContain('step whoami');
    expect(refused.body.error.message).toContain('account_info.read');

    const link = await t.request('POST', `${API}/credentials/${credential.id}/authorization-link`, { token: t.adminToken, body: { addScopes: ['account_info.read'] } });
    expect(link.status, link.text).toBe(201);
    expect((await getCredential(api, t.adminToken, credential.id)).oauth2.requestedScopes).toEqual(['files.read', 'offline_access', 'account_info.read']);
    const followed = await followAuthorization(String(link.body.url));
    expect(followed.finalStatus).toBe(200);
    expect((await getCredential(api, t.adminToken, credential.id)).oauth2.grantedScopes.split(' ')).toContain('account_info.read');

    const deployed = await deploy(t, { integrationId: integration, customerId: customer, name: 'Scoped', bindings: { whoami: credential.id } });
    expect(deployed.status, deployed.text).toBe(201);
  });

  it('lists the scopes each action needs', async () => {
    const components = await t.request('GET', `${API}/components`, { token: t.adminToken });
    const dropbox = components.body.items.find((c: { key: string }) => c.key === 'dropbox');
    expect(dropbox.actions.find((a: { key: string }) => a.key === 'getCurrentAccount').scopes).toEqual(['account_info.read']);
    expect(components.body.items.find((c: { key: string }) => c.key === 'http').actions[0].scopes).toEqual([]);
  });
});
