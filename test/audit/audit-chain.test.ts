import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { newId } from '../../src/common/ids.js';
import { hashEvent } from '../../src/audit/audit-chain.js';
import type { Actor } from '../../src/tenants/actor.js';
import { ENGINES } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const API = '/api/v1';

describe.each(ENGINES)('the audit hash chain on %s', (engine) => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp(engine);
  });
  afterAll(async () => t?.close());

  /** A fresh organization with a few audited changes: 2 events from setup, then one per customer. */
  const organizationWithEvents = async (customers = 4) => {
    const org = await t.otherOrganization(`Org ${Math.random().toString(36).slice(2, 8)}`);
    for (let i = 0; i < customers; i++) {
      const response = await t.request('POST', `${API}/customers`, { token: org.adminToken, body: { name: `Customer ${i}` } });
      expect(response.status).toBe(201);
    }
    return org;
  };
  const verify = async (token: string) => {
    const response = await t.request('GET', `${API}/audit-events/verify`, { token });
    expect(response.status).toBe(200);
    return response.body;
  };
  const db = () => t.runtime.store.db;
  const eventAt = async (organizationId: string, seq: number) =>
    db().selectFrom('audit_events').selectAll().where('organization_id', '=', organizationId).where('seq', '=', seq).executeTakeFirstOrThrow();

  it('reports an untouched chain as intact, with its head', async () => {
    const org = await organizationWithEvents();
    const report = await verify(org.adminToken);
    expect(report).toMatchObject({ organizationId: org.organizationId, ok: true, events: 6, legacyEvents: 0, break: null });
    expect(report.head.seq).toBe(6);
    expect(report.head.hash).toBe((await eventAt(org.organizationId, 6)).hash);
    expect((await eventAt(org.organizationId, 1)).prev_hash).toBe('0'.repeat(64));
  });

  it('lets only an org_admin verify', async () => {
    const member = await t.token('org_member');
    const response = await t.request('GET', `${API}/audit-events/verify`, { token: member });
    expect(response.status).toBe(403);
    expect(response.body.error.code).toBe('FORBIDDEN');
  });

  it("detects an event whose details were edited", async () => {
    const org = await organizationWithEvents();
    const target = await eventAt(org.organizationId, 4);
    await db().updateTable('audit_events').set({ details: '{"name":"Someone else"}' }).where('id', '=', target.id).execute();
    const report = await verify(org.adminToken);
    expect(report.ok).toBe(false);
    expect(report.break).toMatchObject({ reason: 'altered', seq: 4, eventId: target.id });
  });

  it('detects an edited event whose hash was recomputed, at the link after it', async () => {
    const org = await organizationWithEvents();
    const target = await eventAt(org.organizationId, 3);
    const forged = {
      seq: 3,
      prevHash: target.prev_hash ?? '',
      id: target.id,
      organizationId: target.organization_id,
      customerId: target.customer_id,
      actorType: target.actor_type,
      actorId: target.actor_id,
      actorRole: target.actor_role,
      action: 'customer.created',
      targetType: target.target_type,
      targetId: target.target_id,
      details: '{"name":"Forged"}',
      occurredAt: target.occurred_at,
    };
    await db().updateTable('audit_events').set({ details: forged.details, hash: hashEvent(forged) }).where('id', '=', target.id).execute();
    const report = await verify(org.adminToken);
    expect(report.break).toMatchObject({ reason: 'unlinked', seq: 4 });
  });

  it('detects an event removed from the middle', async () => {
    const org = await organizationWithEvents();
    await db().deleteFrom('audit_events').where('organization_id', '=', org.organizationId).where('seq', '=', 3).execute();
    const report = await verify(org.adminToken);
    expect(report.ok).toBe(false);
    expect(report.break).toMatchObject({ reason: 'missing', seq: 3, eventId: null });
  });

  it('detects two events swapped in order', async () => {
    const org = await organizationWithEvents();
    const [third, fourth] = [await eventAt(org.organizationId, 3), await eventAt(org.organizationId, 4)];
    // Through a free position: (organization, seq) is unique.
    await db().updateTable('audit_events').set({ seq: -1 }).where('id', '=', third.id).execute();
    await db().updateTable('audit_events').set({ seq: 3 }).where('id', '=', fourth.id).execute();
    await db().updateTable('audit_events').set({ seq: 4 }).where('id', '=', third.id).execute();
    const report = await verify(org.adminToken);
    expect(report.ok).toBe(false);
    expect(report.break).toMatchObject({ reason: 'unlinked', seq: 3, eventId: fourth.id });
  });

  it('detects events removed from the end of the chain', async () => {
    const org = await organizationWithEvents();
    await db().deleteFrom('audit_events').where('organization_id', '=', org.organizationId).where('seq', '>=', 5).execute();
    const report = await verify(org.adminToken);
    expect(report.ok).toBe(false);
    expect(report.break).toMatchObject({ reason: 'truncated', seq: 5 });
    expect(report.events).toBe(4);
  });

  it('starts the chain after older unhashed events, and flags an unhashed event recorded after it began', async () => {
    const org = await organizationWithEvents(1);
    const legacy = {
      organization_id: org.organizationId,
      customer_id: null,
      actor_type: 'system',
      actor_id: null,
      actor_role: null,
      action: 'legacy.event',
      target_type: null,
      target_id: null,
      details: '{}',
      seq: null,
      prev_hash: null,
      hash: null,
    };
    const before = new Date(Date.now() - 86_400_000);
    await db().insertInto('audit_events').values({ ...legacy, id: newId('evt', before), occurred_at: before.toISOString() }).execute();
    expect(await verify(org.adminToken)).toMatchObject({ ok: true, events: 3, legacyEvents: 1 });

    const slipped = newId('evt', new Date(Date.now() + 1000));
    await db().insertInto('audit_events').values({ ...legacy, id: slipped, occurred_at: new Date().toISOString() }).execute();
    const report = await verify(org.adminToken);
    expect(report.ok).toBe(false);
    expect(report.break).toMatchObject({ reason: 'unchained', eventId: slipped });
  });

  it('leaves the chain intact when the change an event describes rolls back', async () => {
    const org = await organizationWithEvents(1);
    const actor: Actor = { type: 'user', id: 'usr_test', organizationId: org.organizationId, role: 'org_admin', customerId: null };
    const failed = db()
      .transaction()
      .execute(async (trx) => {
        await t.runtime.services.audit.record(actor, org.organizationId, { action: 'test.rolled_back' }, trx);
        throw new Error('the change failed');
      });
    await expect(failed).rejects.toThrow('the change failed');
    await t.runtime.services.audit.record(actor, org.organizationId, { action: 'test.kept' });
    const report = await t.runtime.services.audit.verify(actor);
    expect(report).toMatchObject({ ok: true, events: 4 });
    expect((await eventAt(org.organizationId, 4)).action).toBe('test.kept');
  });

  it('keeps one chain per organization: events of another organization do not disturb it', async () => {
    const first = await organizationWithEvents(2);
    const second = await organizationWithEvents(2);
    await sql`delete from audit_events where organization_id = ${second.organizationId} and seq = 2`.execute(db());
    expect((await verify(first.adminToken)).ok).toBe(true);
    expect((await verify(second.adminToken)).break).toMatchObject({ reason: 'missing', seq: 2 });
  });
});
