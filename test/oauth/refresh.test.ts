import { randomBytes } from 'node:crypto';
import { afterAll, describe, it } from 'vitest';
import { ENGINES, type EngineName } from '../support/databases.js';
import { API, authorizeCredential, authorizedScenario, getCredential, makeDue, ms, refreshRequests, resolveCredential, sleepUntil, type Scenario } from './oauth-fixtures.js';

// Token refresh against the loopback oidc-provider (refresh tokens rotated, reuse of an old
// one revokes the whole grant). Every test has its own app, provider and credential, so the
// tests of one engine run concurrently; the worker runs only when a test calls tick().

const open = new Set<Scenario>();
afterAll(async () => {
  await Promise.all([...open].map((scenario) => scenario.close()));
});

const scenario = async (engine: EngineName, options: Parameters<typeof authorizedScenario>[1] = {}): Promise<Scenario> => {
  const s = await authorizedScenario(engine, { accessTokenTtlSeconds: 5, ...options });
  open.add(s);
  return s;
};

const done = async (s: Scenario) => {
  open.delete(s);
  await s.close();
};

describe.each(ENGINES)('OAuth 2.0 token refresh on %s', (engine) => {
  describe.concurrent('with real tokens', () => {
    it('schedules a 5-second token for refresh at half its life, minus jitter, and leaves it alone until then', async ({ expect }) => {
      const s = await scenario(engine);
      const { oauth2 } = s.authorized;
      expect(s.authorized.status).toBe('authorized');
      expect(oauth2.lastError).toBeNull();
      expect(ms(oauth2.tokenExpiresAt) - ms(oauth2.lastRefreshedAt)).toBe(5000);
      const dueAfter = ms(oauth2.nextRefreshAt) - ms(oauth2.lastRefreshedAt);
      expect(dueAfter).toBeGreaterThanOrEqual(2250);
      expect(dueAfter).toBeLessThanOrEqual(2500);

      expect(await s.t.runtime.services.refreshWorker.tick()).toBe(0);
      expect(refreshRequests(s.server)).toBe(0);
      await done(s);
    });

    it('refreshes a due token in the worker before it expires, and stores the rotated refresh token for the next refresh', async ({ expect }) => {
      const s = await scenario(engine);
      const first = s.authorized.oauth2;
      const original = (await resolveCredential(s.api, s.runtimeToken, s.credentialId)).body.token.accessToken as string;

      await sleepUntil(first.nextRefreshAt, 20);
      expect(await s.t.runtime.services.refreshWorker.tick()).toBe(1);
      const second = await getCredential(s.api, s.t.adminToken, s.credentialId);
      expect(refreshRequests(s.server)).toBe(1);
      expect(second.status).toBe('authorized');
      expect(second.oauth2.lastError).toBeNull();
      expect(ms(second.oauth2.lastRefreshedAt)).toBeGreaterThan(ms(first.lastRefreshedAt));
      expect(ms(second.oauth2.lastRefreshedAt)).toBeLessThan(ms(first.tokenExpiresAt));
      expect(ms(second.oauth2.tokenExpiresAt) - ms(second.oauth2.lastRefreshedAt)).toBe(5000);
      expect(ms(second.oauth2.nextRefreshAt)).toBeGreaterThan(ms(first.nextRefreshAt));

      // A second refresh works only if the rotated refresh token was kept: oidc-provider
      // treats reuse of the first one as a replay and revokes the grant.
      await sleepUntil(second.oauth2.nextRefreshAt, 20);
      expect(await s.t.runtime.services.refreshWorker.tick()).toBe(1);
      const third = await getCredential(s.api, s.t.adminToken, s.credentialId);
      expect(third.status).toBe('authorized');
      expect(s.server.tokenRequestLog.filter((r) => r.grantType === 'refresh_token').map((r) => r.status)).toEqual([200, 200]);

      const resolved = await resolveCredential(s.api, s.runtimeToken, s.credentialId);
      expect(resolved.status).toBe(200);
      const latest = resolved.body.token.accessToken as string;
      expect(latest).not.toBe(original);
      expect(await s.server.introspect(latest)).toMatchObject({ active: true, client_id: s.provider.client.clientId });
      expect(refreshRequests(s.server)).toBe(2);
      await done(s);
    });

    it('keeps the old refresh token when a refresh response carries none', async ({ expect }) => {
      const s = await scenario(engine);
      const canned = `canned-${randomBytes(8).toString('hex')}`;
      s.server.setNextTokenResponse({ status: 200, grantType: 'refresh_token', body: { access_token: canned, token_type: 'Bearer', expires_in: 5 } });

      await sleepUntil(s.authorized.oauth2.nextRefreshAt, 20);
      expect(await s.t.runtime.services.refreshWorker.tick()).toBe(1);
      const afterCanned = await getCredential(s.api, s.t.adminToken, s.credentialId);
      expect(afterCanned.status).toBe('authorized');
      expect(afterCanned.oauth2.nextRefreshAt).not.toBeNull();
      const served = await resolveCredential(s.api, s.runtimeToken, s.credentialId);
      expect(served.body.token.accessToken).toBe(canned);

      // The next refresh must send the refresh token from the authorization, which is still good.
      await sleepUntil(afterCanned.oauth2.nextRefreshAt, 20);
      expect(await s.t.runtime.services.refreshWorker.tick()).toBe(1);
      expect(s.server.tokenRequestLog.filter((r) => r.grantType === 'refresh_token')).toEqual([
        { grantType: 'refresh_token', status: 200, overridden: true },
        { grantType: 'refresh_token', status: 200, overridden: false },
      ]);
      const after = await getCredential(s.api, s.t.adminToken, s.credentialId);
      expect(after.status).toBe('authorized');
      expect(after.oauth2.lastError).toBeNull();
      const real = (await resolveCredential(s.api, s.runtimeToken, s.credentialId)).body.token.accessToken as string;
      expect(real).not.toBe(canned);
      expect((await s.server.introspect(real)).active).toBe(true);
      await done(s);
    });

    it('marks the credential reauthorization_required on invalid_grant, audits it once and stops asking the provider', async ({ expect }) => {
      const s = await scenario(engine);
      s.server.revokeRefreshTokens();
      await sleepUntil(s.authorized.oauth2.nextRefreshAt, 20);
      expect(await s.t.runtime.services.refreshWorker.tick()).toBe(1);

      const view = await getCredential(s.api, s.t.adminToken, s.credentialId);
      expect(view.status).toBe('reauthorization_required');
      expect(view.oauth2.nextRefreshAt).toBeNull();
      expect(view.oauth2.lastError).toBe('invalid_grant');
      expect(view.health).toBe('needs_reauthorization');
      expect(view.healthMessage).toContain('invalid_grant');
      const events = await s.api('GET', `${API}/audit-events?action=oauth.reauthorization_required&targetId=${s.credentialId}`, { token: s.t.adminToken });
      expect(events.status).toBe(200);
      expect(events.body.items).toHaveLength(1);
      expect(events.body.items[0]).toMatchObject({ action: 'oauth.reauthorization_required', targetType: 'credential', targetId: s.credentialId });

      const requests = s.server.tokenRequests;
      expect(await s.t.runtime.services.refreshWorker.tick()).toBe(0);
      // Past half its life the token is no longer handed out, and resolve does not retry either.
      await sleepUntil(s.authorized.oauth2.lastRefreshedAt, 2600);
      expect(await s.t.runtime.services.refreshWorker.tick()).toBe(0);
      const resolved = await resolveCredential(s.api, s.runtimeToken, s.credentialId);
      expect(resolved.status).toBe(200);
      expect(resolved.body.status).toBe('reauthorization_required');
      expect(resolved.body.token).toBeNull();
      expect(s.server.tokenRequests).toBe(requests);
      expect(refreshRequests(s.server)).toBe(1);

      // A new authorization puts the credential back on the schedule.
      await authorizeCredential(s.api, s.t.adminToken, s.credentialId);
      const again = await getCredential(s.api, s.t.adminToken, s.credentialId);
      expect(again.status).toBe('authorized');
      expect(again.oauth2.lastError).toBeNull();
      expect(ms(again.oauth2.nextRefreshAt)).toBeGreaterThan(ms(again.oauth2.lastRefreshedAt));
      expect(again.health).toBe('healthy');
      const changes = await s.api('GET', `${API}/audit-events?action=credential.health_changed&targetId=${s.credentialId}`, { token: s.t.adminToken });
      expect(changes.body.items.map((e: { details: { from: string; to: string; source: string } }) => `${e.details.from}→${e.details.to}:${e.details.source}`).reverse()).toEqual([
        'unknown→healthy:authorization',
        'healthy→needs_reauthorization:refresh',
        'needs_reauthorization→healthy:authorization',
      ]);
      await done(s);
    });

    it('hands out the stored token from resolve while at least half its life is left, without asking the provider', async ({ expect }) => {
      const s = await scenario(engine);
      const first = await resolveCredential(s.api, s.runtimeToken, s.credentialId);
      const second = await resolveCredential(s.api, s.runtimeToken, s.credentialId);
      expect(first.status).toBe(200);
      expect(first.body.token).toMatchObject({ tokenType: expect.any(String), expiresAt: s.authorized.oauth2.tokenExpiresAt });
      expect(ms(first.body.token.expiresAt) - Date.now()).toBeGreaterThanOrEqual(2400);
      expect(second.body.token.accessToken).toBe(first.body.token.accessToken);
      expect(first.body.fields.access_token).toBe(first.body.token.accessToken);
      expect(refreshRequests(s.server)).toBe(0);
      expect((await s.server.introspect(first.body.token.accessToken)).active).toBe(true);
      await done(s);
    });

    it('refreshes on demand in resolve once a token is past half its life, and the provider accepts the new token', async ({ expect }) => {
      const s = await scenario(engine);
      const before = (await resolveCredential(s.api, s.runtimeToken, s.credentialId)).body.token.accessToken as string;
      await sleepUntil(s.authorized.oauth2.lastRefreshedAt, 2700);

      const resolved = await resolveCredential(s.api, s.runtimeToken, s.credentialId);
      expect(resolved.status).toBe(200);
      const after = resolved.body.token.accessToken as string;
      expect(after).not.toBe(before);
      expect(ms(resolved.body.token.expiresAt) - Date.now()).toBeGreaterThanOrEqual(4000);
      expect(refreshRequests(s.server)).toBe(1);
      expect((await s.server.introspect(after)).active).toBe(true);
      const view = await getCredential(s.api, s.t.adminToken, s.credentialId);
      expect(ms(view.oauth2.lastRefreshedAt)).toBeGreaterThan(ms(s.authorized.oauth2.lastRefreshedAt));
      expect(view.oauth2.tokenExpiresAt).toBe(resolved.body.token.expiresAt);
      await done(s);
    });

    it('makes exactly one refresh request for fifty concurrent resolves of an expiring token', async ({ expect }) => {
      const s = await scenario(engine);
      await sleepUntil(s.authorized.oauth2.lastRefreshedAt, 2700);
      const answers = await Promise.all(Array.from({ length: 50 }, () => resolveCredential(s.api, s.runtimeToken, s.credentialId)));
      expect(answers.map((a) => a.status)).toEqual(Array(50).fill(200));
      const tokens = new Set(answers.map((a) => a.body.token?.accessToken));
      expect(tokens.size).toBe(1);
      expect(refreshRequests(s.server)).toBe(1);
      expect((await s.server.introspect(String([...tokens][0]))).active).toBe(true);
      await done(s);
    });

    it('makes one refresh request when the worker and resolves reach an expiring token at the same time', async ({ expect }) => {
      const s = await scenario(engine);
      await sleepUntil(s.authorized.oauth2.lastRefreshedAt, 2700);
      const [claimed, ...answers] = await Promise.all([
        s.t.runtime.services.refreshWorker.tick(),
        ...Array.from({ length: 20 }, () => resolveCredential(s.api, s.runtimeToken, s.credentialId)),
      ]);
      expect(claimed).toBeLessThanOrEqual(1);
      expect(s.server.tokenRequestLog.filter((r) => r.grantType === 'refresh_token').map((r) => r.status)).toEqual([200]);
      expect(answers.map((a) => a.status)).toEqual(Array(20).fill(200));
      const tokens = new Set(answers.map((a) => a.body.token?.accessToken));
      expect(tokens.size).toBe(1);
      expect((await s.server.introspect(String([...tokens][0]))).active).toBe(true);
      expect((await getCredential(s.api, s.t.adminToken, s.credentialId)).status).toBe('authorized');
      await done(s);
    });
  });

  describe.concurrent('with canned token responses', () => {
    it('schedules longer tokens at expiry minus max(5 minutes, 10% of the lifetime), and gives a token without expires_in the default lifetime', async ({ expect }) => {
      const s = await scenario(engine, { accessTokenTtlSeconds: 3600 });
      const schedule = async (body: Record<string, unknown>) => {
        s.server.setNextTokenResponse({ status: 200, grantType: 'refresh_token', body: { access_token: `canned-${randomBytes(6).toString('hex')}`, token_type: 'Bearer', ...body } });
        await makeDue(s.t, s.credentialId);
        expect(await s.t.runtime.services.refreshWorker.tick()).toBe(1);
        const { status, oauth2 } = await getCredential(s.api, s.t.adminToken, s.credentialId);
        expect(status).toBe('authorized');
        return { lifetime: ms(oauth2.tokenExpiresAt) - ms(oauth2.lastRefreshedAt), due: ms(oauth2.nextRefreshAt) - ms(oauth2.lastRefreshedAt) };
      };

      // 1000 s: 10% is 100 s, so the 5-minute margin applies (plus up to 10% of it as jitter).
      const medium = await schedule({ expires_in: 1000 });
      expect(medium.lifetime).toBe(1_000_000);
      expect(medium.due).toBeGreaterThanOrEqual(670_000);
      expect(medium.due).toBeLessThanOrEqual(700_000);

      // No expires_in: the default lifetime of one hour, and a 10% (6-minute) margin.
      const unspecified = await schedule({});
      expect(unspecified.lifetime).toBe(3_600_000);
      expect(unspecified.due).toBeGreaterThanOrEqual(3_204_000);
      expect(unspecified.due).toBeLessThanOrEqual(3_240_000);
      await done(s);
    });
  });

  describe.concurrent('when the provider fails', () => {
    it('honours Retry-After on a 429: no attempt before it, status unchanged, and the still-valid token still served', async ({ expect }) => {
      // An hour-long token: it stays valid while the refresh is made due by hand.
      const s = await scenario(engine, { accessTokenTtlSeconds: 3600 });
      const token = (await resolveCredential(s.api, s.runtimeToken, s.credentialId)).body.token.accessToken as string;
      await makeDue(s.t, s.credentialId);
      s.server.setNextTokenResponse({ status: 429, grantType: 'refresh_token', headers: { 'Retry-After': '120' }, body: { error: 'slow_down' } });
      const startedAt = Date.now();
      expect(await s.t.runtime.services.refreshWorker.tick()).toBe(1);

      const view = await getCredential(s.api, s.t.adminToken, s.credentialId);
      expect(refreshRequests(s.server)).toBe(1);
      expect(view.status).toBe('authorized');
      expect(view.oauth2.lastError).toMatch(/slow_down|429/);
      expect(ms(view.oauth2.nextRefreshAt) - startedAt).toBeGreaterThanOrEqual(119_000);
      expect(ms(view.oauth2.nextRefreshAt) - startedAt).toBeLessThan(10 * 60_000);

      expect(await s.t.runtime.services.refreshWorker.tick()).toBe(0);
      const resolved = await resolveCredential(s.api, s.runtimeToken, s.credentialId);
      expect(resolved.status).toBe(200);
      expect(resolved.body.token.accessToken).toBe(token);
      expect(refreshRequests(s.server)).toBe(1);
      await done(s);
    });

    it('still serves the unexpired token from resolve when the on-demand refresh is answered 429', async ({ expect }) => {
      const s = await scenario(engine);
      const token = (await resolveCredential(s.api, s.runtimeToken, s.credentialId)).body.token.accessToken as string;
      // Past half its life, about 2.3 s before it expires.
      await sleepUntil(s.authorized.oauth2.lastRefreshedAt, 2700);
      s.server.setNextTokenResponse({ status: 429, grantType: 'refresh_token', headers: { 'Retry-After': '120' }, body: { error: 'slow_down' } });
      const startedAt = Date.now();
      const resolved = await resolveCredential(s.api, s.runtimeToken, s.credentialId);
      expect(refreshRequests(s.server)).toBe(1);
      expect(ms(s.authorized.oauth2.tokenExpiresAt)).toBeGreaterThan(Date.now());
      expect(resolved.status).toBe(200);
      expect(resolved.body.token?.accessToken).toBe(token);

      const view = await getCredential(s.api, s.t.adminToken, s.credentialId);
      expect(view.status).toBe('authorized');
      expect(ms(view.oauth2.nextRefreshAt) - startedAt).toBeGreaterThanOrEqual(119_000);
      await done(s);
    });

    it('keeps to the Retry-After back-off in resolve too: the unexpired token is served, then refused, without asking the provider', async ({ expect }) => {
      const s = await scenario(engine);
      const token = (await resolveCredential(s.api, s.runtimeToken, s.credentialId)).body.token.accessToken as string;
      await sleepUntil(s.authorized.oauth2.nextRefreshAt, 20);
      s.server.setNextTokenResponse({ status: 429, grantType: 'refresh_token', headers: { 'Retry-After': '120' }, body: { error: 'slow_down' } });
      expect(await s.t.runtime.services.refreshWorker.tick()).toBe(1);
      expect(refreshRequests(s.server)).toBe(1);

      await sleepUntil(s.authorized.oauth2.lastRefreshedAt, 2700);
      const stale = await resolveCredential(s.api, s.runtimeToken, s.credentialId);
      expect(stale.status).toBe(200);
      expect(stale.body.token?.accessToken).toBe(token);

      await sleepUntil(s.authorized.oauth2.tokenExpiresAt, 50);
      const expired = await resolveCredential(s.api, s.runtimeToken, s.credentialId);
      expect(expired.status).toBe(502);
      expect(expired.body.error.code).toBe('TOKEN_REFRESH_FAILED');
      expect(refreshRequests(s.server)).toBe(1);
      expect((await getCredential(s.api, s.t.adminToken, s.credentialId)).status).toBe('authorized');
      await done(s);
    });

    it('says refresh_failed after five consecutive server errors, backing off longer each time, and authorized again after a success', async ({ expect }) => {
      const s = await scenario(engine, { accessTokenTtlSeconds: 3600 });
      const delays: number[] = [];
      for (let failure = 1; failure <= 5; failure += 1) {
        s.server.setNextTokenResponse({ status: 500, grantType: 'refresh_token', body: 'upstream exploded' });
        await makeDue(s.t, s.credentialId);
        const startedAt = Date.now();
        expect(await s.t.runtime.services.refreshWorker.tick()).toBe(1);
        const view = await getCredential(s.api, s.t.adminToken, s.credentialId);
        expect(view.status, `after failure ${failure}`).toBe(failure < 5 ? 'authorized' : 'refresh_failed');
        expect(view.health, `after failure ${failure}`).toBe(failure < 5 ? 'degraded' : 'failing');
        expect(view.oauth2.lastError).toMatch(/500/);
        delays.push(ms(view.oauth2.nextRefreshAt) - startedAt);
      }
      expect(refreshRequests(s.server)).toBe(5);
      expect(delays[0]).toBeGreaterThanOrEqual(1000);
      expect(delays[4]).toBeGreaterThan(4 * (delays[0] ?? 0));
      const events = await s.api('GET', `${API}/audit-events?action=oauth.refresh_failed&targetId=${s.credentialId}`, { token: s.t.adminToken });
      expect(events.body.items).toHaveLength(1);

      await makeDue(s.t, s.credentialId);
      expect(await s.t.runtime.services.refreshWorker.tick()).toBe(1);
      const recovered = await getCredential(s.api, s.t.adminToken, s.credentialId);
      expect(recovered.status).toBe('authorized');
      expect(recovered.health).toBe('healthy');
      expect(recovered.oauth2.lastError).toBeNull();
      expect(ms(recovered.oauth2.tokenExpiresAt) - ms(recovered.oauth2.lastRefreshedAt)).toBe(3600_000);
      expect(s.server.tokenRequestLog.filter((r) => r.grantType === 'refresh_token').map((r) => r.status)).toEqual([500, 500, 500, 500, 500, 200]);
      await done(s);
    });
  });
});
