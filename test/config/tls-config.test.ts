import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/config.js';

const base = { CREDENCE_DATA_DIR: '/tmp/credence-tls-config', PORT: '8443' };

const problemsOf = (env: Record<string, string>): string[] => {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
};

describe('TLS settings', () => {
  it('serves HTTPS when both a certificate and a key are given, and the default public URL becomes https', () => {
    const config = loadConfig({ ...base, CREDENCE_TLS_CERT: '/etc/credence/cert.pem', CREDENCE_TLS_KEY: '/etc/credence/key.pem' });
    expect(config.tls).toEqual({ certFile: '/etc/credence/cert.pem', keyFile: '/etc/credence/key.pem' });
    expect(config.publicUrl).toBe('https://127.0.0.1:8443');
  });

  it('keeps an explicit public URL, and plain http without TLS settings', () => {
    const behindProxy = loadConfig({ ...base, CREDENCE_TLS_CERT: 'cert.pem', CREDENCE_TLS_KEY: 'key.pem', CREDENCE_PUBLIC_URL: 'https://credence.example.com' });
    expect(behindProxy.publicUrl).toBe('https://credence.example.com');
    const plain = loadConfig(base);
    expect(plain.tls).toBeUndefined();
    expect(plain.publicUrl).toBe('http://127.0.0.1:8443');
  });

  it('refuses a certificate without a key, and a key without a certificate', () => {
    const message = 'CREDENCE_TLS_CERT and CREDENCE_TLS_KEY go together: set both to serve HTTPS, or neither';
    expect(problemsOf({ ...base, CREDENCE_TLS_CERT: 'cert.pem' })).toEqual([message]);
    expect(problemsOf({ ...base, CREDENCE_TLS_KEY: 'key.pem' })).toEqual([message]);
  });
});

describe('TLS to PostgreSQL', () => {
  it('passes sslmode and sslrootcert in DATABASE_URL through to the driver untouched', () => {
    const url = 'postgresql://credence@db.internal:5432/credence?sslmode=verify-full&sslrootcert=/etc/credence/db-ca.pem';
    const config = loadConfig({ ...base, DATABASE_URL: url, CREDENCE_MASTER_KEY: Buffer.alloc(32, 7).toString('base64') });
    expect(config.database.kind).toBe('postgres');
    expect(config.database.kind === 'postgres' ? config.database.url.reveal() : '').toBe(url);
  });
});
