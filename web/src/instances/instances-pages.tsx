import { Link, useNavigate, useParams, useSearchParams } from 'react-router';
import { PageHeader } from '../ui/page.js';
import { DeployForm } from './deploy-form.js';
import { InstanceList } from './instance-list.js';

/** `/instances`: every deployed instance. */
export function InstancesPage() {
  return (
    <>
      <PageHeader title="Instances" subtitle="Integrations deployed for customers, with a credential bound to each step that needs one." actions={<Link className="button primary" to="/instances/new">+ Instance</Link>} />
      <InstanceList />
    </>
  );
}

/** Customers → a customer → Instances. */
export function CustomerInstancesTab() {
  const { customerId = '' } = useParams();
  return (
    <>
      <div className="section-header">
        <p>Integrations deployed for this customer.</p>
        <Link className="button primary" to={`/instances/new?customerId=${encodeURIComponent(customerId)}`}>+ Instance</Link>
      </div>
      <InstanceList customerId={customerId} showCustomer={false} />
    </>
  );
}

/** `/instances/new?integrationId=&customerId=`: deploy an instance. */
export function DeployPage() {
  const [params] = useSearchParams();
  const navigate = useNavigate();
  return (
    <>
      <PageHeader title="Deploy an instance" eyebrow={<Link to="/instances">← Instances</Link>} />
      <DeployForm
        initialIntegrationId={params.get('integrationId') ?? ''}
        initialCustomerId={params.get('customerId') ?? ''}
        onDeployed={(instance) => void navigate(`/instances/${instance.id}`)}
      />
    </>
  );
}
