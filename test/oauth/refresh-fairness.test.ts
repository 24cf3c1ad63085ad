import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { apiOfApp, createOAuthCredential, getCredential, startProvider, waitFor, type Provider } from './oauth-fixtures.js';

// One tenant's token endpoint accepts connections and never answers. Its grants fall due
// first, and with nobody else due they take every lane but the reserve; another tenant's grant
// falls due while they all hang. The other tenant's token must not wait for the hung requests
// to time out.

const startSilentEndpoint = async (): Promise<{ server: Server; tokenUri: string; requests: () => number }> => {
  let requests = 0;
  const server = createServer(() => {
    requests += 1;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, tokenUri: `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`, requests: () => requests };
};

const setDue = async (t: TestApp, credentialId: string, msAgo: number) => {
  await t.runtime.store.db.updateTable('oauth_grants').set({ refresh_due_at: new Date(Date.now() - msAgo).toISOString() }).where('credential_id', '=', credentialId).execute();
};

const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

describe.each(ENGINES)('refresh fairness on %s', (engine) => {
  it("gets another organization's first token within seconds of falling due while 30 grants of one tenant hang at its token endpoint", async () => {
    const t = await startTestApp(engine, {
      listen: true,
      env: { CREDENCE_ALLOW_INSECURE_LOOPBACK: 'true', CREDENCE_TOKEN_REQUEST_TIMEOUT_MS: '20000', CREDENCE_REFRESH_LEASE_MS: '60000', CREDENCE_REFRESH_MAX_PER_ORGANIZATION: '5', CREDENCE_REFRESH_CONCURRENCY: '10' },
    });
    const silent = await startSilentEndpoint();
    const provider: Provider = await startProvider(t.baseUrl);
    cleanups.push(async () => {
      await t.runtime.services.refreshWorker.stop();
      await provider.server.close();
      await t.close();
    });
    const api = apiOfApp(t);

    const stuck = { ...provider, server: { ...provider.server, tokenEndpoint: silent.tokenUri } } as Provider;
    const tenantA: string[] = [];
    for (let i = 0; i < 30; i += 1) tenantA.push((await createOAuthCredential(api, t.adminToken, stuck, { grantType: 'client_credentials' })).id as string);
    const other = await t.otherOrganization('Tenant B');
    const tenantB = (await createOAuthCredential(api, other.adminToken, provider, { grantType: 'client_credentials' })).id as string;
    for (const id of tenantA) await setDue(t, id, 60_000);
    const dueAt = Date.now() + 2000;
    await setDue(t, tenantB, Date.now() - dueAt);

    t.runtime.services.refreshWorker.start();
    const view = await waitFor('tenant B authorized', async () => {
      const current = await getCredential(api, other.adminToken, tenantB);
      return current.status === 'authorized' ? current : undefined;
    }, 30_000, 100);
    const lag = Date.now() - dueAt;

    expect(view.oauth2.lastError).toBeNull();
    expect(lag).toBeLessThan(3000);
    // Tenant A's requests are still hanging: past its cap of 5 (nobody else was due), never in the reserved lane.
    expect(silent.requests()).toBeGreaterThan(5);
    expect(silent.requests()).toBeLessThanOrEqual(9);
    const leased = await t.runtime.store.db.selectFrom('oauth_grants').select('credential_id').where('organization_id', '=', t.organizationId).where('lease_expires_at', '>', new Date().toISOString()).execute();
    expect(leased.length).toBeLessThanOrEqual(9);

    // Hung requests end when the endpoint goes away; the worker then stops at once.
    silent.server.closeAllConnections();
    await new Promise<void>((resolve) => silent.server.close(() => resolve()));
  }, 60_000);
});
