import { useQuery } from '@tanstack/react-query';
import { Link } from 'react-router';
import { api } from '../api/client.js';
import { keys } from '../api/query-keys.js';
import { EmptyState, ErrorMessage, Loading } from '../ui/feedback.js';
import { useCredentialOfPage } from './credential-page.js';

/** The Usage tab: the instances and steps this credential is bound to. */
export function UsageTab() {
  const credential = useCredentialOfPage();
  const usage = useQuery({ queryKey: keys.credentialUsage(credential.id), queryFn: () => api.credentials.usage(credential.id) });
  if (usage.isPending) return <Loading label="Loading usage…" />;
  if (usage.isError) return <ErrorMessage error={usage.error} />;
  if (usage.data.items.length === 0) return <EmptyState title="This credential is not bound to any instance." />;
  return (
    <table className="table responsive">
      <caption className="visually-hidden">Instances using this credential</caption>
      <thead>
        <tr><th scope="col">Instance</th><th scope="col">Step</th></tr>
      </thead>
      <tbody>
        {usage.data.items.map((use) => (
          <tr key={`${use.instanceId}.${use.step}`}>
            <td data-label="Instance"><Link to={`/instances/${use.instanceId}`}>{use.instanceName}</Link></td>
            <td data-label="Step">{use.step}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
