import { Link } from 'react-router';
import { useAllIntegrations } from '../api/hooks.js';
import { isOrgUser, useUser } from '../auth/session.js';
import { EmptyState, ErrorMessage, Loading } from '../ui/feedback.js';
import { formatDateTime } from '../ui/format.js';
import { PageHeader } from '../ui/page.js';

/** `/integrations`: each integration with its steps, and a way to deploy it. */
export function IntegrationsPage() {
  const orgUser = isOrgUser(useUser());
  const integrations = useAllIntegrations();
  return (
    <>
      <PageHeader
        title="Integrations"
        subtitle="Ordered steps, each a component action. Deploy one for a customer to bind credentials to its steps."
        actions={orgUser && <Link className="button primary" to="/integrations/new">+ Integration</Link>}
      />
      <ErrorMessage error={integrations.error} />
      {integrations.isPending ? (
        <Loading label="Loading integrations…" />
      ) : !integrations.data || integrations.data.length === 0 ? (
        <EmptyState title="No integrations yet.">{orgUser && <p>Use “+ Integration” to create one.</p>}</EmptyState>
      ) : (
        <ul className="card-list">
          {integrations.data.map((integration) => (
            <li key={integration.id} className="card">
              <div className="card-header">
                <h2>{integration.name}</h2>
                <Link className="button secondary small" to={`/instances/new?integrationId=${encodeURIComponent(integration.id)}`} aria-label={`Deploy ${integration.name}`}>
                  Deploy
                </Link>
              </div>
              {integration.description && <p>{integration.description}</p>}
              <ol className="steps-summary">
                {integration.steps.map((step) => (
                  <li key={step.name}>
                    <strong>{step.name}</strong> <span className="muted">{step.component}.{step.action}</span>
                  </li>
                ))}
              </ol>
              <p className="muted small">Updated {formatDateTime(integration.updatedAt)}</p>
            </li>
          ))}
        </ul>
      )}
    </>
  );
}
