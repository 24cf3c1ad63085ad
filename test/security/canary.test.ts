import { execFile } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES, createTestDatabase, type EngineName, type TestDatabase } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const run = promisify(execFile);

/** A distinctive value written through the API. Its `name` says where it went and is safe to print. */
interface Canary {
  name: string;
  value: string;
  /** Extra byte forms to look for (the decoded DER of a private key). */
  extra?: Array<{ form: string; bytes: Buffer }>;
}

const canaryValue = (what: string): string => `CANARY-${randomBytes(12).toString('hex')}-${what}`;

/** The raw string and the encodings a careless write could leave behind. */
const formsOf = (canary: Canary): Array<{ form: string; bytes: Buffer }> => {
  const raw = Buffer.from(canary.value, 'utf8');
  return [
    { form: 'raw', bytes: raw },
    { form: 'base64', bytes: Buffer.from(raw.toString('base64')) },
    { form: 'base64url', bytes: Buffer.from(raw.toString('base64url')) },
    { form: 'hex', bytes: Buffer.from(raw.toString('hex')) },
    ...(canary.extra ?? []),
  ];
};

/** Where canaries turn up in one haystack, as `location: canary (form)` names that never contain the secret. */
const hitsIn = (location: string, haystack: Buffer | string, canaries: Canary[]): string[] => {
  const bytes = typeof haystack === 'string' ? Buffer.from(haystack, 'utf8') : haystack;
  const hits: string[] = [];
  for (const canary of canaries) {
    for (const { form, bytes: needle } of formsOf(canary)) {
      if (bytes.includes(needle)) hits.push(`${location}: ${canary.name} (${form})`);
    }
  }
  return hits;
};

const listFiles = async (dir: string): Promise<string[]> => {
  const entries = await readdir(dir, { withFileTypes: true });
  const nested = await Promise.all(
    entries.map(async (entry) => (entry.isDirectory() ? listFiles(join(dir, entry.name)) : [join(dir, entry.name)])),
  );
  return nested.flat();
};

/** The bytes at rest: every file of the SQLite data directory, or a pg_dump of the PostgreSQL database. */
const storedData = async (engine: EngineName, database: TestDatabase): Promise<Array<{ location: string; bytes: Buffer }>> => {
  if (engine === 'sqlite') {
    const files = await listFiles(database.dataDir);
    return Promise.all(files.map(async (file) => ({ location: `file ${file.slice(database.dataDir.length + 1)}`, bytes: await readFile(file) })));
  }
  if (!database.url) throw new Error('the PostgreSQL test database has no URL');
  const { stdout } = await run('pg_dump', ['--no-owner', database.url], { timeout: 20_000, maxBuffer: 64 * 1024 * 1024, encoding: 'buffer' });
  return [{ location: 'pg_dump', bytes: stdout }];
};

const isResolve = (url: string): boolean => /\/credentials\/[^/]+\/resolve$/.test(url);

describe.each(ENGINES)('secrets at rest and in output on %s', (engine) => {
  let database: TestDatabase;
  let t: TestApp;
  let closed = false;
  /** Every canary sent as a credential value the API accepted and still holds. */
  const stored: Canary[] = [];
  /** Canaries that must appear nowhere at all: replaced or rejected values. */
  const gone: Canary[] = [];
  /** The oauth2 client_id: shown back by the API, but still encrypted at rest. */
  const shownButSealed: Canary[] = [];
  const labels: string[] = [];
  const credentialIds: string[] = [];
  const resolved = new Map<string, string>();
  let auditText = '';

  const create = async (scope: string, customerId: string | null, authMethod: string, fields: Record<string, string>) => {
    const label = `canary ${authMethod} ${scope} ${randomBytes(4).toString('hex')}`;
    const response = await t.request('POST', '/api/v1/credentials', {
      token: t.adminToken,
      body: { label, authMethod, ...(customerId ? { customerId } : {}), fields },
    });
    if (response.status !== 201) throw new Error(`could not store ${authMethod} for ${scope}: ${response.status} ${response.body?.error?.code}`);
    labels.push(label);
    credentialIds.push(response.body.id as string);
    return response.body.id as string;
  };

  const secret = (list: Canary[], name: string, what: string, extra?: Canary['extra']): string => {
    const canary: Canary = { name, value: canaryValue(what), ...(extra ? { extra } : {}) };
    list.push(canary);
    return canary.value;
  };

  const storeEveryKind = async (scope: string, customerId: string | null) => {
    await create(scope, customerId, 'api_key_secret', {
      api_key: secret(stored, `${scope} api_key_secret.api_key`, 'apikey'),
      api_secret: secret(stored, `${scope} api_key_secret.api_secret`, 'apisecret'),
    });
    const basicId = await create(scope, customerId, 'basic', {
      username: secret(stored, `${scope} basic.username`, 'username'),
      password: secret(stored, `${scope} basic.password`, 'password'),
    });
    const { privateKey } = generateKeyPairSync('ed25519', {
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
      publicKeyEncoding: { type: 'spki', format: 'pem' },
    });
    const bodyLine = privateKey.split('\n').find((line) => line !== '' && !line.startsWith('-----'));
    if (!bodyLine) throw new Error('the generated PEM has no body line');
    const der = Buffer.from(bodyLine, 'base64');
    const keyCanary: Canary = {
      name: `${scope} private_key.private_key`,
      value: bodyLine,
      extra: [
        { form: 'der', bytes: der },
        { form: 'der-hex', bytes: Buffer.from(der.toString('hex')) },
      ],
    };
    stored.push(keyCanary);
    await create(scope, customerId, 'private_key', {
      username: secret(stored, `${scope} private_key.username`, 'sftpuser'),
      private_key: privateKey,
    });
    await create(scope, customerId, 'api_key', { api_key: secret(stored, `${scope} api_key.api_key`, 'token') });
    await create(scope, customerId, 'oauth2', {
      client_id: secret(shownButSealed, `${scope} oauth2.client_id`, 'clientid'),
      client_secret: secret(stored, `${scope} oauth2.client_secret`, 'clientsecret'),
      scopes: 'files.read files.write',
      auth_uri: 'https://provider.example.test/oauth2/authorize',
      token_uri: 'https://provider.example.test/oauth2/token',
    });
    return basicId;
  };

  beforeAll(async () => {
    database = await createTestDatabase(engine);
    t = await startTestApp(engine, { database });

    const customerIds: string[] = [];
    for (const name of ['Initech', 'Umbrella']) {
      const response = await t.request('POST', '/api/v1/customers', { token: t.adminToken, body: { name } });
      if (response.status !== 201) throw new Error(`could not create customer ${name}: ${response.status}`);
      customerIds.push(response.body.id as string);
    }
    await storeEveryKind('organization', null);
    const [firstCustomer, secondCustomer] = customerIds as [string, string];
    const basicId = await storeEveryKind('customer 1', firstCustomer);
    await storeEveryKind('customer 2', secondCustomer);

    // Replace a password: the old value moves to `gone`, the new one must be stored.
    const replaced = stored.findIndex((c) => c.name === 'customer 1 basic.password');
    gone.push(...stored.splice(replaced, 1));
    const patched = await t.request('PATCH', `/api/v1/credentials/${basicId}`, {
      token: t.adminToken,
      body: { fields: { password: secret(stored, 'customer 1 basic.password (patched)', 'newpassword') } },
    });
    if (patched.status !== 200) throw new Error(`could not patch the password: ${patched.status}`);

    // Values the API rejects must not be echoed in the error or kept anywhere.
    const rejectedKey = await t.request('POST', '/api/v1/credentials', {
      token: t.adminToken,
      body: {
        label: 'rejected key',
        authMethod: 'private_key',
        fields: { username: 'deploy', private_key: secret(gone, 'rejected private_key', 'notakey') },
      },
    });
    const rejectedField = await t.request('POST', '/api/v1/credentials', {
      token: t.adminToken,
      body: { label: 'rejected field', authMethod: 'api_key', fields: { api_key: 'x', passphrase: secret(gone, 'rejected unknown field', 'unknown') } },
    });
    if (rejectedKey.status !== 400 || rejectedField.status !== 400) {
      throw new Error(`expected both invalid credentials to be refused, got ${rejectedKey.status} and ${rejectedField.status}`);
    }

    const runtimeToken = await t.token('runtime');
    for (const id of credentialIds) {
      const response = await t.request('POST', `/api/v1/credentials/${id}/resolve`, { token: runtimeToken });
      if (response.status !== 200) throw new Error(`could not resolve ${id}: ${response.status}`);
      resolved.set(id, response.text);
    }

    let cursor: string | null = null;
    const events: unknown[] = [];
    do {
      const query: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
      const page = await t.request('GET', `/api/v1/audit-events?limit=200${query}`, { token: t.adminToken });
      if (page.status !== 200) throw new Error(`could not list audit events: ${page.status}`);
      events.push(...(page.body.items as unknown[]));
      cursor = (page.body.nextCursor as string | null) ?? null;
    } while (cursor);
    auditText = JSON.stringify(events);
  });

  afterAll(async () => {
    if (t && !closed) await t.close();
    await database?.drop();
  });

  const secrets = (): Canary[] => [...stored, ...gone];

  it('returns every stored canary, and only the current password, from resolve', () => {
    const all = [...resolved.values()].join('\n');
    const missing = stored.filter((canary) => !all.includes(canary.value)).map((canary) => canary.name);
    expect(stored.length).toBe(3 * 8);
    expect(resolved.size).toBe(15);
    expect(missing).toEqual([]);
    expect(hitsIn('resolve responses', all, gone)).toEqual([]);
    expect(hitsIn('resolve responses', all, shownButSealed).filter((hit) => hit.endsWith('(raw)'))).toHaveLength(3);
  });

  it('records a resolve audit event for each resolved credential', () => {
    const events = JSON.parse(auditText) as Array<{ action: string; targetId: string | null }>;
    const resolvedIds = events.filter((event) => event.action === 'credential.resolved').map((event) => event.targetId);
    expect(resolvedIds.sort()).toEqual([...credentialIds].sort());
  });

  it('keeps every canary, including the oauth2 client_id, out of the data at rest', async () => {
    const data = await storedData(engine, database);
    const locations = data.map((entry) => entry.location);
    // The live database is the main file plus its write-ahead log, both read as raw bytes.
    if (engine === 'sqlite') expect(locations).toEqual(expect.arrayContaining(['file credence.sqlite', 'file credence.sqlite-wal']));
    // The labels are stored in clear for search: finding them proves the sweep reads the live data.
    const unseenLabels = labels.filter((label) => !data.some((entry) => entry.bytes.includes(Buffer.from(label))));
    expect(unseenLabels).toEqual([]);
    const hits = data.flatMap((entry) => hitsIn(entry.location, entry.bytes, [...secrets(), ...shownButSealed]));
    expect(hits).toEqual([]);
  });

  it('keeps every canary out of the log lines', () => {
    expect(t.logs.length).toBeGreaterThan(0);
    const hits = t.logs.flatMap((line, index) => hitsIn(`log line ${index}`, line, secrets()));
    expect(hits).toEqual([]);
  });

  it('keeps every canary out of every response except resolve', () => {
    const others = t.responses.filter((response) => !isResolve(response.url));
    expect(others.length).toBeGreaterThan(20);
    expect(t.responses.length - others.length).toBe(15);
    const hits = others.flatMap((response, index) => hitsIn(`response ${index} ${response.method} ${response.url}`, response.text, secrets()));
    expect(hits).toEqual([]);
  });

  it('keeps every canary out of the audit events', () => {
    expect(auditText.length).toBeGreaterThan(100);
    expect(hitsIn('audit events', auditText, [...secrets(), ...shownButSealed])).toEqual([]);
  });

  it('leaves no canary in the data at rest after the server shuts down', async () => {
    closed = true;
    await t.close();
    const data = await storedData(engine, database);
    expect(data.length).toBeGreaterThan(0);
    const hits = data.flatMap((entry) => hitsIn(entry.location, entry.bytes, [...secrets(), ...shownButSealed]));
    expect(hits).toEqual([]);
  });
});
