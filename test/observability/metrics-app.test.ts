import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildMetricsApp } from '../../src/http/metrics-routes.js';
import { createMetrics } from '../../src/observability/metrics.js';

// The HTTP surface of a worker-only process with CREDENCE_METRICS_PORT: /metrics and nothing else.

describe('the metrics app of a worker-only process', () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    const metrics = createMetrics({ processMetrics: false });
    metrics.tokenRefreshed('refreshed');
    const tokens = {
      authenticate: async (bearer: string) =>
        bearer === 'crd_admin' ? { type: 'api_token' as const, id: 'tok_1', organizationId: 'org_1', role: 'org_admin' as const, customerId: null } : undefined,
    };
    app = await buildMetricsApp({ metrics, access: { tokens }, loggerInstance: pino({ level: 'silent' }) });
  });
  afterAll(async () => app?.close());

  it('shows the worker\'s metrics to a scraper on loopback', async () => {
    const response = await app.inject({ method: 'GET', url: '/metrics' });
    expect(response.statusCode).toBe(200);
    expect(response.body).toContain('credence_token_refreshes_total{outcome="refreshed"} 1');
  });

  it('answers other addresses under the same rule, with the one error body', async () => {
    const refused = await app.inject({ method: 'GET', url: '/metrics', remoteAddress: '198.51.100.4' });
    expect(refused.statusCode).toBe(401);
    expect(JSON.parse(refused.body)).toMatchObject({ error: { code: 'UNAUTHENTICATED' } });
    const admitted = await app.inject({ method: 'GET', url: '/metrics', remoteAddress: '198.51.100.4', headers: { authorization: 'Bearer crd_admin' } });
    expect(admitted.statusCode).toBe(200);
  });

  it('serves nothing but /metrics', async () => {
    expect((await app.inject({ method: 'GET', url: '/api/v1/credentials' })).statusCode).toBe(404);
  });
});
