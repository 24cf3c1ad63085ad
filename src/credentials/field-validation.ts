import sshpk from 'sshpk';
import { AppError, type ErrorCode } from '../common/app-error.js';
import { isForbiddenAddress, isIpLiteral } from '../net/address-policy.js';
import { AUTH_METHODS, type AuthMethodKey, type FieldSpec } from './auth-methods.js';

export const MAX_FIELD_LENGTH = 64 * 1024;
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

export interface ValidationOptions {
  /** Accept http:// URLs on loopback hosts (development only). */
  allowInsecureLoopback: boolean;
}

interface Problem {
  code: ErrorCode;
  message: string;
}

/**
 * Checks a complete set of field values for a method: no unknown fields, every required
 * field present and non-empty, each value well-formed. Throws one error listing every
 * problem; the message names fields, never their values.
 */
export const validateFields = (
  method: AuthMethodKey,
  values: Record<string, string>,
  options: ValidationOptions,
  notRequired: readonly string[] = [],
): void => {
  const specs = AUTH_METHODS[method].fields;
  const problems: Problem[] = [];
  for (const name of Object.keys(values)) {
    if (!specs.some((spec) => spec.name === name)) {
      problems.push({ code: 'UNKNOWN_FIELD', message: `${name} is not a field of ${method}` });
    }
  }
  for (const spec of specs) {
    const value = values[spec.name];
    if (value === undefined || value.trim() === '') {
      if (spec.required && !notRequired.includes(spec.name)) problems.push({ code: 'FIELD_REQUIRED', message: `${spec.name} is required` });
      continue;
    }
    const problem = checkValue(method, spec, value, options);
    if (problem) problems.push({ code: 'INVALID_FIELD', message: `${spec.name} ${problem}` });
  }
  const first = problems[0];
  if (first) throw new AppError(first.code, problems.map((p) => p.message).join('; '));
};

/** Rejects field names a method does not have, before anything is decrypted or merged. */
export const rejectUnknownFields = (method: AuthMethodKey, names: string[]): void => {
  const unknown = names.filter((name) => !AUTH_METHODS[method].fields.some((spec) => spec.name === name));
  if (unknown.length > 0) throw new AppError('UNKNOWN_FIELD', `${unknown.join(', ')} ${unknown.length === 1 ? 'is not a field' : 'are not fields'} of ${method}`);
};

const checkValue = (method: AuthMethodKey, spec: FieldSpec, value: string, options: ValidationOptions): string | undefined => {
  if (value.length > MAX_FIELD_LENGTH) return `must be at most ${MAX_FIELD_LENGTH} characters`;
  if (value.includes('\u0000')) return 'must not contain NUL characters';
  if (method === 'private_key' && spec.name === 'private_key') return checkPrivateKey(value);
  if (spec.kind === 'uri') return checkUri(value, options);
  if (spec.kind === 'scopes' && /[\u0000-\u001f\u007f]/.test(value)) return 'must not contain control characters';
  return undefined;
};

const checkPrivateKey = (value: string): string | undefined => {
  try {
    sshpk.parsePrivateKey(value, 'auto');
    return undefined;
  } catch (error) {
    if (error instanceof Error && error.name === 'KeyEncryptedError') {
      return 'is protected by a passphrase; store the key without one (ssh-keygen -p)';
    }
    return 'must be a PEM or OpenSSH private key';
  }
};

/** What is wrong with a URL Credence will call (https, or http on loopback with the development flag), or undefined. */
export const checkUri = (value: string, options: ValidationOptions): string | undefined => {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'must be an absolute URL';
  }
  if (url.username || url.password) return 'must not carry a username or password';
  if (url.hash) return 'must not carry a fragment';
  // The outbound fetch refuses these too (and names that resolve to them); saying so now helps.
  if (isIpLiteral(url.hostname) && isForbiddenAddress(url.hostname)) return 'must not point at a link-local or cloud metadata address';
  if (url.protocol === 'https:') return undefined;
  if (url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname)) {
    return options.allowInsecureLoopback ? undefined : 'must use https (http on loopback needs CREDENCE_ALLOW_INSECURE_LOOPBACK=true)';
  }
  return 'must use https';
};
