import { Link, useNavigate, useParams } from 'react-router';
import type { Credential } from '../api/types.js';
import { isOrgUser, useUser } from '../auth/session.js';
import { PageHeader } from '../ui/page.js';
import { CredentialForm } from './credential-form.js';
import { CredentialList } from './credential-list.js';

const NewCredentialLink = ({ to }: { to: string }) => (
  <Link className="button primary" to={to}>+ Credential</Link>
);

/** `/credentials`: every credential the user may see, with level and customer. */
export function AllCredentialsPage() {
  const orgUser = isOrgUser(useUser());
  return (
    <>
      <PageHeader
        title="Credentials"
        subtitle={orgUser ? 'Every credential of the organization, at organization and customer level.' : 'Credentials stored for your account.'}
        actions={<NewCredentialLink to="/credentials/new" />}
      />
      <CredentialList scope={{}} showCustomer={orgUser} />
    </>
  );
}

/** Settings → Credentials: the organization-level credentials. */
export function OrganizationCredentialsTab() {
  return (
    <>
      <div className="section-header">
        <p>Organization credentials can be used in any customer’s instances. Customers never see them.</p>
        <NewCredentialLink to="/settings/credentials/new" />
      </div>
      <CredentialList scope={{ level: 'organization' }} />
    </>
  );
}

/** Customers → a customer → Credentials. */
export function CustomerCredentialsTab() {
  const { customerId = '' } = useParams();
  return (
    <>
      <div className="section-header">
        <p>Credentials stored for this customer, encrypted with its own key.</p>
        <NewCredentialLink to={`/customers/${customerId}/credentials/new`} />
      </div>
      <CredentialList scope={{ level: 'customer', customerId }} />
    </>
  );
}

/** The three ways to "+ Credential": the screen decides the level (or lets the user pick it). */
export function NewCredentialPage({ level }: { level: 'organization' | 'customer' | 'any' }) {
  const { customerId = '' } = useParams();
  const user = useUser();
  const navigate = useNavigate();
  const scope =
    level === 'organization'
      ? ({ kind: 'organization' } as const)
      : level === 'customer'
        ? ({ kind: 'customer', customerId } as const)
        : user.customerId && !isOrgUser(user)
          ? ({ kind: 'customer', customerId: user.customerId } as const)
          : ({ kind: 'choose' } as const);
  const back = level === 'organization' ? '/settings/credentials' : level === 'customer' ? `/customers/${customerId}/credentials` : '/credentials';
  const subtitle = level === 'organization' ? 'An organization-level credential, usable for every customer.' : level === 'customer' ? 'A credential for this customer only.' : undefined;
  return (
    <>
      <PageHeader title="New credential" subtitle={subtitle} eyebrow={<Link to={back}>← Back to credentials</Link>} />
      <CredentialForm scope={scope} onCreated={(credential: Credential) => void navigate(`/credentials/${credential.id}`)} onCancel={() => void navigate(back)} />
    </>
  );
}
