import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface TokenEndpointStats {
  requests: number;
  /** Distinct refresh tokens presented. */
  distinct: number;
  /** Refresh tokens presented more than once. */
  repeated: number;
  /** Requests that were not a refresh_token grant. */
  rejected: number;
}

/**
 * A loopback OAuth 2.0 token endpoint for the refresh benchmark: answers every
 * `refresh_token` grant after `latencyMs` with fresh tokens (a new refresh token each time),
 * and counts how often each refresh token was presented.
 */
export const startTokenEndpoint = async (latencyMs: number) => {
  const presented = new Map<string, number>();
  let requests = 0;
  let rejected = 0;
  let issued = 0;
  const run = randomBytes(4).toString('hex');
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      requests += 1;
      const params = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
      const refreshToken = params.get('refresh_token');
      if (request.url !== '/token' || params.get('grant_type') !== 'refresh_token' || !refreshToken) {
        rejected += 1;
        response.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'unsupported_grant_type' }));
        return;
      }
      presented.set(refreshToken, (presented.get(refreshToken) ?? 0) + 1);
      setTimeout(() => {
        issued += 1;
        const body = { access_token: `at-${run}-${issued}`, token_type: 'bearer', expires_in: 3600, refresh_token: `rt-${run}-${issued}` };
        response.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(body));
      }, latencyMs);
    });
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    tokenUri: `${url}/token`,
    stats(): TokenEndpointStats {
      let repeated = 0;
      for (const count of presented.values()) if (count > 1) repeated += 1;
      return { requests, distinct: presented.size, repeated, rejected };
    },
    reset(): void {
      presented.clear();
      requests = 0;
      rejected = 0;
    },
    async close(): Promise<void> {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
};

export type TokenEndpoint = Awaited<ReturnType<typeof startTokenEndpoint>>;
