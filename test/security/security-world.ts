import { randomBytes } from 'node:crypto';
import type { EngineName } from '../support/databases.js';
import { startTestApp, type ApiResponse, type TestApp } from '../support/test-app.js';

/**
 * A populated Credence for the security tests: a first organization with two customers
 * and one object of every kind (credentials at both levels, an integration, an instance
 * and its run, API tokens, users), a second organization, and tokens for every role.
 * Outbound HTTP goes to a stub that only counts calls, so a test can prove that a refused
 * request never reached a third party.
 */

export const API = '/api/v1';

/** The kinds of object a path parameter can name. */
export const ID_KINDS = ['credential', 'customer', 'integration', 'instance', 'run', 'apiToken', 'user', 'keyJob', 'webhookEndpoint', 'webhookDelivery'] as const;
export type IdKind = (typeof ID_KINDS)[number];

/** Which kind an `:id` names, from the path segment before it (`/credentials/:id` → credential). */
const KIND_BY_SEGMENT: Record<string, IdKind> = {
  credentials: 'credential',
  customers: 'customer',
  integrations: 'integration',
  instances: 'instance',
  runs: 'run',
  'api-tokens': 'apiToken',
  users: 'user',
  jobs: 'keyJob',
  'webhook-endpoints': 'webhookEndpoint',
  deliveries: 'webhookDelivery',
};

export const kindOfParam = (path: string, param: string): IdKind | undefined => {
  const segments = path.split('/');
  const index = segments.indexOf(`:${param}`);
  return index > 0 ? KIND_BY_SEGMENT[segments[index - 1] ?? ''] : undefined;
};

/** An id shaped like a real one of the kind that names nothing. */
export const unknownIdOf = (kind: IdKind): string => {
  const prefix = { credential: 'cred', customer: 'cus', integration: 'int', instance: 'ins', run: 'run', apiToken: 'tok', user: 'usr', keyJob: 'kjob', webhookEndpoint: 'whe', webhookDelivery: 'whd' }[kind];
  return `${prefix}_${randomBytes(14).toString('hex')}`;
};

export interface WorldObject {
  id: string;
  /** Labels, names and emails that must never reach anyone outside its tenant. */
  names: string[];
}

export interface World {
  t: TestApp;
  customerA: string;
  customerB: string;
  /** Objects of the first organization, by kind; none of customer B's. */
  first: Record<IdKind, WorldObject[]>;
  /** Customer B's own instance, for the mixed own-instance/foreign-run check. */
  instanceB: string;
  tokens: {
    otherAdmin: string;
    otherMember: string;
    otherRuntime: string;
    customerUserB: string;
    sameMember: string;
    runtime: string;
  };
  /** The second organization's own instance and credential. */
  otherInstance: string;
  otherCredential: string;
  /** Calls the app made to the outside world. */
  outboundCalls(): number;
  /** Every label, name and email of the first organization's objects outside customer B. */
  secrets(): string[];
}

const tag = (name: string): string => `${name} ${randomBytes(5).toString('hex')}`;

const expectCreated = (response: ApiResponse, what: string): any => {
  if (response.status !== 201) throw new Error(`${what}: expected 201, got ${response.status} ${response.text}`);
  return response.body;
};

const oauthFields = () => ({
  client_id: `client-${randomBytes(6).toString('hex')}`,
  client_secret: randomBytes(24).toString('base64url'),
  auth_uri: 'https://auth.example.test/oauth2/authorize',
  token_uri: 'https://auth.example.test/oauth2/token',
  scopes: 'files.read',
});

export const HTTP_STEP = { name: 'call', component: 'http', action: 'request', inputs: { url: 'https://service.example.test/ping' } };

export const buildWorld = async (engine: EngineName): Promise<World> => {
  let calls = 0;
  const stubFetch: typeof fetch = async () => {
    calls += 1;
    return new Response('{"ok":true}', { status: 200, headers: { 'content-type': 'application/json' } });
  };
  const t = await startTestApp(engine, { fetch: stubFetch });
  const post = async (path: string, body: unknown, token = t.adminToken) => expectCreated(await t.request('POST', `${API}${path}`, { token, body }), `POST ${path}`);

  const customerA = tag('Isolation Customer A');
  const customerB = tag('Isolation Customer B');
  const a = (await post('/customers', { name: customerA })).id as string;
  const b = (await post('/customers', { name: customerB })).id as string;

  const credential = async (label: string, authMethod: string, fields: Record<string, string>, customerId?: string) => {
    const body = { label, authMethod, fields, destinations: [new URL(HTTP_STEP.inputs.url).origin], ...(customerId ? { customerId } : {}) };
    return { id: (await post('/credentials', body)).id as string, names: [label, ...Object.values(fields).filter((v) => v.length >= 12)] };
  };
  const credentials = [
    await credential(tag('Isolation org key'), 'api_key_secret', { api_key: `AKIA-${randomBytes(8).toString('hex')}`, api_secret: randomBytes(16).toString('hex') }),
    await credential(tag('Isolation org OAuth'), 'oauth2', oauthFields()),
    await credential(tag('Isolation A basic'), 'basic', { username: `user-${randomBytes(6).toString('hex')}`, password: randomBytes(16).toString('hex') }, a),
    await credential(tag('Isolation A OAuth'), 'oauth2', oauthFields(), a),
  ];
  const bKey = await credential(tag('Isolation B key'), 'api_key', { api_key: randomBytes(16).toString('hex') }, b);
  const basicA = credentials[2]?.id ?? '';

  const integrationName = tag('Isolation integration');
  const integration = (await post('/integrations', { name: integrationName, steps: [HTTP_STEP] })).id as string;
  const instanceName = tag('Isolation instance A');
  const instance = (await post('/instances', { integrationId: integration, customerId: a, name: instanceName, bindings: { call: basicA } })).id as string;
  const run = (await post(`/instances/${instance}/runs`, undefined)).id as string;
  const instanceB = (await post('/instances', { integrationId: integration, customerId: b, name: tag('Isolation instance B'), bindings: { call: bKey.id } })).id as string;

  const tokenName = tag('Isolation member token');
  const memberToken = await post('/api-tokens', { name: tokenName, role: 'org_member' });
  const userTokenName = tag('Isolation user A token');
  const userAToken = await post('/api-tokens', { name: userTokenName, role: 'customer_user', customerId: a });
  const memberEmail = `isolation-member-${randomBytes(4).toString('hex')}@example.test`;
  const member = await post('/users', { email: memberEmail, role: 'org_member' });
  const userEmail = `isolation-user-a-${randomBytes(4).toString('hex')}@example.test`;
  const userA = await post('/users', { email: userEmail, role: 'customer_user', customerId: a });
  const users = await t.request('GET', `${API}/users`, { token: t.adminToken });
  const admin = (users.body.items as Array<{ id: string; email: string; role: string }>).find((u) => u.role === 'org_admin');
  if (!admin) throw new Error('no admin user in the first organization');

  const other = await t.otherOrganization('Isolation Other Org');
  const otherToken = async (role: string) => (await post('/api-tokens', { name: `other ${role}`, role }, other.adminToken)).token as string;
  const otherCustomer = (await post('/customers', { name: 'Other customer' }, other.adminToken)).id as string;
  const otherIntegration = (await post('/integrations', { name: 'Other integration', steps: [HTTP_STEP] }, other.adminToken)).id as string;
  const otherInstance = (await post('/instances', { integrationId: otherIntegration, customerId: otherCustomer, name: 'Other instance' }, other.adminToken)).id as string;
  const otherCredential = (await post('/credentials', { label: 'Other key', authMethod: 'api_key', fields: { api_key: randomBytes(12).toString('hex') } }, other.adminToken)).id as string;
  const webhookDescription = tag('Isolation webhook');
  const webhook = await post('/webhook-endpoints', { url: 'https://hooks.example.test/in', events: ['credential.deleted'], description: webhookDescription });
  const doomed = await credential(tag('Isolation deleted key'), 'api_key', { api_key: randomBytes(16).toString('hex') });
  const removed = await t.request('DELETE', `${API}/credentials/${doomed.id}`, { token: t.adminToken, body: { confirm: doomed.names[0] } });
  if (removed.status !== 204) throw new Error(`DELETE /credentials: ${removed.status} ${removed.text}`);
  const deliveries = await t.request('GET', `${API}/webhook-endpoints/${webhook.id as string}/deliveries`, { token: t.adminToken });
  const delivery = deliveries.body.items?.[0]?.id as string | undefined;
  if (!delivery) throw new Error(`no webhook delivery: ${deliveries.text}`);
  const rotation = await t.request('POST', `${API}/keys/rotate`, { token: t.adminToken, body: { scope: a } });
  if (rotation.status !== 202) throw new Error(`POST /keys/rotate: ${rotation.status} ${rotation.text}`);

  const first: World['first'] = {
    credential: credentials,
    customer: [{ id: a, names: [customerA] }],
    integration: [{ id: integration, names: [integrationName] }],
    instance: [{ id: instance, names: [instanceName] }],
    run: [{ id: run, names: [] }],
    apiToken: [
      { id: memberToken.id as string, names: [tokenName, memberToken.token as string] },
      { id: userAToken.id as string, names: [userTokenName, userAToken.token as string] },
    ],
    user: [
      { id: member.user.id as string, names: [memberEmail] },
      { id: userA.user.id as string, names: [userEmail] },
      { id: admin.id, names: [admin.email] },
    ],
    keyJob: [{ id: rotation.body.jobId as string, names: [] }],
    webhookEndpoint: [{ id: webhook.id as string, names: [webhookDescription, webhook.secret as string] }],
    webhookDelivery: [{ id: delivery, names: [] }],
  };
  return {
    t,
    customerA: a,
    customerB: b,
    first,
    instanceB,
    otherInstance,
    otherCredential,
    tokens: {
      otherAdmin: other.adminToken,
      otherMember: await otherToken('org_member'),
      otherRuntime: await otherToken('runtime'),
      customerUserB: await t.token('customer_user', b),
      sameMember: memberToken.token as string,
      runtime: await t.token('runtime'),
    },
    outboundCalls: () => calls,
    secrets: () => ID_KINDS.flatMap((kind) => first[kind].flatMap((object) => object.names)),
  };
};

/** Every row of every table, to prove a series of requests changed nothing. */
export const snapshotDatabase = async (t: TestApp): Promise<Record<string, unknown[]>> => {
  const db = t.runtime.store.db as unknown as {
    introspection: { getTables(): Promise<Array<{ name: string }>> };
    selectFrom(table: string): { selectAll(): { execute(): Promise<unknown[]> } };
  };
  const tables = (await db.introspection.getTables()).map((table) => table.name).filter((name) => !name.startsWith('kysely_')).sort();
  const snapshot: Record<string, unknown[]> = {};
  for (const table of tables) {
    const rows = await db.selectFrom(table).selectAll().execute();
    snapshot[table] = rows.map((row) => JSON.stringify(row)).sort();
  }
  return snapshot;
};
