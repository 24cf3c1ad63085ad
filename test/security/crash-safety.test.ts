import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt } from '../cli/cli-harness.js';
import { followAuthorization } from '../support/oauth-server.js';
import { waitFor, type Api } from '../oauth/oauth-fixtures.js';
import { ENGINES } from '../support/databases.js';
import { prepareDeployment, startFakeProvider, type Deployment, type FakeProvider, type Started } from './crash-harness.js';

// Crash safety: `credence serve` (the built command) is killed with SIGKILL at chosen
// points and started again on the same database. Whatever was acknowledged must still be
// there and readable, nothing may be half-written, and an OAuth token whose refresh was
// cut off must end up either refreshed or clearly marked, never silently wrong.

const API = '/api/v1';

interface Acknowledged {
  label: string;
  fields: Record<string, string>;
}

const listAll = async (api: Api, token: string, path: string): Promise<any[]> => {
  const items: any[] = [];
  let cursor: string | null = null;
  do {
    const response: { status: number; body: any } = await api('GET', `${path}${path.includes('?') ? '&' : '?'}limit=200${cursor ? `&cursor=${cursor}` : ''}`, { token });
    if (response.status !== 200) throw new Error(`GET ${path}: ${response.status} ${JSON.stringify(response.body)}`);
    items.push(...response.body.items);
    cursor = response.body.nextCursor;
  } while (cursor);
  return items;
};

/** Fires `total` writes, eight at a time; SIGKILLs the server once `killAfter` were acknowledged. */
const burst = async (d: Deployment, server: Started, total: number, killAfter: number, write: (i: number) => Promise<string | undefined>) => {
  let next = 0;
  let acknowledged = 0;
  let kill: Promise<NodeJS.Signals | null> | undefined;
  const lane = async () => {
    while (next < total && !kill) {
      const i = next++;
      try {
        if ((await write(i)) !== undefined) acknowledged += 1;
      } catch {
        // Cut off by the kill: neither acknowledged nor refused.
      }
      if (acknowledged >= killAfter) kill ??= d.kill(server.server);
    }
  };
  await Promise.all(Array.from({ length: 8 }, lane));
  return { signal: await (kill ?? d.kill(server.server)), attempted: next };
};

/**
 * Authorizes an oauth2 credential against the fake provider, then makes its refresh due
 * and kills the server when the provider gets the refresh request (`when`: before or
 * right after the answer goes out). Restarts with the dead process's lease run out, waits
 * until the credential settles; the restarted server is left running for the next test.
 */
const refreshCutOff = async (d: Deployment, providers: FakeProvider[], rotate: boolean, when: 'before-answer' | 'after-answer') => {
  const provider = await startFakeProvider({ rotate });
  providers.push(provider);
  const first = await d.live();
  const created = await first.api('POST', `${API}/credentials`, {
    token: d.adminToken,
    body: {
      label: 'Cut-off refresh',
      authMethod: 'oauth2',
      fields: { client_id: provider.clientId, client_secret: provider.clientSecret, auth_uri: `${provider.origin}/authorize`, token_uri: `${provider.origin}/token`, scopes: 'files.read' },
    },
  });
  expect(created.status).toBe(201);
  const id = created.body.id as string;
  const link = await first.api('POST', `${API}/credentials/${id}/authorization-link`, { token: d.adminToken, body: {} });
  expect((await followAuthorization(String(link.body.url))).finalBody).toContain('Authorization complete');
  const [original] = provider.accessTokens;

  const killed = new Promise<NodeJS.Signals | null>((resolve) => {
    provider.onRefresh = async (answer) => {
      if (when === 'before-answer') {
        resolve(await d.kill(first.server));
        answer();
      } else {
        answer(() => void d.kill(first.server).then(resolve));
      }
    };
  });
  await d.sql('update oauth_grants set refresh_due_at = ? where credential_id = ?', [new Date(Date.now() - 1000).toISOString(), id]);
  const signal = await waitFor('the refresh request and the kill', () => Promise.race([killed, new Promise<undefined>((r) => setTimeout(() => r(undefined), 200))]), 15_000);
  expect(signal).toBe('SIGKILL');
  const [row] = await d.sql('select lease_owner from oauth_grants where credential_id = ?', [id]);
  // Standing in for the dead process's 60-second lease running out.
  await d.sql('update oauth_grants set lease_expires_at = ? where credential_id = ?', ['2000-01-01T00:00:00.000Z', id]);

  const second = await d.live();
  const runtime = (await second.api('POST', `${API}/api-tokens`, { token: d.adminToken, body: { name: 'runner', role: 'runtime' } })).body.token as string;
  const settled = await waitFor('the credential to settle', async () => {
    // The grant first: a credential read after it is at least as new (status and grant change in one transaction).
    const grant = (await d.sql('select lease_owner, refresh_due_at from oauth_grants where credential_id = ?', [id]))[0];
    const credential = (await second.api('GET', `${API}/credentials/${id}`, { token: d.adminToken })).body;
    const rescheduled = grant?.refresh_due_at != null && Date.parse(String(grant.refresh_due_at)) > Date.now();
    return credential.status === 'reauthorization_required' || (credential.status === 'authorized' && rescheduled && grant?.lease_owner === null) ? credential : undefined;
  }, 15_000, 100);
  const resolved = await second.api('POST', `${API}/credentials/${id}/resolve`, { token: runtime });
  const events = await listAll(second.api, d.adminToken, `${API}/audit-events?targetId=${id}`);
  return { provider, original, settled, resolved, events, leaseHeldByTheDead: row?.lease_owner !== null };
};


describe.each(ENGINES)('crash safety of credence serve on %s', (engine) => {
  let d: Deployment;
  const providers: FakeProvider[] = [];
  beforeAll(async () => {
    assertBuilt();
    d = await prepareDeployment(engine);
  });
  afterAll(async () => {
    await d?.close();
    await Promise.all(providers.map((p) => p.close()));
  });

  describe('after a kill -9 in the middle of 60 writes', () => {
    const credentials = new Map<string, Acknowledged>();
    const customers: string[] = [];
    let outcome: { signal: NodeJS.Signals | null; attempted: number };
    let second: Started;
    let runtime = '';
    let burstCustomer = '';

    beforeAll(async () => {
      const first = await d.live();
      burstCustomer = (await first.api('POST', `${API}/customers`, { token: d.adminToken, body: { name: 'Burst customer' } })).body.id as string;
      // Two writes in three store a credential (organization or customer level); every third creates
      // a customer, whose new data key is wrapped by the root key in the same transaction.
      outcome = await burst(d, first, 60, 25, async (i) => {
        if (i % 3 === 2) {
          const response = await first.api('POST', `${API}/customers`, { token: d.adminToken, body: { name: `Keyed customer ${i}` } });
          if (response.status === 201) customers.push(response.body.id as string);
          return response.status === 201 ? (response.body.id as string) : undefined;
        }
        const fields = { api_key: `key-${i}-${randomBytes(8).toString('hex')}`, api_secret: randomBytes(24).toString('base64') };
        const label = `Burst ${i}`;
        const body = { label, authMethod: 'api_key_secret', fields, ...(i % 3 === 1 ? { customerId: burstCustomer } : {}) };
        const response = await first.api('POST', `${API}/credentials`, { token: d.adminToken, body });
        if (response.status !== 201) return undefined;
        credentials.set(response.body.id as string, { label, fields });
        return response.body.id as string;
      });
      second = await d.live();
      runtime = (await second.api('POST', `${API}/api-tokens`, { token: d.adminToken, body: { name: 'runner', role: 'runtime' } })).body.token as string;
    }, 60_000);

    it('was killed by SIGKILL part-way, with writes still in flight', () => {
      expect(outcome.signal).toBe('SIGKILL');
      expect(credentials.size + customers.length).toBeGreaterThanOrEqual(25);
      expect(outcome.attempted).toBeLessThan(60);
    });

    it('keeps every acknowledged credential, which resolves to exactly the values sent', async () => {
      expect(credentials.size).toBeGreaterThanOrEqual(12);
      for (const [id, { label, fields }] of credentials) {
        const resolved = await second.api('POST', `${API}/credentials/${id}/resolve`, { token: runtime });
        expect({ status: resolved.status, label: resolved.body.label, fields: resolved.body.fields }).toEqual({ status: 200, label, fields });
      }
    });

    it('leaves nothing half-written: every stored credential opens and has exactly its one creation event', async () => {
      const stored = await listAll(second.api, d.adminToken, `${API}/credentials`);
      expect(stored.length).toBeGreaterThanOrEqual(credentials.size);
      expect(stored.length).toBeLessThanOrEqual(outcome.attempted);
      for (const credential of stored) {
        expect((await second.api('POST', `${API}/credentials/${credential.id}/resolve`, { token: runtime })).status).toBe(200);
      }
      const created = await listAll(second.api, d.adminToken, `${API}/audit-events?action=credential.created`);
      expect(created.map((event) => event.targetId).sort()).toEqual(stored.map((credential) => credential.id).sort());
    });

    it('starts again with every data key written before the kill, and each acknowledged customer seals and opens a new credential', async () => {
      // Starting at all proves the root key opens every stored data key (the server refuses otherwise).
      expect(customers.length).toBeGreaterThanOrEqual(6);
      const all = await listAll(second.api, d.adminToken, `${API}/customers`);
      expect(all.map((c) => c.id)).toEqual(expect.arrayContaining(customers));
      for (const customer of all) {
        const fields = { api_key: randomBytes(12).toString('hex') };
        const created = await second.api('POST', `${API}/credentials`, { token: d.adminToken, body: { label: 'After restart', authMethod: 'api_key', customerId: customer.id, fields } });
        expect(created.status).toBe(201);
        const resolved = await second.api('POST', `${API}/credentials/${created.body.id}/resolve`, { token: runtime });
        expect({ status: resolved.status, fields: resolved.body.fields }).toEqual({ status: 200, fields });
      }
    });
  });

  it('resumes a key rotation killed part-way once restarted: every value still opens and ends under the new key version', async () => {
    const { api, server } = await d.live();
    const token = d.adminToken;
    const customer = (await api('POST', `${API}/customers`, { token, body: { name: 'Rotated customer' } })).body.id as string;
    const values = new Map<string, Record<string, string>>();
    for (let i = 0; i < 100; i += 1) {
      const fields = { username: `user-${i}`, password: randomBytes(12).toString('hex') };
      const created = await api('POST', `${API}/credentials`, { token, body: { label: `Rotated ${i}`, authMethod: 'basic', customerId: customer, fields } });
      values.set(created.body.id as string, fields);
    }
    const rotation = await api('POST', `${API}/keys/rotate`, { token, body: { scope: customer } });
    expect(rotation.status).toBe(202);
    const jobId = rotation.body.jobId as string;
    const partWay = await waitFor('the rotation to be part-way', async () => {
      const job = (await api('GET', `${API}/keys/jobs/${jobId}`, { token })).body;
      return (job.status === 'running' && job.done > 0) || job.status === 'done' ? job : undefined;
    }, 15_000, 5);
    expect(await d.kill(server)).toBe('SIGKILL');
    expect(partWay.status).toBe('running');
    const [row] = await d.sql('select status, done, total from key_rotation_jobs where id = ?', [jobId]);
    expect(row?.status).toBe('running');
    expect(Number(row?.done)).toBeLessThan(values.size);
    // Standing in for the dead worker's 60-second lease on the job running out.
    await d.sql('update key_rotation_jobs set lease_expires_at = ? where id = ?', ['2000-01-01T00:00:00.000Z', jobId]);

    const next = await d.live();
    const finished = await waitFor('the job to finish', async () => {
      const job = (await next.api('GET', `${API}/keys/jobs/${jobId}`, { token })).body;
      return job.status === 'running' || job.status === 'pending' ? undefined : job;
    }, 30_000, 100);
    expect(finished).toMatchObject({ status: 'done', failed: 0, version: 2 });
    expect(finished.done).toBeGreaterThanOrEqual(values.size);
    const runtime = (await next.api('POST', `${API}/api-tokens`, { token, body: { name: 'runner', role: 'runtime' } })).body.token as string;
    for (const [id, fields] of values) {
      const resolved = await next.api('POST', `${API}/credentials/${id}/resolve`, { token: runtime });
      expect({ status: resolved.status, fields: resolved.body.fields }).toEqual({ status: 200, fields });
    }
    const scope = (await listAll(next.api, token, `${API}/keys`)).find((entry) => entry.scopeId === customer);
    expect(scope?.currentVersion).toBe(2);
    expect(scope?.versions.find((version: { version: number }) => version.version === 1)?.retiredAt).toEqual(expect.any(String));
  }, 60_000);

  it('marks a credential reauthorization_required, and says so on resolve, when the process died after the provider rotated the refresh token but before the commit', async () => {
    const { provider, original, settled, resolved, events, leaseHeldByTheDead } = await refreshCutOff(d, providers, true, 'before-answer');
    expect(leaseHeldByTheDead).toBe(true);
    expect(provider.log.map((entry) => `${entry.grantType} ${entry.status}`)).toEqual(['authorization_code 200', 'refresh_token 200', 'refresh_token 400']);
    expect(settled.status).toBe('reauthorization_required');
    expect(settled.oauth2.lastError).toBe('invalid_grant');
    expect(events.map((event) => event.action)).toContain('oauth.reauthorization_required');
    expect(resolved.status).toBe(200);
    expect(resolved.body.status).toBe('reauthorization_required');
    // The last access token stays usable until it expires; the refresh that never landed is not shown as a token.
    expect([null, original]).toContain(resolved.body.token?.accessToken ?? null);
  }, 60_000);
});

describe('crash safety of a cut-off refresh at other kill points on sqlite', () => {
  let d: Deployment;
  const providers: FakeProvider[] = [];
  beforeAll(async () => {
    assertBuilt();
    d = await prepareDeployment('sqlite');
  });
  afterAll(async () => {
    await d?.close();
    await Promise.all(providers.map((p) => p.close()));
  });

  it('refreshes normally after the restart when the provider had kept the refresh token valid', async () => {
    const { provider, original, settled, resolved } = await refreshCutOff(d, providers, false, 'before-answer');
    expect(settled.status).toBe('authorized');
    expect(provider.log.map((entry) => `${entry.grantType} ${entry.status}`)).toEqual(['authorization_code 200', 'refresh_token 200', 'refresh_token 200']);
    expect(resolved.status).toBe(200);
    expect(resolved.body.token.accessToken).toBe(provider.accessTokens.at(-1));
    expect(resolved.body.token.accessToken).not.toBe(original);
  }, 60_000);

  it('ends a refresh killed right after the provider answered either committed with the new tokens or clearly marked, never half-done', async () => {
    const { provider, settled, resolved } = await refreshCutOff(d, providers, true, 'after-answer');
    const refreshes = provider.log.filter((entry) => entry.grantType === 'refresh_token').map((entry) => entry.status);
    if (settled.status === 'authorized') {
      // The commit won the race with SIGKILL: the new refresh token is what Credence holds.
      expect(refreshes).toEqual([200]);
      expect(resolved.body.token.accessToken).toBe(provider.accessTokens.at(-1));
    } else {
      expect(settled.status).toBe('reauthorization_required');
      expect(refreshes).toEqual([200, 400]);
      expect(resolved.body.status).toBe('reauthorization_required');
    }
    expect(resolved.status).toBe(200);
  }, 60_000);
});
