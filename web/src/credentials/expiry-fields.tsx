import type { Credential } from '../api/types.js';
import { Field } from '../ui/field.js';
import { dateInputOf, isoOfDateInput } from './expiry.js';

/** The expiry dates (as date inputs hold them, YYYY-MM-DD) and the extra alert address, as typed. */
export interface ExpiryValues {
  expiresOn: string;
  clientSecretExpiresOn: string;
  contactEmail: string;
}

export const NO_EXPIRY: ExpiryValues = { expiresOn: '', clientSecretExpiresOn: '', contactEmail: '' };

export const expiryValuesOf = (credential: Pick<Credential, 'expiresAt' | 'clientSecretExpiresAt' | 'contactEmail'>): ExpiryValues => ({
  expiresOn: dateInputOf(credential.expiresAt),
  clientSecretExpiresOn: dateInputOf(credential.clientSecretExpiresAt),
  contactEmail: credential.contactEmail ?? '',
});

export interface ExpiryChanges {
  expiresAt?: string | null;
  clientSecretExpiresAt?: string | null;
  contactEmail?: string | null;
}

/**
 * What a create or a save sends: each value that differs from `stored` (nothing stored
 * for a new credential), null when it was cleared. The client secret's date only for oauth2.
 */
export const expiryChanges = (values: ExpiryValues, oauth2: boolean, stored: ExpiryValues = NO_EXPIRY): ExpiryChanges => {
  const email = values.contactEmail.trim();
  return {
    ...(values.expiresOn !== stored.expiresOn ? { expiresAt: isoOfDateInput(values.expiresOn) } : {}),
    ...(oauth2 && values.clientSecretExpiresOn !== stored.clientSecretExpiresOn ? { clientSecretExpiresAt: isoOfDateInput(values.clientSecretExpiresOn) } : {}),
    ...(email !== stored.contactEmail ? { contactEmail: email === '' ? null : email } : {}),
  };
};

/** "Expiry and alerts": when the credential (and an OAuth app's client secret) stops working, and who else hears about it. */
export function ExpiryFields({ values, oauth2, onChange }: { values: ExpiryValues; oauth2: boolean; onChange: (values: ExpiryValues) => void }) {
  const set = (name: keyof ExpiryValues, value: string) => onChange({ ...values, [name]: value });
  return (
    <fieldset className="fieldset">
      <legend>Expiry and alerts</legend>
      <div className="form-row">
        <Field label="Expires on" hint="Optional. When this credential stops working, if you know. Alerts go out 30, 7 and 1 days before.">
          {(ids) => <input {...ids} type="date" value={values.expiresOn} onChange={(e) => set('expiresOn', e.target.value)} />}
        </Field>
        {oauth2 && (
          <Field label="Client secret expires on" hint="Optional. Azure client secrets last at most 24 months.">
            {(ids) => <input {...ids} type="date" value={values.clientSecretExpiresOn} onChange={(e) => set('clientSecretExpiresOn', e.target.value)} />}
          </Field>
        )}
      </div>
      <Field
        label="Also alert"
        hint="Optional. The organization’s admins are always emailed when this credential needs authorizing again, starts failing or nears its expiry date; this address is emailed too."
      >
        {(ids) => <input {...ids} type="email" autoComplete="off" maxLength={320} placeholder="it@customer.example" value={values.contactEmail} onChange={(e) => set('contactEmail', e.target.value)} />}
      </Field>
    </fieldset>
  );
}
