import type { Credential } from '../api/types.js';
import { Field } from '../ui/field.js';
import { parseScopes } from './scopes.js';

/** Scopes as chips; those in `missing` stand out, and say so to screen readers. */
export function ScopeChips({ scopes, missing = [], tone = 'neutral' }: { scopes: string[]; missing?: string[]; tone?: 'neutral' | 'ok' | 'error' }) {
  return (
    <ul className="scope-chips">
      {scopes.map((scope) => {
        const notGranted = missing.includes(scope);
        return (
          <li key={scope} className={`badge scope-chip badge-${notGranted ? 'error' : tone}`}>
            {scope}
            {notGranted && <span className="visually-hidden"> (not granted)</span>}
          </li>
        );
      })}
    </ul>
  );
}

/** What the provider granted, in words when it granted nothing it named. */
function Granted({ oauth2 }: { oauth2: NonNullable<Credential['oauth2']> }) {
  const granted = parseScopes(oauth2.grantedScopes);
  if (granted.length > 0) return <ScopeChips scopes={granted} tone="ok" />;
  return <span className="muted">{oauth2.authorizedAt === null ? 'Not authorized yet' : 'The provider did not say'}</span>;
}

/**
 * The Scopes block of the OAuth tab: what the authorization asks for, what the provider
 * granted, the requested ones it did not grant, and (when `onAddedChange` is given) an
 * "Add scopes" input whose scopes the next authorization asks for as well.
 */
export function ScopesBlock({ oauth2, added, onAddedChange }: { oauth2: NonNullable<Credential['oauth2']>; added: string; onAddedChange?: (text: string) => void }) {
  const { requestedScopes: requested, missingScopes: missing } = oauth2;
  return (
    <section className="panel" aria-labelledby="oauth-scopes-heading">
      <h2 id="oauth-scopes-heading">Scopes</h2>
      <dl className="details scopes-details">
        <dt>Requested</dt>
        <dd>{requested.length > 0 ? <ScopeChips scopes={requested} missing={missing} /> : <span className="muted">The provider’s default</span>}</dd>
        <dt>Granted</dt>
        <dd><Granted oauth2={oauth2} /></dd>
      </dl>
      {missing.length > 0 && (
        <div className="alert alert-warning scopes-missing">
          <strong>Not granted:</strong> <ScopeChips scopes={missing} tone="error" />
          <p>
            Steps that need {missing.length === 1 ? 'it' : 'them'} cannot use this credential.
            {onAddedChange ? ` Authorize again below to ask for ${missing.length === 1 ? 'it' : 'them'}.` : ''}
          </p>
        </div>
      )}
      {onAddedChange && (
        <Field label="Add scopes" className="scopes-add" hint="Separate scopes with spaces. The next authorization asks for them too, and they stay among the requested scopes.">
          {(ids) => <input {...ids} className="mono" spellCheck={false} autoCapitalize="off" value={added} onChange={(e) => onAddedChange(e.target.value)} />}
        </Field>
      )}
    </section>
  );
}
