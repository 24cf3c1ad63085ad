import { createHmac } from 'node:crypto';
import { KEY_BYTES, decryptionFailed, openBytes, sealBytes } from './aead.js';

/**
 * Where the root key (key-encryption key) lives. Data keys are wrapped and unwrapped
 * through this interface only, so a KMS provider can replace the local one without
 * touching callers. `context` is associated data: a data key wrapped for one scope
 * does not unwrap for another.
 */
export interface KeyProvider {
  /** Identifies the root key that `wrap` uses now. Stored beside every wrapped key. */
  readonly keyId: string;
  wrap(dataKey: Buffer, context: string): Promise<string>;
  unwrap(wrapped: string, context: string): Promise<Buffer>;
  describe(): { provider: string; keyId: string };
}

const FORMAT = 'lk1';

/** A non-secret fingerprint of a root key, so stored wrapped keys name the key they need. */
export const rootKeyId = (rootKey: Buffer): string =>
  createHmac('sha256', rootKey).update('credence root key id').digest('hex').slice(0, 16);

/**
 * The local provider: a 256-bit root key held in memory (from the environment or a key
 * file). Older root keys may be passed so data wrapped before a root rotation still
 * unwraps.
 */
export const createLocalKeyProvider = (rootKey: Buffer, previousKeys: Buffer[] = []): KeyProvider => {
  if (rootKey.length !== KEY_BYTES) throw new Error('The root key must be 32 bytes');
  // Copies, so the caller can wipe its buffers.
  const current = Buffer.from(rootKey);
  const keys = new Map<string, Buffer>();
  for (const key of [current, ...previousKeys]) keys.set(rootKeyId(key), Buffer.from(key));
  const keyId = rootKeyId(current);

  return {
    keyId,
    async wrap(dataKey, context) {
      const sealed = sealBytes(current, dataKey, Buffer.from(context));
      return `${FORMAT}.${keyId}.${sealed.toString('base64url')}`;
    },
    async unwrap(wrapped, context) {
      const [format, id, body, ...rest] = wrapped.split('.');
      const key = id === undefined ? undefined : keys.get(id);
      if (format !== FORMAT || !key || body === undefined || !/^[A-Za-z0-9_-]+$/.test(body) || rest.length > 0) throw decryptionFailed();
      return openBytes(key, Buffer.from(body, 'base64url'), Buffer.from(context));
    },
    describe: () => ({ provider: 'local', keyId }),
  };
};
