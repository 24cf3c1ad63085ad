import { useId, type ReactElement, type ReactNode } from 'react';

interface FieldIds {
  id: string;
  'aria-describedby'?: string;
}

/** A labelled control: the label is a real <label>, the hint is read with the control. */
export function Field({ label, hint, children, className }: { label: ReactNode; hint?: ReactNode; children: (ids: FieldIds) => ReactElement; className?: string }) {
  const id = useId();
  const hintId = `${id}-hint`;
  return (
    <div className={className ? `field ${className}` : 'field'}>
      <label htmlFor={id}>{label}</label>
      {children(hint ? { id, 'aria-describedby': hintId } : { id })}
      {hint && (
        <p className="hint" id={hintId}>
          {hint}
        </p>
      )}
    </div>
  );
}
