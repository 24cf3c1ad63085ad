import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { api } from '../api/client.js';
import { useAuthMethods } from '../api/hooks.js';
import { keys } from '../api/query-keys.js';
import type { Credential, FieldSpec } from '../api/types.js';
import { ErrorMessage, Loading } from '../ui/feedback.js';
import { Field } from '../ui/field.js';
import { useCredentialOfPage } from './credential-page.js';
import { DestinationsInput, parseDestinations, sameDestinations } from './destinations.js';
import { ExpiryFields, expiryChanges, expiryValuesOf, type ExpiryValues } from './expiry-fields.js';
import { FieldInput } from './field-input.js';
import { RedirectUri } from './redirect-uri.js';

/** Fields of an oauth2 credential whose change needs every secret again and drops the authorization. */
const RESEALING_FIELDS = ['auth_uri', 'token_uri', 'client_id'];

/**
 * A stored secret: whether it is set, and an input to replace it. Its value is never shown.
 * `reenter` says why the save needs it typed again, if it does.
 */
function SecretField({ spec, isSet, value, onChange, reenter }: { spec: FieldSpec; isSet: boolean; value: string; onChange: (v: string) => void; reenter: string | undefined }) {
  return (
    <div className="secret-field">
      <p className="secret-state">
        <span className="field-label">{spec.label}</span>{' '}
        <span className={isSet ? 'badge badge-ok' : 'badge badge-neutral'}>{isSet ? 'Set' : 'Not set'}</span>
      </p>
      {reenter ? (
        <FieldInput spec={spec} value={value} onChange={onChange} label={`Enter ${spec.label} again`} required hint={reenter} />
      ) : (
        <FieldInput spec={spec} value={value} onChange={onChange} label={`${isSet ? 'Replace' : 'Set'} ${spec.label}`} required={false} hint="Leave empty to keep the stored value." />
      )}
    </div>
  );
}

/**
 * What a save sends: a new label, only the fields that were changed, the destinations
 * when they differ from the stored ones (the server then needs every secret field too),
 * and the expiry dates and alert address that changed.
 */
const changesOf = (credential: Credential, specs: FieldSpec[], label: string, edits: Record<string, string>, destinations: string[] | undefined, expiry: ExpiryValues | undefined) => {
  const fields: Record<string, string | null> = {};
  for (const spec of specs) {
    const edit = edits[spec.name];
    if (edit === undefined) continue;
    if (spec.secret) {
      if (edit !== '') fields[spec.name] = edit;
    } else if (edit.trim() !== (credential.fields[spec.name]?.value ?? '')) {
      fields[spec.name] = edit.trim() === '' ? null : edit.trim();
    }
  }
  const newLabel = label.trim() !== credential.label ? label.trim() : undefined;
  return {
    ...(newLabel !== undefined ? { label: newLabel } : {}),
    ...(Object.keys(fields).length > 0 ? { fields } : {}),
    ...(destinations !== undefined ? { destinations } : {}),
    ...(expiry ? expiryChanges(expiry, credential.authMethod === 'oauth2', expiryValuesOf(credential)) : {}),
  };
};

/** The Credentials tab: set new values for any field, change where the secret may be sent, when it expires and who else is alerted. */
export function CredentialFieldsTab() {
  const credential = useCredentialOfPage();
  const methods = useAuthMethods();
  const queryClient = useQueryClient();
  const [label, setLabel] = useState(credential.label);
  const [edits, setEdits] = useState<Record<string, string>>({});
  // Undefined until edited, so the stored list shows as it is read again.
  const [destinationsText, setDestinationsText] = useState<string | undefined>();
  const [expiry, setExpiry] = useState<ExpiryValues | undefined>();
  const [saved, setSaved] = useState(false);
  const save = useMutation({
    mutationFn: (body: ReturnType<typeof changesOf>) => api.credentials.update(credential.id, body),
    onSuccess: (updated) => {
      queryClient.setQueryData(keys.credential(updated.id), updated);
      void queryClient.invalidateQueries({ queryKey: keys.credentials });
      setEdits({});
      setDestinationsText(undefined);
      setExpiry(undefined);
      setLabel(updated.label);
      setSaved(true);
    },
  });

  if (methods.isPending) return <Loading />;
  const specs = methods.data?.items.find((m) => m.key === credential.authMethod)?.fields ?? [];
  const destinations = destinationsText === undefined ? undefined : parseDestinations(destinationsText);
  const destinationsChanged = destinations !== undefined && !sameDestinations(destinations, credential.destinations);
  const secretSpecs = specs.filter((spec) => spec.secret);
  const changes = changesOf(credential, specs, label, edits, destinationsChanged ? destinations : undefined, expiry);
  const appChanged = credential.authMethod === 'oauth2' && RESEALING_FIELDS.some((name) => changes.fields?.[name] !== undefined);
  const reenter = destinationsChanged ? 'Needed because the destinations changed.' : appChanged ? "Needed because the app's URLs or client ID changed." : undefined;
  const dirty = Object.keys(changes).length > 0;
  const edit = (name: string, value: string) => {
    setSaved(false);
    setEdits((current) => ({ ...current, [name]: value }));
  };
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (dirty) save.mutate(changes);
  };

  return (
    <form className="stack form-card" onSubmit={submit}>
      <p className="hint">For security, stored secret values are never shown. Type a new value to replace one.</p>
      <ErrorMessage error={methods.error ?? save.error} title={save.error ? 'The changes were not saved.' : undefined} />
      <Field label="Name">{(ids) => <input {...ids} required maxLength={200} value={label} onChange={(e) => { setSaved(false); setLabel(e.target.value); }} />}</Field>
      {specs.map((spec) => {
        const stored = credential.fields[spec.name];
        return spec.secret ? (
          <SecretField key={spec.name} spec={spec} isSet={stored?.set ?? false} value={edits[spec.name] ?? ''} onChange={(v) => edit(spec.name, v)} reenter={reenter} />
        ) : (
          <FieldInput key={spec.name} spec={spec} value={edits[spec.name] ?? stored?.value ?? ''} onChange={(v) => edit(spec.name, v)} required={false} />
        );
      })}
      <DestinationsInput
        value={destinationsText ?? credential.destinations.join('\n')}
        onChange={(text) => {
          setSaved(false);
          setDestinationsText(text);
        }}
      >
        {destinationsChanged && secretSpecs.length > 0 && (
          <p className="alert alert-info">Changing where this secret may be sent needs every secret value again: {secretSpecs.map((spec) => spec.label).join(', ')}.</p>
        )}
      </DestinationsInput>
      {appChanged && (
        <p className="alert alert-info">
          Changing the app's URLs or client ID needs every secret value again ({secretSpecs.map((spec) => spec.label).join(', ')}), and drops the authorization: the
          customer authorizes again afterwards.
        </p>
      )}
      {credential.oauth2 && credential.oauth2.grantType !== 'client_credentials' && <RedirectUri value={credential.oauth2.redirectUri} />}
      <ExpiryFields
        values={expiry ?? expiryValuesOf(credential)}
        oauth2={credential.authMethod === 'oauth2'}
        onChange={(values) => {
          setSaved(false);
          setExpiry(values);
        }}
      />
      <div className="button-row">
        <button type="submit" className="button primary" disabled={!dirty || save.isPending}>
          {save.isPending ? 'Saving…' : 'Save changes'}
        </button>
        <span aria-live="polite" className="save-status">{saved && !dirty ? 'Saved.' : ''}</span>
      </div>
    </form>
  );
}
