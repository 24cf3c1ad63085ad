import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API, authorizedScenario, makeDue, resolveCredential, type Scenario } from '../oauth/oauth-fixtures.js';

// GET /metrics after real traffic: a resolve through the API, an authorization through a
// link, and a worker refresh against the loopback OAuth server.

/** The value of one sample line, e.g. `credence_token_refreshes_total{outcome="refreshed"}`; undefined when absent. */
const sample = (text: string, series: string): number | undefined => {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};

describe('GET /metrics', () => {
  let s: Scenario;
  let secretValue = '';
  let apiKeyCredential = '';
  let accessToken = '';
  let linkToken = '';
  let before = '';

  const scrape = async (): Promise<string> => {
    const response = await s.t.app.inject({ method: 'GET', url: '/metrics' });
    expect(response.statusCode).toBe(200);
    return response.body;
  };

  beforeAll(async () => {
    s = await authorizedScenario('sqlite', { accessTokenTtlSeconds: 3600 });
    before = await scrape();
    secretValue = `sk-live-${'q'.repeat(24)}`;
    const created = await s.t.request('POST', `${API}/credentials`, {
      token: s.t.adminToken,
      body: { label: 'Billing API', authMethod: 'api_key', fields: { api_key: secretValue } },
    });
    expect(created.status).toBe(201);
    apiKeyCredential = created.body.id;
    expect((await resolveCredential(s.api, s.runtimeToken, apiKeyCredential)).status).toBe(200);
    const resolved = await resolveCredential(s.api, s.runtimeToken, s.credentialId);
    expect(resolved.status).toBe(200);
    accessToken = resolved.body.token.accessToken;
    expect((await resolveCredential(s.api, s.runtimeToken, 'cred_000000000000ffffffffffffffff')).status).toBe(404);

    await makeDue(s.t, s.credentialId);
    expect(await s.t.runtime.services.refreshWorker.tick()).toBe(1);

    const link = await s.t.request('POST', `${API}/credentials/${s.credentialId}/authorization-link`, { token: s.t.adminToken, body: {} });
    expect(link.status).toBe(201);
    linkToken = new URL(link.body.url).pathname.split('/').pop() ?? '';
    expect(linkToken.length).toBeGreaterThan(20);
    await s.t.app.inject({ method: 'GET', url: new URL(link.body.url).pathname });
  });

  afterAll(async () => {
    await s?.close();
  });

  it('answers the Prometheus text format with the request-duration histogram by route pattern', async () => {
    const response = await s.t.app.inject({ method: 'GET', url: '/metrics' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(response.body).toContain('# TYPE credence_http_request_duration_seconds histogram');
    const series = 'credence_http_request_duration_seconds_count{method="POST",route="/api/v1/credentials/:id/resolve",status="200"}';
    expect(sample(response.body, series)).toBe(2);
    expect(sample(response.body, series.replace('"200"', '"404"'))).toBe(1);
    expect(response.body).toMatch(/credence_http_request_duration_seconds_count\{method="GET",route="\/oauth2\/authorize\/:[A-Za-z]+",status="\d+"\} \d+/);
    // Node's process metrics come along.
    expect(response.body).toContain('process_cpu_seconds_total');
  });

  it('counts resolves by outcome and refreshes by outcome, starting from zero', async () => {
    const after = await scrape();
    expect(sample(before, 'credence_credential_resolves_total{outcome="resolved"}')).toBe(0);
    expect(sample(before, 'credence_token_refreshes_total{outcome="refreshed"}')).toBe(0);
    expect(sample(after, 'credence_credential_resolves_total{outcome="resolved"}')).toBe(2);
    expect(sample(after, 'credence_credential_resolves_total{outcome="not_found"}')).toBe(1);
    expect(sample(after, 'credence_token_refreshes_total{outcome="refreshed"}')).toBe(1);
    expect(sample(after, 'credence_token_refreshes_total{outcome="failed"}')).toBe(0);
    expect(sample(after, 'credence_token_refresh_lag_seconds_count')).toBe(1);
    expect(sample(after, 'credence_refresh_leases_total{result="taken"}')).toBe(1);
  });

  it('counts data-key cache hits once a scope\'s key is unwrapped', async () => {
    const after = await scrape();
    expect(sample(after, 'credence_data_key_cache_lookups_total{result="hit"}')).toBeGreaterThan(0);
    expect(sample(after, 'credence_data_key_cache_lookups_total{result="miss"}')).toBeGreaterThan(0);
  });

  it('never shows a secret, a token, or the id of a credential, customer or organization', async () => {
    const text = await scrape();
    const forbidden = [
      secretValue,
      accessToken,
      linkToken,
      s.provider.client.clientSecret,
      s.runtimeToken,
      s.t.adminToken,
      s.credentialId,
      apiKeyCredential,
      s.t.organizationId,
      'cred_',
      'org_',
      'crd_',
    ];
    for (const value of forbidden) expect(value.length > 3 && text.includes(value), `metrics contain ${value.slice(0, 6)}…`).toBe(false);
  });
});
