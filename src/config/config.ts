import { parseNetworks } from '../net/address-policy.js';
import { resolve, join } from 'node:path';
import { Type, type Static } from 'typebox';
import { Value } from 'typebox/value';
import { Redacted } from '../common/redacted.js';
import { DEFAULT_ROTATION_THRESHOLD } from '../crypto/encryption-counter.js';

/**
 * Every setting Credence reads, in one schema. Parsed once at start; a bad value stops
 * the process with the full list of problems. Secrets have no defaults.
 */
export const EnvSchema = Type.Object({
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 8080, description: 'TCP port to listen on' }),
  HOST: Type.String({ minLength: 1, default: '127.0.0.1', description: 'Address to listen on' }),
  CREDENCE_DATA_DIR: Type.String({ minLength: 1, default: './data', description: 'Data directory (SQLite file, generated key file)' }),
  DATABASE_URL: Type.Optional(
    Type.String({ pattern: '^postgres(ql)?://', description: 'postgres:// URL selects PostgreSQL; absent selects SQLite' }),
  ),
  CREDENCE_MASTER_KEY: Type.Optional(Type.String({ description: 'Root key: base64 of 32 random bytes' })),
  CREDENCE_MASTER_KEY_FILE: Type.Optional(Type.String({ minLength: 1, description: 'File holding the root key (base64)' })),
  CREDENCE_PREVIOUS_MASTER_KEYS: Type.Optional(
    Type.String({ description: 'Older root keys, comma-separated base64: they only unwrap data keys they wrapped, until `credence keys rotate-root` has re-wrapped them all' }),
  ),
  CREDENCE_KEY_ROTATION_THRESHOLD: Type.Integer({
    minimum: 1,
    maximum: DEFAULT_ROTATION_THRESHOLD,
    default: DEFAULT_ROTATION_THRESHOLD,
    description: 'Encryptions after which a data key is rotated automatically (at most 2^32 - 2^20)',
  }),
  CREDENCE_REENCRYPT_BATCH_SIZE: Type.Integer({ minimum: 1, maximum: 5000, default: 500, description: 'Rows a key rotation job re-encrypts per batch (one transaction each)' }),
  CREDENCE_PUBLIC_URL: Type.Optional(Type.String({ pattern: '^https?://', description: 'URL users and OAuth providers reach Credence at' })),
  CREDENCE_TLS_CERT: Type.Optional(Type.String({ minLength: 1, description: 'PEM certificate (chain) file: with CREDENCE_TLS_KEY, serve HTTPS directly' })),
  CREDENCE_TLS_KEY: Type.Optional(Type.String({ minLength: 1, description: 'PEM private key file of CREDENCE_TLS_CERT' })),
  CREDENCE_ALLOW_INSECURE_LOOPBACK: Type.Boolean({ default: false, description: 'Accept http:// OAuth URLs on 127.0.0.1/localhost, and let integration steps reach this machine (development only)' }),
  CREDENCE_SIGN_INS_PER_MINUTE: Type.Integer({ minimum: 1, maximum: 10_000, default: 10, description: 'Sign-in attempts one client address may make per minute, whatever the email; beyond it 429 RATE_LIMITED' }),
  CREDENCE_REQUEST_TIMEOUT_MS: Type.Integer({ minimum: 1000, maximum: 600_000, default: 30_000, description: 'How long a client may take to send a whole request; slower ones are cut off' }),
  CREDENCE_HEADERS_TIMEOUT_MS: Type.Integer({ minimum: 500, maximum: 600_000, default: 10_000, description: 'How long a client may take to send the request headers' }),
  CREDENCE_IDLE_TIMEOUT_MS: Type.Integer({ minimum: 1000, maximum: 3_600_000, default: 60_000, description: 'How long a connection may sit idle before it is closed' }),
  CREDENCE_OUTBOUND_ALLOWED_NETWORKS: Type.Optional(
    Type.String({ description: 'Private networks (comma-separated CIDRs, e.g. 10.20.0.0/16,fd00:1::/64) integration steps and credential tests may reach' }),
  ),
  CREDENCE_EXPIRY_WARNING_DAYS: Type.String({
    pattern: '^\\s*\\d{1,4}(\\s*,\\s*\\d{1,4})*\\s*$',
    default: '30,7,1',
    description: 'How many days before a credential\'s (or an OAuth app\'s client secret\'s) expiry date credential.expiring goes out, comma-separated; credential.expired goes out at the date',
  }),
  CREDENCE_SMTP_URL: Type.Optional(
    Type.String({ pattern: '^smtps?://', description: 'SMTP server for authorization emails (smtp:// uses STARTTLS when offered, smtps:// is TLS); without it mail goes to <data dir>/outbox' }),
  ),
  CREDENCE_MAIL_FROM: Type.String({ minLength: 3, default: 'Credence <credence@localhost>', description: 'From address of authorization emails' }),
  CREDENCE_EMAILS_PER_CREDENTIAL_HOUR: Type.Integer({ minimum: 1, maximum: 10_000, default: 5, description: 'Authorization emails one credential may send per hour (counted in the database, shared by every process)' }),
  CREDENCE_EMAILS_PER_CUSTOMER_HOUR: Type.Integer({ minimum: 1, maximum: 100_000, default: 20, description: "Authorization emails for one customer's credentials per hour" }),
  CREDENCE_EMAILS_PER_ORGANIZATION_HOUR: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 200, description: 'Authorization emails one organization may send per hour' }),
  CREDENCE_REFRESH_POLL_MS: Type.Integer({ minimum: 100, maximum: 600_000, default: 1000, description: 'How often the refresh worker looks for tokens due for refresh' }),
  CREDENCE_REFRESH_BATCH_SIZE: Type.Integer({ minimum: 1, maximum: 10_000, default: 200, description: 'At most how many due grants the refresh worker claims (leases) at once; it claims again whenever fewer wait than it has lanes' }),
  CREDENCE_REFRESH_CONCURRENCY: Type.Integer({ minimum: 1, maximum: 1000, default: 200, description: 'How many token requests one refresh worker has in flight at once (its lanes)' }),
  CREDENCE_REFRESH_LEASE_MS: Type.Integer({
    minimum: 1000,
    maximum: 3_600_000,
    default: 60_000,
    description: 'How long a refresh worker holds the grants it claims; the claims of a worker that died pass to another worker after this long. A refresh starts only while half of it is left, so keep it above twice CREDENCE_TOKEN_REQUEST_TIMEOUT_MS',
  }),
  CREDENCE_REFRESH_MAX_PER_ORGANIZATION: Type.Integer({
    minimum: 1,
    maximum: 10_000,
    default: 100,
    description: 'While other organizations have tokens due, at most this many refreshes of one organization are leased at once (across every worker sharing the database), so one tenant whose token endpoint hangs cannot hold up the others; with nobody else due, lanes that would idle go past it, all but a tenth of each worker\'s lanes',
  }),
  CREDENCE_TOKEN_REQUEST_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 60_000, default: 15_000, description: 'How long a token request to an OAuth provider may take before it is abandoned' }),
  CREDENCE_RUN_RETENTION_DAYS: Type.Integer({ minimum: 1, maximum: 3650, default: 30, description: 'Runs started longer ago than this many days are deleted (the worker prunes hourly)' }),
  CREDENCE_RUN_RETENTION_PER_INSTANCE: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 1000, description: 'How many of its newest runs each instance keeps; older ones are deleted' }),
  CREDENCE_API_TOKEN_CACHE_MS: Type.Integer({
    minimum: 0,
    maximum: 60_000,
    default: 5000,
    description: 'How long an API token, once checked, is trusted without a database read; a revocation takes up to this long to reach other processes (0 turns the cache off)',
  }),
  CREDENCE_CREDENTIAL_CACHE_SIZE: Type.Integer({
    minimum: 0,
    maximum: 1_000_000,
    default: 10_000,
    description: 'How many credential rows (sealed, as stored) each process keeps in memory to answer reads by id; a change anywhere is seen before a row is served again (0 turns the cache off)',
  }),
  CREDENCE_METRICS_PORT: Type.Optional(
    Type.Integer({ minimum: 1, maximum: 65535, description: 'With `serve --role worker`: serve /metrics alone on HOST at this port (a worker has no API port)' }),
  ),
  CREDENCE_METRICS_TOKEN: Type.Optional(
    Type.String({ minLength: 16, description: 'Bearer token for GET /metrics; when set, every scraper must send it (or an org_admin API token), loopback included' }),
  ),
  CREDENCE_TOKEN_DEFAULT_LIFETIME_SECONDS: Type.Integer({ minimum: 60, maximum: 31_536_000, default: 3600, description: 'Lifetime assumed for an access token issued without expires_in' }),
  CREDENCE_LOG_LEVEL: Type.Enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, { default: 'info' }),
});

export type Env = Static<typeof EnvSchema>;

export type MasterKeySource =
  | { kind: 'value'; key: Redacted<Buffer> }
  | { kind: 'file'; path: string }
  | { kind: 'generated-file'; path: string };

export type DatabaseConfig = { kind: 'sqlite'; file: string } | { kind: 'postgres'; url: Redacted<string> };

export interface Config {
  host: string;
  port: number;
  dataDir: string;
  database: DatabaseConfig;
  masterKey: MasterKeySource;
  /** Root keys that may still unwrap (never wrap) data keys, during a root key rotation. */
  previousMasterKeys: Array<Redacted<Buffer>>;
  keys: { rotationThreshold: number; reencryptBatchSize: number };
  publicUrl: string;
  /** Serve HTTPS with these PEM files (both set, or neither). */
  tls: { certFile: string; keyFile: string } | undefined;
  allowInsecureLoopback: boolean;
  /** How long clients may take to send a request, its headers, and between requests. */
  timeouts: { requestTimeoutMs: number; headersTimeoutMs: number; idleTimeoutMs: number };
  /** Sign-in attempts per minute from one client address. */
  signInsPerMinute: number;
  /** Private networks components may reach, as CIDRs (checked at start). */
  outboundAllowedNetworks: string[];
  expiryWarningDays: number[];
  logLevel: string;
  mail: { smtpUrl: Redacted<string> | undefined; from: string; outboxDir: string };
  /** Authorization emails allowed per hour (`windowMs`), per credential, customer and organization. */
  emailLimits: { perCredential: number; perCustomer: number; perOrganization: number; windowMs: number };
  refresh: { pollMs: number; defaultLifetimeSeconds: number; batchSize: number; concurrency: number; leaseMs: number; maxPerOrganization: number; requestTimeoutMs: number };
  /** Bearer token that opens GET /metrics, if configured. */
  metricsToken: Redacted<string> | undefined;
  apiTokenCacheMs: number;
  /** Credential rows cached per process (0: none). */
  credentialCacheSize: number;
  /** Run retention: how many days runs are kept, and how many of its newest runs each instance keeps. */
  runs: { retentionDays: number; keepPerInstance: number };
  /** Worker-only processes serve /metrics here, if set. */
  metricsPort: number | undefined;
}

export class ConfigError extends Error {
  readonly problems: string[];

  constructor(problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

const KNOWN_KEYS = Object.keys(EnvSchema.properties);

/** Parses the environment into a Config, or throws a ConfigError naming every problem. */
export const loadConfig = (env: Record<string, string | undefined>): Config => {
  const raw: Record<string, string> = {};
  for (const key of KNOWN_KEYS) {
    const value = env[key];
    if (value !== undefined && value !== '') raw[key] = value;
  }
  const converted = Value.Convert(EnvSchema, Value.Default(EnvSchema, raw)) as Env;
  const problems = [...Value.Errors(EnvSchema, converted)].map((error) => {
    const key = error.instancePath.replace(/^\//, '');
    // Never echo the value of a key variable back.
    return `${key}: ${error.message}`;
  });
  if (problems.length > 0) throw new ConfigError(problems);

  const dataDir = resolve(converted.CREDENCE_DATA_DIR);
  const database: DatabaseConfig = converted.DATABASE_URL
    ? { kind: 'postgres', url: new Redacted(converted.DATABASE_URL) }
    : { kind: 'sqlite', file: join(dataDir, 'credence.sqlite') };

  const masterKey = resolveMasterKey(converted, database, problems, env);
  const previousMasterKeys = resolvePreviousMasterKeys(converted, problems);
  const tls = resolveTls(converted, problems);
  const publicUrl = resolvePublicUrl(converted, problems, tls !== undefined);
  const outboundAllowedNetworks = (converted.CREDENCE_OUTBOUND_ALLOWED_NETWORKS ?? '').split(',').map((n) => n.trim()).filter(Boolean);
  try {
    parseNetworks(outboundAllowedNetworks);
  } catch (error) {
    problems.push(`CREDENCE_OUTBOUND_ALLOWED_NETWORKS: ${(error as Error).message}`);
  }
  if (problems.length > 0 || !masterKey || !publicUrl) throw new ConfigError(problems);

  return {
    host: converted.HOST,
    port: converted.PORT,
    dataDir,
    database,
    masterKey,
    previousMasterKeys,
    keys: { rotationThreshold: converted.CREDENCE_KEY_ROTATION_THRESHOLD, reencryptBatchSize: converted.CREDENCE_REENCRYPT_BATCH_SIZE },
    publicUrl,
    tls,
    allowInsecureLoopback: converted.CREDENCE_ALLOW_INSECURE_LOOPBACK,
    outboundAllowedNetworks,
    expiryWarningDays: converted.CREDENCE_EXPIRY_WARNING_DAYS.split(',').map((d) => Number(d.trim())).filter((d) => d > 0),
    timeouts: { requestTimeoutMs: converted.CREDENCE_REQUEST_TIMEOUT_MS, headersTimeoutMs: converted.CREDENCE_HEADERS_TIMEOUT_MS, idleTimeoutMs: converted.CREDENCE_IDLE_TIMEOUT_MS },
    signInsPerMinute: converted.CREDENCE_SIGN_INS_PER_MINUTE,
    logLevel: converted.CREDENCE_LOG_LEVEL,
    mail: {
      smtpUrl: converted.CREDENCE_SMTP_URL ? new Redacted(converted.CREDENCE_SMTP_URL) : undefined,
      from: converted.CREDENCE_MAIL_FROM,
      outboxDir: join(dataDir, 'outbox'),
    },
    emailLimits: {
      perCredential: converted.CREDENCE_EMAILS_PER_CREDENTIAL_HOUR,
      perCustomer: converted.CREDENCE_EMAILS_PER_CUSTOMER_HOUR,
      perOrganization: converted.CREDENCE_EMAILS_PER_ORGANIZATION_HOUR,
      windowMs: 3_600_000,
    },
    refresh: {
      pollMs: converted.CREDENCE_REFRESH_POLL_MS,
      defaultLifetimeSeconds: converted.CREDENCE_TOKEN_DEFAULT_LIFETIME_SECONDS,
      batchSize: converted.CREDENCE_REFRESH_BATCH_SIZE,
      concurrency: converted.CREDENCE_REFRESH_CONCURRENCY,
      leaseMs: converted.CREDENCE_REFRESH_LEASE_MS,
      maxPerOrganization: converted.CREDENCE_REFRESH_MAX_PER_ORGANIZATION,
      requestTimeoutMs: converted.CREDENCE_TOKEN_REQUEST_TIMEOUT_MS,
    },
    runs: { retentionDays: converted.CREDENCE_RUN_RETENTION_DAYS, keepPerInstance: converted.CREDENCE_RUN_RETENTION_PER_INSTANCE },
    metricsToken: converted.CREDENCE_METRICS_TOKEN ? new Redacted(converted.CREDENCE_METRICS_TOKEN) : undefined,
    apiTokenCacheMs: converted.CREDENCE_API_TOKEN_CACHE_MS,
    credentialCacheSize: converted.CREDENCE_CREDENTIAL_CACHE_SIZE,
    metricsPort: converted.CREDENCE_METRICS_PORT,
  };
};

/** Decodes a base64 root key, insisting on exactly 32 bytes. */
export const decodeMasterKey = (text: string): Buffer | undefined => {
  const trimmed = text.trim();
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(trimmed)) return undefined;
  const key = Buffer.from(trimmed.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  return key.length === 32 ? key : undefined;
};

/**
 * Where the root key comes from. A root key setting that is present but empty is refused, never
 * read as unset: a secret that failed to reach the environment must not start the server on a
 * freshly generated key file.
 */
const resolveMasterKey = (env: Env, database: DatabaseConfig, problems: string[], given: Record<string, string | undefined>): MasterKeySource | undefined => {
  const empty = (['CREDENCE_MASTER_KEY', 'CREDENCE_MASTER_KEY_FILE'] as const).filter((name) => given[name]?.trim() === '');
  for (const name of empty) problems.push(`${name}: is set but empty; give it a value, or remove the variable`);
  if (empty.length > 0) return undefined;
  if (env.CREDENCE_MASTER_KEY && env.CREDENCE_MASTER_KEY_FILE) {
    problems.push('CREDENCE_MASTER_KEY and CREDENCE_MASTER_KEY_FILE cannot both be set; choose one');
    return undefined;
  }
  if (env.CREDENCE_MASTER_KEY) {
    const key = decodeMasterKey(env.CREDENCE_MASTER_KEY);
    if (!key) {
      problems.push('CREDENCE_MASTER_KEY: must be the base64 encoding of exactly 32 bytes (try: openssl rand -base64 32)');
      return undefined;
    }
    return { kind: 'value', key: new Redacted(key) };
  }
  if (env.CREDENCE_MASTER_KEY_FILE) return { kind: 'file', path: resolve(env.CREDENCE_MASTER_KEY_FILE) };
  if (database.kind === 'postgres') {
    problems.push('CREDENCE_MASTER_KEY or CREDENCE_MASTER_KEY_FILE is required with PostgreSQL (DATABASE_URL)');
    return undefined;
  }
  return { kind: 'generated-file', path: join(resolve(env.CREDENCE_DATA_DIR), 'master.key') };
};

const resolvePreviousMasterKeys = (env: Env, problems: string[]): Array<Redacted<Buffer>> => {
  const texts = (env.CREDENCE_PREVIOUS_MASTER_KEYS ?? '').split(',').map((text) => text.trim()).filter((text) => text !== '');
  const keys: Array<Redacted<Buffer>> = [];
  texts.forEach((text, index) => {
    const key = decodeMasterKey(text);
    // Never echo the key back: name its position only.
    if (key) keys.push(new Redacted(key));
    else problems.push(`CREDENCE_PREVIOUS_MASTER_KEYS: key ${index + 1} must be the base64 encoding of exactly 32 bytes`);
  });
  return keys;
};

const resolveTls = (env: Env, problems: string[]): Config['tls'] => {
  const { CREDENCE_TLS_CERT: cert, CREDENCE_TLS_KEY: key } = env;
  if (cert && key) return { certFile: resolve(cert), keyFile: resolve(key) };
  if (cert || key) problems.push('CREDENCE_TLS_CERT and CREDENCE_TLS_KEY go together: set both to serve HTTPS, or neither');
  return undefined;
};

const resolvePublicUrl = (env: Env, problems: string[], https: boolean): string | undefined => {
  const text = env.CREDENCE_PUBLIC_URL ?? `${https ? 'https' : 'http'}://${formatHost(env.HOST)}:${env.PORT}`;
  try {
    const url = new URL(text);
    if (url.search || url.hash) {
      problems.push('CREDENCE_PUBLIC_URL: must not carry a query or fragment');
      return undefined;
    }
    return url.href.replace(/\/+$/, '');
  } catch {
    problems.push('CREDENCE_PUBLIC_URL: must be an absolute http(s) URL');
    return undefined;
  }
};

const formatHost = (host: string): string => {
  if (host === '0.0.0.0' || host === '::') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
};

/** A short description of every setting, for `credence --help` and the README. */
export const describeSettings = (): Array<{ name: string; description: string; default?: unknown }> =>
  Object.entries(EnvSchema.properties).map(([name, schema]) => {
    const s = schema as { description?: string; default?: unknown };
    return { name, description: s.description ?? '', ...(s.default !== undefined ? { default: s.default } : {}) };
  });
