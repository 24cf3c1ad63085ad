import { useId, type ReactNode } from 'react';
import { Field } from '../ui/field.js';
import { LiveRegion } from '../ui/feedback.js';

/** The origins typed in a destinations textarea: one per line (any white space separates them). */
export const parseDestinations = (text: string): string[] => text.split(/\s+/).filter(Boolean);

const DEFAULT_PORT = /^((?:https:\/\/.+):443|(?:http:\/\/.+):80|(?:sftp:\/\/.+):22)$/;

// Close to the server's canonical form (case, a trailing slash, the scheme's own port), so
// that retyping a stored origin the same way is not taken for a change. The server decides.
const roughly = (origin: string): string => {
  const text = origin.toLowerCase().replace(/\/$/, '');
  return DEFAULT_PORT.test(text) ? text.replace(/:\d+$/, '') : text;
};

/** True when two lists name the same origins, in any order. */
export const sameDestinations = (a: readonly string[], b: readonly string[]): boolean => {
  const left = new Set(a.map(roughly));
  const right = new Set(b.map(roughly));
  return left.size === right.size && [...left].every((origin) => right.has(origin));
};

/**
 * The Destinations textarea of the create form and the Credentials tab, warning when it
 * is empty; `children` is shown under it (the Credentials tab's notice about secrets).
 */
export function DestinationsInput({ value, onChange, children }: { value: string; onChange: (text: string) => void; children?: ReactNode }) {
  const empty = parseDestinations(value).length === 0;
  return (
    <div className="destinations-input">
      <Field
        label="Destinations"
        hint="Where this credential may be sent, one origin per line (https://api.example.com, sftp://files.example.com:22). Credence refuses to send it anywhere else."
      >
        {(ids) => <textarea {...ids} className="mono" rows={3} spellCheck={false} autoComplete="off" value={value} onChange={(e) => onChange(e.target.value)} />}
      </Field>
      <LiveRegion className="destinations-notices">
        {empty && <p className="alert alert-warning">With no destinations this secret is sent nowhere: every step or test that uses it will be refused.</p>}
        {children}
      </LiveRegion>
    </div>
  );
}

/** Where a credential's secret may be sent, read-only, for everyone who can see the credential. */
export function DestinationList({ destinations }: { destinations: readonly string[] }) {
  const labelId = useId();
  return (
    <div className="destination-list">
      <span className="field-label" id={labelId}>May be sent to</span>
      {destinations.length === 0 ? (
        <span className="destination-none">Nowhere: this credential has no destinations.</span>
      ) : (
        <ul aria-labelledby={labelId}>
          {destinations.map((origin) => (
            <li key={origin}><code>{origin}</code></li>
          ))}
        </ul>
      )}
    </div>
  );
}
