import { randomFillSync } from 'node:crypto';

export type IdPrefix = 'org' | 'cus' | 'cred' | 'usr' | 'tok' | 'evt' | 'dek' | 'lnk' | 'sta' | 'int' | 'ins' | 'run' | 'ses' | 'kjob' | 'eml' | 'hev' | 'whe' | 'msg' | 'whd' | 'wha' | 'alr';

const RANDOM_BYTES = 8;
/** Random bytes drawn from the system's CSPRNG a page at a time: one call per 512 ids instead of one per id. */
const pool = Buffer.alloc(4096);
let offset = pool.length;

const randomHex = (): string => {
  if (offset + RANDOM_BYTES > pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  const hex = pool.toString('hex', offset, offset + RANDOM_BYTES);
  // Each byte is handed out once.
  pool.fill(0, offset, offset + RANDOM_BYTES);
  offset += RANDOM_BYTES;
  return hex;
};

/**
 * A new identifier: prefix, 10 hex digits of milliseconds (so ids sort by creation
 * time and keyset pagination follows creation order), then 64 random bits.
 */
export const newId = (prefix: IdPrefix, now: Date = new Date()): string => {
  const time = now.getTime().toString(16).padStart(12, '0');
  return `${prefix}_${time}${randomHex()}`;
};

export const ID_PATTERN = '^[a-z]{3,4}_[0-9a-f]{28}$';
