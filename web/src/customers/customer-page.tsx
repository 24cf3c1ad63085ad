import { useQuery } from '@tanstack/react-query';
import { Link, Outlet, useOutletContext, useParams } from 'react-router';
import { api } from '../api/client.js';
import { keys } from '../api/query-keys.js';
import type { Customer } from '../api/types.js';
import { ErrorMessage, Loading } from '../ui/feedback.js';
import { PageHeader } from '../ui/page.js';
import { TabNav } from '../ui/tab-nav.js';

export const useCustomerOfPage = (): Customer => useOutletContext<Customer>();

/** `/customers/:customerId/…`: a customer with its Credentials, Instances and Settings tabs. */
export function CustomerPage() {
  const { customerId = '' } = useParams();
  const customer = useQuery({ queryKey: keys.customer(customerId), queryFn: () => api.customers.get(customerId) });
  if (customer.isPending) return <Loading label="Loading customer…" />;
  if (customer.isError) {
    return (
      <>
        <PageHeader title="Customer" />
        <ErrorMessage error={customer.error} />
        <Link to="/customers">Back to customers</Link>
      </>
    );
  }
  const base = `/customers/${customerId}`;
  return (
    <>
      <PageHeader title={customer.data.name} eyebrow={<Link to="/customers">Customers</Link>} subtitle={customer.data.externalId ? `External ID ${customer.data.externalId}` : undefined} />
      <TabNav
        label="Customer"
        items={[
          { to: `${base}/credentials`, label: 'Credentials' },
          { to: `${base}/instances`, label: 'Instances' },
          { to: `${base}/settings`, label: 'Settings' },
        ]}
      />
      <div className="tab-panel">
        <Outlet context={customer.data} />
      </div>
    </>
  );
}
