import { describe, expect, it } from 'vitest';
import type { ApiToken, ApiTokenStore } from '../../src/tenants/api-token-store.js';
import { createApiTokenService, hashToken } from '../../src/tenants/api-token-service.js';
import type { Actor } from '../../src/tenants/actor.js';
import type { Db } from '../../src/store/database.js';

// The in-process cache of authenticated API tokens: how long a token is trusted without a
// database read, and when a revocation takes effect.

const SECRET = `crd_${'a'.repeat(43)}`;
const CUSTOMER_SECRET = `crd_${'b'.repeat(43)}`;

const token = (id: string, customerId: string | null): ApiToken => ({
  id,
  organizationId: 'org_1',
  name: id,
  role: customerId ? 'customer_user' : 'runtime',
  customerId,
  createdBy: null,
  createdAt: '2030-01-01T00:00:00.000Z',
  revokedAt: null,
});

/** A token table in memory, counting the lookups that would be database reads. */
const setUp = (cacheTtlMs?: number) => {
  const rows = new Map<string, ApiToken>([
    [hashToken(SECRET), token('tok_runtime', null)],
    [hashToken(CUSTOMER_SECRET), token('tok_customer', 'cus_1')],
  ]);
  let reads = 0;
  let now = Date.parse('2030-01-01T12:00:00.000Z');
  const store = {
    findActiveByHash: async (hash: string) => {
      reads += 1;
      const row = rows.get(hash);
      return row && row.revokedAt === null ? row : undefined;
    },
    find: async (_organizationId: string, id: string) => [...rows.values()].find((row) => row.id === id),
    revoke: async (_organizationId: string, id: string, at: string) => {
      for (const row of rows.values()) if (row.id === id) row.revokedAt = at;
      return true;
    },
  } as unknown as ApiTokenStore;
  const service = createApiTokenService({
    store,
    tenants: { findCustomer: async () => undefined },
    audit: { record: async () => undefined },
    transact: (work) => work({} as Db),
    clock: { now: () => new Date(now) },
    ...(cacheTtlMs !== undefined ? { cacheTtlMs } : {}),
  });
  const admin: Actor = { type: 'cli', id: 'cli', organizationId: 'org_1', role: 'org_admin', customerId: null };
  return {
    service,
    admin,
    reads: () => reads,
    advance: (ms: number) => void (now += ms),
    /** Revocation as another process does it: in the database only. */
    revokeElsewhere: (id: string) => {
      for (const row of rows.values()) if (row.id === id) row.revokedAt = new Date(now).toISOString();
    },
  };
};

describe('API token authentication cache', () => {
  it('trusts a token it just checked for five seconds without reading the database again', async () => {
    const t = setUp();
    expect(await t.service.authenticate(SECRET)).toMatchObject({ id: 'tok_runtime', role: 'runtime' });
    t.advance(4999);
    expect(await t.service.authenticate(SECRET)).toMatchObject({ id: 'tok_runtime' });
    expect(t.reads()).toBe(1);
    t.advance(1);
    expect(await t.service.authenticate(SECRET)).toMatchObject({ id: 'tok_runtime' });
    expect(t.reads()).toBe(2);
  });

  it('sees a revocation made by another process once five seconds have passed', async () => {
    const t = setUp();
    await t.service.authenticate(SECRET);
    t.revokeElsewhere('tok_runtime');
    t.advance(2000);
    expect(await t.service.authenticate(SECRET)).toBeDefined();
    t.advance(3000);
    expect(await t.service.authenticate(SECRET)).toBeUndefined();
  });

  it('refuses a token revoked in this process at once', async () => {
    const t = setUp();
    await t.service.authenticate(SECRET);
    await t.service.revoke(t.admin, 'tok_runtime');
    expect(await t.service.authenticate(SECRET)).toBeUndefined();
  });

  it('forgets the tokens of a deleted customer at once, and only those', async () => {
    const t = setUp();
    await t.service.authenticate(SECRET);
    await t.service.authenticate(CUSTOMER_SECRET);
    t.revokeElsewhere('tok_customer');
    t.service.forgetCustomer('org_1', 'cus_1');
    expect(await t.service.authenticate(CUSTOMER_SECRET)).toBeUndefined();
    expect(await t.service.authenticate(SECRET)).toMatchObject({ id: 'tok_runtime' });
    expect(t.reads()).toBe(3);
  });

  it('never remembers an unknown token, and reads every time with the cache off', async () => {
    const t = setUp(0);
    expect(await t.service.authenticate(`crd_${'c'.repeat(43)}`)).toBeUndefined();
    expect(await t.service.authenticate(`crd_${'c'.repeat(43)}`)).toBeUndefined();
    await t.service.authenticate(SECRET);
    await t.service.authenticate(SECRET);
    expect(t.reads()).toBe(4);
  });

  it('hands out a copy of the actor, so a caller cannot change what the next request sees', async () => {
    const t = setUp();
    const first = await t.service.authenticate(SECRET);
    if (first) first.role = 'org_admin';
    expect((await t.service.authenticate(SECRET))?.role).toBe('runtime');
  });
});
