import { useQuery } from '@tanstack/react-query';
import { Link, Outlet, useLocation, useOutletContext, useParams } from 'react-router';
import { api } from '../api/client.js';
import { useAuthMethods, useCustomerNames } from '../api/hooks.js';
import { keys } from '../api/query-keys.js';
import type { Credential } from '../api/types.js';
import { isOrgUser, useUser } from '../auth/session.js';
import { ErrorMessage, Loading } from '../ui/feedback.js';
import { PageHeader } from '../ui/page.js';
import { TabNav } from '../ui/tab-nav.js';
import { CredentialStatusBadges } from './credential-status.js';
import { DestinationList } from './destinations.js';
import { ExpiryBadges } from './expiry-badges.js';
import { HealthBadge } from './health-badge.js';

/** How often an OAuth 2.0 credential's status is read again while it waits for someone. */
export const AUTHORIZATION_POLL_MS = 3000;

export const useCredential = (id: string) =>
  useQuery({
    queryKey: keys.credential(id),
    queryFn: () => api.credentials.get(id),
    // The customer completes authorization in another browser: poll until it shows.
    refetchInterval: (query) => {
      const credential = query.state.data;
      return credential?.authMethod === 'oauth2' && credential.oauth2?.grantType !== 'client_credentials' && credential.status !== 'authorized' ? AUTHORIZATION_POLL_MS : false;
    },
    // The person waiting is often in another tab (their mail, the provider's page).
    refetchIntervalInBackground: true,
  });

/** The credential that a tab of the credential page shows. */
export const useCredentialOfPage = (): Credential => useOutletContext<Credential>();

function AuthorizationBanner({ credential, onOAuthTab }: { credential: Credential; onOAuthTab: boolean }) {
  if (credential.authMethod !== 'oauth2') return null;
  if (credential.status === 'authorized') {
    return <p className="alert alert-success">Customer authorization complete</p>;
  }
  if (credential.status === 'pending_authorization' && credential.oauth2?.grantType !== 'client_credentials') {
    return (
      <p className="alert alert-info">
        Waiting for authorization.{' '}
        {onOAuthTab ? 'Authorize now, or email your customer a link.' : <><Link to={`/credentials/${credential.id}/oauth2`}>Authorize now or email your customer a link</Link>.</>}
      </p>
    );
  }
  if (credential.status === 'reauthorization_required' || credential.status === 'refresh_failed') {
    return (
      <p className="alert alert-error">
        The provider no longer accepts this authorization{credential.oauth2?.lastError ? `: ${credential.oauth2.lastError}` : ''}.{' '}
        {onOAuthTab ? 'Authorize again below.' : <><Link to={`/credentials/${credential.id}/oauth2`}>Authorize again</Link>.</>}
      </p>
    );
  }
  return null;
}

/** `/credentials/:id`: the credential's heading, status and tabs. */
export function CredentialPage() {
  const { id = '' } = useParams();
  const credential = useCredential(id);
  const methods = useAuthMethods();
  const customerNames = useCustomerNames();
  const orgUser = isOrgUser(useUser());
  const onOAuthTab = useLocation().pathname.endsWith('/oauth2');

  if (credential.isPending) return <Loading label="Loading credential…" />;
  if (credential.isError) {
    return (
      <>
        <PageHeader title="Credential" />
        <ErrorMessage error={credential.error} />
        <Link to="/credentials">Back to credentials</Link>
      </>
    );
  }
  const c = credential.data;
  const base = `/credentials/${c.id}`;
  const methodName = methods.data?.items.find((m) => m.key === c.authMethod)?.name ?? c.authMethod;
  const tabs = [
    { to: base, label: 'Credentials', end: true },
    ...(c.authMethod === 'oauth2' ? [{ to: `${base}/oauth2`, label: 'OAuth2 Authorization' }] : []),
    { to: `${base}/health`, label: 'Health' },
    { to: `${base}/test`, label: 'Test' },
    { to: `${base}/usage`, label: 'Usage' },
    { to: `${base}/settings`, label: 'Settings' },
  ];

  return (
    <>
      <PageHeader
        eyebrow={
          c.customerId ? (
            <>
              Customer credential ·{' '}
              {orgUser ? <Link to={`/customers/${c.customerId}/credentials`}>{customerNames.get(c.customerId) ?? c.customerId}</Link> : (customerNames.get(c.customerId) ?? c.customerId)}
            </>
          ) : (
            <>Organization credential · <Link to="/settings/credentials">Settings → Credentials</Link></>
          )
        }
        title={c.label}
        subtitle={<>{methodName} <CredentialStatusBadges credential={c} /> <HealthBadge credential={c} /> <ExpiryBadges credential={c} /></>}
      />
      <DestinationList destinations={c.destinations} />
      <div aria-live="polite">
        <AuthorizationBanner credential={c} onOAuthTab={onOAuthTab} />
      </div>
      <TabNav label="Credential" items={tabs} />
      <div className="tab-panel">
        <Outlet context={c} />
      </div>
    </>
  );
}
