import { execFile } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import type { EngineName, TestDatabase } from '../support/databases.js';
import type { ApiResponse, TestApp } from '../support/test-app.js';

/**
 * The machinery of the canary sweep (issue 7): distinctive secret values, the byte forms a
 * careless write could leave them in, and the places to look — the data at rest, HTTP
 * exchanges with their headers, raw email as an SMTP server receives it — plus a loopback
 * token endpoint that hands out canary access and refresh tokens. Reports name where a
 * canary was found and which one, never its value, so a failing test prints no secret.
 */

const run = promisify(execFile);

/** A distinctive value written through the API. Its `name` says where it went and is safe to print. */
export interface Canary {
  name: string;
  value: string;
  /** Extra byte forms to look for (the decoded DER of a private key). */
  extra?: Array<{ form: string; bytes: Buffer }>;
  /** Shown back by the API on purpose (an oauth2 client_id): looked for only where nothing is shown. */
  shown: boolean;
  /** Expected in resolve responses; false for values replaced before any resolve, refused ones and refresh tokens. */
  resolvable: boolean;
}

export const canaryValue = (what: string): string => `CANARY-${randomBytes(12).toString('hex')}-${what}`;

/** Every canary of a test run, by the name of where it went. */
export const createCanaryBook = () => {
  const all: Canary[] = [];
  /** Records a canary whose value was made elsewhere (the body line of a generated PEM key). */
  const track = (canary: Canary): Canary => {
    if (all.some((known) => known.name === canary.name)) throw new Error(`two canaries are named ${canary.name}`);
    all.push(canary);
    return canary;
  };
  return {
    all,
    track,
    /** A new canary; `options` default to a hidden, resolvable secret. */
    add: (name: string, what: string, options: Partial<Pick<Canary, 'shown' | 'resolvable' | 'extra'>> = {}): string =>
      track({ name, value: canaryValue(what), shown: false, resolvable: true, ...options }).value,
    byName(name: string): Canary {
      const canary = all.find((known) => known.name === name);
      if (!canary) throw new Error(`no canary is named ${name}`);
      return canary;
    },
    /** Every canary that is a secret: all but those the API shows. */
    secrets: (): Canary[] => all.filter((canary) => !canary.shown),
  };
};
export type CanaryBook = ReturnType<typeof createCanaryBook>;

/**
 * An Ed25519 key in PKCS#8 PEM, tracked as `name`: its body line, and in byte forms the
 * decoded DER and the 32-byte seed it ends with (what an OpenSSH re-encoding would keep).
 */
const privateKeyCanary = (book: CanaryBook, name: string): string => {
  const { privateKey } = generateKeyPairSync('ed25519', { privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
  const bodyLine = privateKey.split('\n').find((line) => line !== '' && !line.startsWith('-----')) ?? '';
  const der = Buffer.from(bodyLine, 'base64');
  const seed = der.subarray(-32);
  const extra = [der, seed].flatMap((bytes, i) => {
    const form = i === 0 ? 'der' : 'seed';
    return [{ form, bytes }, { form: `${form}-hex`, bytes: Buffer.from(bytes.toString('hex')) }];
  });
  book.track({ name, value: bodyLine, extra, shown: false, resolvable: true });
  return privateKey;
};

/**
 * One credential body per auth method (src/credentials/auth-methods.ts), every field value a
 * canary named `<at> <method>.<field>`; the oauth2 client_id is a shown one. The oauth2
 * credential points at a provider that does not exist: it stays pending authorization.
 */
export const everyKind = (book: CanaryBook, at: string): Array<{ authMethod: string; fields: Record<string, string> }> => [
  {
    authMethod: 'api_key_secret',
    fields: { api_key: book.add(`${at} api_key_secret.api_key`, 'apikey'), api_secret: book.add(`${at} api_key_secret.api_secret`, 'apisecret') },
  },
  { authMethod: 'basic', fields: { username: book.add(`${at} basic.username`, 'username'), password: book.add(`${at} basic.password`, 'password') } },
  {
    authMethod: 'private_key',
    fields: { username: book.add(`${at} private_key.username`, 'sftpuser'), private_key: privateKeyCanary(book, `${at} private_key.private_key`) },
  },
  { authMethod: 'api_key', fields: { api_key: book.add(`${at} api_key.api_key`, 'token') } },
  {
    authMethod: 'oauth2',
    fields: {
      client_id: book.add(`${at} oauth2.client_id`, 'clientid', { shown: true }),
      client_secret: book.add(`${at} oauth2.client_secret`, 'clientsecret'),
      scopes: 'files.read files.write',
      auth_uri: 'https://provider.example.test/oauth2/authorize',
      token_uri: 'https://provider.example.test/oauth2/token',
    },
  },
];

/**
 * base64 of `raw` wherever it starts in a longer text: for each of the three alignments,
 * only the 4-character groups made of `raw`'s bytes alone, which do not depend on the
 * neighbouring bytes.
 */
const alignedBase64 = (raw: Buffer, encoding: 'base64' | 'base64url') =>
  [0, 1, 2].map((shift) => {
    const text = Buffer.concat([Buffer.alloc(shift), raw]).toString(encoding);
    const pure = text.slice(shift === 0 ? 0 : 4, 4 * Math.floor((shift + raw.length) / 3));
    return { form: `${encoding}@${shift}`, bytes: Buffer.from(pure) };
  });

/** The raw string and the encodings a careless write could leave behind. */
export const formsOf = (canary: Canary): Array<{ form: string; bytes: Buffer }> => {
  const raw = Buffer.from(canary.value, 'utf8');
  const encoded = encodeURIComponent(canary.value);
  return [
    { form: 'raw', bytes: raw },
    ...alignedBase64(raw, 'base64'),
    ...alignedBase64(raw, 'base64url'),
    { form: 'hex', bytes: Buffer.from(raw.toString('hex')) },
    ...(encoded !== canary.value ? [{ form: 'url-encoded', bytes: Buffer.from(encoded) }] : []),
    ...(canary.extra ?? []),
  ];
};

const formCache = new WeakMap<Canary, Array<{ form: string; bytes: Buffer }>>();
const cachedFormsOf = (canary: Canary) => {
  let forms = formCache.get(canary);
  if (!forms) formCache.set(canary, (forms = formsOf(canary)));
  return forms;
};

/** Where canaries turn up in one haystack, as `location: canary (form)` names that never contain the secret. */
export const hitsIn = (location: string, haystack: Buffer | string, canaries: readonly Canary[]): string[] => {
  const bytes = typeof haystack === 'string' ? Buffer.from(haystack, 'utf8') : haystack;
  const hits: string[] = [];
  for (const canary of canaries) {
    for (const { form, bytes: needle } of cachedFormsOf(canary)) {
      if (bytes.includes(needle)) hits.push(`${location}: ${canary.name} (${form})`);
    }
  }
  return hits;
};

/** Hits in many haystacks; each is searched on its own only when the whole lot has hits. */
export const hitsInAll = (haystacks: ReadonlyArray<{ location: string; text: Buffer | string }>, canaries: readonly Canary[]): string[] => {
  const all = Buffer.concat(haystacks.map(({ text }) => (typeof text === 'string' ? Buffer.from(`${text}\n\u0000`) : Buffer.concat([text, Buffer.from('\n\u0000')]))));
  if (hitsIn('all', all, canaries).length === 0) return [];
  return haystacks.flatMap(({ location, text }) => hitsIn(location, text, canaries));
};

const listFiles = async (dir: string): Promise<string[]> => {
  const entries = await readdir(dir, { withFileTypes: true });
  const nested = await Promise.all(
    entries.map(async (entry) => (entry.isDirectory() ? listFiles(join(dir, entry.name)) : [join(dir, entry.name)])),
  );
  return nested.flat();
};

/** The bytes at rest: every file of the data directory (the SQLite database lives there) and, on PostgreSQL, a pg_dump. */
export const storedData = async (engine: EngineName, database: TestDatabase): Promise<Array<{ location: string; bytes: Buffer }>> => {
  const files = await listFiles(database.dataDir);
  const data = await Promise.all(files.map(async (file) => ({ location: `file ${file.slice(database.dataDir.length + 1)}`, bytes: await readFile(file) })));
  if (engine === 'sqlite') return data;
  if (!database.url) throw new Error('the PostgreSQL test database has no URL');
  const { stdout } = await run('pg_dump', ['--no-owner', database.url], { timeout: 20_000, maxBuffer: 64 * 1024 * 1024, encoding: 'buffer' });
  return [...data, { location: 'pg_dump', bytes: stdout }];
};

export const isResolve = (url: string): boolean => /\/credentials\/[^/]+\/resolve$/.test(new URL(url, 'http://x').pathname);

// ---------------------------------------------------------------------------------------------
// HTTP exchanges, headers included.

export interface HttpExchange {
  method: string;
  url: string;
  status: number;
  /** Every response header as `name: value` lines. */
  headers: string;
  body: string;
}

/** Status line, headers and body: what a client of that response could read. */
export const exchangeText = (exchange: HttpExchange): string => `${exchange.status}\n${exchange.headers}\n\n${exchange.body}`;

const headerLines = (headers: Iterable<[string, unknown]>): string =>
  [...headers].map(([name, value]) => `${name}: ${Array.isArray(value) ? value.join('\n' + name + ': ') : String(value)}`).join('\n');

/** `t.request` that also keeps each response's headers in `log`. */
export const recordingRequest =
  (t: TestApp, log: HttpExchange[]): TestApp['request'] =>
  async (method, url, options) => {
    const response: ApiResponse = await t.request(method, url, options);
    log.push({ method, url, status: response.status, headers: headerLines(Object.entries(response.headers)), body: response.text });
    return response;
  };

/** A `fetch` over real sockets that keeps every response, headers and body, in `log`. */
export const recordingFetch =
  (log: HttpExchange[]): typeof fetch =>
  async (input, init) => {
    const response = await fetch(input, init);
    const body = await response.clone().text();
    const url = input instanceof Request ? input.url : String(input);
    const setCookies = response.headers.getSetCookie().map((value): [string, string] => ['set-cookie', value]);
    const others = [...response.headers].filter(([name]) => name !== 'set-cookie');
    log.push({ method: init?.method ?? 'GET', url, status: response.status, headers: headerLines([...others, ...setCookies]), body });
    return response;
  };

// ---------------------------------------------------------------------------------------------
// Email as received.

export interface RawMail {
  /** The message exactly as the SMTP DATA command carried it. */
  raw: Buffer;
  mail: ParsedMail;
  rcptTo: string[];
}

export interface RawSmtpSink {
  port: number;
  messages: RawMail[];
  close(): Promise<void>;
}

/** A real SMTP server on 127.0.0.1 that accepts every message and keeps its raw source. */
export const startRawSmtpSink = async (): Promise<RawSmtpSink> => {
  const messages: RawMail[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    closeTimeout: 1000,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks);
        simpleParser(raw).then(
          (mail) => {
            messages.push({ raw, mail, rcptTo: session.envelope.rcptTo.map((address) => address.address) });
            callback();
          },
          (error: unknown) => callback(error instanceof Error ? error : new Error(String(error))),
        );
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.server.address() as AddressInfo;
  return { port, messages, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
};

// ---------------------------------------------------------------------------------------------
// A token endpoint that issues canary tokens.

export interface TokenPair {
  accessToken: string;
  refreshToken: string;
}

export interface TokenRequest {
  grantType: string | null;
  /** From the client's Basic credentials. */
  clientId: string | undefined;
  clientSecret: string | undefined;
  /** The refresh token a refresh request carried. */
  refreshToken: string | null;
  status: number;
}

export interface CanaryTokenEndpoint {
  url: string;
  /** Every request received, for checks that Credence sent what it holds. */
  requests: TokenRequest[];
  /** Queues the tokens of the next answer to `clientId`. */
  issue(clientId: string, tokens: TokenPair): void;
  close(): Promise<void>;
}

const readBody = async (request: IncomingMessage): Promise<string> => {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
};

const formDecode = (text: string): string => decodeURIComponent(text.replace(/\+/g, ' '));

/** `client_secret_basic`: the form-encoded id and secret, joined by a colon and base64-encoded. */
const basicClient = (header: string | undefined): { clientId?: string; clientSecret?: string } => {
  const encoded = /^Basic (\S+)$/i.exec(header ?? '')?.[1];
  if (!encoded) return {};
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 ? {} : { clientId: formDecode(decoded.slice(0, colon)), clientSecret: formDecode(decoded.slice(colon + 1)) };
};

/**
 * A loopback OAuth 2.0 token endpoint answering every grant with the next tokens queued for
 * the client (400 invalid_grant when none are). It checks neither code nor PKCE: the
 * authorization itself runs through the real oidc-provider, only the tokens are canaries.
 */
export const startCanaryTokenEndpoint = async (scope: string): Promise<CanaryTokenEndpoint> => {
  const queues = new Map<string, TokenPair[]>();
  const requests: TokenRequest[] = [];
  const answer = (response: ServerResponse, status: number, body: unknown) => {
    response.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    response.end(JSON.stringify(body));
  };
  const server = createServer((request, response) => {
    readBody(request).then((text) => {
      const form = new URLSearchParams(text);
      const client = basicClient(request.headers.authorization);
      const tokens = request.method === 'POST' && client.clientId ? queues.get(client.clientId)?.shift() : undefined;
      const status = tokens ? 200 : 400;
      requests.push({ grantType: form.get('grant_type'), clientId: client.clientId, clientSecret: client.clientSecret, refreshToken: form.get('refresh_token'), status });
      if (!tokens) return answer(response, status, { error: 'invalid_grant' });
      return answer(response, status, { access_token: tokens.accessToken, refresh_token: tokens.refreshToken, token_type: 'Bearer', expires_in: 3600, scope });
    }, () => answer(response, 500, { error: 'server_error' }));
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/token`,
    requests,
    issue(clientId, tokens) {
      queues.set(clientId, [...(queues.get(clientId) ?? []), tokens]);
    },
    close() {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
};
