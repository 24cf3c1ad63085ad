import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/databases.js';
import type { ApiResponse } from '../support/test-app.js';
import { bodySchemaOf, discoverRoutes, paramsOf, routeKey, type Route } from './route-table.js';
import { API, ID_KINDS, buildWorld, kindOfParam, snapshotDatabase, unknownIdOf, type IdKind, type World, type WorldObject } from './security-world.js';

// Tenant isolation, generated from the route table: every API route that takes an id is
// called by every outside role with ids of the first organization's objects. The answer
// must be exactly the answer for an id that does not exist (404, or 403 where the role may
// not use the route at all; 401 without a token), must carry none of the objects' names,
// and must change, decrypt and send nothing.

type Targets = Record<string, WorldObject>;

/** How to call each id route: its body, when it takes one. A new id route must be added here. */
const MATRIX: Record<string, { body?: (world: World, targets: Targets) => unknown }> = {
  'GET /api/v1/credentials/:id': {},
  'PATCH /api/v1/credentials/:id': { body: () => ({ label: 'Renamed by the isolation matrix' }) },
  'DELETE /api/v1/credentials/:id': { body: (_w, t) => ({ confirm: t.id?.names[0] ?? 'x', force: true }) },
  'POST /api/v1/credentials/:id/test': { body: () => ({ component: 'http', action: 'test', inputs: { url: 'https://service.example.test/' } }) },
  'POST /api/v1/credentials/:id/replace': { body: (w) => ({ with: w.first.credential[0]?.id }) },
  'GET /api/v1/credentials/:id/usage': {},
  'GET /api/v1/credentials/:id/health': {},
  'POST /api/v1/credentials/:id/resolve': {},
  'POST /api/v1/credentials/:id/authorization-link': { body: () => ({}) },
  'GET /api/v1/credentials/:id/authorization-link': {},
  'DELETE /api/v1/credentials/:id/authorization-link': {},
  'POST /api/v1/credentials/:id/authorization-emails': { body: () => ({ email: 'victim@example.test' }) },
  'GET /api/v1/customers/:id': {},
  'PATCH /api/v1/customers/:id': { body: () => ({ name: 'Renamed by the isolation matrix' }) },
  'DELETE /api/v1/customers/:id': { body: (_w, t) => ({ confirm: t.id?.names[0] ?? 'x' }) },
  'GET /api/v1/integrations/:id': {},
  'PATCH /api/v1/integrations/:id': { body: () => ({ name: 'Renamed by the isolation matrix' }) },
  'DELETE /api/v1/integrations/:id': {},
  'GET /api/v1/instances/:id': {},
  'PATCH /api/v1/instances/:id': { body: () => ({ name: 'Renamed by the isolation matrix' }) },
  'DELETE /api/v1/instances/:id': {},
  'POST /api/v1/instances/:id/runs': {},
  'GET /api/v1/instances/:id/runs': {},
  'GET /api/v1/instances/:id/runs/:runId': {},
  'GET /api/v1/webhook-endpoints/:id': {},
  'PATCH /api/v1/webhook-endpoints/:id': { body: () => ({ description: 'Renamed by the isolation matrix' }) },
  'DELETE /api/v1/webhook-endpoints/:id': {},
  'POST /api/v1/webhook-endpoints/:id/rotate-secret': { body: () => ({}) },
  'GET /api/v1/webhook-endpoints/:id/deliveries': {},
  'POST /api/v1/webhook-endpoints/:id/deliveries/:deliveryId/resend': {},
  'DELETE /api/v1/api-tokens/:id': {},
  'DELETE /api/v1/users/:id': {},
  'GET /api/v1/keys/jobs/:id': {},
};

/** Routes with a path parameter that names no tenant object, and why they are not in the matrix. */
const NOT_TENANT_IDS: Record<string, string> = {
  'POST /api/v1/invitations/:token/accept': 'addressed by a secret invitation token, not an id: whoever holds it is the invitee',
};

interface Actor {
  name: string;
  token: (world: World) => string | undefined;
  /** Kinds whose objects in the world this actor must not reach. */
  foreign: readonly IdKind[];
}

const ACTORS: Actor[] = [
  { name: 'org_admin of another organization', token: (w) => w.tokens.otherAdmin, foreign: ID_KINDS },
  { name: 'org_member of another organization', token: (w) => w.tokens.otherMember, foreign: ID_KINDS },
  { name: 'runtime of another organization', token: (w) => w.tokens.otherRuntime, foreign: ID_KINDS },
  // Integrations are organization-wide definitions a customer user may read (it deploys them).
  { name: 'customer_user of customer B', token: (w) => w.tokens.customerUserB, foreign: ['credential', 'customer', 'instance', 'run', 'apiToken', 'user', 'keyJob'] },
  // Same organization: only the admin-only routes are off-limits.
  { name: 'org_member of the same organization', token: (w) => w.tokens.sameMember, foreign: ['apiToken', 'user', 'keyJob'] },
  { name: 'anonymous caller', token: () => undefined, foreign: ID_KINDS },
];

const idRoutes = (routes: Route[]): Route[] => routes.filter((route) => route.path.startsWith(`${API}/`) && paramsOf(route.path).length > 0);

/** Every way to fill a route's parameters with objects of the given kinds. */
const combinations = (route: Route, pools: (kind: IdKind) => WorldObject[]): Targets[] =>
  paramsOf(route.path).reduce<Targets[]>(
    (partial, param) => {
      const kind = kindOfParam(route.path, param);
      if (!kind) throw new Error(`${routeKey(route)}: no kind known for :${param}`);
      return partial.flatMap((targets) => pools(kind).map((object) => ({ ...targets, [param]: object })));
    },
    [{}],
  );

const urlOf = (route: Route, targets: Targets): string => route.path.replace(/:(\w+)/g, (_m, param: string) => targets[param]?.id ?? '');

interface Outcome {
  route: string;
  actor: string;
  target: string;
  baseline: ApiResponse;
  response: ApiResponse;
}

describe.each(ENGINES)('tenant isolation matrix on %s', (engine) => {
  let w: World;
  let routes: Route[];
  const outcomes: Outcome[] = [];
  let before: Record<string, unknown[]>;
  let after: Record<string, unknown[]>;
  let outboundBefore = 0;
  let resolvedBefore: string[][] = [];

  /** The credential.resolved audit events of each foreign credential. */
  const resolvedEvents = async (): Promise<string[][]> => {
    const lists: string[][] = [];
    for (const { id } of w.first.credential) {
      const events = await w.t.request('GET', `${API}/audit-events?action=credential.resolved&targetId=${id}`, { token: w.t.adminToken });
      lists.push((events.body.items as Array<{ id: string }>).map((event) => event.id));
    }
    return lists;
  };

  const call = (route: Route, targets: Targets, token: string | undefined) => {
    const body = MATRIX[routeKey(route)]?.body?.(w, targets);
    return w.t.request(route.method, urlOf(route, targets), { token, ...(body !== undefined ? { body } : {}) });
  };

  beforeAll(async () => {
    w = await buildWorld(engine);
    routes = discoverRoutes(w.t.app);
    before = await snapshotDatabase(w.t);
    outboundBefore = w.outboundCalls();
    resolvedBefore = await resolvedEvents();
    for (const route of idRoutes(routes).filter((r) => MATRIX[routeKey(r)])) {
      for (const actor of ACTORS) {
        const kinds = paramsOf(route.path).map((param) => kindOfParam(route.path, param));
        if (!kinds.every((kind) => kind && actor.foreign.includes(kind))) continue;
        const [unknown] = combinations(route, (kind) => [{ id: unknownIdOf(kind), names: ['Unknown'] }]);
        const baseline = await call(route, unknown ?? {}, actor.token(w));
        for (const targets of combinations(route, (kind) => w.first[kind])) {
          const response = await call(route, targets, actor.token(w));
          const target = Object.values(targets).map((t) => t.id).join(' ');
          outcomes.push({ route: routeKey(route), actor: actor.name, target, baseline, response });
        }
      }
    }
    after = await snapshotDatabase(w.t);
  });
  afterAll(async () => w?.t.close());

  it('knows how to call every API route that takes an id, and lists no route that is gone', () => {
    const found = idRoutes(routes).map(routeKey);
    const unknown = found.filter((key) => !MATRIX[key] && !NOT_TENANT_IDS[key]);
    expect(unknown, 'new id routes: add them to MATRIX (or, with a reason, to NOT_TENANT_IDS)').toEqual([]);
    expect(Object.keys({ ...MATRIX, ...NOT_TENANT_IDS }).filter((key) => !found.includes(key))).toEqual([]);
    const unfilled = idRoutes(routes).filter((route) => MATRIX[routeKey(route)] && bodySchemaOf(w.t.app, route)?.required?.length && !MATRIX[routeKey(route)]?.body);
    expect(unfilled.map(routeKey), 'routes that need a body in MATRIX').toEqual([]);
    expect(found.length).toBeGreaterThanOrEqual(25);
  });

  it('checks a few hundred route, role and foreign id combinations, every role on every route', () => {
    expect(outcomes.length).toBeGreaterThan(300);
    for (const key of Object.keys(MATRIX)) expect(outcomes.some((o) => o.route === key), key).toBe(true);
    for (const actor of ACTORS) expect(outcomes.filter((o) => o.actor === actor.name).length, actor.name).toBeGreaterThanOrEqual(5);
  });

  it('answers a foreign id exactly like an id that does not exist: 404, or 403 for a role the route is closed to, or 401 without a token', () => {
    const problems: string[] = [];
    for (const { route, actor, target, baseline, response } of outcomes) {
      const where = `${route} as ${actor} on ${target}: ${response.status} ${response.text.slice(0, 120)}`;
      const expected = actor === 'anonymous caller' ? [401] : [403, 404];
      const code = { 401: 'UNAUTHENTICATED', 403: 'FORBIDDEN', 404: 'NOT_FOUND' }[response.status as 401 | 403 | 404];
      if (!expected.includes(response.status) || response.body?.error?.code !== code) problems.push(`unexpected answer: ${where}`);
      else if (response.status !== baseline.status || JSON.stringify(response.body) !== JSON.stringify(baseline.body)) {
        problems.push(`differs from an unknown id (${baseline.status} ${baseline.text.slice(0, 80)}): ${where}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('never puts a foreign label, name, email or token in any of those answers', () => {
    const secrets = w.secrets().filter((secret) => secret.length >= 8);
    expect(secrets.length).toBeGreaterThan(15);
    const leaks = outcomes.filter((o) => secrets.some((secret) => o.response.text.includes(secret)));
    expect(leaks.map((o) => `${o.route} as ${o.actor}`)).toEqual([]);
  });

  it('changes no row, writes no audit event (no credential.resolved), and makes no outbound call while refusing', async () => {
    expect(after).toEqual(before);
    expect(w.outboundCalls()).toBe(outboundBefore);
    expect(await resolvedEvents()).toEqual(resolvedBefore);
  });

  it('uses ids that are real: the first organization\'s admin reaches every one of them', async () => {
    const get = (path: string) => w.t.request('GET', `${API}${path}`, { token: w.t.adminToken });
    for (const { id } of w.first.credential) expect((await get(`/credentials/${id}`)).status).toBe(200);
    for (const { id } of w.first.customer) expect((await get(`/customers/${id}`)).status).toBe(200);
    for (const { id } of w.first.integration) expect((await get(`/integrations/${id}`)).status).toBe(200);
    for (const { id } of w.first.instance) expect((await get(`/instances/${id}`)).status).toBe(200);
    expect((await get(`/instances/${w.first.instance[0]?.id}/runs/${w.first.run[0]?.id}`)).status).toBe(200);
    const tokenIds = ((await get('/api-tokens?limit=200')).body.items as Array<{ id: string; revokedAt: string | null }>).filter((t) => t.revokedAt === null).map((t) => t.id);
    expect(tokenIds).toEqual(expect.arrayContaining(w.first.apiToken.map((t) => t.id)));
    const userIds = ((await get('/users')).body.items as Array<{ id: string }>).map((u) => u.id);
    expect(userIds).toEqual(expect.arrayContaining(w.first.user.map((u) => u.id)));
    expect((await get(`/keys/jobs/${w.first.keyJob[0]?.id}`)).status).toBe(200);
  });

  it('treats foreign ids inside bodies and query strings like unknown ones: 404 or the same refusal, empty lists, nothing changed', async () => {
    const before = await snapshotDatabase(w.t);
    const [a, credential, integration] = [w.customerA, w.first.credential[2]?.id ?? '', w.first.integration[0]?.id ?? ''];
    const unknownCredential = unknownIdOf('credential');
    const asOther = { token: w.tokens.otherAdmin };
    const asUserB = { token: w.tokens.customerUserB };
    const refusals: Array<[{ token: string }, string, string, unknown]> = [
      [asOther, 'POST', '/credentials', { label: 'Into A', authMethod: 'api_key', fields: { api_key: 'abcdefgh' }, customerId: a }],
      [asOther, 'POST', '/api-tokens', { name: 'Into A', role: 'customer_user', customerId: a }],
      [asOther, 'POST', '/users', { email: 'into-a@example.test', role: 'customer_user', customerId: a }],
      [asOther, 'POST', '/instances', { integrationId: integration, customerId: a, name: 'Into A' }],
      [asOther, 'POST', '/keys/rotate', { scope: a }],
      [asOther, 'POST', `/credentials/${w.otherCredential}/replace`, { with: credential }],
      [asUserB, 'POST', '/instances', { integrationId: integration, customerId: a, name: 'Into A' }],
      [asUserB, 'POST', '/credentials', { label: 'Into A', authMethod: 'api_key', fields: { api_key: 'abcdefgh' }, customerId: a }],
    ];
    for (const [as, method, path, body] of refusals) {
      const response = await w.t.request(method, `${API}${path}`, { ...as, body });
      expect({ path, status: response.status, code: response.body?.error?.code }).toEqual({ path, status: 404, code: 'NOT_FOUND' });
    }
    for (const [as, instance] of [[asOther, w.otherInstance], [asUserB, w.instanceB]] as const) {
      const bind = (id: string) => w.t.request('PATCH', `${API}/instances/${instance}`, { ...as, body: { bindings: { call: id } } });
      const [foreign, unknown] = [await bind(credential), await bind(unknownCredential)];
      expect(foreign.status).toBe(400);
      expect(foreign.body).toEqual({ error: { ...unknown.body.error } });
    }
    const foreignIds = new Set(ID_KINDS.flatMap((kind) => w.first[kind].map((object) => object.id)));
    const lists = [[asOther, `/credentials?customerId=${a}`], [asOther, `/instances?customerId=${a}`], [asOther, `/audit-events?targetId=${credential}`],
      [asOther, `/audit-events?customerId=${a}`], [asUserB, `/credentials?customerId=${a}`], [asUserB, `/instances?customerId=${a}`]] as const;
    for (const [as, query] of lists) {
      const response = await w.t.request('GET', `${API}${query}`, as);
      expect({ query, status: response.status, items: response.body.items }).toEqual({ query, status: 200, items: [] });
    }
    const searched = await w.t.request('GET', `${API}/credentials?search=Isolation`, asUserB);
    expect((searched.body.items as Array<{ id: string }>).filter((item) => foreignIds.has(item.id))).toEqual([]);
    expect(searched.body.items).toHaveLength(1);
    expect(await snapshotDatabase(w.t)).toEqual(before);
  });

  it('refuses a foreign run asked for under the caller\'s own instance with 404', async () => {
    const run = w.first.run[0]?.id ?? '';
    for (const [token, instance] of [[w.tokens.customerUserB, w.instanceB], [w.tokens.otherAdmin, w.otherInstance]] as const) {
      const own = await w.t.request('GET', `${API}/instances/${instance}`, { token });
      expect(own.status).toBe(200);
      const response = await w.t.request('GET', `${API}/instances/${instance}/runs/${run}`, { token });
      expect({ status: response.status, code: response.body?.error?.code }).toEqual({ status: 404, code: 'NOT_FOUND' });
      const listed = await w.t.request('GET', `${API}/instances/${instance}/runs`, { token });
      expect((listed.body.items as Array<{ id: string }>).map((r) => r.id)).not.toContain(run);
    }
  });
});
