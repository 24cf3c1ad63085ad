import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { AppError } from '../common/app-error.js';

/**
 * AES-256-GCM with a random 96-bit nonce and a 128-bit tag. The sealed form is
 * `nonce || ciphertext || tag`. Associated data is mandatory: every caller binds the
 * ciphertext to where it lives, so a value copied elsewhere fails to open.
 */
export const KEY_BYTES = 32;
export const NONCE_BYTES = 12;
export const TAG_BYTES = 16;

export const sealBytes = (key: Buffer, plaintext: Buffer, aad: Buffer): Buffer => {
  if (key.length !== KEY_BYTES) throw new Error('AES-256-GCM needs a 32-byte key');
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad);
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([nonce, body, cipher.getAuthTag()]);
};

/** Opens a sealed value. Every failure, whatever its cause, is the same DECRYPTION_FAILED. */
export const openBytes = (key: Buffer, sealed: Buffer, aad: Buffer): Buffer => {
  if (key.length !== KEY_BYTES || sealed.length < NONCE_BYTES + TAG_BYTES) throw decryptionFailed();
  try {
    const nonce = sealed.subarray(0, NONCE_BYTES);
    const tag = sealed.subarray(sealed.length - TAG_BYTES);
    const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
    decipher.setAAD(aad);
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(sealed.subarray(NONCE_BYTES, sealed.length - TAG_BYTES)), decipher.final()]);
  } catch {
    throw decryptionFailed();
  }
};

export const decryptionFailed = (): AppError => new AppError('DECRYPTION_FAILED', 'A stored value could not be decrypted');
