import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/test-app.js';

// A client that starts a request and never finishes it must not hold a connection (and the
// memory behind it) forever: the server cuts it off after CREDENCE_REQUEST_TIMEOUT_MS.

describe('slow and half-sent requests', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp('sqlite', { listen: true, env: { CREDENCE_REQUEST_TIMEOUT_MS: '1000', CREDENCE_HEADERS_TIMEOUT_MS: '800' } });
  });

  afterAll(async () => {
    await t?.close();
  });

  /** Opens a socket, writes `data`, and answers how long the server took to close it (or Infinity within `maxMs`). */
  const closedAfter = (data: string, maxMs: number): Promise<{ ms: number; answer: string }> =>
    new Promise((resolve) => {
      const { hostname, port } = new URL(t.baseUrl);
      const started = Date.now();
      let answer = '';
      const socket = connect(Number(port), hostname, () => socket.write(data));
      socket.on('data', (chunk) => (answer += chunk.toString('latin1')));
      socket.on('error', () => undefined);
      const timer = setTimeout(() => {
        socket.destroy();
        resolve({ ms: Number.POSITIVE_INFINITY, answer });
      }, maxMs);
      socket.on('close', () => {
        clearTimeout(timer);
        resolve({ ms: Date.now() - started, answer });
      });
    });

  it('closes a connection whose body stops after 4 of 100 declared bytes', async () => {
    const request = 'POST /api/v1/customers HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"na';
    const { ms } = await closedAfter(request, 30_000);
    expect(ms).toBeLessThan(30_000);
    expect(ms).toBeGreaterThanOrEqual(700);
  });

  it('closes a connection whose headers never end', async () => {
    const { ms } = await closedAfter('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ', 30_000);
    expect(ms).toBeLessThan(30_000);
  });

  it('still answers a request sent whole', async () => {
    const { answer } = await closedAfter('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n', 30_000);
    expect(answer).toMatch(/^HTTP\/1\.1 200/);
  });
});
