import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openBenchEnvironment, type BenchEnvironment } from '../../bench/support/environment.js';
import { createCustomers, createSeedingKeyring, grantRow, insertRows, OAUTH_SETTINGS, randomSecret, seedCredentials } from '../../bench/support/seed.js';
import { newId } from '../../src/common/ids.js';
import { assertBuilt, cliEnv, linesOf, waitUntilHealthy } from '../cli/cli-harness.js';
import { API, apiOfUrl, killServers, sleep, spawnServe, waitFor, type Api, type RoleServer } from '../oauth/oauth-fixtures.js';

// Two `credence serve --role api` and two `--role worker` processes of the built command on
// one PostgreSQL database, against a loopback token endpoint that rotates refresh tokens:
// every due token is refreshed exactly once (a slow provider included), and when a worker
// is killed with a batch in flight the other takes its claims over once their lease runs out.

const FAR_FUTURE = '2999-01-01T00:00:00.000Z';
const LEASE_MS = 3000;
const FIRST_GROUP = 300;
const SLOW_GROUP = 50;
const SECOND_GROUP = 200;

interface Presentation {
  at: number;
  status: 200 | 400;
  /** The access token issued in exchange (200 only). */
  accessToken: string | undefined;
}

/**
 * A token endpoint that rotates refresh tokens: each is accepted once, spent the moment the
 * request arrives (as a provider that has answered sees it), and refused with invalid_grant
 * after. Answers after `latencyMs`, so batches are in flight, and records every presentation.
 */
const startTokenEndpoint = async () => {
  const run = randomBytes(4).toString('hex');
  let issued = 0;
  const endpoint = {
    tokenUri: '',
    latencyMs: 30,
    /** Refresh tokens the endpoint still accepts. */
    valid: new Set<string>(),
    presented: new Map<string, Presentation[]>(),
    /** Refresh tokens received and not answered yet. */
    waiting: new Set<string>(),
    /** Requests that were not a refresh_token grant. */
    others: 0,
    close: async (): Promise<void> => undefined,
  };
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const params = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
      const refreshToken = params.get('refresh_token');
      if (request.url !== '/token' || params.get('grant_type') !== 'refresh_token' || !refreshToken) {
        endpoint.others += 1;
        response.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'unsupported_grant_type' }));
        return;
      }
      const accepted = endpoint.valid.delete(refreshToken);
      issued += 1;
      const tokens = { access_token: `at-${run}-${issued}`, token_type: 'bearer', expires_in: 3600, refresh_token: `rt-${run}-${issued}` };
      if (accepted) endpoint.valid.add(tokens.refresh_token);
      const seen = endpoint.presented.get(refreshToken) ?? [];
      seen.push({ at: Date.now(), status: accepted ? 200 : 400, accessToken: accepted ? tokens.access_token : undefined });
      endpoint.presented.set(refreshToken, seen);
      endpoint.waiting.add(refreshToken);
      setTimeout(() => {
        endpoint.waiting.delete(refreshToken);
        try {
          response.writeHead(accepted ? 200 : 400, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(accepted ? tokens : { error: 'invalid_grant' }));
        } catch {
          // The worker is gone (killed): nobody reads this answer.
        }
      }, endpoint.latencyMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint.tokenUri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`;
  endpoint.close = async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return endpoint;
};

type TokenEndpoint = Awaited<ReturnType<typeof startTokenEndpoint>>;

interface Seeded {
  id: string;
  refreshToken: string;
  /** The access token seeded with the grant, valid for another hour. */
  accessToken: string;
}

/** `count` authorized oauth2 credentials, their grants scheduled far ahead, sealed and inserted as bench/refresh.ts seeds them. */
const seedAuthorized = async (bench: BenchEnvironment, endpoint: TokenEndpoint, customers: string[], group: string, count: number): Promise<Seeded[]> => {
  const { db, engine } = bench.runtime.store;
  const keyring = createSeedingKeyring(bench);
  const at = new Date().toISOString();
  const expiresAt = new Date(Date.now() + 3600_000).toISOString();
  const seeded: Seeded[] = [];
  const fields = () => ({ client_id: 'scale-client', client_secret: randomSecret(), scopes: 'files.read', auth_uri: endpoint.tokenUri.replace(/token$/, 'authorize'), token_uri: endpoint.tokenUri });
  await seedCredentials(
    bench,
    count,
    (i, now) => ({ id: newId('cred', now), customerId: customers[i % customers.length] ?? null, label: `${group} ${i}`, authMethod: 'oauth2', status: 'authorized', values: fields(), oauthSettings: OAUTH_SETTINGS }),
    {
      label: group,
      afterChunk: async (rows) => {
        const tokens = rows.map((row) => ({ id: row.id, refreshToken: `rt-${group}-${randomSecret(9)}`, accessToken: `at-${group}-${randomSecret(9)}` }));
        const grants = await Promise.all(
          rows.map((row, i) => {
            const { accessToken, refreshToken } = tokens[i] as Seeded;
            const credential = { id: row.id, organizationId: bench.organizationId, customerId: row.customer_id };
            return grantRow(keyring, credential, { access_token: accessToken, refresh_token: refreshToken }, { at, refreshDueAt: FAR_FUTURE, expiresAt });
          }),
        );
        await insertRows(db, engine, 'oauth_grants', grants);
        for (const token of tokens) endpoint.valid.add(token.refreshToken);
        seeded.push(...tokens);
      },
    },
  );
  return seeded;
};

/** A count a worker logged in its `token refresh pass` lines, summed. */
const passTotal = (worker: RoleServer, outcome: 'refreshed' | 'deferred'): number =>
  linesOf(worker.output().stderr).reduce((sum, line) => {
    try {
      const entry = JSON.parse(line) as { msg?: string; refreshed?: number; deferred?: number };
      return entry.msg === 'token refresh pass' ? sum + (entry[outcome] ?? 0) : sum;
    } catch {
      return sum;
    }
  }, 0);

interface Resolved {
  status: number;
  credentialStatus: string | undefined;
  accessToken: string | null;
}

/** Resolves every credential through every API process, eight requests at a time. */
const resolveEverywhere = async (apis: Api[], runtimeToken: string, ids: string[]): Promise<Map<string, Resolved[]>> => {
  const results = new Map<string, Resolved[]>(ids.map((id) => [id, []]));
  const queue = apis.flatMap((api) => ids.map((id) => ({ api, id })));
  const lane = async () => {
    for (let next = queue.shift(); next; next = queue.shift()) {
      const response = await next.api('POST', `${API}/credentials/${next.id}/resolve`, { token: runtimeToken });
      results.get(next.id)?.push({ status: response.status, credentialStatus: response.body?.status, accessToken: response.body?.token?.accessToken ?? null });
    }
  };
  await Promise.all(Array.from({ length: 8 }, lane));
  return results;
};

describe.skipIf(!process.env.TEST_DATABASE_URL)('token refresh by two worker and two API processes on PostgreSQL', () => {
  let bench: BenchEnvironment | undefined;
  let endpoint: TokenEndpoint | undefined;
  const servers = new Set<RoleServer>();
  let apis: Api[] = [];
  let workers: RoleServer[] = [];
  let runtimeToken = '';
  let firstGroup: Seeded[] = [];
  let slowGroup: Seeded[] = [];
  let secondGroup: Seeded[] = [];

  const grants = async (ids: string[]) => {
    const rows = await (bench as BenchEnvironment).runtime.store.db
      .selectFrom('oauth_grants')
      .innerJoin('credentials', 'credentials.id', 'oauth_grants.credential_id')
      .select(['oauth_grants.credential_id as id', 'version', 'lease_owner', 'lease_expires_at', 'failure_count', 'last_error', 'credentials.status as status'])
      .where('oauth_grants.credential_id', 'in', ids)
      .execute();
    return new Map(rows.map((row) => [row.id, row]));
  };

  const makeDue = async (seeded: Seeded[]) => {
    await (bench as BenchEnvironment).runtime.store.db
      .updateTable('oauth_grants')
      .set({ refresh_due_at: new Date().toISOString() })
      .where('credential_id', 'in', seeded.map((s) => s.id))
      .execute();
  };

  /**
   * Waits until every grant of `seeded` has been written once more and is free, and no token
   * request is left unanswered; fails fast if a process died.
   */
  const waitSettled = async (seeded: Seeded[], alive: RoleServer[]) =>
    waitFor('every due grant to be refreshed or marked', async () => {
      const dead = alive.find((server) => server.child.exitCode !== null || server.child.signalCode !== null);
      if (dead) throw new Error(`a credence process exited early: ${dead.output().stderr.slice(-1500)}`);
      const rows = await grants(seeded.map((s) => s.id));
      const settled = (endpoint as TokenEndpoint).waiting.size === 0 && [...rows.values()].every((row) => row.version >= 2 && row.lease_owner === null);
      return settled ? rows : undefined;
    }, 60_000, 100);

  /** Grants of `seeded` not refreshed exactly once: token presented once, grant written once, authorized. */
  const notRefreshedOnce = (seeded: Seeded[], rows: Awaited<ReturnType<typeof grants>>): string[] =>
    seeded.flatMap((s) => {
      const seen = ((endpoint as TokenEndpoint).presented.get(s.refreshToken) ?? []).map((p) => p.status);
      const row = rows.get(s.id);
      const ok = seen.length === 1 && seen[0] === 200 && row?.version === 2 && row.status === 'authorized' && row.failure_count === 0;
      return ok ? [] : [`${s.id}: presented ${JSON.stringify(seen)}, version ${String(row?.version)}, ${String(row?.status)}`];
    });

  beforeAll(async () => {
    assertBuilt();
    endpoint = await startTokenEndpoint();
    bench = await openBenchEnvironment('postgres');
    const customers = await createCustomers(bench, 4);
    firstGroup = await seedAuthorized(bench, endpoint, customers, 'first', FIRST_GROUP);
    slowGroup = await seedAuthorized(bench, endpoint, customers, 'slow', SLOW_GROUP);
    secondGroup = await seedAuthorized(bench, endpoint, customers, 'second', SECOND_GROUP);

    const env = cliEnv({
      ...bench.env,
      CREDENCE_REFRESH_POLL_MS: '100',
      CREDENCE_REFRESH_LEASE_MS: String(LEASE_MS),
      CREDENCE_REFRESH_BATCH_SIZE: '25',
      CREDENCE_REFRESH_CONCURRENCY: '8',
    });
    const started = await Promise.all((['api', 'api', 'worker', 'worker'] as const).map((role) => spawnServe(role, env)));
    for (const server of started) servers.add(server);
    const apiServers = started.slice(0, 2);
    workers = started.slice(2);
    await Promise.all(apiServers.map((server) => waitUntilHealthy(server)));
    for (const worker of workers) {
      await waitFor('the worker to start', () => (/refresh worker started/.test(worker.output().stderr) ? true : undefined), 15_000);
    }
    apis = apiServers.map((server) => apiOfUrl(server.baseUrl));
    const created = await (apis[0] as Api)('POST', `${API}/api-tokens`, { token: bench.adminToken, body: { name: 'runs', role: 'runtime' } });
    if (created.status !== 201) throw new Error(`no runtime token: ${created.status}`);
    runtimeToken = created.body.token as string;
  }, 120_000);

  afterAll(async () => {
    killServers(servers);
    await Promise.all([...servers].map((server) => Promise.race([server.exited, sleep(10_000)])));
    await endpoint?.close();
    await bench?.close();
  });

  it(`refreshes each of ${FIRST_GROUP} due tokens exactly once, the two workers sharing the work`, async () => {
    const ep = endpoint as TokenEndpoint;
    await makeDue(firstGroup);
    const rows = await waitSettled(firstGroup, [...servers]);

    expect(notRefreshedOnce(firstGroup, rows)).toEqual([]);
    const presentations = [...ep.presented.values()].reduce((sum, seen) => sum + seen.length, 0);
    expect({ presentations, others: ep.others }).toEqual({ presentations: FIRST_GROUP, others: 0 });
    const shares = workers.map((worker) => passTotal(worker, 'refreshed'));
    expect(shares.reduce((a, b) => a + b, 0)).toBe(FIRST_GROUP);
    expect(Math.min(...shares)).toBeGreaterThan(0);
  }, 90_000);

  it('hands out the new access token of every refreshed credential from both API processes', async () => {
    const ep = endpoint as TokenEndpoint;
    const resolved = await resolveEverywhere(apis, runtimeToken, firstGroup.map((s) => s.id));
    const wrong = firstGroup.flatMap((s) => {
      const issued = ep.presented.get(s.refreshToken)?.[0]?.accessToken;
      const answers = resolved.get(s.id) ?? [];
      const ok = answers.length === 2 && answers.every((a) => a.status === 200 && a.credentialStatus === 'authorized' && issued !== undefined && a.accessToken === issued);
      return ok ? [] : [`${s.id}: ${answers.map((a) => `${a.status} ${String(a.credentialStatus)} ${a.accessToken === issued ? 'new token' : 'other token'}`).join(' / ')}`];
    });
    expect(wrong).toEqual([]);
  }, 60_000);

  it('refreshes each token once when a slow provider makes a claimed batch outlast its lease: what is left waits for the next claim', async () => {
    const ep = endpoint as TokenEndpoint;
    // A worker claims up to twice its 8 lanes; at 2 s a token request, the second eight of a
    // claim would start with less than half of the 3 s lease left, so they wait for a later claim.
    ep.latencyMs = 2000;
    await makeDue(slowGroup);
    const rows = await waitSettled(slowGroup, [...servers]);
    expect(notRefreshedOnce(slowGroup, rows)).toEqual([]);
    expect(workers.reduce((sum, worker) => sum + passTotal(worker, 'deferred'), 0)).toBeGreaterThan(0);
  }, 90_000);

  describe('when a worker is killed with -9 while a batch it claimed is in flight', () => {
    let killedAt = 0;
    let signal: NodeJS.Signals | null = null;
    /** Grants the dead worker still held, with the end of its lease on each. */
    const heldByTheDead = new Map<string, number>();
    let rows: Awaited<ReturnType<typeof grants>>;

    beforeAll(async () => {
      const ep = endpoint as TokenEndpoint;
      const victim = workers[0] as RoleServer;
      const mark = `:${String(victim.child.pid)}:`;
      // Slower answers keep a batch in flight long enough to be cut off.
      ep.latencyMs = 150;
      const tokenOf = new Map(secondGroup.map((s) => [s.id, s.refreshToken]));
      await makeDue(secondGroup);
      await waitFor('the victim to have a claimed refresh in flight', async () => {
        const held = [...(await grants(secondGroup.map((s) => s.id))).values()].filter((row) => row.lease_owner?.includes(mark));
        return held.some((row) => ep.waiting.has(tokenOf.get(row.id) ?? '')) ? true : undefined;
      }, 15_000, 5);
      victim.child.kill('SIGKILL');
      killedAt = Date.now();
      signal = (await Promise.race([victim.exited, sleep(10_000).then(() => undefined)]))?.signal ?? null;
      // A commit the dead process had sent has landed by now.
      await sleep(200);
      for (const row of (await grants(secondGroup.map((s) => s.id))).values()) {
        if (row.lease_owner?.includes(mark)) heldByTheDead.set(row.id, Date.parse(String(row.lease_expires_at)));
      }
      rows = await waitSettled(secondGroup, [...servers].filter((server) => server !== victim));
    }, 120_000);

    it('was killed by SIGKILL holding claims that expire after CREDENCE_REFRESH_LEASE_MS', () => {
      expect(signal).toBe('SIGKILL');
      expect(heldByTheDead.size).toBeGreaterThan(0);
      const leaseEnds = [...heldByTheDead.values()];
      expect(Math.max(...leaseEnds) - killedAt).toBeLessThanOrEqual(LEASE_MS);
      expect(Math.min(...leaseEnds)).toBeGreaterThan(killedAt - LEASE_MS);
    });

    it('misses none and refreshes none twice: each ends refreshed once, or, sent by the dead worker and never committed, marked reauthorization_required', () => {
      const ep = endpoint as TokenEndpoint;
      const outcomes = { refreshed: 0, takenOver: 0, inDoubt: 0 };
      const wrong: string[] = [];
      for (const s of secondGroup) {
        const seen = ep.presented.get(s.refreshToken) ?? [];
        const row = rows.get(s.id);
        const leaseEnd = heldByTheDead.get(s.id);
        const [first, second] = seen;
        if (seen.length === 1 && first?.status === 200 && row?.status === 'authorized' && row.failure_count === 0) {
          // Refreshed once; a grant the dead worker held only after its lease ran out.
          if (leaseEnd === undefined) outcomes.refreshed += 1;
          else if (first.at >= leaseEnd) outcomes.takenOver += 1;
          else wrong.push(`${s.id}: refreshed inside the dead worker's lease`);
          continue;
        }
        // In doubt: the provider spent the refresh token for the dead worker, whose result never landed.
        const inDoubt =
          seen.length === 2 &&
          leaseEnd !== undefined &&
          first?.status === 200 &&
          first.at < leaseEnd &&
          second?.status === 400 &&
          second.at >= leaseEnd &&
          row?.status === 'reauthorization_required' &&
          row.last_error === 'invalid_grant';
        if (inDoubt) outcomes.inDoubt += 1;
        else wrong.push(`${s.id}: presented ${JSON.stringify(seen.map((p) => p.status))}, ${String(row?.status)}, held by the dead worker: ${leaseEnd !== undefined}`);
      }
      expect(wrong).toEqual([]);
      expect(outcomes.refreshed + outcomes.takenOver + outcomes.inDoubt).toBe(SECOND_GROUP);
      expect(outcomes.inDoubt).toBeGreaterThan(0);
      expect(outcomes.takenOver).toBeGreaterThan(0);
      expect(outcomes.inDoubt + outcomes.takenOver).toBeLessThanOrEqual(heldByTheDead.size);
      const presentations = secondGroup.reduce((sum, s) => sum + (ep.presented.get(s.refreshToken)?.length ?? 0), 0);
      expect(presentations).toBe(SECOND_GROUP + outcomes.inDoubt);
    });

    it('answers for every credential from both API processes: the new token, or reauthorization_required with at most the last token', async () => {
      const ep = endpoint as TokenEndpoint;
      const resolved = await resolveEverywhere(apis, runtimeToken, secondGroup.map((s) => s.id));
      const wrong = secondGroup.flatMap((s) => {
        const seen = ep.presented.get(s.refreshToken) ?? [];
        const answers = resolved.get(s.id) ?? [];
        const refreshed = seen.length === 1;
        const ok =
          answers.length === 2 &&
          answers.every((a) =>
            refreshed
              ? a.status === 200 && a.credentialStatus === 'authorized' && a.accessToken === seen[0]?.accessToken
              : a.status === 200 && a.credentialStatus === 'reauthorization_required' && (a.accessToken === null || a.accessToken === s.accessToken),
          );
        return ok ? [] : [`${s.id}: ${answers.map((a) => `${a.status} ${String(a.credentialStatus)}`).join(' / ')}`];
      });
      expect(wrong).toEqual([]);
    }, 60_000);
  });
});
