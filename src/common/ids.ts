import { randomBytes } from 'node:crypto';

export type IdPrefix = 'org' | 'cus' | 'cred' | 'usr' | 'tok' | 'evt' | 'dek' | 'lnk' | 'sta' | 'int' | 'ins' | 'run' | 'ses' | 'kjob' | 'eml';

/**
 * A new identifier: prefix, 10 hex digits of milliseconds (so ids sort by creation
 * time and keyset pagination follows creation order), then 64 random bits.
 */
export const newId = (prefix: IdPrefix, now: Date = new Date()): string => {
  const time = now.getTime().toString(16).padStart(12, '0');
  return `${prefix}_${time}${randomBytes(8).toString('hex')}`;
};

export const ID_PATTERN = '^[a-z]{3,4}_[0-9a-f]{28}$';
