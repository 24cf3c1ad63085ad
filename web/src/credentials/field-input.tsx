import type { FieldSpec } from '../api/types.js';
import { Field } from '../ui/field.js';

const hintFor = (spec: FieldSpec): string | undefined => {
  if (spec.kind === 'scopes') return 'Separate scopes with spaces. Leave empty for the provider default.';
  if (spec.kind === 'uri') return 'An absolute https:// URL.';
  if (spec.name === 'private_key') return 'PEM or OpenSSH format, without a passphrase.';
  return undefined;
};

/**
 * One auth-method field as an input. Secret fields are password inputs (a multiline
 * secret, such as a private key, is a textarea) and are never pre-filled.
 */
export function FieldInput({
  spec,
  value,
  onChange,
  label = spec.label,
  required = spec.required,
  hint = hintFor(spec),
}: {
  spec: FieldSpec;
  value: string;
  onChange: (value: string) => void;
  label?: string;
  required?: boolean;
  hint?: string | undefined;
}) {
  return (
    <Field label={required ? <>{label} <span className="required" aria-hidden="true">*</span></> : label} hint={hint}>
      {(ids) =>
        spec.kind === 'multiline' ? (
          <textarea {...ids} className="mono" rows={6} value={value} required={required} spellCheck={false} autoComplete="off" onChange={(e) => onChange(e.target.value)} />
        ) : (
          <input
            {...ids}
            type={spec.secret ? 'password' : spec.kind === 'uri' ? 'url' : 'text'}
            value={value}
            required={required}
            spellCheck={false}
            autoComplete={spec.secret ? 'new-password' : 'off'}
            onChange={(e) => onChange(e.target.value)}
          />
        )
      }
    </Field>
  );
}
