import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, cliEnv, freePort, killChildren, runCli, startServe, stopServer, type Server } from './cli-harness.js';

/** A self-signed P-256 certificate for 127.0.0.1, valid for a day. */
const selfSigned = (dir: string, name: string) => {
  const cert = join(dir, `${name}-cert.pem`);
  const key = join(dir, `${name}-key.pem`);
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-days', '1', '-keyout', key, '-out', cert],
    { stdio: 'ignore' },
  );
  return { cert, key };
};

const get = (url: string, ca?: Buffer) =>
  new Promise<{ status: number; headers: Record<string, unknown>; body: string }>((resolve, reject) => {
    const req = request(url, { ...(ca ? { ca } : {}), timeout: 2000 }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });

const waitForHttps = async (server: Server, url: string, ca: Buffer) => {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (server.child.exitCode !== null) throw new Error(`credence serve exited: ${server.output().stderr.slice(0, 2000)}`);
    try {
      if ((await get(url, ca)).status === 200) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`no answer over https: ${server.output().stderr.slice(0, 2000)}`);
};

describe('credence serve over HTTPS (CREDENCE_TLS_CERT, CREDENCE_TLS_KEY)', () => {
  let dir: string;
  let tls: { cert: string; key: string };
  let ca: Buffer;
  let port: number;
  let server: Server;
  let env: Record<string, string>;

  beforeAll(async () => {
    assertBuilt();
    dir = await mkdtemp(join(tmpdir(), 'credence-tls-'));
    tls = selfSigned(dir, 'server');
    ca = await readFile(tls.cert);
    port = await freePort();
    env = cliEnv({ CREDENCE_DATA_DIR: dir, CREDENCE_MASTER_KEY: randomBytes(32).toString('base64'), PORT: String(port) });
    server = startServe({ ...env, CREDENCE_TLS_CERT: tls.cert, CREDENCE_TLS_KEY: tls.key });
    await waitForHttps(server, `https://127.0.0.1:${port}/healthz`, ca);
  });
  afterAll(async () => {
    if (server) await stopServer(server).catch(() => undefined);
    killChildren();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('answers /healthz over https to a client that trusts the certificate, with Strict-Transport-Security', async () => {
    const response = await get(`https://127.0.0.1:${port}/healthz`, ca);
    expect(response.status).toBe(200);
    expect(response.headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
  });

  it('announces an https public URL and redirect URI by default', () => {
    const { stderr } = server.output();
    expect(stderr).toContain(`Credence is serving https://127.0.0.1:${port} `);
    expect(stderr).toContain(`https://127.0.0.1:${port}/oauth2/callback`);
  });

  it('is refused by a client that does not trust the certificate, and speaks no plain http', async () => {
    await expect(get(`https://127.0.0.1:${port}/healthz`)).rejects.toMatchObject({ code: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
    const plain = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(2000) }).then(
      (r) => r.status,
      () => 'failed',
    );
    expect(plain).not.toBe(200);
  });

  it('serves a worker\'s /metrics port over https too, since scrapers send bearer tokens to it', async () => {
    const metricsPort = await freePort();
    const worker = startServe({ ...env, PORT: String(await freePort()), CREDENCE_METRICS_PORT: String(metricsPort), CREDENCE_TLS_CERT: tls.cert, CREDENCE_TLS_KEY: tls.key }, ['--role', 'worker']);
    try {
      await waitForHttps(worker, `https://127.0.0.1:${metricsPort}/metrics`, ca);
      const response = await get(`https://127.0.0.1:${metricsPort}/metrics`, ca);
      expect(response.status).toBe(200);
      expect(response.body).toContain('credence_token_refreshes_total');
    } finally {
      await stopServer(worker).catch(() => undefined);
    }
  });

  it('refuses to start with a certificate but no key', async () => {
    const result = await runCli(['serve'], { ...env, PORT: String(await freePort()), CREDENCE_TLS_CERT: tls.cert });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('CREDENCE_TLS_CERT and CREDENCE_TLS_KEY go together');
  });

  it('refuses to start with a key that does not belong to the certificate, or a file it cannot read', async () => {
    const other = selfSigned(dir, 'other');
    const mismatched = await runCli(['serve'], { ...env, PORT: String(await freePort()), CREDENCE_TLS_CERT: tls.cert, CREDENCE_TLS_KEY: other.key });
    expect(mismatched.code).toBe(1);
    expect(mismatched.stderr).toContain('credence: CREDENCE_TLS_CERT / CREDENCE_TLS_KEY: the key does not belong to the certificate');
    const missing = await runCli(['serve'], { ...env, PORT: String(await freePort()), CREDENCE_TLS_CERT: join(dir, 'nope.pem'), CREDENCE_TLS_KEY: tls.key });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(`credence: CREDENCE_TLS_CERT: cannot read ${join(dir, 'nope.pem')} (ENOENT)`);
  });
});
