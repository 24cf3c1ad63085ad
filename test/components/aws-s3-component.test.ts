import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redacted } from '../../src/common/redacted.js';
import { awsS3Component, createAwsS3Component } from '../../src/components/aws-s3-component.js';
import { ComponentError, type ActionContext, type Component, type ComponentFailureKind } from '../../src/components/component.js';
import type { AuthMethodKey } from '../../src/credentials/auth-methods.js';
import { openEgress } from '../support/open-egress.js';

// s3rver on loopback, with two gaps closed:
// - s3rver 3.7 checks the access key id of every signed request but, for Signature
//   Version 4 (the only one the v3 SDK speaks), skips the signature itself ("Signature
//   version 4 calculation is unimplemented"): a wrong secret would pass. A small SigV4
//   verifier in front of it recomputes each signature with the secret of that key and
//   answers SignatureDoesNotMatch as S3 does.
// - Its ListObjectsV2 continuation tokens are DES-encrypted, which OpenSSL 3 only offers
//   through the legacy provider, so s3rver runs in its own Node process started with
//   --openssl-legacy-provider, and the verifier forwards to it.

/** Runs in the child: s3rver with the test's key pair registered on its (only) account. */
const S3RVER_MAIN = `
const S3rver = require('s3rver');
const { DUMMY_ACCOUNT } = require('s3rver/lib/models/account');
const { directory, accessKeyId, secretAccessKey, buckets } = JSON.parse(process.env.S3RVER_TEST_CONFIG);
DUMMY_ACCOUNT.createKeyPair(accessKeyId, secretAccessKey);
process.stdin.on('end', () => process.exit(0)).resume();
new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory, allowMismatchedSignatures: false,
  configureBuckets: buckets.map((name) => ({ name })) })
  .run()
  .then((address) => process.stdout.write(JSON.stringify({ port: address.port }) + '\\n'))
  .catch((error) => { process.stderr.write(String(error && error.message) + '\\n'); process.exit(1); });
`;

const ACCESS_KEY_ID = 'AKIACREDENCETEST0001';
const SECRET = 'cReDeNcE/s3+SecretCanary9Qx7Lm2Vb8Zt4Hd1Jk6Wp3Rn';
const WRONG_SECRET = 'wRoNg/s3+SecretCanary5Fy2Kc8Tq1Xs7Gm4Bn9Dz6Lv0Hj';
const BUCKETS = ['alpha-reports', 'beta-archive'];
const OBJECTS = ['reports/2024/q1.csv', 'reports/2024/q2.csv', 'reports/2025/q1.csv', 'readme.txt', 'zeta/last.bin'];

const sha256 = (data: string): string => createHash('sha256').update(data).digest('hex');
const hmac = (key: Buffer | string, data: string): Buffer => createHmac('sha256', key).update(data).digest();
const encodeRfc3986 = (text: string): string => encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

const AUTHORIZATION = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/;

/** Recomputes a SigV4 header signature with `secretFor(accessKeyId)`. Unsigned or unknown-key requests pass through. */
const signatureMatches = (request: IncomingMessage, secretFor: (accessKeyId: string) => string | undefined): boolean => {
  const match = AUTHORIZATION.exec(request.headers.authorization ?? '');
  if (!match) return true;
  const [, accessKeyId = '', date = '', region = '', service = '', signedHeaders = '', signature = ''] = match;
  const secret = secretFor(accessKeyId);
  if (secret === undefined) return true;
  const url = request.url ?? '/';
  const [path, query] = url.includes('?') ? [url.slice(0, url.indexOf('?')), url.slice(url.indexOf('?') + 1)] : [url, ''];
  const canonicalQuery = query
    .split('&')
    .filter(Boolean)
    .map((pair) => {
      const at = pair.includes('=') ? pair.indexOf('=') : pair.length;
      const [name, value] = [pair.slice(0, at), pair.slice(at + 1)];
      return [encodeRfc3986(decodeURIComponent(name)), encodeRfc3986(decodeURIComponent(value))] as const;
    })
    .sort(([a, x], [b, y]) => (a === b ? (x < y ? -1 : 1) : a < b ? -1 : 1))
    .map(([name, value]) => `${name}=${value}`)
    .join('&');
  const names = signedHeaders.split(';');
  const canonicalHeaders = names.map((name) => `${name}:${String(request.headers[name] ?? '').trim().replace(/\s+/g, ' ')}\n`).join('');
  const payloadHash = String(request.headers['x-amz-content-sha256'] ?? 'UNSIGNED-PAYLOAD');
  const canonicalRequest = [request.method, path, canonicalQuery, canonicalHeaders, signedHeaders, payloadHash].join('\n');
  const scope = `${date}/${region}/${service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', String(request.headers['x-amz-date'] ?? ''), scope, sha256(canonicalRequest)].join('\n');
  const key = [date, region, service, 'aws4_request'].reduce<Buffer>((k, part) => hmac(k, part), Buffer.from(`AWS4${secret}`));
  return timingSafeEqual(Buffer.from(hmac(key, stringToSign).toString('hex')), Buffer.from(signature));
};

const SIGNATURE_DOES_NOT_MATCH =
  '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SignatureDoesNotMatch</Code>' +
  '<Message>The request signature we calculated does not match the signature you provided.</Message><RequestId>0</RequestId></Error>';

const listen = (server: Server): Promise<number> =>
  new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
const close = (server: Server): Promise<void> => new Promise((resolve) => server.close(() => resolve()));

const contextFor = (fields: Record<string, string>, authMethod: AuthMethodKey = 'api_key_secret'): ActionContext => ({
  credential: { destinations: [], id: 'cred_x', authMethod, fields: new Redacted(fields) },
  log: { info() {}, warn() {} },
  signal: AbortSignal.timeout(10_000),
  timeoutMs: 10_000,
  fetch,
  egress: openEgress(),
});
const goodContext = (): ActionContext => contextFor({ api_key: ACCESS_KEY_ID, api_secret: SECRET });

const perform = (component: Component, action: string, context: ActionContext, inputs: Record<string, unknown>): Promise<unknown> => {
  const found = component.actions.find((candidate) => candidate.key === action);
  if (!found) throw new Error(`no action ${action}`);
  return found.perform(context, inputs);
};

/** Awaits a failure, checks its kind, and that neither secret is in its message. */
const failureOf = async (promise: Promise<unknown>, kind: ComponentFailureKind): Promise<ComponentError> => {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(ComponentError);
  const failure = error as ComponentError;
  expect(failure.kind).toBe(kind);
  for (const secret of [SECRET, WRONG_SECRET]) {
    expect(failure.message).not.toContain(secret);
    expect(JSON.stringify(failure)).not.toContain(secret);
  }
  return failure;
};

/** Starts s3rver in a child process and resolves with the port it listens on (within 20 s). */
const startS3rver = (directory: string): { child: ChildProcess; port: Promise<number> } => {
  const config = { directory, accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET, buckets: BUCKETS };
  const child = spawn(process.execPath, ['--openssl-legacy-provider', '-e', S3RVER_MAIN], {
    cwd: process.cwd(),
    env: { PATH: process.env.PATH ?? '', S3RVER_TEST_CONFIG: JSON.stringify(config) },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const port = new Promise<number>((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => reject(new Error(`s3rver did not start within 20 s: ${stderr}`)), 20_000);
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const line = stdout.split('\n')[0];
      if (stdout.includes('\n') && line) {
        clearTimeout(timer);
        resolve((JSON.parse(line) as { port: number }).port);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`s3rver exited (${code}): ${stderr}`));
    });
  });
  return { child, port };
};

/** Forwards a request to s3rver as it came, and its answer back. */
const forward = (upstreamPort: number, request: IncomingMessage, response: ServerResponse): void => {
  const upstream = httpRequest({ host: '127.0.0.1', port: upstreamPort, method: request.method, path: request.url, headers: request.headers }, (answer) => {
    response.writeHead(answer.statusCode ?? 502, answer.headers);
    answer.pipe(response);
  });
  upstream.on('error', () => response.destroy());
  request.pipe(upstream);
};

describe('the aws-s3 component against s3rver', () => {
  let directory: string;
  let s3rver: ChildProcess | undefined;
  let server: Server | undefined;
  let endpoint: string;
  let closedEndpoint: string;
  /** URLs of the requests that reached s3rver, to see the pages asked for. */
  const requestUrls: string[] = [];
  /** s3rver's accepted key pairs: its documented default and the test's own. */
  const secrets = new Map([
    ['S3RVER', 'S3RVER'],
    [ACCESS_KEY_ID, SECRET],
  ]);

  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), 'credence-s3rver-'));
    const started = startS3rver(directory);
    s3rver = started.child;
    const upstreamPort = await started.port;

    server = createServer((request, response) => {
      if (!signatureMatches(request, (accessKeyId) => secrets.get(accessKeyId))) {
        request.resume();
        response.writeHead(403, { 'content-type': 'application/xml' }).end(SIGNATURE_DOES_NOT_MATCH);
        return;
      }
      requestUrls.push(request.url ?? '');
      forward(upstreamPort, request, response);
    });
    endpoint = `http://127.0.0.1:${await listen(server)}`;

    const seeder = new S3Client({
      region: 'us-east-1',
      endpoint,
      forcePathStyle: true,
      maxAttempts: 1,
      credentials: { accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET },
    });
    try {
      for (const key of OBJECTS) {
        await seeder.send(new PutObjectCommand({ Bucket: 'alpha-reports', Key: key, Body: `contents of ${key}` }), {
          abortSignal: AbortSignal.timeout(10_000),
        });
      }
    } finally {
      seeder.destroy();
    }

    const probe = createServer();
    closedEndpoint = `http://127.0.0.1:${await listen(probe)}`;
    await close(probe);
  });

  afterAll(async () => {
    if (server) await close(server);
    if (s3rver && s3rver.exitCode === null && s3rver.signalCode === null) {
      const exited = new Promise((resolve) => s3rver?.once('exit', resolve));
      s3rver.kill('SIGTERM');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5_000))]);
    }
    if (directory) await rm(directory, { recursive: true, force: true });
  });

  it('declares two actions on api_key_secret credentials and tests with listBuckets', () => {
    expect(awsS3Component.key).toBe('aws-s3');
    expect(awsS3Component.name).toBe('Amazon S3');
    expect(awsS3Component.testAction).toBe('listBuckets');
    expect(awsS3Component.actions.map((action) => action.key)).toEqual(['listBuckets', 'listObjects']);
    for (const action of awsS3Component.actions) {
      expect(action.authMethods).toEqual(['api_key_secret']);
      expect(action.credentialRequired).toBe(true);
    }
  });

  it('lists the buckets with their creation times when the key and secret are right', async () => {
    const result = (await perform(awsS3Component, 'listBuckets', goodContext(), { endpoint })) as {
      buckets: Array<{ name: string; createdAt: string | null }>;
    };
    expect(result.buckets.map((bucket) => bucket.name).sort()).toEqual(BUCKETS);
    for (const bucket of result.buckets) {
      expect(Number.isNaN(Date.parse(bucket.createdAt ?? ''))).toBe(false);
    }
  });

  it('lists the objects of a bucket with their sizes, and only those under a prefix when one is given', async () => {
    const all = (await perform(awsS3Component, 'listObjects', goodContext(), { endpoint, bucket: 'alpha-reports' })) as {
      objects: Array<{ key: string; size: number; lastModified: string | null }>;
      truncated: boolean;
    };
    expect(all.truncated).toBe(false);
    expect(all.objects.map((object) => object.key)).toEqual([...OBJECTS].sort());
    const readme = all.objects.find((object) => object.key === 'readme.txt');
    expect(readme?.size).toBe(Buffer.byteLength('contents of readme.txt'));
    expect(Number.isNaN(Date.parse(readme?.lastModified ?? ''))).toBe(false);

    const under = (await perform(awsS3Component, 'listObjects', goodContext(), { endpoint, bucket: 'alpha-reports', prefix: 'reports/2024/' })) as {
      objects: Array<{ key: string }>;
    };
    expect(under.objects.map((object) => object.key)).toEqual(['reports/2024/q1.csv', 'reports/2024/q2.csv']);

    const empty = (await perform(awsS3Component, 'listObjects', goodContext(), { endpoint, bucket: 'beta-archive' })) as { objects: unknown[]; truncated: boolean };
    expect(empty).toEqual({ objects: [], truncated: false });
  });

  it('follows continuation tokens across pages until the bucket is exhausted', async () => {
    const smallPages = createAwsS3Component({ pageSize: 2 });
    requestUrls.length = 0;
    const result = (await perform(smallPages, 'listObjects', goodContext(), { endpoint, bucket: 'alpha-reports', maxKeys: 50 })) as {
      objects: Array<{ key: string }>;
      truncated: boolean;
    };
    const listings = requestUrls.map((url) => new URL(url, endpoint).searchParams);
    expect(listings.map((query) => query.get('max-keys'))).toEqual(['2', '2', '2']);
    expect(listings.map((query) => query.has('continuation-token'))).toEqual([false, true, true]);
    expect(result.objects.map((object) => object.key)).toEqual([...OBJECTS].sort());
    expect(result.truncated).toBe(false);
  });

  it('stops at maxKeys across pages and says the listing is truncated', async () => {
    const smallPages = createAwsS3Component({ pageSize: 2 });
    const result = (await perform(smallPages, 'listObjects', goodContext(), { endpoint, bucket: 'alpha-reports', maxKeys: 3 })) as {
      objects: Array<{ key: string }>;
      truncated: boolean;
    };
    expect(result.objects.map((object) => object.key)).toEqual([...OBJECTS].sort().slice(0, 3));
    expect(result.truncated).toBe(true);
  });

  it('stops listing objects at the entry cap whatever maxKeys asks, and says it is truncated', async () => {
    const capped = createAwsS3Component({ pageSize: 2, listing: { maxEntries: 3 } });
    const result = (await perform(capped, 'listObjects', goodContext(), { endpoint, bucket: 'alpha-reports', maxKeys: 50 })) as { objects: Array<{ key: string }>; truncated: boolean };
    expect(result.objects.map((object) => object.key)).toEqual([...OBJECTS].sort().slice(0, 3));
    expect(result.truncated).toBe(true);
  });

  it('stops listing objects at the byte cap and says it is truncated', async () => {
    const capped = createAwsS3Component({ listing: { maxBytes: 150 } });
    const result = (await perform(capped, 'listObjects', goodContext(), { endpoint, bucket: 'alpha-reports' })) as { objects: Array<{ key: string }>; truncated: boolean };
    expect(result.objects.length).toBeGreaterThan(0);
    expect(result.objects.length).toBeLessThan(OBJECTS.length);
    expect(Buffer.byteLength(result.objects.map((object) => JSON.stringify(object)).join(''))).toBeLessThanOrEqual(150);
    expect(result.truncated).toBe(true);
  });

  it('lists at most the entry cap of buckets and says it is truncated', async () => {
    const capped = createAwsS3Component({ listing: { maxEntries: 1 } });
    const result = (await perform(capped, 'listBuckets', goodContext(), { endpoint })) as { buckets: Array<{ name: string }>; truncated: boolean };
    expect(result.buckets).toHaveLength(1);
    expect(result.truncated).toBe(true);
    const whole = (await perform(awsS3Component, 'listBuckets', goodContext(), { endpoint })) as { truncated: boolean };
    expect(whole.truncated).toBe(false);
  });

  it('refuses a wrong secret as auth_refused, naming SignatureDoesNotMatch, and logs no secret', async () => {
    const lines: string[] = [];
    const record = (message: string, details?: Record<string, unknown>) => void lines.push(JSON.stringify({ message, details }));
    const context = { ...contextFor({ api_key: ACCESS_KEY_ID, api_secret: WRONG_SECRET }), log: { info: record, warn: record } };
    const failure = await failureOf(perform(awsS3Component, 'listBuckets', context, { endpoint }), 'auth_refused');
    expect(failure.message).toBe('S3 refused the access key (SignatureDoesNotMatch)');

    const listing = await failureOf(perform(awsS3Component, 'listObjects', context, { endpoint, bucket: 'alpha-reports' }), 'auth_refused');
    expect(listing.message).toBe('S3 refused the access key (SignatureDoesNotMatch)');

    expect(lines).toHaveLength(2);
    for (const line of lines) {
      expect(line).not.toContain(WRONG_SECRET);
      expect(line).not.toContain(SECRET);
    }
  });

  it('refuses an access key s3rver does not know as auth_refused, naming InvalidAccessKeyId', async () => {
    const context = contextFor({ api_key: 'AKIAUNKNOWNKEY000000', api_secret: SECRET });
    const failure = await failureOf(perform(awsS3Component, 'listBuckets', context, { endpoint }), 'auth_refused');
    expect(failure.message).toBe('S3 refused the access key (InvalidAccessKeyId)');
  });

  it('answers not_found for a bucket that does not exist', async () => {
    const failure = await failureOf(perform(awsS3Component, 'listObjects', goodContext(), { endpoint, bucket: 'no-such-bucket' }), 'not_found');
    expect(failure.message).toBe('S3 has no bucket named no-such-bucket (NoSuchBucket)');
  });

  it('answers unreachable when nothing listens on the endpoint', async () => {
    const failure = await failureOf(perform(awsS3Component, 'listBuckets', goodContext(), { endpoint: closedEndpoint }), 'unreachable');
    expect(failure.message).toBe(`Could not reach ${new URL(closedEndpoint).host} (ECONNREFUSED)`);
  });

  it('answers unreachable when the endpoint accepts the connection but never answers in time', async () => {
    const mute = createServer(() => {});
    const muteEndpoint = `http://127.0.0.1:${await listen(mute)}`;
    try {
      const timedOut = await failureOf(perform(awsS3Component, 'listBuckets', { ...goodContext(), timeoutMs: 300 }, { endpoint: muteEndpoint }), 'unreachable');
      expect(timedOut.message).toMatch(new RegExp(`^Could not reach ${new URL(muteEndpoint).host} \\(`));

      const aborted = await failureOf(
        perform(awsS3Component, 'listBuckets', { ...goodContext(), signal: AbortSignal.timeout(300) }, { endpoint: muteEndpoint }),
        'unreachable',
      );
      expect(aborted.message).toBe(`No answer from ${new URL(muteEndpoint).host} in time (the step timed out or the run was cancelled)`);
    } finally {
      mute.closeAllConnections();
      await close(mute);
    }
  });

  it('refuses bad inputs and the wrong kind of credential as bad_input before any request', async () => {
    const endpointFailure = await failureOf(perform(awsS3Component, 'listBuckets', goodContext(), { endpoint: 'ftp://127.0.0.1/' }), 'bad_input');
    expect(endpointFailure.message).toBe('endpoint must be an absolute http(s) URL');
    const withKey = await failureOf(perform(awsS3Component, 'listBuckets', goodContext(), { endpoint: `http://user:${encodeURIComponent(SECRET)}@127.0.0.1/` }), 'bad_input');
    expect(withKey.message).toBe('endpoint must not contain a user name or password');
    const tooMany = await failureOf(perform(awsS3Component, 'listObjects', goodContext(), { endpoint, bucket: 'alpha-reports', maxKeys: 10_001 }), 'bad_input');
    expect(tooMany.message).toMatch(/^Invalid inputs: maxKeys: /);
    const basic = await failureOf(perform(awsS3Component, 'listBuckets', contextFor({ username: 'u', password: SECRET }, 'basic'), { endpoint }), 'bad_input');
    expect(basic.message).toBe('Amazon S3 takes an api_key_secret credential, not basic');
    const none = await failureOf(perform(awsS3Component, 'listBuckets', { ...goodContext(), credential: undefined }, { endpoint }), 'bad_input');
    expect(none.message).toBe('Amazon S3 needs an api_key_secret credential');
  });
});
