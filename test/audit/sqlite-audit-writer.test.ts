import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuditStore } from '../../src/audit/audit-store.js';
import { createSqliteAuditWriter } from '../../src/audit/sqlite-audit-writer.js';
import { createWriteLock } from '../../src/store/sqlite-write-lock.js';
import { verifyChain } from '../../src/audit/audit-chain.js';
import { newId } from '../../src/common/ids.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

// On SQLite, audit events recorded on their own (a resolve, a sign-in) are committed by a
// thread with its own connection, so the commit and its fsync never block requests; the
// chain it writes is the chain the process writes.

const API = '/api/v1';

describe('the SQLite audit writer thread', () => {
  let t: TestApp;
  let scratch: string;

  beforeAll(async () => {
    t = await startTestApp('sqlite');
    scratch = await mkdtemp(join(tmpdir(), 'credence-audit-writer-'));
  });
  afterAll(async () => {
    await t?.close();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  const event = (organizationId: string, action: string) => ({
    id: newId('evt'),
    organizationId,
    customerId: null,
    actor: { type: 'cli', id: null, role: null },
    action,
    targetType: null,
    targetId: null,
    details: { n: action },
    occurredAt: new Date().toISOString(),
  });

  it('commits events recorded on their own on its thread, in batches, into a chain that verifies', async () => {
    const writer = t.runtime.store.auditWriter;
    expect(writer?.usable).toBe(true);
    const before = writer?.batches ?? 0;
    const store = createAuditStore(t.runtime.store.db, 'sqlite', writer);
    await Promise.all(Array.from({ length: 200 }, (_, i) => store.insert(event(t.organizationId, `bench.event_${i}`))));
    // Interleaved with events the process appends inside changes' transactions.
    const created = await Promise.all(Array.from({ length: 5 }, (_, i) => t.request('POST', `${API}/customers`, { token: t.adminToken, body: { name: `Writer ${i}` } })));
    expect(created.map((r) => r.status)).toEqual([201, 201, 201, 201, 201]);
    await Promise.all(Array.from({ length: 50 }, (_, i) => store.insert(event(t.organizationId, `bench.more_${i}`))));

    const batches = (writer?.batches ?? 0) - before;
    expect(batches).toBeGreaterThan(0);
    expect(batches).toBeLessThan(250);
    const stored = await t.runtime.store.db.selectFrom('audit_events').select('action').where('organization_id', '=', t.organizationId).where('action', 'like', 'bench.%').execute();
    expect(stored).toHaveLength(250);
    const report = await verifyChain(store.chain, t.organizationId);
    expect(report).toMatchObject({ ok: true, break: null });
  });

  it('gets its turn while the process commits transactions back to back', async () => {
    // SQLite's busy handler is not fair: without the shared write lock the thread's batches
    // wait until the process stops writing (or time out), as they did behind a re-encryption job.
    const writer = t.runtime.store.auditWriter;
    const store = createAuditStore(t.runtime.store.db, 'sqlite', writer);
    const MAX = 1000;
    let transactions = 0;
    let stop = false;
    const writing = (async () => {
      while (!stop && transactions < MAX) {
        await t.runtime.store.db.transaction().execute(async (trx) => {
          await sql`update audit_heads set seq = seq where organization_id = ${t.organizationId}`.execute(trx);
          // Holding SQLite's write lock most of the time, as a busy process does.
          await new Promise((resolve) => setTimeout(resolve, 2));
        });
        transactions += 1;
        // As the process's workers do between batches.
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    for (let i = 0; i < 5; i += 1) await store.insert(event(t.organizationId, `fair.event_${i}`));
    const whenCommitted = transactions;
    stop = true;
    await writing;
    expect(whenCommitted).toBeLessThan(MAX);
    expect((await verifyChain(store.chain, t.organizationId)).ok).toBe(true);
  });

  it('appends in the process when the thread cannot run, losing no event', async () => {
    const writer = createSqliteAuditWriter(join(scratch, 'no-such-dir', 'missing.sqlite'), createWriteLock());
    const store = createAuditStore(t.runtime.store.db, 'sqlite', writer);
    await Promise.all(Array.from({ length: 3 }, (_, i) => store.insert(event(t.organizationId, `fallback.event_${i}`))));
    expect(writer.usable).toBe(false);
    expect(writer.batches).toBe(0);
    const stored = await t.runtime.store.db.selectFrom('audit_events').select('id').where('action', 'like', 'fallback.%').execute();
    expect(stored).toHaveLength(3);
    expect((await verifyChain(store.chain, t.organizationId)).ok).toBe(true);
    await writer.close();
  });
});
