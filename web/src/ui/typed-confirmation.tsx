import { useState, type FormEvent, type ReactNode } from 'react';
import { Field } from './field.js';

/**
 * A destructive action guarded by typing a name: the button stays disabled until the
 * typed text matches `name` exactly (surrounding spaces aside).
 */
export function TypedConfirmation({
  name,
  noun,
  buttonText,
  pending,
  onConfirm,
  children,
}: {
  name: string;
  noun: string;
  buttonText: string;
  pending: boolean;
  onConfirm: (typed: string) => void;
  children?: ReactNode;
}) {
  const [typed, setTyped] = useState('');
  const matches = typed.trim() === name;
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (matches && !pending) onConfirm(typed.trim());
  };
  return (
    <form className="danger-form" onSubmit={submit}>
      <Field label={`Type the ${noun}'s name to confirm`} hint={<>Type <strong className="mono">{name}</strong> exactly.</>}>
        {(ids) => <input {...ids} type="text" value={typed} onChange={(e) => setTyped(e.target.value)} autoComplete="off" spellCheck={false} />}
      </Field>
      {children}
      <button type="submit" className="button danger" disabled={!matches || pending}>
        {pending ? 'Removing…' : buttonText}
      </button>
    </form>
  );
}
