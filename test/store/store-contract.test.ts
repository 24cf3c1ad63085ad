import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuditStore, type AuditEvent, type AuditStore } from '../../src/audit/audit-store.js';
import { newId, type IdPrefix } from '../../src/common/ids.js';
import type { AuthMethodKey, CredentialStatus } from '../../src/credentials/auth-methods.js';
import { createCredentialStore, type CredentialRecord, type CredentialStore } from '../../src/credentials/credential-store.js';
import { createDataKeyStore, type DataKeyRecord, type DataKeyStore } from '../../src/crypto/data-key-store.js';
import { createIntegrationStore, type Run } from '../../src/integrations/integration-store.js';
import { migrateToLatest, openDatabase, type Db, type StoreHandle } from '../../src/store/database.js';
import { migrations } from '../../src/store/migrations/index.js';
import { createApiTokenStore, type ApiToken, type ApiTokenStore } from '../../src/tenants/api-token-store.js';
import { createOAuthStore, type OAuthStore } from '../../src/oauth/oauth-store.js';
import { createTenantStore, type Customer, type Organization, type TenantStore, type User } from '../../src/tenants/tenant-store.js';
import { createTestDatabase, ENGINES, type TestDatabase } from '../support/databases.js';

/*
 * One contract for every store, run against SQLite and PostgreSQL alike. Each test works
 * inside an organization of its own, so tests share one database per engine without
 * seeing each other's rows.
 */

// Every id and timestamp comes from this clock, one second apart, so ids sort in creation order.
const BASE = Date.parse('2025-01-01T00:00:00.000Z');
let ticks = 0;
const nextDate = (): Date => new Date(BASE + ticks++ * 1000);

const stamp = (prefix: IdPrefix): { id: string; at: string } => {
  const date = nextDate();
  return { id: newId(prefix, date), at: date.toISOString() };
};

const unique = (): string => randomBytes(4).toString('hex');

const idsOf = (rows: ReadonlyArray<{ id: string }>): string[] => rows.map((row) => row.id);

describe.each(ENGINES)('store contract on %s', (engine) => {
  let testDb: TestDatabase | undefined;
  let handle: StoreHandle | undefined;
  let db!: Db;
  let tenants!: TenantStore;
  let tokens!: ApiTokenStore;
  let credentials!: CredentialStore;
  let dataKeys!: DataKeyStore;
  let audit!: AuditStore;
  let oauth!: OAuthStore;

  beforeAll(async () => {
    testDb = await createTestDatabase(engine);
    handle = openDatabase(testDb.config);
    db = handle.db;
    await migrateToLatest(db);
    tenants = createTenantStore(db);
    tokens = createApiTokenStore(db);
    credentials = createCredentialStore(db);
    dataKeys = createDataKeyStore(db);
    audit = createAuditStore(db);
    oauth = createOAuthStore(db, engine);
  });

  afterAll(async () => {
    await handle?.close();
    await testDb?.drop();
  });

  const addOrganization = async (name = 'Acme'): Promise<Organization> => {
    const { id, at } = stamp('org');
    const org: Organization = { id, name, createdAt: at };
    await tenants.insertOrganization(org);
    return org;
  };

  const addCustomer = async (organizationId: string, name: string, externalId: string | null = null): Promise<Customer> => {
    const customer = buildCustomer(organizationId, name, externalId);
    await tenants.insertCustomer(customer);
    return customer;
  };

  const buildCustomer = (organizationId: string, name: string, externalId: string | null = null): Customer => {
    const { id, at } = stamp('cus');
    return { id, organizationId, name, externalId, createdAt: at, updatedAt: at };
  };

  const buildCredential = (
    organizationId: string,
    fields: {
      label: string;
      customerId?: string | null;
      authMethod?: AuthMethodKey;
      status?: CredentialStatus;
    },
  ): CredentialRecord => {
    const { id, at } = stamp('cred');
    return {
      id,
      organizationId,
      customerId: fields.customerId ?? null,
      label: fields.label,
      authMethod: fields.authMethod ?? 'api_key',
      destinations: [],
      oauthSettings: null,
      lastTestCiphertext: null,
      legacyLastTest: null,
      expiresAt: null,
      clientSecretExpiresAt: null,
      contactEmail: null,
      status: fields.status ?? 'active',
      setFields: ['api_key'],
      configCiphertext: null,
      secretCiphertext: `sealed-${id}`,
      version: 1,
      createdAt: at,
      updatedAt: at,
    };
  };

  const addCredential = async (organizationId: string, fields: Parameters<typeof buildCredential>[1]): Promise<CredentialRecord> => {
    const record = buildCredential(organizationId, fields);
    await credentials.insert(record);
    return record;
  };

  describe('migrations', () => {
    it('leaves the schema and the data as they are when migrateToLatest runs again', async () => {
      const org = await addOrganization('Survives a second migration');
      const tablesBefore = (await db.introspection.getTables()).map((t) => t.name).sort();
      const applied = async (): Promise<string[]> => {
        const { rows } = await sql<{ name: string }>`select name from kysely_migration order by name`.execute(db);
        return rows.map((row) => row.name);
      };
      const migrationsBefore = await applied();

      await expect(migrateToLatest(db)).resolves.toBeUndefined();
      await expect(migrateToLatest(db)).resolves.toBeUndefined();

      expect(migrationsBefore).toEqual(Object.keys(migrations));
      expect(await applied()).toEqual(Object.keys(migrations));
      expect((await db.introspection.getTables()).map((t) => t.name).sort()).toEqual(tablesBefore);
      // SQLite counts changes to credentials in a table; PostgreSQL announces them with NOTIFY.
      const changes = engine === 'sqlite' ? ['credential_changes'] : [];
      expect(tablesBefore).toEqual(['alert_emails', 'api_tokens', 'audit_events', 'audit_heads', ...changes, 'credential_expiry_notices', 'credential_health', 'credential_health_checks', 'credential_health_history', 'credentials', 'customers', 'data_keys', 'instance_bindings', 'instances', 'integrations', 'key_rotation_jobs', 'oauth_email_sends', 'oauth_email_settings', 'oauth_grants', 'oauth_links', 'oauth_states', 'organizations', 'runs', 'sessions', 'setup_marks', 'sign_in_lockouts', 'users', 'webhook_attempts', 'webhook_deliveries', 'webhook_endpoints']);
      expect(await tenants.findOrganization(org.id)).toEqual(org);
    });
  });

  describe('tenant store', () => {
    it('finds an inserted organization by id and lists it', async () => {
      const org = await addOrganization('Globex');
      expect(await tenants.findOrganization(org.id)).toEqual({ id: org.id, name: 'Globex', createdAt: org.createdAt });
      expect(await tenants.findOrganization(newId('org'))).toBeUndefined();
      expect((await tenants.listOrganizations()).filter((o) => o.id === org.id)).toEqual([org]);
    });

    it('finds an inserted customer within its organization', async () => {
      const org = await addOrganization();
      const customer = await addCustomer(org.id, 'Initech', 'ext-42');
      expect(await tenants.findCustomer(org.id, customer.id)).toEqual({
        id: customer.id,
        organizationId: org.id,
        name: 'Initech',
        externalId: 'ext-42',
        createdAt: customer.createdAt,
        updatedAt: customer.updatedAt,
      });
    });

    it('does not find, update or delete a customer when asked under another organization', async () => {
      const org = await addOrganization();
      const other = await addOrganization('Other');
      const customer = await addCustomer(org.id, 'Initech');

      expect(await tenants.findCustomer(other.id, customer.id)).toBeUndefined();
      expect(await tenants.updateCustomer(other.id, customer.id, { name: 'Stolen', updatedAt: nextDate().toISOString() })).toBe(false);
      expect(await tenants.deleteCustomer(other.id, customer.id)).toBe(false);
      expect(await tenants.listCustomers(other.id, { limit: 10 })).toEqual([]);
      expect(await tenants.findCustomer(org.id, customer.id)).toEqual(customer);
    });

    it('updates only the fields given, and can clear the external id', async () => {
      const org = await addOrganization();
      const customer = await addCustomer(org.id, 'Initech', 'ext-1');
      const renamedAt = nextDate().toISOString();

      expect(await tenants.updateCustomer(org.id, customer.id, { name: 'Initrode', updatedAt: renamedAt })).toBe(true);
      expect(await tenants.findCustomer(org.id, customer.id)).toEqual({ ...customer, name: 'Initrode', updatedAt: renamedAt });

      const clearedAt = nextDate().toISOString();
      expect(await tenants.updateCustomer(org.id, customer.id, { externalId: null, updatedAt: clearedAt })).toBe(true);
      expect(await tenants.findCustomer(org.id, customer.id)).toEqual({
        ...customer,
        name: 'Initrode',
        externalId: null,
        updatedAt: clearedAt,
      });
    });

    it('reports whether an update or delete touched a customer', async () => {
      const org = await addOrganization();
      const customer = await addCustomer(org.id, 'Short-lived');
      const missing = newId('cus');

      expect(await tenants.updateCustomer(org.id, missing, { name: 'x', updatedAt: nextDate().toISOString() })).toBe(false);
      expect(await tenants.deleteCustomer(org.id, missing)).toBe(false);
      expect(await tenants.deleteCustomer(org.id, customer.id)).toBe(true);
      expect(await tenants.findCustomer(org.id, customer.id)).toBeUndefined();
      expect(await tenants.deleteCustomer(org.id, customer.id)).toBe(false);
    });

    it('pages customers in creation order with afterId and limit, without overlap', async () => {
      const org = await addOrganization();
      const built = ['c0', 'c1', 'c2', 'c3', 'c4'].map((name) => buildCustomer(org.id, name));
      // Inserted newest first, so the order can only come from the ids.
      for (const customer of [...built].reverse()) await tenants.insertCustomer(customer);
      await addCustomer((await addOrganization('Other')).id, 'not mine');

      const first = await tenants.listCustomers(org.id, { limit: 2 });
      const second = await tenants.listCustomers(org.id, { afterId: first.at(-1)?.id, limit: 2 });
      const third = await tenants.listCustomers(org.id, { afterId: second.at(-1)?.id, limit: 2 });
      const after = await tenants.listCustomers(org.id, { afterId: third.at(-1)?.id, limit: 2 });

      expect(first.map((c) => c.name)).toEqual(['c0', 'c1']);
      expect(second.map((c) => c.name)).toEqual(['c2', 'c3']);
      expect(third.map((c) => c.name)).toEqual(['c4']);
      expect(after).toEqual([]);
      expect([...first, ...second, ...third]).toEqual(built);
    });

    it('lists only the customer named by onlyId', async () => {
      const org = await addOrganization();
      await addCustomer(org.id, 'a');
      const b = await addCustomer(org.id, 'b');
      await addCustomer(org.id, 'c');
      const foreign = await addCustomer((await addOrganization('Other')).id, 'foreign');

      expect(await tenants.listCustomers(org.id, { onlyId: b.id, limit: 10 })).toEqual([b]);
      expect(await tenants.listCustomers(org.id, { onlyId: b.id, afterId: b.id, limit: 10 })).toEqual([]);
      expect(await tenants.listCustomers(org.id, { onlyId: foreign.id, limit: 10 })).toEqual([]);
    });

    it('finds a user by email whatever the case of the address asked for', async () => {
      const org = await addOrganization();
      const { id, at } = stamp('usr');
      const email = `admin-${unique()}@example.com`;
      const user: User = {
        id,
        organizationId: org.id,
        email,
        passwordHash: 'scrypt$hash',
        role: 'org_admin',
        customerId: null,
        createdAt: at,
        inviteExpiresAt: null,
      };
      await tenants.insertUser(user);

      expect(await tenants.findUserByEmail(org.id, email)).toEqual(user);
      expect(await tenants.findUserByEmail(org.id, email.toUpperCase())).toEqual(user);
      expect(await tenants.findUserByEmail(org.id, `nobody-${unique()}@example.com`)).toBeUndefined();
      // The same email in another organization is another person, found only there.
      const other = await addOrganization('Elsewhere');
      expect(await tenants.findUserByEmail(other.id, email)).toBeUndefined();
      const twin: User = { ...user, id: stamp('usr').id, organizationId: other.id };
      await tenants.insertUser(twin);
      expect(await tenants.findUserByEmail(other.id, email)).toEqual(twin);
      expect((await tenants.findSignInCandidates(email, 20)).map((u) => u.id).sort()).toEqual([user.id, twin.id].sort());
      await expect(tenants.insertUser({ ...twin, id: stamp('usr').id })).rejects.toThrow();
    });

    it('deletes the users of one customer and no one else', async () => {
      const org = await addOrganization();
      const other = await addOrganization('Other');
      const a = await addCustomer(org.id, 'a');
      const b = await addCustomer(org.id, 'b');
      const addUser = async (customerId: string | null): Promise<User> => {
        const { id, at } = stamp('usr');
        const user: User = {
          id,
          organizationId: org.id,
          email: `user-${unique()}@example.com`,
          passwordHash: 'scrypt$hash',
          role: customerId === null ? 'org_member' : 'customer_user',
          customerId,
          createdAt: at,
          inviteExpiresAt: null,
        };
        await tenants.insertUser(user);
        return user;
      };
      const ofA1 = await addUser(a.id);
      const ofA2 = await addUser(a.id);
      const ofB = await addUser(b.id);
      const orgUser = await addUser(null);

      await tenants.deleteUsersOfCustomer(other.id, a.id);
      expect(await tenants.findUserByEmail(org.id, ofA1.email)).toEqual(ofA1);

      await tenants.deleteUsersOfCustomer(org.id, a.id);
      expect(await tenants.findUserByEmail(org.id, ofA1.email)).toBeUndefined();
      expect(await tenants.findUserByEmail(org.id, ofA2.email)).toBeUndefined();
      expect(await tenants.findUserByEmail(org.id, ofB.email)).toEqual(ofB);
      expect(await tenants.findUserByEmail(org.id, orgUser.email)).toEqual(orgUser);
    });
  });

  describe('api token store', () => {
    const buildToken = (organizationId: string, name: string, customerId: string | null = null): ApiToken => {
      const { id, at } = stamp('tok');
      return { id, organizationId, name, role: customerId === null ? 'runtime' : 'customer_user', customerId, createdBy: null, createdAt: at, revokedAt: null };
    };
    const hash = (): string => `sha256-${randomBytes(16).toString('hex')}`;

    it('finds an active token by its hash', async () => {
      const org = await addOrganization();
      const customer = await addCustomer(org.id, 'Initech');
      const token = { ...buildToken(org.id, 'ci', customer.id), createdBy: newId('usr') };
      const tokenHash = hash();
      await tokens.insert(token, tokenHash);

      expect(await tokens.findActiveByHash(tokenHash)).toEqual(token);
      expect(await tokens.find(org.id, token.id)).toEqual(token);
      expect(await tokens.findActiveByHash(hash())).toBeUndefined();
    });

    it('no longer finds a revoked token by its hash', async () => {
      const org = await addOrganization();
      const token = buildToken(org.id, 'deploy');
      const tokenHash = hash();
      await tokens.insert(token, tokenHash);
      const revokedAt = nextDate().toISOString();

      expect(await tokens.revoke(org.id, token.id, revokedAt)).toBe(true);
      expect(await tokens.findActiveByHash(tokenHash)).toBeUndefined();
      expect(await tokens.find(org.id, token.id)).toEqual({ ...token, revokedAt });
      expect(await tokens.revoke(org.id, token.id, nextDate().toISOString())).toBe(false);
      expect((await tokens.find(org.id, token.id))?.revokedAt).toBe(revokedAt);
    });

    it('refuses to revoke a token of another organization', async () => {
      const org = await addOrganization();
      const other = await addOrganization('Other');
      const token = buildToken(org.id, 'deploy');
      const tokenHash = hash();
      await tokens.insert(token, tokenHash);

      expect(await tokens.revoke(other.id, token.id, nextDate().toISOString())).toBe(false);
      expect(await tokens.findActiveByHash(tokenHash)).toEqual(token);
      expect(await tokens.find(other.id, token.id)).toBeUndefined();
    });

    it('lists only the tokens of the organization, in creation order', async () => {
      const org = await addOrganization();
      const other = await addOrganization('Other');
      const mine = [buildToken(org.id, 't0'), buildToken(org.id, 't1'), buildToken(org.id, 't2')];
      const theirs = buildToken(other.id, 'theirs');
      for (const token of [...mine].reverse()) await tokens.insert(token, hash());
      await tokens.insert(theirs, hash());

      expect(await tokens.list(org.id, { limit: 10 })).toEqual(mine);
      expect(await tokens.list(other.id, { limit: 10 })).toEqual([theirs]);
      const first = await tokens.list(org.id, { limit: 2 });
      expect(idsOf(first)).toEqual(idsOf(mine.slice(0, 2)));
      expect(await tokens.list(org.id, { afterId: first.at(-1)?.id, limit: 2 })).toEqual(mine.slice(2));
    });

    it('refuses a second token with the same hash', async () => {
      const org = await addOrganization();
      const original = buildToken(org.id, 'original');
      const copy = buildToken(org.id, 'copy');
      const tokenHash = hash();
      await tokens.insert(original, tokenHash);

      await expect(tokens.insert(copy, tokenHash)).rejects.toThrow(/unique/i);
      expect(await tokens.find(org.id, copy.id)).toBeUndefined();
      expect(await tokens.findActiveByHash(tokenHash)).toEqual(original);
    });
  });

  describe('credential store', () => {
    it('finds an inserted credential with every field as stored', async () => {
      const org = await addOrganization();
      const customer = await addCustomer(org.id, 'Initech');
      const record: CredentialRecord = {
        ...buildCredential(org.id, { label: 'Salesforce', customerId: customer.id, authMethod: 'oauth2', status: 'pending_authorization' }),
        setFields: ['client_id', 'client_secret', 'scopes'],
        configCiphertext: 'sealed-config',
        version: 3,
      };
      await credentials.insert(record);

      expect(await credentials.find(org.id, record.id)).toEqual(record);
      expect(await credentials.find(org.id, newId('cred'))).toBeUndefined();
    });

    it('does not find a credential under another organization', async () => {
      const org = await addOrganization();
      const other = await addOrganization('Other');
      const record = await addCredential(org.id, { label: 'Secret thing' });

      expect(await credentials.find(other.id, record.id)).toBeUndefined();
      expect(await credentials.list(other.id, { limit: 10 })).toEqual([]);
    });

    describe('list', () => {
      let org: Organization;
      let a: Customer;
      let b: Customer;
      const rows: Record<string, CredentialRecord> = {};
      const idsOfNamed = (...names: string[]): string[] => names.map((name) => {
        const row = rows[name];
        if (!row) throw new Error(`no fixture named ${name}`);
        return row.id;
      });

      beforeAll(async () => {
        org = await addOrganization('Lister');
        a = await addCustomer(org.id, 'a');
        b = await addCustomer(org.id, 'b');
        const fixtures: Array<[string, Parameters<typeof buildCredential>[1]]> = [
          ['dropbox', { label: 'My Dropbox', authMethod: 'oauth2', status: 'authorized' }],
          ['stripe', { label: 'Stripe live', customerId: a.id, authMethod: 'api_key', status: 'active' }],
          ['percent', { label: '100% uptime', customerId: a.id, authMethod: 'basic', status: 'active' }],
          ['underscore', { label: 'snake_case key', customerId: b.id, authMethod: 'api_key_secret', status: 'refresh_failed' }],
          ['backslash', { label: 'C:\\deploy key', authMethod: 'private_key', status: 'active' }],
          ['plain', { label: 'Plain label', authMethod: 'api_key', status: 'active' }],
          ['ecole', { label: 'Café École', customerId: b.id, authMethod: 'basic', status: 'reauthorization_required' }],
          ['wide', { label: 'Ｗｉｄｅ ｌａｂｅｌ', authMethod: 'api_key', status: 'active' }],
        ];
        for (const [name, fields] of fixtures) rows[name] = await addCredential(org.id, fields);
        // Another organization with a matching label and the same customer ids must never show up.
        const other = await addOrganization('Other');
        await addCredential(other.id, { label: 'Their Dropbox', authMethod: 'oauth2', status: 'authorized' });
      });

      const list = async (filter: Partial<Parameters<CredentialStore['list']>[1]>): Promise<string[]> =>
        idsOf(await credentials.list(org.id, { limit: 100, ...filter }));

      it('lists every credential of the organization in creation order', async () => {
        expect(await list({})).toEqual(idsOfNamed('dropbox', 'stripe', 'percent', 'underscore', 'backslash', 'plain', 'ecole', 'wide'));
      });

      it("lists only a customer's credentials when given its id", async () => {
        expect(await list({ customerId: a.id })).toEqual(idsOfNamed('stripe', 'percent'));
        expect(await list({ customerId: b.id })).toEqual(idsOfNamed('underscore', 'ecole'));
        expect(await list({ customerId: newId('cus') })).toEqual([]);
      });

      it('lists only organization-level credentials when customerId is null', async () => {
        expect(await list({ customerId: null })).toEqual(idsOfNamed('dropbox', 'backslash', 'plain', 'wide'));
      });

      it('lists by level: organization-level or customer-level', async () => {
        expect(await list({ level: 'organization' })).toEqual(idsOfNamed('dropbox', 'backslash', 'plain', 'wide'));
        expect(await list({ level: 'customer' })).toEqual(idsOfNamed('stripe', 'percent', 'underscore', 'ecole'));
        expect(await list({ level: 'customer', customerId: a.id })).toEqual(idsOfNamed('stripe', 'percent'));
      });

      it('filters by auth method and by status', async () => {
        expect(await list({ authMethod: 'api_key' })).toEqual(idsOfNamed('stripe', 'plain', 'wide'));
        expect(await list({ authMethod: 'basic' })).toEqual(idsOfNamed('percent', 'ecole'));
        expect(await list({ status: 'active' })).toEqual(idsOfNamed('stripe', 'percent', 'backslash', 'plain', 'wide'));
        expect(await list({ status: 'refresh_failed' })).toEqual(idsOfNamed('underscore'));
        expect(await list({ authMethod: 'basic', status: 'active' })).toEqual(idsOfNamed('percent'));
      });

      it('searches labels by case-insensitive substring', async () => {
        expect(await list({ search: 'DROP' })).toEqual(idsOfNamed('dropbox'));
        expect(await list({ search: 'dropbox' })).toEqual(idsOfNamed('dropbox'));
        expect(await list({ search: 'LABEL' })).toEqual(idsOfNamed('plain', 'wide'));
        expect(await list({ search: 'nothing like this' })).toEqual([]);
      });

      it('searches non-ASCII and compatibility forms of labels alike on every engine', async () => {
        expect(await list({ search: 'ÉCOLE' })).toEqual(idsOfNamed('ecole'));
        expect(await list({ search: 'café' })).toEqual(idsOfNamed('ecole'));
        expect(await list({ search: 'wide' })).toEqual(idsOfNamed('wide'));
      });

      it('treats LIKE wildcards and the escape character in a search as literal text', async () => {
        expect(await list({ search: '%' })).toEqual(idsOfNamed('percent'));
        expect(await list({ search: '_' })).toEqual(idsOfNamed('underscore'));
        expect(await list({ search: 'e_c' })).toEqual(idsOfNamed('underscore'));
        expect(await list({ search: 'snake%key' })).toEqual([]);
        expect(await list({ search: '\\' })).toEqual(idsOfNamed('backslash'));
        expect(await list({ search: ':\\d' })).toEqual(idsOfNamed('backslash'));
      });

      it('ignores an empty search', async () => {
        expect(await list({ search: '' })).toHaveLength(8);
      });

      it('pages in creation order with afterId and limit, without overlap', async () => {
        const seen: string[] = [];
        let afterId: string | undefined;
        const pageSizes: number[] = [];
        for (;;) {
          const page = await list({ limit: 3, afterId });
          if (page.length === 0) break;
          pageSizes.push(page.length);
          seen.push(...page);
          afterId = page.at(-1);
        }
        expect(pageSizes).toEqual([3, 3, 2]);
        expect(seen).toEqual(await list({}));
        expect(new Set(seen).size).toBe(8);
      });

      it('pages within a filter', async () => {
        const first = await list({ level: 'organization', limit: 2 });
        expect(first).toEqual(idsOfNamed('dropbox', 'backslash'));
        expect(await list({ level: 'organization', limit: 2, afterId: first.at(-1) })).toEqual(idsOfNamed('plain', 'wide'));
      });
    });

    it('returns records ordered by id, which follows creation time, whatever the insertion order', async () => {
      const org = await addOrganization();
      const built = ['first', 'second', 'third'].map((label) => buildCredential(org.id, { label }));
      for (const record of [...built].reverse()) await credentials.insert(record);

      expect(await credentials.list(org.id, { limit: 10 })).toEqual(built);
    });

    it('applies an update at the expected version, bumps the version, and refuses a stale one', async () => {
      const org = await addOrganization();
      const record = await addCredential(org.id, { label: 'Versioned' });
      const firstAt = nextDate().toISOString();

      expect(
        await credentials.update(org.id, record.id, 1, {
          status: 'refresh_failed',
          setFields: ['api_key', 'extra'],
          configCiphertext: 'sealed-config-2',
          secretCiphertext: 'sealed-secret-2',
          updatedAt: firstAt,
        }),
      ).toBe(true);
      const updated: CredentialRecord = {
        ...record,
        status: 'refresh_failed',
        setFields: ['api_key', 'extra'],
        configCiphertext: 'sealed-config-2',
        secretCiphertext: 'sealed-secret-2',
        version: 2,
        updatedAt: firstAt,
      };
      expect(await credentials.find(org.id, record.id)).toEqual(updated);

      expect(
        await credentials.update(org.id, record.id, 1, { label: 'Lost write', status: 'active', updatedAt: nextDate().toISOString() }),
      ).toBe(false);
      expect(await credentials.find(org.id, record.id)).toEqual(updated);
    });

    it('refuses an update under another organization', async () => {
      const org = await addOrganization();
      const other = await addOrganization('Other');
      const record = await addCredential(org.id, { label: 'Mine' });

      expect(await credentials.update(other.id, record.id, 1, { label: 'Theirs', updatedAt: nextDate().toISOString() })).toBe(false);
      expect(await credentials.find(org.id, record.id)).toEqual(record);
    });

    it('changes the label that searches match when the label is updated', async () => {
      const org = await addOrganization();
      const record = await addCredential(org.id, { label: 'Old Name' });
      const at = nextDate().toISOString();

      expect(await credentials.update(org.id, record.id, 1, { label: 'Brand NEW Name', updatedAt: at })).toBe(true);

      expect((await credentials.find(org.id, record.id))?.label).toBe('Brand NEW Name');
      expect(idsOf(await credentials.list(org.id, { search: 'brand new', limit: 10 }))).toEqual([record.id]);
      expect(await credentials.list(org.id, { search: 'old', limit: 10 })).toEqual([]);
    });

    it('deletes a credential only within its organization', async () => {
      const org = await addOrganization();
      const other = await addOrganization('Other');
      const record = await addCredential(org.id, { label: 'Doomed' });
      const kept = await addCredential(org.id, { label: 'Kept' });

      expect(await credentials.delete(other.id, record.id)).toBe(false);
      expect(await credentials.find(org.id, record.id)).toEqual(record);
      expect(await credentials.delete(org.id, record.id)).toBe(true);
      expect(await credentials.find(org.id, record.id)).toBeUndefined();
      expect(await credentials.delete(org.id, record.id)).toBe(false);
      expect(await credentials.list(org.id, { limit: 10 })).toEqual([kept]);
    });

    it("deletes a customer's credentials, counting them, only within its organization", async () => {
      const org = await addOrganization();
      const other = await addOrganization('Other');
      const a = await addCustomer(org.id, 'a');
      const b = await addCustomer(org.id, 'b');
      await addCredential(org.id, { label: 'a1', customerId: a.id });
      await addCredential(org.id, { label: 'a2', customerId: a.id });
      const ofB = await addCredential(org.id, { label: 'b1', customerId: b.id });
      const orgLevel = await addCredential(org.id, { label: 'org' });

      expect(await credentials.deleteByCustomer(other.id, a.id)).toBe(0);
      expect(await credentials.list(org.id, { customerId: a.id, limit: 10 })).toHaveLength(2);
      expect(await credentials.deleteByCustomer(org.id, a.id)).toBe(2);
      expect(await credentials.deleteByCustomer(org.id, a.id)).toBe(0);
      expect(await credentials.list(org.id, { limit: 10 })).toEqual([ofB, orgLevel]);
    });
  });

  describe('data key store', () => {
    const buildKey = (
      organizationId: string,
      scopeId: string,
      version: number,
      fields: { rootKeyId?: string; retiredAt?: string | null } = {},
    ): DataKeyRecord => {
      const { id, at } = stamp('dek');
      return {
        id,
        organizationId,
        scopeId,
        version,
        wrappedKey: `wrapped-${id}`,
        rootKeyId: fields.rootKeyId ?? 'root-1',
        createdAt: at,
        retiredAt: fields.retiredAt ?? null,
      };
    };
    const addKey = async (...args: Parameters<typeof buildKey>): Promise<DataKeyRecord> => {
      const record = buildKey(...args);
      await dataKeys.insert(record);
      return record;
    };

    it('finds a data key by scope and version, only within its organization', async () => {
      const org = await addOrganization();
      const other = await addOrganization('Other');
      const key = await addKey(org.id, org.id, 1);

      expect(await dataKeys.find(org.id, org.id, 1)).toEqual(key);
      expect(await dataKeys.find(org.id, org.id, 2)).toBeUndefined();
      expect(await dataKeys.find(other.id, org.id, 1)).toBeUndefined();
    });

    it('finds as current the newest version that is not retired', async () => {
      const org = await addOrganization();
      const other = await addOrganization('Other');
      const scope = newId('cus');
      await addKey(org.id, scope, 1, { retiredAt: nextDate().toISOString() });
      const v2 = await addKey(org.id, scope, 2);
      await addKey(org.id, scope, 3, { retiredAt: nextDate().toISOString() });

      expect(await dataKeys.findCurrent(org.id, scope)).toEqual(v2);
      const v10 = await addKey(org.id, scope, 10);
      // Versions compare as numbers: 10 is newer than 2 and 3.
      expect(await dataKeys.findCurrent(org.id, scope)).toEqual(v10);
      expect(await dataKeys.findCurrent(other.id, scope)).toBeUndefined();
    });

    it('finds no current key when every version is retired', async () => {
      const org = await addOrganization();
      const scope = newId('cus');
      await addKey(org.id, scope, 1, { retiredAt: nextDate().toISOString() });

      expect(await dataKeys.findCurrent(org.id, scope)).toBeUndefined();
      expect(await dataKeys.findCurrent(org.id, newId('cus'))).toBeUndefined();
    });

    it('refuses a second key with the same scope and version', async () => {
      const org = await addOrganization();
      const scope = newId('cus');
      const original = await addKey(org.id, scope, 1);
      const copy = buildKey(org.id, scope, 1);

      await expect(dataKeys.insert(copy)).rejects.toThrow(/unique/i);
      expect(await dataKeys.find(org.id, scope, 1)).toEqual(original);
    });

    it('samples exactly one key, the newest, per root key id', async () => {
      const org = await addOrganization();
      const rootA = `root-a-${unique()}`;
      const rootB = `root-b-${unique()}`;
      await addKey(org.id, newId('cus'), 1, { rootKeyId: rootA });
      await addKey(org.id, newId('cus'), 1, { rootKeyId: rootB });
      const newestA = await addKey(org.id, newId('cus'), 1, { rootKeyId: rootA });

      const samples = await dataKeys.sampleByRootKey();
      const roots = samples.map((s) => s.rootKeyId);
      expect(new Set(roots).size).toBe(roots.length);
      expect(samples.filter((s) => s.rootKeyId === rootA)).toEqual([newestA]);
      expect(samples.filter((s) => s.rootKeyId === rootB)).toHaveLength(1);
    });

    it("deletes only the given scope's keys, counting them", async () => {
      const org = await addOrganization();
      const other = await addOrganization('Other');
      const doomed = newId('cus');
      const kept = newId('cus');
      await addKey(org.id, doomed, 1, { retiredAt: nextDate().toISOString() });
      await addKey(org.id, doomed, 2);
      const keptKey = await addKey(org.id, kept, 1);

      expect(await dataKeys.deleteScope(other.id, doomed)).toBe(0);
      expect(await dataKeys.find(org.id, doomed, 2)).toBeDefined();
      expect(await dataKeys.deleteScope(org.id, doomed)).toBe(2);
      expect(await dataKeys.find(org.id, doomed, 1)).toBeUndefined();
      expect(await dataKeys.findCurrent(org.id, doomed)).toBeUndefined();
      expect(await dataKeys.findCurrent(org.id, kept)).toEqual(keptKey);
    });
  });

  describe('oauth store: claiming due grants', () => {
    // Due times far in the past of every other test's rows, so only these grants are due at `now`.
    const now = '2001-01-01T00:10:00.000Z';
    const until = '2001-01-01T00:11:00.000Z';
    const dueAt = (minute: number) => `2001-01-01T00:0${minute}:00.000Z`;

    const addGrant = async (organizationId: string, minute: number, lease?: { owner: string; until: string }) => {
      const record = await addCredential(organizationId, { label: `grant ${unique()}`, authMethod: 'oauth2' });
      await oauth.ensureGrant(organizationId, record.id, { refreshDueAt: dueAt(minute), ...(lease ? { leaseOwner: lease.owner, leaseExpiresAt: lease.until } : {}) });
      return record.id;
    };

    const release = async (ids: string[]) => {
      await db.updateTable('oauth_grants').set({ refresh_due_at: null, lease_owner: null, lease_expires_at: null }).where('credential_id', 'in', ids).execute();
    };

    it('claims earliest due first, leases what it claims, and never more than the limit', async () => {
      const org = await addOrganization();
      const ids = [await addGrant(org.id, 3), await addGrant(org.id, 1), await addGrant(org.id, 2)];
      const claimed = await oauth.claimDue('worker-1', now, until, 2, 10);
      expect(claimed.map((grant) => grant.credentialId)).toEqual([ids[1], ids[2]]);
      expect(claimed.every((grant) => grant.leaseOwner === 'worker-1' && grant.leaseExpiresAt === until)).toBe(true);
      expect((await oauth.claimDue('worker-2', now, until, 10, 10)).map((grant) => grant.credentialId)).toEqual([ids[0]]);
      expect(await oauth.claimDue('worker-3', now, until, 10, 10)).toEqual([]);
      await release(ids);
    });

    it('leases no grant that another worker refreshed after this claim ranked it', async () => {
      // PostgreSQL ranks without locks, then locks what it ranked. Here a peer's refresh of the
      // grant (due again much later, lease cleared) commits between the two: the claim must
      // find it no longer due. SQLite claims under its one write lock, so the race cannot arise.
      if (engine !== 'postgres') {
        const org = await addOrganization();
        const id = await addGrant(org.id, 1);
        await db.updateTable('oauth_grants').set({ refresh_due_at: '2999-01-01T00:00:00.000Z' }).where('credential_id', '=', id).execute();
        expect(await oauth.claimDue('worker-1', now, until, 10, 10)).toEqual([]);
        return;
      }
      const org = await addOrganization();
      const id = await addGrant(org.id, 1);
      const peer = new pg.Client({ connectionString: testDb?.url });
      await peer.connect();
      try {
        // The peer's refresh holds the table so the claim's locking step waits for it; the
        // ranking, a plain read, goes ahead and sees the grant still due.
        await peer.query('begin');
        await peer.query('lock table oauth_grants in exclusive mode');
        await peer.query("update oauth_grants set refresh_due_at = '2999-01-01T00:00:00.000Z', version = version + 1 where credential_id = $1", [id]);
        const claiming = oauth.claimDue('worker-1', now, until, 10, 10);
        const waiting = async () =>
          (await peer.query("select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'")).rows[0].n as number;
        for (let i = 0; i < 200 && (await waiting()) === 0; i += 1) await new Promise((resolve) => setTimeout(resolve, 10));
        expect(await waiting()).toBe(1);
        await peer.query('commit');
        expect(await claiming).toEqual([]);
      } finally {
        await peer.end();
      }
      await release([id]);
    });

    it('leases no organization more than perOrganization grants at once, counting leases already held', async () => {
      const flooding = await addOrganization('Flooding');
      const quiet = await addOrganization('Quiet');
      const held = await addGrant(flooding.id, 0, { owner: 'elsewhere', until });
      const floods: string[] = [];
      for (let i = 0; i < 6; i += 1) floods.push(await addGrant(flooding.id, 1));
      const later = await addGrant(quiet.id, 5);
      const claimed = await oauth.claimDue('worker-1', now, until, 100, 3);
      const byOrganization = (id: string) => claimed.filter((grant) => grant.organizationId === id).length;
      expect(byOrganization(flooding.id)).toBe(2);
      expect(byOrganization(quiet.id)).toBe(1);
      expect(claimed.map((grant) => grant.credentialId)).toContain(later);
      await release([held, ...floods, later]);
    });

    it('gives workers claiming at the same moment disjoint batches', async () => {
      const org = await addOrganization();
      const ids: string[] = [];
      for (let i = 0; i < 8; i += 1) ids.push(await addGrant(org.id, 1 + (i % 5)));
      const batches = await Promise.all(['w1', 'w2', 'w3'].map((owner) => oauth.claimDue(owner, now, until, 3, 100)));
      const claimedIds = batches.flat().map((grant) => grant.credentialId);
      expect(new Set(claimedIds).size).toBe(claimedIds.length);
      expect(batches.every((batch) => batch.length <= 3)).toBe(true);
      await release(ids);
    });
  });

  describe('audit store', () => {
    const buildEvent = (
      organizationId: string,
      action: string,
      fields: { customerId?: string | null; targetId?: string | null; details?: Record<string, unknown> } = {},
    ): AuditEvent => {
      const { id, at } = stamp('evt');
      return {
        id,
        organizationId,
        customerId: fields.customerId ?? null,
        actor: { type: 'user', id: newId('usr'), role: 'org_admin' },
        action,
        targetType: fields.targetId ? 'credential' : null,
        targetId: fields.targetId ?? null,
        details: fields.details ?? {},
        occurredAt: at,
      };
    };
    const addEvents = async (events: AuditEvent[]): Promise<AuditEvent[]> => {
      for (const event of events) await audit.insert(event);
      return events;
    };

    it('lists events newest first', async () => {
      const org = await addOrganization();
      const events = await addEvents([buildEvent(org.id, 'a'), buildEvent(org.id, 'b'), buildEvent(org.id, 'c')]);

      expect(await audit.list(org.id, { limit: 10 })).toEqual([...events].reverse());
    });

    it('filters events by action, target and customer', async () => {
      const org = await addOrganization();
      const customer = await addCustomer(org.id, 'Initech');
      const target = newId('cred');
      const [created, read, deleted, other] = await addEvents([
        buildEvent(org.id, 'credential.created', { customerId: customer.id, targetId: target }),
        buildEvent(org.id, 'credential.read', { customerId: customer.id, targetId: target }),
        buildEvent(org.id, 'credential.deleted', { targetId: target }),
        buildEvent(org.id, 'credential.created', { targetId: newId('cred') }),
      ]);

      expect(idsOf(await audit.list(org.id, { action: 'credential.created', limit: 10 }))).toEqual(idsOf([other!, created!]));
      expect(idsOf(await audit.list(org.id, { targetId: target, limit: 10 }))).toEqual(idsOf([deleted!, read!, created!]));
      expect(idsOf(await audit.list(org.id, { customerId: customer.id, limit: 10 }))).toEqual(idsOf([read!, created!]));
      expect(idsOf(await audit.list(org.id, { action: 'credential.created', targetId: target, limit: 10 }))).toEqual(idsOf([created!]));
      expect(await audit.list(org.id, { action: 'nothing.happened', limit: 10 })).toEqual([]);
    });

    it('pages backwards with beforeId and limit, without overlap', async () => {
      const org = await addOrganization();
      const events = await addEvents(['e0', 'e1', 'e2', 'e3', 'e4'].map((action) => buildEvent(org.id, action)));

      const first = await audit.list(org.id, { limit: 2 });
      const second = await audit.list(org.id, { beforeId: first.at(-1)?.id, limit: 2 });
      const third = await audit.list(org.id, { beforeId: second.at(-1)?.id, limit: 2 });
      const after = await audit.list(org.id, { beforeId: third.at(-1)?.id, limit: 2 });

      expect(first.map((e) => e.action)).toEqual(['e4', 'e3']);
      expect(second.map((e) => e.action)).toEqual(['e2', 'e1']);
      expect(third.map((e) => e.action)).toEqual(['e0']);
      expect(after).toEqual([]);
      expect([...first, ...second, ...third]).toEqual([...events].reverse());
    });

    it('lists only the events of the organization asked for', async () => {
      const org = await addOrganization();
      const other = await addOrganization('Other');
      const [mine] = await addEvents([buildEvent(org.id, 'shared.action')]);
      const [theirs] = await addEvents([buildEvent(other.id, 'shared.action')]);

      expect(await audit.list(org.id, { limit: 10 })).toEqual([mine]);
      expect(await audit.list(other.id, { action: 'shared.action', limit: 10 })).toEqual([theirs]);
    });

    it('returns details as the object that was stored', async () => {
      const org = await addOrganization();
      const details = {
        label: 'Café « quoted » \'single\' "double"',
        fields: ['client_id', 'client_secret'],
        count: 3,
        ratio: 0.5,
        ok: true,
        missing: null,
        nested: { outcome: 'refreshed', attempts: [1, 2] },
      };
      const [event] = await addEvents([buildEvent(org.id, 'credential.updated', { details })]);
      const [anonymous] = await addEvents([{ ...buildEvent(org.id, 'system.start'), actor: { type: 'cli', id: null, role: null } }]);

      const listed = await audit.list(org.id, { limit: 10 });
      expect(listed).toEqual([anonymous, event]);
      expect(listed[1]?.details).toEqual(details);
      expect(listed[0]?.details).toEqual({});
      expect(listed[0]?.actor).toEqual({ type: 'cli', id: null, role: null });
    });
  });
  describe('run store', () => {
    const setUp = async () => {
      const runs = createIntegrationStore(db);
      const org = await addOrganization();
      const customer = await addCustomer(org.id, `Runs ${unique()}`);
      const integration = stamp('int');
      await runs.insertIntegration({ id: integration.id, organizationId: org.id, name: 'Runs', description: null, steps: [{ name: 'call', component: 'http', action: 'request', inputs: {} }], createdAt: integration.at, updatedAt: integration.at });
      const addInstance = async (): Promise<string> => {
        const instance = stamp('ins');
        await runs.insertInstance({ id: instance.id, organizationId: org.id, integrationId: integration.id, customerId: customer.id, name: 'Runs', bindings: {}, createdAt: instance.at, updatedAt: instance.at });
        return instance.id;
      };
      const addRun = async (instanceId: string, startedAt?: string): Promise<Run> => {
        const { id, at } = stamp('run');
        const run: Run = {
          id,
          organizationId: org.id,
          instanceId,
          status: 'succeeded',
          steps: [{ name: 'call', component: 'http', action: 'request', status: 'succeeded', credentialId: null, output: { body: 'x'.repeat(1000) }, error: null, startedAt: at, durationMs: 5, logs: [{ level: 'info', message: 'hello', at }] }],
          error: null,
          startedAt: startedAt ?? at,
          finishedAt: at,
        };
        await runs.insertRun(run);
        return run;
      };
      return { runs, org, addInstance, addRun };
    };

    it('lists runs newest first with their steps but without outputs or logs, and keeps both for the single run', async () => {
      const { runs, org, addInstance, addRun } = await setUp();
      const instance = await addInstance();
      const first = await addRun(instance);
      const second = await addRun(instance);
      const listed = (await runs.listRuns(org.id, instance, { limit: 10 })).map((row) => row.run);
      expect(idsOf(listed)).toEqual([second.id, first.id]);
      expect(listed[0]?.steps).toEqual([{ name: 'call', component: 'http', action: 'request', status: 'succeeded', credentialId: null, error: null, startedAt: second.steps[0]?.startedAt, durationMs: 5 }]);
      expect((await runs.findRun(org.id, instance, first.id))?.run.steps[0]?.output).toEqual({ body: 'x'.repeat(1000) });
    });

    it('prunes runs started before the cutoff and those beyond the newest kept per instance, on every instance', async () => {
      const { runs, org, addInstance, addRun } = await setUp();
      const busy = await addInstance();
      const quiet = await addInstance();
      const old = await addRun(quiet, '2000-01-01T00:00:00.000Z');
      const kept = await addRun(quiet);
      const busyRuns = [];
      for (let i = 0; i < 5; i += 1) busyRuns.push(await addRun(busy));
      const deleted = await runs.pruneRuns({ startedBefore: '2020-01-01T00:00:00.000Z', keepPerInstance: 3 });
      expect(deleted).toBeGreaterThanOrEqual(3);
      const listedIds = async (instance: string) => idsOf((await runs.listRuns(org.id, instance, { limit: 10 })).map((row) => row.run));
      expect(await listedIds(busy)).toEqual(idsOf(busyRuns.slice(2).reverse()));
      expect(await listedIds(quiet)).toEqual([kept.id]);
      expect(await runs.findRun(org.id, quiet, old.id)).toBeUndefined();
      expect(await runs.pruneRuns({ startedBefore: '2020-01-01T00:00:00.000Z', keepPerInstance: 3 })).toBe(0);
    });
  });
});
