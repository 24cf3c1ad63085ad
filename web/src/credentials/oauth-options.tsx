import { useProviders } from '../api/hooks.js';
import type { ProviderPreset } from '../api/types.js';
import { Field } from '../ui/field.js';

export type GrantType = 'authorization_code' | 'client_credentials';

/** OAuth 2.0 extras of the new-credential form: a provider preset and the grant type. */
export function OAuthOptions({
  provider,
  grantType,
  onPreset,
  onGrantType,
}: {
  provider: string;
  grantType: GrantType;
  onPreset: (preset: ProviderPreset | null) => void;
  onGrantType: (grantType: GrantType) => void;
}) {
  const providers = useProviders();
  const presets = providers.data?.items ?? [];
  const chosen = presets.find((p) => p.key === provider);
  return (
    <div className="form-row">
      <Field
        label="Provider preset"
        hint={chosen ? <>Fills in the URLs and scopes from <a href={chosen.docsUrl} target="_blank" rel="noreferrer">{chosen.name}’s documentation</a>.</> : 'Pick a provider to fill in its URLs and scopes, or enter them yourself.'}
      >
        {(ids) => (
          <select {...ids} value={provider} onChange={(e) => onPreset(presets.find((p) => p.key === e.target.value) ?? null)}>
            <option value="">None — enter URLs yourself</option>
            {presets.map((preset) => (
              <option key={preset.key} value={preset.key}>{preset.name}</option>
            ))}
          </select>
        )}
      </Field>
      <Field label="Grant type" hint={grantType === 'client_credentials' ? 'Machine to machine: the token is fetched without anyone’s consent.' : 'A person authorizes access at the provider.'}>
        {(ids) => (
          <select {...ids} value={grantType} onChange={(e) => onGrantType(e.target.value as GrantType)}>
            <option value="authorization_code">Authorization code</option>
            <option value="client_credentials">Client credentials</option>
          </select>
        )}
      </Field>
    </div>
  );
}
