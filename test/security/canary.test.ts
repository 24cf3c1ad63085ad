import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHttpPeer, type HttpPeer } from '../integrations/fixtures.js';
import { makeDue, waitFor } from '../oauth/oauth-fixtures.js';
import { ENGINES, createTestDatabase, type TestDatabase } from '../support/databases.js';
import { followAuthorization, startOAuthServer, type OAuthServer } from '../support/oauth-server.js';
import { freePort, startTestApp, type ApiResponse, type TestApp } from '../support/test-app.js';
import {
  createCanaryBook,
  everyKind,
  exchangeText,
  hitsIn,
  hitsInAll,
  isResolve,
  recordingFetch,
  recordingRequest,
  startCanaryTokenEndpoint,
  startRawSmtpSink,
  storedData,
  type Canary,
  type CanaryTokenEndpoint,
  type HttpExchange,
  type RawSmtpSink,
} from './canary-support.js';

// Issue 7, the canary sweep: canary secrets of every kind go into two organizations and
// their customers through the API and the OAuth 2.0 flow (link emailed over SMTP, consent at
// a real oidc-provider, canary access and refresh tokens, two refreshes by the worker), every
// feature runs over them, and then the data at rest, the logs, every HTTP response but
// resolve (headers included), the emails, the audit log and the metrics are searched.

const API = '/api/v1';
const SCOPES = 'files.read offline_access';

interface Tenant {
  /** `org 1`, `org 2`: the prefix of its canaries' names. */
  name: string;
  adminToken: string;
  runtimeToken: string;
  customers: Array<{ id: string; name: string }>;
  /** Every credential stored, the authorized oauth2 one included. */
  credentialIds: string[];
  /** The oauth2 credential of customer 1 authorized through the flow. */
  oauthId: string;
}

const fail = (what: string, response: ApiResponse): never => {
  // Status and error code only: a body could carry a canary, and the test must not print one.
  throw new Error(`${what}: ${response.status} ${String(response.body?.error?.code ?? '')}`);
};

describe.each(ENGINES)('canary secrets on %s', (engine) => {
  let database: TestDatabase;
  let t: TestApp;
  let sink: RawSmtpSink;
  let provider: OAuthServer;
  let tokenEndpoint: CanaryTokenEndpoint;
  let peer: HttpPeer;
  let peerPort = 0;
  let closed = false;
  const book = createCanaryBook();
  const labels: string[] = [];
  const tenants: Tenant[] = [];
  /** Every API response the test received (inject), with its headers. */
  const exchanges: HttpExchange[] = [];
  /** Every response a browser received while following the authorization links. */
  const browser: HttpExchange[] = [];
  const scrapes: HttpExchange[] = [];
  const runs: any[] = [];
  let auditEvents: unknown[] = [];
  let auditRows: unknown[] = [];
  let request: TestApp['request'];

  const call = async (method: string, url: string, token: string, body?: unknown, status = 200): Promise<any> => {
    const response = await request(method, url, { token, ...(body !== undefined ? { body } : {}) });
    if (response.status !== status) fail(`${method} ${url.replace(/\?.*/, '')}`, response);
    return response.body;
  };

  const create = async (tenant: Tenant, customerId: string | null, authMethod: string, fields: Record<string, string>): Promise<string> => {
    const label = `canary ${tenant.name} ${authMethod} ${randomBytes(4).toString('hex')}`;
    const body = { label, authMethod, ...(customerId ? { customerId } : {}), fields, destinations: [`http://127.0.0.1:${peerPort}`] };
    const created = await call('POST', `${API}/credentials`, tenant.adminToken, body, 201);
    labels.push(label);
    tenant.credentialIds.push(created.id as string);
    return created.id as string;
  };

  const setUpTenant = async (name: string, adminToken: string): Promise<Tenant> => {
    const customers = [];
    for (const n of [1, 2]) {
      const customerName = `${name} customer ${n} ${randomBytes(3).toString('hex')}`;
      customers.push({ id: (await call('POST', `${API}/customers`, adminToken, { name: customerName }, 201)).id as string, name: customerName });
    }
    const runtime = await call('POST', `${API}/api-tokens`, adminToken, { name: `${name} runtime`, role: 'runtime' }, 201);
    const tenant: Tenant = { name, adminToken, runtimeToken: runtime.token as string, customers, credentialIds: [], oauthId: '' };
    const scopes = [{ scope: 'organization', customerId: null }, ...customers.map((customer, index) => ({ scope: `customer ${index + 1}`, customerId: customer.id }))];
    for (const { scope, customerId } of scopes) {
      for (const { authMethod, fields } of everyKind(book, `${name} ${scope}`)) await create(tenant, customerId, authMethod, fields);
    }
    return tenant;
  };

  /** New canary tokens for the next answer of the token endpoint to the tenant's client. */
  const issueTokens = (tenant: Tenant, stage: string, resolvable: boolean) => {
    const at = `${tenant.name} customer 1 oauth2 (authorized)`;
    const accessToken = book.add(`${at} access token (${stage})`, 'accesstoken', { resolvable });
    const refreshToken = book.add(`${at} refresh token (${stage})`, 'refreshtoken', { resolvable: false });
    tokenEndpoint.issue(book.byName(`${at}.client_id`).value, { accessToken, refreshToken });
  };

  /** Creates the tenant's live oauth2 credential, emails its link to the customer and follows it to the end. */
  const authorizeThroughEmail = async (tenant: Tenant) => {
    const at = `${tenant.name} customer 1 oauth2 (authorized)`;
    const [customer] = tenant.customers;
    if (!customer) throw new Error('no customer');
    tenant.oauthId = await create(tenant, customer.id, 'oauth2', {
      client_id: book.byName(`${at}.client_id`).value,
      client_secret: book.byName(`${at}.client_secret`).value,
      auth_uri: provider.authorizationEndpoint,
      token_uri: tokenEndpoint.url,
      scopes: SCOPES,
    });
    const email = `it-${randomBytes(3).toString('hex')}@customer.example`;
    const sent = await call('POST', `${API}/credentials/${tenant.oauthId}/authorization-emails`, tenant.adminToken, { email }, 202);
    const message = await waitFor('the authorization email', () => sink.messages.find((m) => m.mail.messageId === sent.delivery.messageId));
    const link = new RegExp(`${t.baseUrl.replace(/[.]/g, '\\.')}/oauth2/authorize/[A-Za-z0-9_-]{43}`).exec(message.mail.text ?? '')?.[0];
    if (!link || message.rcptTo.join() !== email) throw new Error('the email carries no authorization link for the customer');
    issueTokens(tenant, 'code', true);
    const followed = await followAuthorization(link, { fetch: recordingFetch(browser) });
    if (followed.finalUrl !== `${t.baseUrl}/oauth2/complete` || followed.finalStatus !== 200) {
      throw new Error(`the authorization did not complete: ${String(followed.finalStatus)}`);
    }
    await call('POST', `${API}/credentials/${tenant.oauthId}/resolve`, tenant.runtimeToken);
  };

  /** Two refreshes by the running worker; the second only works with the refresh token the first rotated in. */
  const refreshTwice = async (tenant: Tenant) => {
    for (const [stage, resolvable] of [['refresh 1', false], ['refresh 2', true]] as const) {
      const before = (await call('GET', `${API}/credentials/${tenant.oauthId}`, tenant.adminToken)).oauth2.lastRefreshedAt as string;
      issueTokens(tenant, stage, resolvable);
      await makeDue(t, tenant.oauthId);
      await waitFor(`${tenant.name} ${stage}`, async () => {
        const view = await call('GET', `${API}/credentials/${tenant.oauthId}`, tenant.adminToken);
        return view.oauth2.lastRefreshedAt !== before && view.status === 'authorized' ? true : undefined;
      });
    }
  };

  const runInstance = async (tenant: Tenant, customerId: string, url: string, credentialId: string) => {
    const step = { name: 'call', component: 'http', action: 'request', inputs: { url } };
    const integration = await call('POST', `${API}/integrations`, tenant.adminToken, { name: `canary ${url.slice(-12)}`, steps: [step] }, 201);
    const body = { integrationId: integration.id, customerId, name: `canary instance ${randomBytes(3).toString('hex')}`, bindings: { call: credentialId } };
    const instance = await call('POST', `${API}/instances`, tenant.adminToken, body, 201);
    runs.push(await call('POST', `${API}/instances/${instance.id}/runs`, tenant.adminToken, undefined, 201));
    await call('GET', `${API}/instances/${instance.id}/runs`, tenant.adminToken);
    await call('GET', `${API}/credentials/${credentialId}/usage`, tenant.adminToken);
  };

  /** The id of the canary credential of `authMethod` the tenant stored for a customer. */
  const credentialOf = async (tenant: Tenant, customerId: string, authMethod: string): Promise<string> => {
    const page = await call('GET', `${API}/credentials?level=customer&customerId=${customerId}&authMethod=${authMethod}&limit=200`, tenant.adminToken);
    const id = (page.items as Array<{ id: string }>).find((item) => item.id !== tenant.oauthId)?.id;
    if (!id) throw new Error(`no ${authMethod} credential in ${tenant.name}`);
    return id;
  };

  /** Runs, credential tests, list, search, reads and a label change, in both organizations. */
  const exerciseFeatures = async ([first, second]: Tenant[]) => {
    if (!first || !second) throw new Error('two tenants expected');
    const [a1] = first.customers;
    const [b1] = second.customers;
    if (!a1 || !b1) throw new Error('customers expected');
    const basic = await credentialOf(first, a1.id, 'basic');
    const apiKey = await credentialOf(first, a1.id, 'api_key');
    await runInstance(first, a1.id, `${peer.baseUrl}/echo`, basic);
    await runInstance(first, a1.id, `${peer.baseUrl}/echo`, apiKey);
    await runInstance(first, a1.id, `${peer.baseUrl}/files/report.csv`, first.oauthId);
    await runInstance(second, b1.id, `${peer.baseUrl}/files/export.csv`, second.oauthId);
    for (const id of [basic, apiKey]) {
      const tested = await call('POST', `${API}/credentials/${id}/test`, first.adminToken, { component: 'http', inputs: { url: `${peer.baseUrl}/hello` } });
      if (tested.ok !== true) throw new Error('a credential test against the peer failed');
    }
    for (const tenant of [first, second]) {
      await call('GET', `${API}/credentials?limit=200`, tenant.adminToken);
      await call('GET', `${API}/credentials?search=canary&limit=200`, tenant.adminToken);
      await call('GET', `${API}/customers`, tenant.adminToken);
      for (const id of tenant.credentialIds) await call('GET', `${API}/credentials/${id}`, tenant.adminToken);
    }
    await call('PATCH', `${API}/credentials/${second.oauthId}`, second.adminToken, { label: `canary ${second.name} renamed ${randomBytes(3).toString('hex')}` });
  };

  /** A password replaced (the old value must vanish) and values the API refuses (never kept). */
  const replaceAndRefuse = async (tenant: Tenant) => {
    const customer = tenant.customers[1];
    if (!customer) throw new Error('customer expected');
    const basic = await credentialOf(tenant, customer.id, 'basic');
    book.byName(`${tenant.name} customer 2 basic.password`).resolvable = false;
    const password = book.add(`${tenant.name} customer 2 basic.password (patched)`, 'newpassword');
    await call('PATCH', `${API}/credentials/${basic}`, tenant.adminToken, { fields: { password } });
    const refused = (name: string, what: string) => book.add(`${tenant.name} refused ${name}`, what, { resolvable: false });
    const bodies = [
      { label: 'refused key', authMethod: 'private_key', fields: { username: 'deploy', private_key: refused('private_key', 'notakey') } },
      { label: 'refused field', authMethod: 'api_key', fields: { api_key: 'x', passphrase: refused('unknown field', 'unknown') } },
    ];
    for (const body of bodies) await call('POST', `${API}/credentials`, tenant.adminToken, body, 400);
  };

  /**
   * Rotates a customer scope of the first organization, then the second's organization scope;
   * the running worker re-encrypts. One job at a time: on PostgreSQL the job claim
   * (rotation-job-store.ts) leases every waiting job but runs one, and the others then
   * wait out their lease, 60 s.
   */
  const rotateKeys = async ([first, second]: Tenant[]) => {
    if (!first?.customers[0] || !second) throw new Error('tenants expected');
    for (const [tenant, body] of [[first, { scope: first.customers[0].id }], [second, {}]] as const) {
      const { jobId } = await call('POST', `${API}/keys/rotate`, tenant.adminToken, body, 202);
      const done = async () => ((await call('GET', `${API}/keys/jobs/${jobId}`, tenant.adminToken)).status === 'done' ? true : undefined);
      await waitFor('a key rotation job', done, 20_000);
      await call('GET', `${API}/keys`, tenant.adminToken);
    }
  };

  const listAudit = async (tenant: Tenant): Promise<unknown[]> => {
    const events: unknown[] = [];
    let cursor: string | null = null;
    do {
      const page: any = await call('GET', `${API}/audit-events?limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, tenant.adminToken);
      events.push(...(page.items as unknown[]));
      cursor = (page.nextCursor as string | null) ?? null;
    } while (cursor);
    await call('GET', `${API}/audit-events/verify`, tenant.adminToken);
    return events;
  };

  beforeAll(async () => {
    // The peer starts once the canaries exist, at a port the credentials are sealed to go to.
    peerPort = await freePort();
    database = await createTestDatabase(engine);
    [sink, tokenEndpoint] = await Promise.all([startRawSmtpSink(), startCanaryTokenEndpoint(SCOPES)]);
    const env = { CREDENCE_ALLOW_INSECURE_LOOPBACK: 'true', CREDENCE_SMTP_URL: `smtp://127.0.0.1:${sink.port}`, CREDENCE_REFRESH_POLL_MS: '100' };
    t = await startTestApp(engine, { database, listen: true, env });
    request = recordingRequest(t, exchanges);
    // As `credence serve` does: both workers run, logging where the app logs.
    t.runtime.services.refreshWorker.start(t.app.log.child({ component: 'refresh-worker' }));
    t.runtime.services.keyRotationWorker.start(t.app.log.child({ component: 'key-rotation-worker' }));

    const clients = ['org 1', 'org 2'].map((name) => ({
      clientId: book.add(`${name} customer 1 oauth2 (authorized).client_id`, 'clientid', { shown: true }),
      clientSecret: book.add(`${name} customer 1 oauth2 (authorized).client_secret`, 'clientsecret'),
      redirectUris: [`${t.baseUrl}/oauth2/callback`],
    }));
    provider = await startOAuthServer({ clients });
    const other = await t.otherOrganization('Globex Canaries');
    tenants.push(await setUpTenant('org 1', t.adminToken), await setUpTenant('org 2', other.adminToken));
    for (const tenant of tenants) await replaceAndRefuse(tenant);
    for (const tenant of tenants) await authorizeThroughEmail(tenant);
    for (const tenant of tenants) await refreshTwice(tenant);

    const [first] = tenants;
    const value = (name: string) => book.byName(`org 1 customer 1 ${name}`).value;
    peer = await startHttpPeer({ username: value('basic.username'), password: value('basic.password'), apiKey: value('api_key.api_key') }, peerPort);
    await exerciseFeatures(tenants);
    await rotateKeys(tenants);
    for (const tenant of tenants) {
      for (const id of tenant.credentialIds) await call('POST', `${API}/credentials/${id}/resolve`, tenant.runtimeToken);
    }
    const [, second] = tenants;
    const doomed = second?.customers[1];
    if (!first || !second || !doomed) throw new Error('tenants expected');
    await call('DELETE', `${API}/customers/${doomed.id}`, second.adminToken, { confirm: doomed.name }, 204);
    auditEvents = [...(await listAudit(first)), ...(await listAudit(second))];
    auditRows = await t.runtime.store.db.selectFrom('audit_events').selectAll().execute();
    const metrics = await recordingFetch(scrapes)(`${t.baseUrl}/metrics`);
    if (metrics.status !== 200) throw new Error(`GET /metrics: ${metrics.status}`);
  }, 90_000);

  afterAll(async () => {
    if (t && !closed) await t.close();
    await Promise.all([provider?.close(), tokenEndpoint?.close(), sink?.close(), peer?.close()]);
    await database?.drop();
  });

  const resolveTexts = () => exchanges.filter((exchange) => isResolve(exchange.url)).map(exchangeText);

  describe('the sweep itself', () => {
    it('finds a canary in raw, base64, base64url, hex and URL-encoded form wherever it sits', () => {
      const canary: Canary = { name: 'probe', value: 'CANARY-0123456789abcdef01234567-probe+/=', shown: false, resolvable: true };
      const raw = Buffer.from(canary.value);
      for (const prefix of ['', 'x', 'xy', 'xyz']) {
        const around = Buffer.concat([Buffer.from(prefix), raw, Buffer.from('tail')]);
        for (const encoded of [around.toString('base64'), around.toString('base64url'), around.toString('hex'), encodeURIComponent(around.toString())]) {
          expect(hitsIn('probe', `${prefix}${encoded}!`, [canary]).length, `after ${prefix.length} bytes`).toBeGreaterThan(0);
        }
      }
      expect(hitsIn('probe', 'CANARY-0123456789abcdef01234567-prob', [canary])).toEqual([]);
    });

    it('finds every held canary, the latest access tokens included, in the resolve responses, and no replaced or refused one', () => {
      const texts = resolveTexts();
      // Each credential once after the features ran, and each live oauth2 credential once right after it was authorized.
      expect(texts).toHaveLength(tenants.reduce((sum, tenant) => sum + tenant.credentialIds.length, 0) + tenants.length);
      // The same search as every sweep below: here it has to find what resolve legitimately returns.
      const hits = hitsInAll(texts.map((text, index) => ({ location: `resolve ${index}`, text })), book.all);
      const found = new Set(hits.filter((hit) => hit.endsWith('(raw)')).map((hit) => hit.replace(/^resolve \d+: | \(raw\)$/g, '')));
      const expected = book.all.filter((canary) => canary.resolvable).map((canary) => canary.name);
      // Nine field values in each of three scopes, the live oauth2 client id and secret, and its code and last access tokens, per organization.
      expect(expected.length).toBe(2 * (3 * 9 + 2 + 2));
      expect(expected.filter((name) => !found.has(name))).toEqual([]);
      expect(book.all.filter((canary) => !canary.resolvable && found.has(canary.name)).map((canary) => canary.name)).toEqual([]);
    });
  });

  it('authorized both oauth2 credentials with their client secrets, and refreshed each with the refresh token it last received', () => {
    for (const tenant of tenants) {
      const at = `${tenant.name} customer 1 oauth2 (authorized)`;
      const mine = tokenEndpoint.requests.filter((r) => r.clientId === book.byName(`${at}.client_id`).value);
      expect(mine.map((r) => [r.grantType, r.status])).toEqual([['authorization_code', 200], ['refresh_token', 200], ['refresh_token', 200]]);
      expect(mine.every((r) => r.clientSecret === book.byName(`${at}.client_secret`).value)).toBe(true);
      const sent = mine.map((r) => r.refreshToken);
      expect([sent[1] === book.byName(`${at} refresh token (code)`).value, sent[2] === book.byName(`${at} refresh token (refresh 1)`).value]).toEqual([true, true]);
    }
    expect(sink.messages).toHaveLength(2);
  });

  it('ran every step with the canary credential, and kept the values out of the runs', () => {
    expect(runs.map((run) => run.status)).toEqual(['succeeded', 'succeeded', 'succeeded', 'succeeded']);
    const auth = peer.requests.map((r) => r.authorization ?? '');
    const value = (name: string) => book.byName(name).value;
    const basic = `Basic ${Buffer.from(`${value('org 1 customer 1 basic.username')}:${value('org 1 customer 1 basic.password')}`).toString('base64')}`;
    const bearers = ['org 1 customer 1 api_key.api_key', ...tenants.map((tenant) => `${tenant.name} customer 1 oauth2 (authorized) access token (refresh 2)`)];
    expect([basic, ...bearers.map((name) => `Bearer ${book.byName(name).value}`)].map((header) => auth.filter((a) => a === header).length)).toEqual([2, 2, 1, 1]);
    // The echo step saw its own Authorization header come back: the run shows it redacted.
    expect(JSON.stringify(runs[0]).includes('"youSent":"Basic [redacted]"')).toBe(true);
  });

  it('keeps every canary, client_ids included, out of the data at rest', async () => {
    const data = await storedData(engine, database);
    // The live SQLite database is the main file plus its write-ahead log, read as raw bytes.
    const expected = engine === 'sqlite' ? ['file credence.sqlite', 'file credence.sqlite-wal'] : ['pg_dump'];
    expect(data.map((entry) => entry.location)).toEqual(expect.arrayContaining(expected));
    // The labels are stored in clear for search: finding them proves the sweep reads the live data.
    expect(labels.filter((label) => !data.some((entry) => entry.bytes.includes(Buffer.from(label))))).toEqual([]);
    expect(hitsInAll(data.map(({ location, bytes }) => ({ location, text: bytes })), book.all)).toEqual([]);
  });

  it('keeps every canary out of the audit events, through the API and in the table', () => {
    const events = auditEvents as Array<{ action: string; targetId: string | null }>;
    const actions = new Set(events.map((event) => event.action));
    const features = ['credential.updated', 'credential.tested', 'oauth.link_emailed', 'oauth.authorized', 'key.rotated', 'key.reencrypted', 'instance.run'];
    expect([...features, 'customer.deleted'].filter((action) => !actions.has(action))).toEqual([]);
    const resolved = new Set(events.filter((event) => event.action === 'credential.resolved').map((event) => event.targetId));
    expect(tenants.flatMap((tenant) => tenant.credentialIds).filter((id) => !resolved.has(id))).toEqual([]);
    expect(auditRows.length).toBeGreaterThanOrEqual(auditEvents.length);
    expect(hitsIn('audit events (API)', JSON.stringify(auditEvents), book.all)).toEqual([]);
    expect(hitsIn('audit_events table', JSON.stringify(auditRows), book.all)).toEqual([]);
  });

  it('keeps every canary, client_ids included, out of the log lines, the workers\' included', () => {
    expect(t.logs.length).toBeGreaterThan(100);
    expect(t.logs.some((line) => line.includes('"component":"refresh-worker"'))).toBe(true);
    expect(hitsInAll(t.logs.map((line, index) => ({ location: `log line ${index}`, text: line })), book.all)).toEqual([]);
  });

  it('keeps every secret canary out of every HTTP response but resolve, headers included', () => {
    // Every response the app gave to an API call went through the recorder.
    expect(exchanges).toHaveLength(t.responses.length);
    const others = [...exchanges.filter((exchange) => !isResolve(exchange.url)), ...browser, ...scrapes];
    expect(others.length).toBeGreaterThan(100);
    expect(browser.some((exchange) => exchange.url.startsWith(`${t.baseUrl}/oauth2/callback`))).toBe(true);
    const where = (exchange: HttpExchange, index: number) => `response ${index} ${exchange.method} ${exchange.url.replace(/\?.*/, '')}`;
    const haystacks = others.map((exchange, index) => ({ location: where(exchange, index), text: exchangeText(exchange) }));
    expect(hitsInAll(haystacks, book.secrets())).toEqual([]);
  });

  it('keeps every canary out of the authorization emails, raw and parsed', () => {
    expect(sink.messages).toHaveLength(2);
    for (const [index, { raw, mail }] of sink.messages.entries()) {
      expect(raw.includes(Buffer.from('/oauth2/authorize/'))).toBe(true);
      const parsed = [mail.subject ?? '', mail.text ?? '', typeof mail.html === 'string' ? mail.html : '', ...mail.headerLines.map((line) => line.line)].join('\n');
      expect(hitsIn(`email ${index} (raw)`, raw, book.all)).toEqual([]);
      expect(hitsIn(`email ${index} (parsed)`, parsed, book.all)).toEqual([]);
    }
  });

  it('keeps every canary out of the metrics', () => {
    const [scrape] = scrapes;
    // Booleans, not the text: a failing match must not print what the metrics might leak.
    expect(/credence_token_refreshes_total\{outcome="refreshed"\} 4\b/.test(scrape?.body ?? '')).toBe(true);
    expect(/credence_credential_resolves_total\{outcome="resolved"\} [1-9]/.test(scrape?.body ?? '')).toBe(true);
    expect(hitsIn('GET /metrics', exchangeText(scrape ?? { method: '', url: '', status: 0, headers: '', body: '' }), book.all)).toEqual([]);
  });

  it('leaves no canary in the data at rest after the server shuts down', async () => {
    closed = true;
    await t.close();
    const data = await storedData(engine, database);
    expect(data.length).toBeGreaterThan(0);
    expect(hitsInAll(data.map(({ location, bytes }) => ({ location, text: bytes })), book.all)).toEqual([]);
  });
});
