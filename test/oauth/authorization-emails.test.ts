import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../src/common/ids.js';
import { ENGINES } from '../support/databases.js';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

// Authorization emails go out from Credence's own address with a link to a provider's
// sign-in page: who may be mailed, how often, and what the email says about where it leads.

const API = '/api/v1';
const LIMITS = { CREDENCE_EMAILS_PER_CREDENTIAL_HOUR: '3', CREDENCE_EMAILS_PER_CUSTOMER_HOUR: '4', CREDENCE_EMAILS_PER_ORGANIZATION_HOUR: '6' };

describe.each(ENGINES)('authorization emails on %s', (engine) => {
  let t: TestApp;
  let sink: SmtpSink;

  beforeAll(async () => {
    sink = await startSmtpSink();
    t = await startTestApp(engine, { env: { CREDENCE_SMTP_URL: `smtp://127.0.0.1:${sink.port}`, ...LIMITS } });
  });

  afterAll(async () => {
    await Promise.all([t?.close(), sink?.close()]);
  });

  const newOrganization = async () => (await t.otherOrganization(`Org ${randomBytes(3).toString('hex')}`)).adminToken;

  const newCustomer = async (token: string, name = `Customer ${randomBytes(3).toString('hex')}`): Promise<string> => {
    const response = await t.request('POST', `${API}/customers`, { token, body: { name } });
    expect(response.status, response.text).toBe(201);
    return response.body.id as string;
  };

  const newCredential = async (token: string, options: { customerId?: string; provider?: string; fields?: Record<string, string> } = {}): Promise<string> => {
    const response = await t.request('POST', `${API}/credentials`, {
      token,
      body: {
        label: `Files ${randomBytes(3).toString('hex')}`,
        authMethod: 'oauth2',
        ...(options.customerId ? { customerId: options.customerId } : {}),
        ...(options.provider ? { provider: options.provider } : {}),
        fields: {
          client_id: 'client',
          client_secret: 'secret-value',
          ...(options.provider ? {} : { auth_uri: 'https://login.files-idp.example/oauth/authorize', token_uri: 'https://api.files-idp.example/oauth/token' }),
          ...options.fields,
        },
      },
    });
    expect(response.status, response.text).toBe(201);
    return response.body.id as string;
  };

  const send = (token: string, credentialId: string, email: string) =>
    t.request('POST', `${API}/credentials/${credentialId}/authorization-emails`, { token, body: { email } });

  const addressee = () => `person-${randomBytes(4).toString('hex')}@example.com`;
  const received = (address: string) => sink.deliveries.filter((delivery) => delivery.to.includes(address)).length;

  /** An API token for a customer user of `customerId`, in the organization of `adminToken`. */
  const customerUserToken = async (adminToken: string, customerId: string): Promise<string> => {
    const response = await t.request('POST', `${API}/api-tokens`, { token: adminToken, body: { name: 'customer user', role: 'customer_user', customerId } });
    expect(response.status, response.text).toBe(201);
    return response.body.token as string;
  };

  const addUser = async (organizationId: string, customerId: string, email: string) => {
    await t.runtime.services.tenantStore.insertUser({
      id: newId('usr'),
      organizationId,
      email,
      passwordHash: '',
      role: 'customer_user',
      customerId,
      createdAt: new Date().toISOString(),
      inviteExpiresAt: null,
    });
  };

  const organizationIdOf = async (token: string): Promise<string> => {
    const customer = await newCustomer(token);
    const found = await t.runtime.store.db.selectFrom('customers').select('organization_id').where('id', '=', customer).executeTakeFirstOrThrow();
    return found.organization_id;
  };

  it('sends at most the per-credential limit of concurrent emails and refuses the rest with 429 RATE_LIMITED and Retry-After', async () => {
    const admin = await newOrganization();
    const credential = await newCredential(admin);
    const address = addressee();
    const responses = await Promise.all(Array.from({ length: 8 }, () => send(admin, credential, address)));
    const statuses = responses.map((response) => response.status).sort();
    expect(statuses).toEqual([202, 202, 202, 429, 429, 429, 429, 429]);
    for (const refused of responses.filter((response) => response.status === 429)) {
      expect(refused.body.error.code).toBe('RATE_LIMITED');
      const retryAfter = Number(refused.headers['retry-after']);
      expect(retryAfter).toBeGreaterThan(3500);
      expect(retryAfter).toBeLessThanOrEqual(3600);
    }
    expect(received(address)).toBe(3);
  });

  it('counts the sends of every credential of a customer against the customer, and of every credential against the organization', async () => {
    const admin = await newOrganization();
    const northwind = await newCustomer(admin);
    const globex = await newCustomer(admin);
    const [first, second, theirs, organizationLevel] = [
      await newCredential(admin, { customerId: northwind }),
      await newCredential(admin, { customerId: northwind }),
      await newCredential(admin, { customerId: globex }),
      await newCredential(admin),
    ];
    for (let i = 0; i < 3; i += 1) expect((await send(admin, first, addressee())).status).toBe(202);
    expect((await send(admin, first, addressee())).status).toBe(429);
    expect((await send(admin, second, addressee())).status).toBe(202);
    const customerRefusal = await send(admin, second, addressee());
    expect(customerRefusal.status).toBe(429);
    expect(customerRefusal.body.error.message).toContain('this customer');
    expect((await send(admin, theirs, addressee())).status).toBe(202);
    expect((await send(admin, organizationLevel, addressee())).status).toBe(202);
    const organizationRefusal = await send(admin, organizationLevel, addressee());
    expect(organizationRefusal.status).toBe(429);
    expect(organizationRefusal.body.error.message).toContain('this organization');
    expect(organizationRefusal.headers['retry-after']).toMatch(/^\d+$/);
  });

  it("lets a customer user email only its own customer's users, or domains the organization allows, which only an org_admin sets", async () => {
    const admin = await newOrganization();
    const organizationId = await organizationIdOf(admin);
    const northwind = await newCustomer(admin);
    const globex = await newCustomer(admin);
    const credential = await newCredential(admin, { customerId: northwind });
    const user = await customerUserToken(admin, northwind);
    const colleague = `it-${randomBytes(3).toString('hex')}@northwind.example`;
    const stranger = `ops-${randomBytes(3).toString('hex')}@globex.example`;
    await addUser(organizationId, northwind, colleague);
    await addUser(organizationId, globex, stranger);

    const outsider = `victim-${randomBytes(3).toString('hex')}@elsewhere.example`;
    for (const address of [outsider, stranger]) {
      const refused = await send(user, credential, address);
      expect(refused.status).toBe(403);
      expect(refused.body.error.code).toBe('FORBIDDEN');
      expect(received(address)).toBe(0);
    }
    expect((await send(user, credential, colleague.toUpperCase())).status).toBe(202);

    const member = (await t.request('POST', `${API}/api-tokens`, { token: admin, body: { name: 'member', role: 'org_member' } })).body.token as string;
    for (const token of [user, member]) {
      const refused = await t.request('PUT', `${API}/oauth2/email-settings`, { token, body: { allowedDomains: ['elsewhere.example'] } });
      expect(refused.status).toBe(403);
    }
    const invalid = await t.request('PUT', `${API}/oauth2/email-settings`, { token: admin, body: { allowedDomains: ['not a domain'] } });
    expect(invalid.status).toBe(400);
    const set = await t.request('PUT', `${API}/oauth2/email-settings`, { token: admin, body: { allowedDomains: ['Elsewhere.Example'] } });
    expect(set.status, set.text).toBe(200);
    expect(set.body).toEqual({ allowedDomains: ['elsewhere.example'] });
    expect((await t.request('GET', `${API}/oauth2/email-settings`, { token: member })).body).toEqual({ allowedDomains: ['elsewhere.example'] });
    expect((await send(user, credential, outsider)).status).toBe(202);
    expect(received(outsider)).toBe(1);
    // An org role speaks for the organization and may email anyone.
    expect((await send(admin, credential, addressee())).status).toBe(202);
  });

  it('names the host the link leads to (the auth_uri host) in the email', async () => {
    const admin = await newOrganization();
    const credential = await newCredential(admin, { fields: { auth_uri: 'https://sso.partner-idp.example:8443/authorize' } });
    const address = addressee();
    expect((await send(admin, credential, address)).status).toBe(202);
    const mail = await sink.waitForMessage((message) => message.to !== undefined && JSON.stringify(message.to).includes(address));
    expect(mail.text).toContain('takes you to sso.partner-idp.example:8443 to sign in');
    expect(mail.html).toContain('sso.partner-idp.example:8443');
  });

  it("issues no link for a preset credential whose auth_uri a customer user moved off the preset's hosts, until an org role sets it", async () => {
    const admin = await newOrganization();
    const northwind = await newCustomer(admin);
    const credential = await newCredential(admin, { customerId: northwind, provider: 'dropbox' });
    const user = await customerUserToken(admin, northwind);
    expect((await t.request('POST', `${API}/credentials/${credential}/authorization-link`, { token: user, body: {} })).status).toBe(201);

    // Moving it without the app's secret is refused outright; a user who knows the secret may.
    const blind = await t.request('PATCH', `${API}/credentials/${credential}`, { token: user, body: { fields: { auth_uri: 'https://dropbox-login.attacker.example/oauth2/authorize' } } });
    expect(blind.status, blind.text).toBe(409);
    const moved = await t.request('PATCH', `${API}/credentials/${credential}`, {
      token: user,
      body: { fields: { auth_uri: 'https://dropbox-login.attacker.example/oauth2/authorize', client_secret: 'a-secret-the-user-knows' } },
    });
    expect(moved.status, moved.text).toBe(200);
    for (const token of [user, admin]) {
      const link = await t.request('POST', `${API}/credentials/${credential}/authorization-link`, { token, body: {} });
      expect(link.status).toBe(403);
      expect(link.body.error.message).toContain("not on Dropbox's hosts");
      const email = await send(token, credential, addressee());
      expect(email.status).toBe(403);
    }

    const vouched = await t.request('PATCH', `${API}/credentials/${credential}`, {
      token: admin,
      body: { fields: { auth_uri: 'https://dropbox-staging.partner.example/oauth2/authorize', client_secret: 'the-vendors-app-secret' } },
    });
    expect(vouched.status, vouched.text).toBe(200);
    expect((await t.request('POST', `${API}/credentials/${credential}/authorization-link`, { token: user, body: {} })).status).toBe(201);
  });
});
