import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { dictionary } from '@zxcvbn-ts/language-common';
import { AppError } from '../common/app-error.js';

const PARAMS = { N: 2 ** 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 } satisfies ScryptOptions;
const KEY_LENGTH = 32;

const derive = (password: string, salt: Buffer, params: ScryptOptions): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    scrypt(password.normalize('NFKC'), salt, KEY_LENGTH, params, (error, key) => (error ? reject(error) : resolve(key)));
  });

/** Hashes a password with scrypt (memory-hard). The result names its parameters, so they can grow later. */
export const hashPassword = async (password: string): Promise<string> => {
  const salt = randomBytes(16);
  const key = await derive(password, salt, PARAMS);
  return `scrypt$${PARAMS.N}$${PARAMS.r}$${PARAMS.p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
};

/** Checks a password against a stored hash in constant time. */
export const verifyPassword = async (password: string, stored: string): Promise<boolean> => {
  const [scheme, n, r, p, saltText, keyText] = stored.split('$');
  if (scheme !== 'scrypt' || !saltText || !keyText) return false;
  const expected = Buffer.from(keyText, 'base64url');
  const key = await derive(password, Buffer.from(saltText, 'base64url'), {
    N: Number(n),
    r: Number(r),
    p: Number(p),
    maxmem: PARAMS.maxmem,
  });
  return key.length === expected.length && timingSafeEqual(key, expected);
};

/** A random password for a first admin who did not choose one. */
export const generatePassword = (): string => randomBytes(18).toString('base64url');

/** What Credence takes for an email address of a person. */
export const EMAIL_PATTERN = /^[^\s@<>,;]+@[^\s@<>,;]+\.[^\s@<>,;]+$/;

let commonPasswords: Set<string> | undefined;
const loadCommonPasswords = (): Set<string> => {
  // The 49,000 most common passwords of the zxcvbn-ts project, loaded on first use.
  commonPasswords ??= new Set(dictionary['passwords-common']);
  return commonPasswords;
};

/**
 * Why a new password is too easy to guess, or undefined: it is a common password, or one with
 * digits and symbols around it ("Summer2024!"), or one repeated ("passwordpassword"), or it
 * uses fewer than five different characters.
 */
export const weakPasswordReason = (password: string): string | undefined => {
  const lower = password.normalize('NFKC').toLowerCase();
  if (new Set(lower).size < 5) return 'uses too few different characters';
  const common = loadCommonPasswords();
  const core = lower.replace(/^[\d\W_]+|[\d\W_]+$/gu, '');
  const unit = /^(.+?)\1+$/u.exec(core)?.[1] ?? core;
  if (common.has(lower) || (core.length > 0 && common.has(core)) || (unit.length > 0 && common.has(unit))) return 'is one of the most common passwords';
  return undefined;
};

/** Throws VALIDATION_FAILED unless `password` may be chosen: 12 to 1024 characters and not easy to guess. */
export const checkNewPassword = (password: string, what = 'The password'): void => {
  if (password.length < 12) throw new AppError('VALIDATION_FAILED', `${what} must be at least 12 characters`);
  if (password.length > 1024) throw new AppError('VALIDATION_FAILED', `${what} must be at most 1024 characters`);
  const weak = weakPasswordReason(password);
  if (weak) throw new AppError('VALIDATION_FAILED', `${what} ${weak}; choose a longer phrase of unrelated words`);
};
