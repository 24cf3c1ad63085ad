import type { CipherContext, Keyring } from '../crypto/keyring.js';
import { openJson, scopeOf, sealJson } from '../crypto/sealed-json.js';
import type { CredentialRecord, LastTest } from './credential-store.js';

/**
 * A credential test's answer can carry what the service said (a customer's data), so it is
 * sealed with the credential's scope key: crypto-shredding the customer takes it too.
 */
export const LAST_TEST_FIELD_SET = 'last-test';

const context = (record: Pick<CredentialRecord, 'id' | 'organizationId' | 'customerId'>): CipherContext => ({
  organizationId: record.organizationId,
  scopeId: scopeOf(record.organizationId, record.customerId),
  recordId: record.id,
  fieldSet: LAST_TEST_FIELD_SET,
});

export const sealLastTest = (keyring: Pick<Keyring, 'seal'>, record: Pick<CredentialRecord, 'id' | 'organizationId' | 'customerId'>, lastTest: LastTest): Promise<string> =>
  sealJson(keyring, context(record), lastTest);

/**
 * The last test of a credential, opened; a clear one from before sealing as it is. One that
 * does not open (its key destroyed, the row tampered with) is shown as none rather than
 * making the whole credential unreadable.
 */
export const openLastTest = async (keyring: Pick<Keyring, 'open'>, record: CredentialRecord): Promise<LastTest | null> => {
  if (record.lastTestCiphertext === null) return record.legacyLastTest;
  try {
    return await openJson<LastTest>(keyring, context(record), record.lastTestCiphertext);
  } catch {
    return null;
  }
};
