import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { newId } from '../../src/common/ids.js';
import { Redacted } from '../../src/common/redacted.js';
import { openRuntime, type Runtime } from '../../src/runtime.js';
import type { Actor } from '../../src/tenants/actor.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';
import { randomMasterKey } from '../support/test-app.js';

// Two runtimes — two connection pools, as two processes would have — append to the same
// organizations' chains at once, inside their own transactions and on their own.

describe('the audit hash chain under concurrent inserts on PostgreSQL', () => {
  let database: TestDatabase;
  const runtimes: Runtime[] = [];

  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    if (!database.url) throw new Error('the PostgreSQL test database has no URL');
    const config = loadConfig({ CREDENCE_DATA_DIR: database.dataDir, DATABASE_URL: database.url, CREDENCE_MASTER_KEY: randomMasterKey() });
    const quiet = { warn: () => undefined };
    runtimes.push(await openRuntime(config, quiet));
    runtimes.push(await openRuntime(config, quiet));
  });
  afterAll(async () => {
    for (const runtime of runtimes) await runtime.close();
    await database?.drop();
  });

  const adminOf = (organizationId: string): Actor => ({ type: 'user', id: 'usr_concurrency', organizationId, role: 'org_admin', customerId: null });

  /** Each runtime: customers created (a change and its event in one transaction) and bare events, all at once. */
  const burst = (organizationId: string, perRuntime: number) =>
    Promise.all(
      runtimes.flatMap((runtime, r) =>
        Array.from({ length: perRuntime }, (_, i) =>
          i % 2 === 0
            ? runtime.services.customers.create(adminOf(organizationId), { name: `Customer ${r}-${i}` })
            : runtime.services.audit.record(adminOf(organizationId), organizationId, { action: 'test.concurrent', details: { runtime: r, i } }),
        ),
      ),
    );

  it('produces one valid chain per organization, with every event in it exactly once', async () => {
    const [first, second] = runtimes as [Runtime, Runtime];
    const a = await first.services.organizations.setUp({ name: 'Concurrent A', adminEmail: 'a@example.test', adminPassword: new Redacted('password-a-123456') });
    const b = await second.services.organizations.setUp({ name: 'Concurrent B', adminEmail: 'b@example.test', adminPassword: new Redacted('password-b-123456') });
    await Promise.all([burst(a.organization.id, 30), burst(b.organization.id, 30)]);

    for (const org of [a.organization.id, b.organization.id]) {
      const report = await first.services.audit.verify(adminOf(org));
      expect(report).toMatchObject({ ok: true, events: 62, legacyEvents: 0, break: null });
      const rows = await first.store.db.selectFrom('audit_events').select(['seq']).where('organization_id', '=', org).orderBy('seq').execute();
      expect(rows.map((row) => row.seq)).toEqual(Array.from({ length: 62 }, (_, i) => i + 1));
    }
  });

  it("creates an organization's chain head once when its first events race", async () => {
    const [first] = runtimes as [Runtime, Runtime];
    // An organization without any event yet: no head row until the first one is recorded.
    const organizationId = newId('org');
    await first.services.tenantStore.insertOrganization({ id: organizationId, name: 'No events yet', createdAt: new Date().toISOString() });
    await Promise.all(
      runtimes.flatMap((runtime) => Array.from({ length: 10 }, () => runtime.services.audit.record(null, organizationId, { action: 'test.first' }))),
    );
    expect(await first.services.audit.verify(adminOf(organizationId))).toMatchObject({ ok: true, events: 20 });
  });
});
