import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/config.js';

const key = () => randomBytes(32);

const problemsOf = (env: Record<string, string>): string[] => {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a ConfigError');
};

describe('key lifecycle settings', () => {
  it('reads previous root keys, comma-separated, as redacted buffers', () => {
    const [a, b] = [key(), key()];
    const config = loadConfig({ CREDENCE_PREVIOUS_MASTER_KEYS: ` ${a.toString('base64')} ,${b.toString('base64url')}` });
    expect(config.previousMasterKeys.map((k) => k.reveal().equals(a) || k.reveal().equals(b))).toEqual([true, true]);
    expect(JSON.stringify(config.previousMasterKeys)).not.toContain(a.toString('base64'));
  });

  it('names the position of a previous key that is not 32 bytes of base64, never the key', () => {
    const short = randomBytes(16).toString('base64');
    const problems = problemsOf({ CREDENCE_PREVIOUS_MASTER_KEYS: `${key().toString('base64')},${short}` });
    expect(problems).toEqual(['CREDENCE_PREVIOUS_MASTER_KEYS: key 2 must be the base64 encoding of exactly 32 bytes']);
    expect(problems.join()).not.toContain(short);
  });

  it('rotates data keys at 2^32 - 2^20 encryptions unless told a lower number, and never higher', () => {
    expect(loadConfig({}).keys).toEqual({ rotationThreshold: 4_293_918_720, reencryptBatchSize: 500 });
    expect(loadConfig({ CREDENCE_KEY_ROTATION_THRESHOLD: '1000', CREDENCE_REENCRYPT_BATCH_SIZE: '50' }).keys).toEqual({ rotationThreshold: 1000, reencryptBatchSize: 50 });
    expect(problemsOf({ CREDENCE_KEY_ROTATION_THRESHOLD: String(2 ** 32) })[0]).toMatch(/^CREDENCE_KEY_ROTATION_THRESHOLD: /);
    expect(problemsOf({ CREDENCE_REENCRYPT_BATCH_SIZE: '0' })[0]).toMatch(/^CREDENCE_REENCRYPT_BATCH_SIZE: /);
  });
});
