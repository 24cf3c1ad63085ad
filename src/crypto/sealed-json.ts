import type { Db } from '../store/database.js';
import type { CipherContext, Keyring } from './keyring.js';

/** Seals a JSON value for exactly `ctx`. */
export const sealJson = (keyring: Pick<Keyring, 'seal'>, ctx: CipherContext, value: unknown, trx?: Db): Promise<string> =>
  keyring.seal(ctx, Buffer.from(JSON.stringify(value), 'utf8'), trx);

/** Opens a JSON value sealed for exactly `ctx`; DECRYPTION_FAILED on any mismatch. */
export const openJson = async <T>(keyring: Pick<Keyring, 'open'>, ctx: CipherContext, ciphertext: string, trx?: Db): Promise<T> =>
  JSON.parse((await keyring.open(ctx, ciphertext, trx)).toString('utf8')) as T;

/** The data-key scope of a row that belongs to a customer, or to the organization when `customerId` is null. */
export const scopeOf = (organizationId: string, customerId: string | null): string => customerId ?? organizationId;
