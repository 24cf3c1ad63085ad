import { scopeOf } from '../crypto/sealed-json.js';
import { decryptionFailed } from '../crypto/aead.js';
import type { CipherContext, Keyring } from '../crypto/keyring.js';
import { Redacted } from '../common/redacted.js';
import type { Db } from '../store/database.js';
import { AUTH_METHODS, type AuthMethodKey } from './auth-methods.js';

interface CredentialIdentity {
  id: string;
  organizationId: string;
  customerId: string | null;
  authMethod: AuthMethodKey;
  /** Where the secret may be sent, canonical; null only for a credential sealed before destinations existed. */
  destinations: readonly string[] | null;
}

export interface SealedFields {
  setFields: string[];
  configCiphertext: string | null;
  secretCiphertext: string;
}

/**
 * The field-set name that goes into a sealed set's associated data. Rule: the destinations
 * are part of it, so a ciphertext opens only with exactly the destinations it was sealed
 * with — a database writer who edits them (or moves the ciphertext to a credential with
 * others) gets DECRYPTION_FAILED, never a secret sent somewhere new.
 */
export const credentialFieldSet = (fieldSet: 'config' | 'secret', destinations: readonly string[] | null): string =>
  destinations === null ? fieldSet : `${fieldSet}|destinations:${JSON.stringify(destinations)}`;

/**
 * A credential's values are sealed as two sets: `config` (values that may be shown back,
 * such as an OAuth client id) and `secret` (write-only). Both are encrypted; keeping
 * them apart means showing a credential never decrypts its secrets.
 */
const context = (credential: CredentialIdentity, fieldSet: 'config' | 'secret'): CipherContext => ({
  organizationId: credential.organizationId,
  scopeId: scopeOf(credential.organizationId, credential.customerId),
  recordId: credential.id,
  fieldSet: credentialFieldSet(fieldSet, credential.destinations),
});

export const sealFieldValues = async (
  keyring: Pick<Keyring, 'seal'>,
  credential: CredentialIdentity,
  values: Record<string, string>,
  trx?: Db,
): Promise<SealedFields> => {
  const config: Record<string, string> = {};
  const secret: Record<string, string> = {};
  for (const spec of AUTH_METHODS[credential.authMethod].fields) {
    const value = values[spec.name];
    if (value !== undefined) (spec.secret ? secret : config)[spec.name] = value;
  }
  const seal = async (set: Record<string, string>, fieldSet: 'config' | 'secret'): Promise<string> => {
    const plaintext = Buffer.from(JSON.stringify(set));
    try {
      return await keyring.seal(context(credential, fieldSet), plaintext, trx);
    } finally {
      plaintext.fill(0);
    }
  };
  return {
    setFields: Object.keys(values).sort(),
    configCiphertext: Object.keys(config).length > 0 ? await seal(config, 'config') : null,
    secretCiphertext: await seal(secret, 'secret'),
  };
};

type SealedCredential = CredentialIdentity & { configCiphertext: string | null; secretCiphertext: string };

const openSet = async (
  keyring: Pick<Keyring, 'open'>,
  credential: SealedCredential,
  fieldSet: 'config' | 'secret',
  trx?: Db,
): Promise<Record<string, string>> => {
  const ciphertext = fieldSet === 'config' ? credential.configCiphertext : credential.secretCiphertext;
  if (ciphertext === null) return {};
  const plaintext = await keyring.open(context(credential, fieldSet), ciphertext, trx);
  try {
    return JSON.parse(plaintext.toString('utf8')) as Record<string, string>;
  } catch {
    throw decryptionFailed();
  } finally {
    plaintext.fill(0);
  }
};

/** The values that may be shown back; never touches the secret set. */
export const openShownValues = (keyring: Pick<Keyring, 'open'>, credential: SealedCredential, trx?: Db): Promise<Record<string, string>> =>
  openSet(keyring, credential, 'config', trx);

/** Every value, secret ones included, held in a type that refuses to be logged. */
export const openAllValues = async (
  keyring: Pick<Keyring, 'open'>,
  credential: SealedCredential,
  trx?: Db,
): Promise<Redacted<Record<string, string>>> =>
  new Redacted({ ...(await openSet(keyring, credential, 'config', trx)), ...(await openSet(keyring, credential, 'secret', trx)) });
