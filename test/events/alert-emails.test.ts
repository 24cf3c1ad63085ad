import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/databases.js';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { API, createCredential, uniqueValue } from '../integrations/fixtures.js';
import { authorizedScenario, makeDue } from '../oauth/oauth-fixtures.js';

// A credential in trouble emails the organization's admins and its contact: once per change
// (not once per failure), through a real SMTP server, with a reconnect link where that helps.

describe.each(ENGINES)('alert emails on %s', (engine) => {
  let sink: SmtpSink;
  let t: TestApp;
  let service: Server;
  let serviceUrl: string;
  let refusing = false;
  const apiKey = uniqueValue('service-key');

  beforeAll(async () => {
    sink = await startSmtpSink();
    service = createServer((request, response) => {
      const ok = !refusing && request.headers.authorization === `Bearer ${apiKey}`;
      response.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' });
      response.end(ok ? '{"hello":"world"}' : '{"error":"unauthorized"}');
    });
    await new Promise<void>((resolve) => service.listen(0, '127.0.0.1', resolve));
    serviceUrl = `http://127.0.0.1:${(service.address() as AddressInfo).port}`;
    t = await startTestApp(engine, { env: { CREDENCE_ALLOW_INSECURE_LOOPBACK: 'true', CREDENCE_SMTP_URL: `smtp://127.0.0.1:${sink.port}` } });
  });
  afterAll(async () => {
    await t?.close();
    await sink?.close();
    await new Promise<void>((resolve) => (service.closeAllConnections(), service.close(() => resolve())));
  });

  const test = (id: string) => t.request('POST', `${API}/credentials/${id}/test`, { token: t.adminToken, body: { component: 'http', inputs: { url: `${serviceUrl}/hello` } } });
  const adminEmail = async () => {
    const users = await t.request('GET', `${API}/users`, { token: t.adminToken });
    return (users.body.items as Array<{ email: string; role: string }>).find((u) => u.role === 'org_admin')?.email as string;
  };

  it('emails the admins and the contact once when a credential starts failing, not again while it fails, and not on recovery', async () => {
    const endpoint = await t.request('POST', `${API}/webhook-endpoints`, { token: t.adminToken, body: { url: 'https://hooks.example.test/in', events: ['credential.health_changed', 'credential.recovered'] } });
    expect(endpoint.status).toBe(201);
    const id = await createCredential(t, { label: 'Billing API key', authMethod: 'api_key', destinations: [serviceUrl], fields: { api_key: apiKey } });
    await t.request('PATCH', `${API}/credentials/${id}`, { token: t.adminToken, body: { contactEmail: 'it@northwind.example' } });
    await test(id);
    refusing = true;
    try {
      for (let i = 0; i < 3; i += 1) await test(id);
    } finally {
      refusing = false;
    }
    const before = sink.messages.length;
    expect(await t.runtime.services.alertMailer.tick()).toBe(1);
    await test(id);
    expect(await t.runtime.services.alertMailer.tick()).toBe(0);

    const sent = sink.deliveries.slice(before);
    const admin = await adminEmail();
    expect(sent.map((d) => d.to).flat().sort()).toEqual([admin, 'it@northwind.example'].sort());
    for (const { mail } of sent) {
      expect(mail.subject).toBe('Billing API key is failing');
      expect(mail.text).not.toContain(apiKey);
    }
    const forAdmin = sent.find((d) => d.to.includes(admin))?.mail;
    expect(forAdmin?.text).toContain(`${t.baseUrl}/credentials/${id}`);
    // The customer's contact is not sent to a page it cannot open.
    expect(sent.find((d) => d.to.includes('it@northwind.example'))?.mail.text).not.toContain('/credentials/');

    // The same story as events: one change into failing, one out of it, and recovered.
    const rows = await t.runtime.store.db.selectFrom('webhook_deliveries').select(['payload', 'id']).where('endpoint_id', '=', endpoint.body.id).orderBy('id').execute();
    const told = rows.map((row) => JSON.parse(row.payload)).filter((p) => p.data.credentialId === id).map((p) => `${p.type}:${p.data.previousHealth}→${p.data.health}`);
    // (Events of one moment share a millisecond, so their ids need not sort in emitting order.)
    expect(told.sort()).toEqual(['credential.health_changed:failing→healthy', 'credential.health_changed:healthy→failing', 'credential.health_changed:unknown→healthy', 'credential.recovered:failing→healthy']);
  });

  it('emails a warning before a credential expires', async () => {
    const customerId = (await t.request('POST', `${API}/customers`, { token: t.adminToken, body: { name: 'Northwind Traders' } })).body.id as string;
    const id = await createCredential(t, { label: 'Yearly password', authMethod: 'api_key', customerId, destinations: [serviceUrl], fields: { api_key: apiKey } });
    await t.request('PATCH', `${API}/credentials/${id}`, { token: t.adminToken, body: { expiresAt: new Date(Date.now() + 6.5 * 86_400_000).toISOString() } });
    const before = sink.messages.length;
    await t.runtime.services.expiryWatch.tick();
    expect(await t.runtime.services.alertMailer.tick()).toBe(1);
    expect(sink.messages.slice(before).map((m) => m.subject)).toEqual(['Yearly password expires in 7 days']);
    expect(sink.messages.slice(before)[0]?.text).toContain("Northwind Traders's credential");
  });
});

describe.each(ENGINES)('reconnect alert on %s', (engine) => {
  it('emails a new authorization link when the provider revokes the grant, and the link starts the authorization', async () => {
    const sink = await startSmtpSink();
    const s = await authorizedScenario(engine, { env: { CREDENCE_SMTP_URL: `smtp://127.0.0.1:${sink.port}` } });
    try {
      s.server.revokeRefreshTokens();
      await makeDue(s.t, s.credentialId);
      expect(await s.t.runtime.services.refreshWorker.tick()).toBe(1);
      expect(await s.t.runtime.services.alertMailer.tick()).toBe(1);
      const mail = await sink.waitForMessage((m) => /authorized again/.test(m.subject ?? ''), 5000);
      const link = /https?:\/\/\S+\/oauth2\/authorize\/[\w-]+/.exec(mail.text ?? '')?.[0];
      expect(link).toBeDefined();
      const opened = await fetch(link as string, { redirect: 'manual' });
      expect(opened.status).toBe(302);
      expect(opened.headers.get('location')).toContain(s.server.issuer);
      // One change, one email: the next pass finds nothing.
      expect(await s.t.runtime.services.alertMailer.tick()).toBe(0);
    } finally {
      await s.close();
      await sink.close();
    }
  });
});
