import { Field } from '../ui/field.js';

export const MIN_PASSWORD_LENGTH = 12;

/** Why a new password cannot be used yet, or null when it can. */
export const passwordProblem = (password: string, repeated: string): string | null => {
  if (password.length < MIN_PASSWORD_LENGTH) return `The password must be at least ${MIN_PASSWORD_LENGTH} characters.`;
  if (password !== repeated) return 'The two passwords do not match.';
  return null;
};

/** A new password typed twice. */
export function NewPasswordFields({ password, repeated, onPassword, onRepeated }: { password: string; repeated: string; onPassword: (v: string) => void; onRepeated: (v: string) => void }) {
  return (
    <>
      <Field label="Password" hint={`At least ${MIN_PASSWORD_LENGTH} characters.`}>
        {(ids) => <input {...ids} type="password" autoComplete="new-password" required minLength={MIN_PASSWORD_LENGTH} value={password} onChange={(e) => onPassword(e.target.value)} />}
      </Field>
      <Field label="Repeat password">
        {(ids) => <input {...ids} type="password" autoComplete="new-password" required value={repeated} onChange={(e) => onRepeated(e.target.value)} />}
      </Field>
    </>
  );
}
