import { Link } from 'react-router';
import { isApiError } from '../api/client.js';
import type { Component, Credential, IntegrationStep } from '../api/types.js';
import { addScopesHref, missingScopesInMessage, scopesLacking } from '../credentials/scopes.js';

/** A step's action, as GET /components describes it. */
export const actionOf = (components: readonly Component[], step: Pick<IntegrationStep, 'component' | 'action'>) =>
  components.find((c) => c.key === step.component)?.actions.find((a) => a.key === step.action);

/** "Request files.metadata.read for Globex Dropbox": to the credential's OAuth tab, the scopes filled in. */
export function RequestScopesLink({ credentialId, label, scopes }: { credentialId: string; label: string; scopes: string[] }) {
  return (
    <Link to={addScopesHref(credentialId, scopes)}>
      Request {scopes.join(' ')} for {label}
    </Link>
  );
}

/**
 * Under a MISSING_SCOPES refusal: for each step whose credential lacks scopes, a link to
 * ask for them. The scopes are worked out from the step's action and the credential's
 * grant; read from the server's message only when that shows nothing (the list was stale).
 */
export function MissingScopesHelp({ error, steps, bindings, credentials, components }: {
  error: unknown;
  steps: readonly IntegrationStep[];
  bindings: Record<string, string | null>;
  credentials: readonly Credential[];
  components: readonly Component[];
}) {
  if (!isApiError(error, 'MISSING_SCOPES')) return null;
  const named = missingScopesInMessage(error.message);
  const items = steps.flatMap((step) => {
    const credentialId = bindings[step.name];
    if (!credentialId) return [];
    const credential = credentials.find((c) => c.id === credentialId);
    const computed = scopesLacking(actionOf(components, step), credential);
    const scopes = computed.length > 0 ? computed : (named.find((n) => n.step === step.name)?.scopes ?? []);
    return scopes.length > 0 ? [{ step: step.name, credentialId, label: credential?.label ?? 'its credential', scopes }] : [];
  });
  if (items.length === 0) return null;
  return (
    <ul className="missing-scopes-help">
      {items.map((item) => (
        <li key={item.step}>
          <RequestScopesLink credentialId={item.credentialId} label={item.label} scopes={item.scopes} /> <span className="muted">(step {item.step})</span>
        </li>
      ))}
    </ul>
  );
}
