import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { NONCE_BYTES, TAG_BYTES, openBytes, sealBytes } from '../../src/crypto/aead.js';

const aad = Buffer.from('org|scope|credential|secret|cv1');

/** Runs `open` and returns the thrown error, failing the test if it did not throw. */
const openError = (open: () => Buffer): unknown => {
  try {
    const result = open();
    throw new Error(`expected the value not to open, but it opened to ${result.length} bytes`);
  } catch (error) {
    return error;
  }
};

describe('sealBytes and openBytes', () => {
  it('opens a sealed value back to the same plaintext', () => {
    const key = randomBytes(32);
    const plaintext = Buffer.from('client secret: s3cr3t-value');
    const sealed = sealBytes(key, plaintext, aad);
    expect(openBytes(key, sealed, aad).equals(plaintext)).toBe(true);
    expect(sealed.includes(plaintext)).toBe(false);
  });

  it('round trips an empty plaintext', () => {
    const key = randomBytes(32);
    const sealed = sealBytes(key, Buffer.alloc(0), aad);
    expect(sealed.length).toBe(NONCE_BYTES + TAG_BYTES);
    expect(openBytes(key, sealed, aad).length).toBe(0);
  });

  it('lays the sealed form out as a 12-byte nonce, the ciphertext and a 16-byte tag', () => {
    expect(NONCE_BYTES).toBe(12);
    expect(TAG_BYTES).toBe(16);
    const key = randomBytes(32);
    for (const size of [0, 1, 15, 16, 17, 1000]) {
      expect(sealBytes(key, randomBytes(size), aad).length).toBe(size + 28);
    }
  });

  it('refuses the value when any single byte of the sealed output is flipped', () => {
    const key = randomBytes(32);
    const sealed = sealBytes(key, Buffer.from('short secret'), aad);
    expect(sealed.length).toBe(12 + 28);
    for (let index = 0; index < sealed.length; index++) {
      const tampered = Buffer.from(sealed);
      tampered[index] = (tampered[index] ?? 0) ^ 0x01;
      expect(openError(() => openBytes(key, tampered, aad)), `byte ${index}`).toMatchObject({ code: 'DECRYPTION_FAILED' });
    }
  });

  it('refuses the value under different associated data', () => {
    const key = randomBytes(32);
    const sealed = sealBytes(key, Buffer.from('secret'), aad);
    expect(openError(() => openBytes(key, sealed, Buffer.from('org|scope|other-credential|secret|cv1')))).toMatchObject({
      code: 'DECRYPTION_FAILED',
    });
    expect(openError(() => openBytes(key, sealed, Buffer.alloc(0)))).toMatchObject({ code: 'DECRYPTION_FAILED' });
  });

  it('refuses the value under another key', () => {
    const sealed = sealBytes(randomBytes(32), Buffer.from('secret'), aad);
    expect(openError(() => openBytes(randomBytes(32), sealed, aad))).toMatchObject({ code: 'DECRYPTION_FAILED' });
  });

  it('refuses a key that is not 32 bytes with the same DECRYPTION_FAILED', () => {
    const key = randomBytes(32);
    const sealed = sealBytes(key, Buffer.from('secret'), aad);
    expect(openError(() => openBytes(key.subarray(0, 16), sealed, aad))).toMatchObject({ code: 'DECRYPTION_FAILED' });
    expect(() => sealBytes(key.subarray(0, 16), Buffer.from('secret'), aad)).toThrow('32-byte key');
  });

  it('refuses truncated input of every length', () => {
    const key = randomBytes(32);
    const sealed = sealBytes(key, Buffer.from('a secret of some length'), aad);
    for (let length = 0; length < sealed.length; length++) {
      expect(openError(() => openBytes(key, sealed.subarray(0, length), aad)), `length ${length}`).toMatchObject({
        code: 'DECRYPTION_FAILED',
      });
    }
  });

  it('refuses input with bytes appended', () => {
    const key = randomBytes(32);
    const sealed = sealBytes(key, Buffer.from('secret'), aad);
    expect(openError(() => openBytes(key, Buffer.concat([sealed, Buffer.from([0])]), aad))).toMatchObject({
      code: 'DECRYPTION_FAILED',
    });
  });

  it('uses a message that reveals nothing about the cause', () => {
    const key = randomBytes(32);
    const sealed = sealBytes(key, Buffer.from('secret'), aad);
    const wrongKey = openError(() => openBytes(randomBytes(32), sealed, aad)) as Error;
    const truncated = openError(() => openBytes(key, sealed.subarray(0, 5), aad)) as Error;
    expect(wrongKey.message).toBe('A stored value could not be decrypted');
    expect(truncated.message).toBe(wrongKey.message);
  });

  it('repeats no nonce over 100,000 seals with one key', () => {
    const key = randomBytes(32);
    const plaintext = Buffer.from('x');
    const nonces = new Set<string>();
    for (let i = 0; i < 100_000; i++) {
      nonces.add(sealBytes(key, plaintext, aad).subarray(0, 12).toString('hex'));
    }
    expect(nonces.size).toBe(100_000);
  });
});
