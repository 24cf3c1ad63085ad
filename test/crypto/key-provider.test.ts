import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createLocalKeyProvider, rootKeyId } from '../../src/crypto/key-provider.js';

const scopeA = JSON.stringify(['credence-data-key', 'v1', 'org_a', 'cus_a', 1]);
const scopeB = JSON.stringify(['credence-data-key', 'v1', 'org_a', 'cus_b', 1]);

describe('createLocalKeyProvider', () => {
  it('unwraps a wrapped data key to the same bytes', async () => {
    const provider = createLocalKeyProvider(randomBytes(32));
    const dataKey = randomBytes(32);
    const wrapped = await provider.wrap(dataKey, scopeA);
    expect(wrapped.startsWith(`lk1.${provider.keyId}.`)).toBe(true);
    expect(wrapped).not.toContain(dataKey.toString('base64url'));
    expect((await provider.unwrap(wrapped, scopeA)).equals(dataKey)).toBe(true);
  });

  it('refuses to unwrap a data key for another scope', async () => {
    const provider = createLocalKeyProvider(randomBytes(32));
    const wrapped = await provider.wrap(randomBytes(32), scopeA);
    await expect(provider.unwrap(wrapped, scopeB)).rejects.toMatchObject({ code: 'DECRYPTION_FAILED' });
  });

  it('refuses to unwrap a data key wrapped under another root key', async () => {
    const wrapped = await createLocalKeyProvider(randomBytes(32)).wrap(randomBytes(32), scopeA);
    const other = createLocalKeyProvider(randomBytes(32));
    await expect(other.unwrap(wrapped, scopeA)).rejects.toMatchObject({ code: 'DECRYPTION_FAILED' });
  });

  it('refuses a wrapped key whose key id was rewritten to the current root key', async () => {
    const wrapped = await createLocalKeyProvider(randomBytes(32)).wrap(randomBytes(32), scopeA);
    const other = createLocalKeyProvider(randomBytes(32));
    const [format, , body] = wrapped.split('.');
    await expect(other.unwrap(`${format}.${other.keyId}.${body}`, scopeA)).rejects.toMatchObject({ code: 'DECRYPTION_FAILED' });
  });

  it('refuses malformed wrapped keys', async () => {
    const provider = createLocalKeyProvider(randomBytes(32));
    const wrapped = await provider.wrap(randomBytes(32), scopeA);
    for (const bad of ['', 'lk1', `lk1.${provider.keyId}`, wrapped.replace(/^lk1/, 'lk2'), wrapped.slice(0, -4)]) {
      await expect(provider.unwrap(bad, scopeA), bad).rejects.toMatchObject({ code: 'DECRYPTION_FAILED' });
    }
  });

  it('still unwraps keys wrapped under a previous root key given in previousKeys', async () => {
    const oldRoot = randomBytes(32);
    const newRoot = randomBytes(32);
    const dataKey = randomBytes(32);
    const wrappedOld = await createLocalKeyProvider(oldRoot).wrap(dataKey, scopeA);

    const rotated = createLocalKeyProvider(newRoot, [oldRoot]);
    expect(rotated.keyId).toBe(rootKeyId(newRoot));
    expect((await rotated.unwrap(wrappedOld, scopeA)).equals(dataKey)).toBe(true);

    // New wraps use the new root key only.
    const wrappedNew = await rotated.wrap(dataKey, scopeA);
    expect(wrappedNew.startsWith(`lk1.${rootKeyId(newRoot)}.`)).toBe(true);
    await expect(createLocalKeyProvider(oldRoot).unwrap(wrappedNew, scopeA)).rejects.toMatchObject({ code: 'DECRYPTION_FAILED' });
  });

  it('gives a key id that is stable for a key, differs between keys and does not contain the key', () => {
    const root = randomBytes(32);
    const first = createLocalKeyProvider(root);
    const second = createLocalKeyProvider(Buffer.from(root));
    const other = createLocalKeyProvider(randomBytes(32));

    expect(first.keyId).toMatch(/^[0-9a-f]{16}$/);
    expect(second.keyId).toBe(first.keyId);
    expect(other.keyId).not.toBe(first.keyId);
    expect(first.describe()).toEqual({ provider: 'local', keyId: first.keyId });

    for (const encoding of ['hex', 'base64', 'base64url'] as const) {
      const text = root.toString(encoding);
      expect(first.keyId).not.toContain(text.slice(0, 8));
      expect(text).not.toContain(first.keyId);
    }
  });

  it('keeps working after the caller wipes its root key buffers', async () => {
    const root = randomBytes(32);
    const previous = randomBytes(32);
    const keyId = rootKeyId(root);
    const dataKey = randomBytes(32);
    const wrappedUnderPrevious = await createLocalKeyProvider(previous).wrap(dataKey, scopeA);

    const provider = createLocalKeyProvider(root, [previous]);
    const wrapped = await provider.wrap(dataKey, scopeA);
    root.fill(0);
    previous.fill(0);

    expect(provider.keyId).toBe(keyId);
    expect((await provider.unwrap(wrapped, scopeA)).equals(dataKey)).toBe(true);
    expect((await provider.unwrap(wrappedUnderPrevious, scopeA)).equals(dataKey)).toBe(true);
    const wrappedAfterWipe = await provider.wrap(dataKey, scopeB);
    expect(wrappedAfterWipe.startsWith(`lk1.${keyId}.`)).toBe(true);
    expect((await provider.unwrap(wrappedAfterWipe, scopeB)).equals(dataKey)).toBe(true);
  });

  it('refuses a root key that is not 32 bytes', () => {
    expect(() => createLocalKeyProvider(randomBytes(16))).toThrow('32 bytes');
  });
});
