import { Link } from 'react-router';
import type { Component, Credential, IntegrationStep } from '../api/types.js';
import { needsScopesText, scopesLacking } from '../credentials/scopes.js';
import { Field } from '../ui/field.js';
import { compatibleCredentials } from './compatible.js';
import { RequestScopesLink } from './missing-scopes.js';

/** One step's credential drop-down, offering only credentials the step can use. */
export function StepBinding({ step, components, credentials, customerId, newCredentialHref, value, onChange }: {
  step: IntegrationStep;
  components: Component[];
  credentials: Credential[];
  customerId: string;
  newCredentialHref: string;
  value: string;
  onChange: (credentialId: string) => void;
}) {
  const action = components.find((c) => c.key === step.component)?.actions.find((a) => a.key === step.action);
  if (!action) return <p className="alert alert-error">Step {step.name}: unknown action {step.component}.{step.action}.</p>;
  if (action.authMethods.length === 0) {
    return <p className="step-binding-none"><strong>{step.name}</strong> <span className="muted">({step.component}.{step.action})</span>: needs no credential.</p>;
  }
  const options = compatibleCredentials(credentials, action, customerId);
  const hint = `${step.component}.${step.action} · accepts ${action.authMethods.join(', ')} · ${action.credentialRequired ? 'required' : 'optional'}${action.scopes.length > 0 ? ` · ${needsScopesText(action.scopes)}` : ''}`;
  const chosen = options.find((c) => c.id === value);
  const lacking = scopesLacking(action, chosen);
  return (
    <Field label={`Credential for step ${step.name}`} hint={hint}>
      {(ids) => (
        <div className="binding-row">
          <select {...ids} required={action.credentialRequired} value={value} onChange={(e) => onChange(e.target.value)}>
            <option value="">{action.credentialRequired ? 'Choose a credential' : 'No credential'}</option>
            {options.map((c) => (
              <option key={c.id} value={c.id}>
                {c.label} ({c.level === 'organization' ? 'organization' : 'customer'}, {c.authMethod})
              </option>
            ))}
          </select>
          {chosen && lacking.length > 0 && (
            <span className="hint scopes-lacking">
              Not granted to {chosen.label}: {lacking.join(' ')}. <RequestScopesLink credentialId={chosen.id} label={chosen.label} scopes={lacking} />.
            </span>
          )}
          {options.length === 0 && (
            <span className="hint">
              No compatible credential. <Link to={newCredentialHref}>Create one</Link>.
            </span>
          )}
        </div>
      )}
    </Field>
  );
}
