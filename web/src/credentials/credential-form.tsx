import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { api, type NewCredential } from '../api/client.js';
import { useAllCustomers, useAuthMethods } from '../api/hooks.js';
import { keys } from '../api/query-keys.js';
import type { AuthMethodKey, Credential, ProviderPreset } from '../api/types.js';
import { ErrorMessage, Loading } from '../ui/feedback.js';
import { Field } from '../ui/field.js';
import { DestinationsInput, parseDestinations } from './destinations.js';
import { ExpiryFields, NO_EXPIRY, expiryChanges } from './expiry-fields.js';
import { FieldInput } from './field-input.js';
import { OAuthOptions, type GrantType } from './oauth-options.js';
import { RedirectUri } from './redirect-uri.js';

/** Where the new credential is stored: fixed by the screen, or chosen in the form. */
export type CredentialScope = { kind: 'organization' } | { kind: 'customer'; customerId: string } | { kind: 'choose' };

function LevelPicker({ value, onChange }: { value: string; onChange: (customerId: string) => void }) {
  const customers = useAllCustomers();
  return (
    <Field label="Level" hint="Organization credentials can be used for every customer; customer credentials only for that customer.">
      {(ids) => (
        <select {...ids} value={value} onChange={(e) => onChange(e.target.value)}>
          <option value="">Organization</option>
          <optgroup label="Customer">
            {(customers.data ?? []).map((c) => (
              <option key={c.id} value={c.id}>{c.name}</option>
            ))}
          </optgroup>
        </select>
      )}
    </Field>
  );
}

/** "+ Credential": a name, an auth method, then exactly that method's fields. */
export function CredentialForm({ scope, onCreated, onCancel }: { scope: CredentialScope; onCreated: (credential: Credential) => void; onCancel?: () => void }) {
  const methods = useAuthMethods();
  const queryClient = useQueryClient();
  const [label, setLabel] = useState('');
  const [methodKey, setMethodKey] = useState<AuthMethodKey | ''>('');
  const [values, setValues] = useState<Record<string, string>>({});
  const [provider, setProvider] = useState('');
  const [grantType, setGrantType] = useState<GrantType>('authorization_code');
  const [chosenCustomer, setChosenCustomer] = useState('');
  const [destinations, setDestinations] = useState('');
  const [expiry, setExpiry] = useState(NO_EXPIRY);
  const create = useMutation({
    mutationFn: (body: NewCredential) => api.credentials.create(body),
    onSuccess: (credential) => {
      void queryClient.invalidateQueries({ queryKey: keys.credentials });
      onCreated(credential);
    },
  });

  if (methods.isPending) return <Loading label="Loading authorization methods…" />;
  if (methods.isError) return <ErrorMessage error={methods.error} />;
  const method = methods.data.items.find((m) => m.key === methodKey);

  // A new method starts from empty fields, so no value typed for another method lingers.
  const chooseMethod = (key: AuthMethodKey | '') => {
    setMethodKey(key);
    setValues({});
    setProvider('');
    setDestinations('');
  };
  const setValue = (name: string, value: string) => setValues((current) => ({ ...current, [name]: value }));
  const applyPreset = (preset: ProviderPreset | null) => {
    setProvider(preset?.key ?? '');
    if (preset) {
      setValues((current) => ({ ...current, auth_uri: preset.authUri, token_uri: preset.tokenUri, scopes: preset.defaultScopes }));
      setDestinations(preset.apiOrigins.join('\n'));
    }
  };

  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (!method) return;
    const fields: Record<string, string> = {};
    for (const spec of method.fields) {
      const value = values[spec.name] ?? '';
      if (value !== '') fields[spec.name] = spec.secret ? value : value.trim();
    }
    const origins = parseDestinations(destinations);
    const customerId = scope.kind === 'customer' ? scope.customerId : scope.kind === 'choose' && chosenCustomer ? chosenCustomer : null;
    create.mutate({
      label: label.trim(),
      authMethod: method.key,
      fields,
      ...(origins.length > 0 ? { destinations: origins } : {}),
      ...(customerId ? { customerId } : {}),
      ...(method.key === 'oauth2' ? { grantType, ...(provider ? { provider } : {}) } : {}),
      ...expiryChanges(expiry, method.key === 'oauth2'),
    });
  };

  return (
    <form className="stack form-card" onSubmit={submit}>
      <ErrorMessage error={create.error} title="The credential was not saved." />
      <Field label="Name" hint="The label people see and search for.">
        {(ids) => <input {...ids} required maxLength={200} value={label} onChange={(e) => setLabel(e.target.value)} />}
      </Field>
      {scope.kind === 'choose' && <LevelPicker value={chosenCustomer} onChange={setChosenCustomer} />}
      <Field label="Authorization method" hint={method?.description}>
        {(ids) => (
          <select {...ids} required value={methodKey} onChange={(e) => chooseMethod(e.target.value as AuthMethodKey | '')}>
            <option value="">Choose an authorization method</option>
            {methods.data.items.map((m) => (
              <option key={m.key} value={m.key}>{m.name}</option>
            ))}
          </select>
        )}
      </Field>
      {method && (
        <fieldset className="fieldset">
          <legend>{method.name} fields</legend>
          {method.key === 'oauth2' && <OAuthOptions provider={provider} grantType={grantType} onPreset={applyPreset} onGrantType={setGrantType} />}
          {method.fields.map((spec) => (
            <FieldInput
              key={`${method.key}.${spec.name}`}
              spec={spec}
              value={values[spec.name] ?? ''}
              onChange={(value) => setValue(spec.name, value)}
              required={spec.required && !(spec.name === 'auth_uri' && grantType === 'client_credentials')}
            />
          ))}
          {method.key === 'oauth2' && grantType === 'authorization_code' && <RedirectUri />}
        </fieldset>
      )}
      {method && <DestinationsInput value={destinations} onChange={setDestinations} />}
      {method && <ExpiryFields values={expiry} oauth2={method.key === 'oauth2'} onChange={setExpiry} />}
      <div className="button-row">
        <button type="submit" className="button primary" disabled={!method || create.isPending}>
          {create.isPending ? 'Saving…' : 'Save credential'}
        </button>
        {onCancel && (
          <button type="button" className="button secondary" onClick={onCancel}>Cancel</button>
        )}
      </div>
    </form>
  );
}
