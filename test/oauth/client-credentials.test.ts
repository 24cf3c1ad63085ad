import { afterAll, describe, it } from 'vitest';
import { ENGINES, type EngineName } from '../support/databases.js';
import { API, authorizedScenario, getCredential, ms, resolveCredential, sleepUntil, type Scenario } from './oauth-fixtures.js';

// The client-credentials grant: nobody authorizes anything; the worker fetches the token and
// keeps renewing it. The test OAuth server registers every client for client_credentials.

const open = new Set<Scenario>();
afterAll(async () => {
  await Promise.all([...open].map((scenario) => scenario.close()));
});

const scenario = async (engine: EngineName): Promise<Scenario> => {
  const s = await authorizedScenario(engine, { accessTokenTtlSeconds: 5, grantType: 'client_credentials', authorize: false });
  open.add(s);
  return s;
};

const done = async (s: Scenario) => {
  open.delete(s);
  await s.close();
};

const clientCredentialsRequests = (s: Scenario): number => s.server.tokenRequestsByGrantType['client_credentials'] ?? 0;

describe.each(ENGINES)('OAuth 2.0 client credentials on %s', (engine) => {
  describe.concurrent('a client-credentials credential', () => {
    it('gets its token on the next worker pass with no customer step, and resolve returns it', async ({ expect }) => {
      const s = await scenario(engine);
      expect(s.authorized.status).toBe('pending_authorization');
      expect(s.authorized.oauth2).toMatchObject({ grantType: 'client_credentials', tokenExpiresAt: null, lastRefreshedAt: null });
      expect(s.authorized.oauth2.nextRefreshAt).not.toBeNull();
      expect(s.server.tokenRequests).toBe(0);

      expect(await s.t.runtime.services.refreshWorker.tick()).toBe(1);
      expect(clientCredentialsRequests(s)).toBe(1);
      expect(s.server.tokenRequests).toBe(1);
      const view = await getCredential(s.api, s.t.adminToken, s.credentialId);
      expect(view.status).toBe('authorized');
      expect(view.oauth2.lastError).toBeNull();
      expect(ms(view.oauth2.tokenExpiresAt) - ms(view.oauth2.lastRefreshedAt)).toBe(5000);
      expect(ms(view.oauth2.nextRefreshAt)).toBeLessThan(ms(view.oauth2.tokenExpiresAt));

      const resolved = await resolveCredential(s.api, s.runtimeToken, s.credentialId);
      expect(resolved.status).toBe(200);
      expect(resolved.body.status).toBe('authorized');
      expect(resolved.body.token).toMatchObject({ expiresAt: view.oauth2.tokenExpiresAt, scopes: 'files.read' });
      expect(await s.server.introspect(resolved.body.token.accessToken)).toMatchObject({ active: true, client_id: s.provider.client.clientId, scope: 'files.read' });
      expect(clientCredentialsRequests(s)).toBe(1);
      await done(s);
    });

    it('is renewed by the worker before its token expires, and on demand by resolve past half its life', async ({ expect }) => {
      const s = await scenario(engine);
      expect(await s.t.runtime.services.refreshWorker.tick()).toBe(1);
      const first = await getCredential(s.api, s.t.adminToken, s.credentialId);
      const firstToken = (await resolveCredential(s.api, s.runtimeToken, s.credentialId)).body.token.accessToken as string;

      await sleepUntil(first.oauth2.nextRefreshAt, 20);
      expect(await s.t.runtime.services.refreshWorker.tick()).toBe(1);
      expect(clientCredentialsRequests(s)).toBe(2);
      const second = await getCredential(s.api, s.t.adminToken, s.credentialId);
      expect(second.status).toBe('authorized');
      expect(ms(second.oauth2.lastRefreshedAt)).toBeLessThan(ms(first.oauth2.tokenExpiresAt));
      const secondToken = (await resolveCredential(s.api, s.runtimeToken, s.credentialId)).body.token.accessToken as string;
      expect(secondToken).not.toBe(firstToken);

      await sleepUntil(second.oauth2.lastRefreshedAt, 2700);
      const onDemand = await resolveCredential(s.api, s.runtimeToken, s.credentialId);
      expect(onDemand.status).toBe(200);
      expect(onDemand.body.token.accessToken).not.toBe(secondToken);
      expect(clientCredentialsRequests(s)).toBe(3);
      expect((await s.server.introspect(onDemand.body.token.accessToken)).active).toBe(true);
      expect(s.server.tokenRequestsByGrantType['refresh_token']).toBeUndefined();
      await done(s);
    });

    it('refuses an authorization link, since nobody has anything to authorize', async ({ expect }) => {
      const s = await scenario(engine);
      const link = await s.api('POST', `${API}/credentials/${s.credentialId}/authorization-link`, { token: s.t.adminToken, body: {} });
      expect(link.status).toBe(400);
      expect(link.body.error.code).toBe('NOT_OAUTH2');
      expect(s.server.tokenRequests).toBe(0);
      await done(s);
    });
  });
});
