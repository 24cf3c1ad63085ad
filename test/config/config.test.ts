import { randomBytes } from 'node:crypto';
import { isAbsolute, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/config.js';

const validKey = (): string => randomBytes(32).toString('base64');

/** Runs loadConfig and returns the ConfigError it throws. */
const configError = (env: Record<string, string | undefined>): ConfigError => {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected loadConfig to throw a ConfigError');
};

describe('loadConfig', () => {
  it('applies the defaults for an empty environment', () => {
    const config = loadConfig({});
    const dataDir = resolve('./data');
    expect(isAbsolute(config.dataDir)).toBe(true);
    expect(config).toEqual({
      host: '127.0.0.1',
      port: 8080,
      dataDir,
      database: { kind: 'sqlite', file: join(dataDir, 'credence.sqlite') },
      masterKey: { kind: 'generated-file', path: join(dataDir, 'master.key') },
      publicUrl: 'http://127.0.0.1:8080',
      allowInsecureLoopback: false,
      outboundAllowedNetworks: [],
      expiryWarningDays: [30, 7, 1],
      timeouts: { requestTimeoutMs: 30_000, headersTimeoutMs: 10_000, idleTimeoutMs: 60_000 },
      signInsPerMinute: 10,
      logLevel: 'info',
      mail: { smtpUrl: undefined, from: 'Credence <credence@localhost>', outboxDir: join(dataDir, 'outbox') },
      emailLimits: { perCredential: 5, perCustomer: 20, perOrganization: 200, windowMs: 3_600_000 },
      refresh: { pollMs: 1000, defaultLifetimeSeconds: 3600, batchSize: 200, concurrency: 200, leaseMs: 60_000, maxPerOrganization: 100, requestTimeoutMs: 15_000 },
      metricsToken: undefined,
      previousMasterKeys: [],
      keys: { rotationThreshold: 2 ** 32 - 2 ** 20, reencryptBatchSize: 500 },
      apiTokenCacheMs: 5000,
      credentialCacheSize: 10_000,
      runs: { retentionDays: 30, keepPerInstance: 1000 },
    });
  });

  it('reads private networks steps may reach, and refuses one that is not a CIDR', () => {
    expect(loadConfig({ CREDENCE_OUTBOUND_ALLOWED_NETWORKS: '10.20.0.0/16, fd00:1::/64' }).outboundAllowedNetworks).toEqual(['10.20.0.0/16', 'fd00:1::/64']);
    expect(configError({ CREDENCE_OUTBOUND_ALLOWED_NETWORKS: '10.20.0.0' }).problems.join(' ')).toContain('CREDENCE_OUTBOUND_ALLOWED_NETWORKS');
    expect(configError({ CREDENCE_OUTBOUND_ALLOWED_NETWORKS: '10.0.0.0/33' }).problems.join(' ')).toContain('CIDR');
  });

  it('treats empty variables as unset', () => {
    const config = loadConfig({ PORT: '', HOST: '', DATABASE_URL: '' });
    expect(config.port).toBe(8080);
    expect(config.host).toBe('127.0.0.1');
    expect(config.database.kind).toBe('sqlite');
    expect(config.masterKey.kind).toBe('generated-file');
  });

  it('refuses an empty CREDENCE_MASTER_KEY or CREDENCE_MASTER_KEY_FILE instead of falling back to a generated key', () => {
    for (const name of ['CREDENCE_MASTER_KEY', 'CREDENCE_MASTER_KEY_FILE']) {
      for (const value of ['', '  ']) {
        for (const database of [{}, { DATABASE_URL: 'postgres://db.internal/credence' }]) {
          expect(configError({ ...database, [name]: value }).problems, `${name}=${JSON.stringify(value)}`).toEqual([
            `${name}: is set but empty; give it a value, or remove the variable`,
          ]);
        }
      }
    }
    // Next to a valid other setting it is still a mistake, not a choice.
    expect(configError({ CREDENCE_MASTER_KEY: '', CREDENCE_MASTER_KEY_FILE: '/etc/credence/root.key' }).problems).toEqual([
      'CREDENCE_MASTER_KEY: is set but empty; give it a value, or remove the variable',
    ]);
    // Listed with the other problems, not instead of them.
    expect(configError({ CREDENCE_MASTER_KEY_FILE: '', CREDENCE_TLS_CERT: 'cert.pem' }).problems).toHaveLength(2);
  });

  it('resolves a relative data directory to an absolute path holding the SQLite file', () => {
    const config = loadConfig({ CREDENCE_DATA_DIR: 'var/credence' });
    expect(config.dataDir).toBe(resolve('var/credence'));
    expect(config.database).toEqual({ kind: 'sqlite', file: join(resolve('var/credence'), 'credence.sqlite') });
  });

  it('names both PORT and DATABASE_URL when both are invalid', () => {
    const error = configError({ PORT: 'abc', DATABASE_URL: 'mysql://x' });
    expect(error.name).toBe('ConfigError');
    expect(error.problems.some((problem) => problem.startsWith('PORT'))).toBe(true);
    expect(error.problems.some((problem) => problem.startsWith('DATABASE_URL'))).toBe(true);
    expect(error.message).toContain('PORT');
    expect(error.message).toContain('DATABASE_URL');
  });

  it('does not echo an invalid DATABASE_URL that carries a password', () => {
    const error = configError({ DATABASE_URL: 'mysql://credence:hunter2@db.internal/credence' });
    expect(error.problems).toEqual(['DATABASE_URL: must match pattern "^postgres(ql)?://"']);
    expect(error.message).not.toContain('hunter2');
  });

  it('refuses a port outside 0-65535', () => {
    expect(configError({ PORT: '70000' }).problems.some((problem) => problem.startsWith('PORT'))).toBe(true);
  });

  it('reads the refresh lease length, and refuses one shorter than a second', () => {
    expect(loadConfig({ CREDENCE_REFRESH_LEASE_MS: '3000' }).refresh.leaseMs).toBe(3000);
    expect(configError({ CREDENCE_REFRESH_LEASE_MS: '999' }).problems).toEqual([expect.stringMatching(/^CREDENCE_REFRESH_LEASE_MS: /)]);
  });

  it('selects PostgreSQL from a postgres:// URL and keeps the URL redacted', () => {
    const url = 'postgres://credence:pw@db.internal:5432/credence';
    const config = loadConfig({ DATABASE_URL: url, CREDENCE_MASTER_KEY: validKey() });
    expect(config.database.kind).toBe('postgres');
    if (config.database.kind !== 'postgres') throw new Error('unreachable');
    expect(config.database.url.reveal()).toBe(url);
    expect(JSON.stringify(config)).not.toContain('pw@');
  });

  it('refuses PostgreSQL without a master key, naming CREDENCE_MASTER_KEY', () => {
    for (const scheme of ['postgres', 'postgresql']) {
      const error = configError({ DATABASE_URL: `${scheme}://credence@db.internal/credence` });
      expect(error.message).toContain('CREDENCE_MASTER_KEY');
      expect(error.problems).toHaveLength(1);
      expect(error.problems[0]).toContain('CREDENCE_MASTER_KEY');
    }
  });

  it('accepts PostgreSQL with a master key file', () => {
    const config = loadConfig({ DATABASE_URL: 'postgresql://db.internal/credence', CREDENCE_MASTER_KEY_FILE: 'secrets/root.key' });
    expect(config.masterKey).toEqual({ kind: 'file', path: resolve('secrets/root.key') });
  });

  it('refuses CREDENCE_MASTER_KEY and CREDENCE_MASTER_KEY_FILE together', () => {
    const key = validKey();
    const error = configError({ CREDENCE_MASTER_KEY: key, CREDENCE_MASTER_KEY_FILE: '/etc/credence/root.key' });
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]).toContain('CREDENCE_MASTER_KEY and CREDENCE_MASTER_KEY_FILE');
    expect(error.message).not.toContain(key);
  });

  it('decodes a valid master key into a redacted value source', () => {
    const key = randomBytes(32);
    const config = loadConfig({ CREDENCE_MASTER_KEY: key.toString('base64') });
    expect(config.masterKey.kind).toBe('value');
    if (config.masterKey.kind !== 'value') throw new Error('unreachable');
    expect(config.masterKey.key.reveal().equals(key)).toBe(true);
    expect(JSON.stringify(config)).not.toContain(key.toString('base64'));
    // URL-safe base64 is accepted too.
    const urlSafe = loadConfig({ CREDENCE_MASTER_KEY: key.toString('base64url') });
    if (urlSafe.masterKey.kind !== 'value') throw new Error('expected a value source');
    expect(urlSafe.masterKey.key.reveal().equals(key)).toBe(true);
  });

  it('refuses a master key that is not base64 of 32 bytes without echoing it', () => {
    for (const value of [
      randomBytes(16).toString('base64'),
      randomBytes(33).toString('base64'),
      'correct horse battery staple',
      `${randomBytes(32).toString('hex')}`,
    ]) {
      const error = configError({ CREDENCE_MASTER_KEY: value });
      expect(error.problems, value).toHaveLength(1);
      expect(error.problems[0], value).toContain('CREDENCE_MASTER_KEY');
      expect(error.problems[0], value).toContain('32 bytes');
      expect(error.message, value).not.toContain(value);
      expect(error.problems.join('\n'), value).not.toContain(value);
    }
  });

  it('parses CREDENCE_ALLOW_INSECURE_LOOPBACK=true to true', () => {
    expect(loadConfig({ CREDENCE_ALLOW_INSECURE_LOOPBACK: 'true' }).allowInsecureLoopback).toBe(true);
    expect(loadConfig({ CREDENCE_ALLOW_INSECURE_LOOPBACK: 'false' }).allowInsecureLoopback).toBe(false);
  });

  it('trims the trailing slash of CREDENCE_PUBLIC_URL', () => {
    expect(loadConfig({ CREDENCE_PUBLIC_URL: 'https://credence.example.com/' }).publicUrl).toBe('https://credence.example.com');
    expect(loadConfig({ CREDENCE_PUBLIC_URL: 'https://example.com/credence/' }).publicUrl).toBe('https://example.com/credence');
  });

  it('refuses a public URL with a query or that is not http(s)', () => {
    expect(configError({ CREDENCE_PUBLIC_URL: 'https://example.com/?a=1' }).problems).toEqual([
      'CREDENCE_PUBLIC_URL: must not carry a query or fragment',
    ]);
    expect(configError({ CREDENCE_PUBLIC_URL: 'ftp://example.com' }).problems[0]).toMatch(/^CREDENCE_PUBLIC_URL/);
  });

  it('derives the public URL from HOST and PORT, mapping wildcard addresses to loopback', () => {
    expect(loadConfig({ HOST: '0.0.0.0', PORT: '9000' }).publicUrl).toBe('http://127.0.0.1:9000');
    expect(loadConfig({ HOST: '::1', PORT: '9000' }).publicUrl).toBe('http://[::1]:9000');
  });

  it('ignores variables it does not know', () => {
    expect(loadConfig({ SOMETHING_ELSE: 'x', PATH: '/usr/bin' }).port).toBe(8080);
  });
});
