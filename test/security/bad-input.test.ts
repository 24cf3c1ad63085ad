import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/config.js';
import { ENGINES } from '../support/databases.js';
import { ed25519KeyPair, rsaPkcs1KeyPair } from '../http/credential-fixtures.js';
import { bodySchemaOf, discoverRoutes, paramsOf, routeKey, type Route } from './route-table.js';
import { invalidValue, nastyString } from './schema-arbitraries.js';
import { API, HTTP_STEP, buildWorld, kindOfParam, snapshotDatabase, type World } from './security-world.js';

// Bad input, property-based: every request body schema of the API gets values that break
// it (wrong types, unknown keys, NUL and odd Unicode, strings up to the 1 MiB limit,
// 10,000 levels of nesting), plus malformed JSON, oversized bodies, wrong content types
// and prototype-pollution keys. Each gets a 4xx with {error:{code,message}}, changes no
// row, and the server keeps answering. Runs are bounded and the seed is fixed; fast-check
// prints the seed and the counterexample of any failure (re-run with FC_SEED=<seed>).

const SEED = Number(process.env.FC_SEED ?? 7_2025);
const RUNS = 100;
const MIB = 1024 * 1024;

interface Answer {
  status: number;
  text: string;
  body: any;
}

const parse = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
};

/** A problem with an answer to bad input, or undefined when it is a proper refusal. */
const refusalProblem = (answer: Answer, status?: number, code?: string): string | undefined => {
  const shape = answer.body?.error;
  const codeOk = typeof shape?.code === 'string' && /^[A-Z][A-Z_]+$/.test(shape.code) && (code === undefined || shape.code === code);
  const ok = (status === undefined ? answer.status >= 400 && answer.status < 500 : answer.status === status) && codeOk && typeof shape?.message === 'string';
  return ok && Object.keys(answer.body).length === 1 ? undefined : `${answer.status} ${answer.text.slice(0, 200)}`;
};

describe.each(ENGINES)('bad input on %s', (engine) => {
  let w: World;
  let bodyRoutes: Route[];

  /** Any request, from a fresh client address each time (rate limits are per address). */
  const send = async (method: string, url: string, payload?: string, headers: Record<string, string> = {}): Promise<Answer> => {
    const response = await w.t.app.inject({
      method: method as 'POST',
      url,
      headers: { authorization: `Bearer ${w.t.adminToken}`, ...(payload !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      remoteAddress: `10.${randomBytes(3).join('.')}`,
      ...(payload !== undefined ? { payload } : {}),
    });
    return { status: response.statusCode, text: response.body, body: parse(response.body) };
  };

  /** The route's URL with the admin's own objects in its parameters. */
  const urlOf = (route: Route): string =>
    route.path.replace(/:(\w+)/g, (_m, param: string) => {
      if (param === 'token') return randomBytes(24).toString('base64url');
      const kind = kindOfParam(route.path, param);
      const id = kind ? w.first[kind][0]?.id : undefined;
      if (!id) throw new Error(`${routeKey(route)}: no id for :${param}`);
      return id;
    });

  /** Runs `body` with a snapshot before and after: refusing bad input must change no row. */
  const changesNothing = async (body: () => Promise<void>) => {
    const before = await snapshotDatabase(w.t);
    await body();
    expect(await snapshotDatabase(w.t)).toEqual(before);
    expect((await send('GET', '/healthz')).status).toBe(200);
  };

  beforeAll(async () => {
    w = await buildWorld(engine);
    bodyRoutes = discoverRoutes(w.t.app).filter((route) => route.path.startsWith(`${API}/`) && bodySchemaOf(w.t.app, route));
  });
  afterAll(async () => w?.t.close());

  it('finds a body schema on every route that takes one, from credentials to setup and sign-in', () => {
    const keys = bodyRoutes.map(routeKey);
    for (const key of ['POST /api/v1/credentials', 'PATCH /api/v1/credentials/:id', 'POST /api/v1/customers', 'PATCH /api/v1/customers/:id', 'POST /api/v1/api-tokens',
      'POST /api/v1/integrations', 'POST /api/v1/instances', 'POST /api/v1/credentials/:id/authorization-link', 'POST /api/v1/credentials/:id/authorization-emails',
      'POST /api/v1/sessions', 'POST /api/v1/setup', 'POST /api/v1/users']) {
      expect(keys).toContain(key);
    }
    for (const route of bodyRoutes) expect(invalidValue(bodySchemaOf(w.t.app, route) ?? {}), routeKey(route)).toBeDefined();
  });

  it('refuses values that break each body schema with a 4xx error body, changing nothing', async () => {
    await changesNothing(async () => {
      for (const route of bodyRoutes) {
        const schema = bodySchemaOf(w.t.app, route) ?? {};
        // Where an empty body is valid, `null` stands for "no body" and is accepted on purpose.
        const values = (invalidValue(schema) ?? fc.constant(1)).filter((value) => value !== null || (schema.required?.length ?? 0) > 0);
        await fc.assert(
          fc.asyncProperty(values, async (value) => {
            const answer = await send(route.method, urlOf(route), JSON.stringify(value));
            expect(refusalProblem(answer), routeKey(route)).toBeUndefined();
          }),
          { numRuns: RUNS, seed: SEED },
        );
      }
    });
  });

  it('refuses malformed and truncated JSON with 400 INVALID_JSON', async () => {
    const notJson = fc.string({ unit: 'binary', maxLength: 60 }).filter((text) => parse(text) === undefined && text.trim() !== '');
    const truncated = fc.tuple(fc.jsonValue(), fc.nat()).map(([value, cut]) => {
      const text = JSON.stringify({ name: 'x', value });
      return text.slice(0, cut % (text.length - 1));
    }).filter((text) => parse(text) === undefined && text.trim() !== '');
    await changesNothing(async () => {
      await fc.assert(
        fc.asyncProperty(fc.oneof(notJson, truncated), fc.constantFrom(...bodyRoutes), async (payload, route) => {
          expect(refusalProblem(await send(route.method, urlOf(route), payload), 400, 'INVALID_JSON')).toBeUndefined();
        }),
        { numRuns: RUNS, seed: SEED },
      );
    });
  });

  it('refuses a body over 1 MiB with 413 PAYLOAD_TOO_LARGE, and reads one just under it', async () => {
    await changesNothing(async () => {
      const over = `{"name":"${'x'.repeat(MIB)}"}`;
      expect(refusalProblem(await send('POST', `${API}/customers`, over), 413, 'PAYLOAD_TOO_LARGE')).toBeUndefined();
      const under = `{"name":"${'x'.repeat(MIB - 20)}"}`;
      expect(Buffer.byteLength(under)).toBeLessThanOrEqual(MIB);
      expect(refusalProblem(await send('POST', `${API}/customers`, under), 400, 'VALIDATION_FAILED')).toBeUndefined();
    });
  });

  it('refuses form, multipart, XML and binary bodies with 415 UNSUPPORTED_MEDIA_TYPE', async () => {
    await changesNothing(async () => {
      for (const type of ['application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml', 'application/octet-stream', 'text/html']) {
        const answer = await send('POST', `${API}/customers`, 'name=Hijack', { 'content-type': type });
        expect(refusalProblem(answer, 415, 'UNSUPPORTED_MEDIA_TYPE'), type).toBeUndefined();
      }
    });
  });

  it('refuses a text/plain body with 415 like any other body that is not JSON', async () => {
    await changesNothing(async () => {
      const answer = await send('POST', `${API}/customers`, '{"name":"Sent as text"}', { 'content-type': 'text/plain' });
      expect(refusalProblem(answer, 415, 'UNSUPPORTED_MEDIA_TYPE')).toBeUndefined();
    });
  });

  it('refuses __proto__ and constructor.prototype keys anywhere in a body, and no prototype is polluted', async () => {
    const payloads = [
      '{"name":"x","__proto__":{"polluted":"yes"}}',
      '{"name":"x","constructor":{"prototype":{"polluted":"yes"}}}',
      `{"name":"p","steps":[{"name":"s","component":"http","action":"request","inputs":{"url":"https://x.test/","body":{"__proto__":{"polluted":"yes"}}}}]}`,
      `{"label":"p","authMethod":"api_key","fields":{"__proto__":{"polluted":"yes"},"api_key":"abcdefgh"}}`,
    ];
    await changesNothing(async () => {
      for (const [index, payload] of payloads.entries()) {
        const url = [`${API}/customers`, `${API}/customers`, `${API}/integrations`, `${API}/credentials`][index] ?? '';
        expect(refusalProblem(await send('POST', url, payload), 400), payload).toBeUndefined();
      }
    });
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    expect(Object.prototype.hasOwnProperty.call(Object.prototype, 'polluted')).toBe(false);
  });

  it('answers 10,000 levels of nesting with a 4xx, wherever in the body they are', async () => {
    const depth = 10_000;
    const deepArray = `${'['.repeat(depth)}1${']'.repeat(depth)}`;
    const deepObject = `${'{"a":'.repeat(depth)}"{{steps.later.x}}"${'}'.repeat(depth)}`;
    const credential = w.first.credential[2]?.id ?? '';
    const step = (inputs: string) => `{"name":"deep","steps":[{"name":"s","component":"http","action":"request","inputs":${inputs}}]}`;
    const cases: Array<[string, string]> = [
      [`${API}/customers`, deepArray],
      [`${API}/customers`, `{"name":"x","extra":${deepObject}}`],
      [`${API}/credentials`, `{"label":"x","authMethod":"api_key","fields":${deepObject}}`],
      [`${API}/integrations`, step(`{"url":"https://x.test/","body":${deepObject}}`)],
      [`${API}/integrations`, step(`{"url":"https://x.test/","body":${deepArray}}`)],
      [`${API}/credentials/${credential}/test`, `{"component":"http","action":"request","inputs":{"url":"https://x.test/","body":${deepObject}}}`],
    ];
    await changesNothing(async () => {
      const problems: string[] = [];
      for (const [url, payload] of cases) {
        const problem = refusalProblem(await send('POST', url, payload));
        if (problem) problems.push(`${url} ${payload.slice(0, 60)}…: ${problem}`);
      }
      expect(problems).toEqual([]);
    });
  });

  it('refuses any text that is not a private key with 400 INVALID_FIELD (VALIDATION_FAILED when it holds a NUL)', async () => {
    const labels = ['OPENSSH PRIVATE KEY', 'RSA PRIVATE KEY', 'PRIVATE KEY', 'EC PRIVATE KEY', 'ENCRYPTED PRIVATE KEY', 'DSA PRIVATE KEY'];
    const pem = fc.tuple(fc.constantFrom(...labels), fc.uint8Array({ minLength: 0, maxLength: 600 }), fc.boolean()).map(([label, bytes, end]) =>
      `-----BEGIN ${label}-----\n${Buffer.from(bytes).toString('base64').replace(/(.{64})/g, '$1\n')}\n${end ? `-----END ${label}-----\n` : ''}`,
    );
    const real = [ed25519KeyPair().privateKey, rsaPkcs1KeyPair().privateKey];
    const truncatedReal = fc.tuple(fc.constantFrom(...real), fc.nat()).map(([key, cut]) => key.slice(0, cut % key.indexOf('-----END')));
    const keys = fc.oneof(nastyString, fc.string({ unit: 'binary', maxLength: 3000 }), pem, truncatedReal).filter((text) => text.trim() !== '');
    await changesNothing(async () => {
      await fc.assert(
        fc.asyncProperty(keys, async (privateKey) => {
          const body = JSON.stringify({ label: 'Fuzzed key', authMethod: 'private_key', fields: { username: 'deploy', private_key: privateKey } });
          const code = privateKey.includes('\u0000') ? 'VALIDATION_FAILED' : 'INVALID_FIELD';
          expect(refusalProblem(await send('POST', `${API}/credentials`, body), 400, code)).toBeUndefined();
        }),
        { numRuns: RUNS, seed: SEED },
      );
    });
  });

  it('refuses a NUL byte in any text of an otherwise valid request with a 4xx, or stores it as given — never a 500', async () => {
    const own = (kind: 'credential' | 'customer' | 'integration' | 'instance') => w.first[kind][0]?.id ?? '';
    const oauth = w.first.credential[1]?.id ?? '';
    const requests: Array<{ method: string; url: string; body?: Record<string, unknown> }> = [
      { method: 'POST', url: `${API}/customers`, body: { name: 'Customer', externalId: 'ext-1' } },
      { method: 'PATCH', url: `${API}/customers/${own('customer')}`, body: { externalId: 'ext-2' } },
      { method: 'POST', url: `${API}/credentials`, body: { label: 'Key', authMethod: 'api_key', fields: { api_key: 'abcdefgh' } } },
      { method: 'POST', url: `${API}/api-tokens`, body: { name: 'Token', role: 'org_member' } },
      { method: 'POST', url: `${API}/integrations`, body: { name: 'Integration', description: 'About', steps: [HTTP_STEP] } },
      { method: 'POST', url: `${API}/instances`, body: { integrationId: own('integration'), customerId: w.customerB, name: 'Instance' } },
      { method: 'PATCH', url: `${API}/instances/${own('instance')}`, body: { name: 'Instance' } },
      { method: 'POST', url: `${API}/users`, body: { email: 'person@example.test', role: 'org_member' } },
      { method: 'POST', url: `${API}/sessions`, body: { email: 'person@example.test', password: 'secret-password' } },
      { method: 'POST', url: `${API}/credentials/${oauth}/authorization-emails`, body: { email: 'person@example.test' } },
      { method: 'GET', url: `${API}/credentials?search=TEXT` },
      { method: 'GET', url: `${API}/audit-events?action=TEXT` },
      { method: 'GET', url: `${API}/customers/TEXT` },
    ];
    const withNul = fc.tuple(fc.string({ maxLength: 10 }), fc.string({ maxLength: 10 })).map(([a, b]) => `${a}\u0000${b}`);
    const problems = new Set<string>();
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...requests), fc.nat(), withNul, async (request, pick, text) => {
        const leaves = Object.keys(request.body ?? {}).filter((key) => typeof request.body?.[key] === 'string');
        const key = leaves[pick % Math.max(1, leaves.length)];
        const body = request.body && key ? { ...request.body, [key]: text } : undefined;
        const url = request.url.replace('TEXT', encodeURIComponent(text));
        const answer = await send(request.method, url, body && JSON.stringify(body));
        if (answer.status >= 500) problems.add(`${request.method} ${request.url.replace(/[a-z]+_[0-9a-f]{28}/g, ':id')} ${key ?? ''}: ${answer.status} ${answer.body?.error?.code}`);
      }),
      { numRuns: RUNS, seed: SEED },
    );
    expect([...problems].sort()).toEqual([]);
    expect((await send('GET', '/healthz')).status).toBe(200);
  });
});

describe('CREDENCE_MASTER_KEY parsing', () => {
  const configWith = (key: string) => loadConfig({ CREDENCE_DATA_DIR: '/tmp/credence-fuzz', CREDENCE_MASTER_KEY: key });

  it('either yields exactly 32 bytes or throws a ConfigError that does not echo the key, for any text', () => {
    const base64ish = fc.tuple(fc.uint8Array({ minLength: 0, maxLength: 48 }), fc.constantFrom('base64', 'base64url'), fc.constantFrom('', '=', '==', ' ', '\n', '\u0000', '==='))
      .map(([bytes, encoding, suffix]) => `${Buffer.from(bytes).toString(encoding as BufferEncoding)}${suffix}`);
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 80 }), nastyString, base64ish).filter((key) => key !== ''), (key) => {
        let outcome: 'parsed' | 'refused';
        try {
          const config = configWith(key);
          expect(config.masterKey.kind).toBe('value');
          if (config.masterKey.kind === 'value') expect(config.masterKey.key.reveal().length).toBe(32);
          outcome = 'parsed';
        } catch (error) {
          expect(error).toBeInstanceOf(ConfigError);
          if (key.trim().length >= 12) expect((error as Error).message.includes(key.trim())).toBe(false);
          outcome = 'refused';
        }
        expect(['parsed', 'refused']).toContain(outcome);
      }),
      { numRuns: 300, seed: SEED },
    );
  });

  it('accepts every 32-byte key in base64 and base64url, with or without padding and surrounding space', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.constantFrom('base64', 'base64url'), fc.constantFrom('', ' ', '\n'), (bytes, encoding, space) => {
        const config = configWith(`${space}${Buffer.from(bytes).toString(encoding as BufferEncoding)}${space}`);
        expect(config.masterKey.kind === 'value' && Buffer.compare(config.masterKey.key.reveal(), Buffer.from(bytes))).toBe(0);
      }),
      { numRuns: RUNS, seed: SEED },
    );
  });
});
