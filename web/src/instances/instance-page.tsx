import { useMutation, useQueries, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Link, useParams } from 'react-router';
import { api } from '../api/client.js';
import { useComponents, useCustomerNames } from '../api/hooks.js';
import { keys } from '../api/query-keys.js';
import type { Credential, IntegrationStep } from '../api/types.js';
import { ErrorMessage, LiveRegion, Loading } from '../ui/feedback.js';
import { formatDateTime } from '../ui/format.js';
import { PageHeader } from '../ui/page.js';
import { scopesLacking } from '../credentials/scopes.js';
import { actionOf, RequestScopesLink } from './missing-scopes.js';
import { RunView } from './run-view.js';

/** What a customer user is shown for a step bound to an organization credential: that there is one, not which. */
const ORGANIZATION_CREDENTIAL = 'organization-credential';

/** The credentials an instance's bindings name, as far as the caller may read them. */
const useBoundCredentials = (bindings: Record<string, string | null>): Credential[] => {
  const ids = [...new Set(Object.values(bindings).filter((id): id is string => id !== null && id !== ORGANIZATION_CREDENTIAL))];
  const credentials = useQueries({ queries: ids.map((id) => ({ queryKey: keys.credential(id), queryFn: () => api.credentials.get(id), retry: false })) });
  return credentials.flatMap((q) => (q.data ? [q.data] : []));
};

/** The step → credential table of an instance; a bound credential that lacks scopes its step needs says which. */
function Bindings({ steps, bindings }: { steps: IntegrationStep[]; bindings: Record<string, string | null> }) {
  const components = useComponents();
  const credentials = useBoundCredentials(bindings);
  const credentialOf = (id: string) => credentials.find((c) => c.id === id);
  return (
    <table className="table responsive">
      <caption>Steps and their credentials</caption>
      <thead>
        <tr><th scope="col">Step</th><th scope="col">Action</th><th scope="col">Credential</th></tr>
      </thead>
      <tbody>
        {steps.map((step) => {
          const id = bindings[step.name];
          const action = actionOf(components.data?.items ?? [], step);
          const credential = id ? credentialOf(id) : undefined;
          const lacking = scopesLacking(action, credential);
          return (
            <tr key={step.name}>
              <td data-label="Step">{step.name}</td>
              <td data-label="Action">{step.component}.{step.action}</td>
              <td data-label="Credential">
                {id === ORGANIZATION_CREDENTIAL ? (
                  <span className="muted">An organization credential</span>
                ) : id ? (
                  <>
                    <Link to={`/credentials/${id}`}>{credential?.label ?? id}</Link>
                    {credential && lacking.length > 0 && (
                      <span className="binding-scopes">
                        <span className="badge badge-error">Not granted: {lacking.join(' ')}</span> <RequestScopesLink credentialId={id} label={credential.label} scopes={lacking} />
                      </span>
                    )}
                  </>
                ) : id === null ? (
                  <span className="badge badge-error">Missing: its credential was deleted</span>
                ) : action?.credentialRequired ? (
                  <span className="badge badge-error">None bound</span>
                ) : (
                  <span className="muted">None</span>
                )}
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

/** `/instances/:id`: bindings, the Run button, and each run's step results. */
export function InstancePage() {
  const { id = '' } = useParams();
  const queryClient = useQueryClient();
  const [selectedRunId, setSelectedRunId] = useState<string | null>(null);
  const instance = useQuery({ queryKey: keys.instance(id), queryFn: () => api.instances.get(id) });
  const integrationId = instance.data?.integrationId;
  const integration = useQuery({ queryKey: [...keys.integrations, 'detail', integrationId], queryFn: () => api.integrations.get(integrationId ?? ''), enabled: integrationId !== undefined });
  const runs = useQuery({ queryKey: keys.runs(id), queryFn: () => api.instances.runs(id, { limit: 20 }) });
  // The list has no outputs or logs: the run shown is fetched on its own.
  const shownId = selectedRunId ?? runs.data?.items[0]?.id;
  const shownRun = useQuery({ queryKey: [...keys.runs(id), 'detail', shownId], queryFn: () => api.instances.getRun(id, shownId ?? ''), enabled: shownId !== undefined });
  const customerNames = useCustomerNames();
  const run = useMutation({
    mutationFn: () => api.instances.run(id),
    onSuccess: (finished) => {
      setSelectedRunId(finished.id);
      queryClient.setQueryData([...keys.runs(id), 'detail', finished.id], finished);
      void queryClient.invalidateQueries({ queryKey: keys.runs(id), exact: true });
      queryClient.setQueryData(keys.runs(id), (page: Awaited<ReturnType<typeof api.instances.runs>> | undefined) =>
        page ? { ...page, items: [finished, ...page.items.filter((r) => r.id !== finished.id)] } : { items: [finished], nextCursor: null },
      );
    },
  });

  if (instance.isPending) return <Loading label="Loading instance…" />;
  if (instance.isError) {
    return (
      <>
        <PageHeader title="Instance" />
        <ErrorMessage error={instance.error} />
        <Link to="/instances">Back to instances</Link>
      </>
    );
  }
  const i = instance.data;
  const shown = shownRun.data;

  return (
    <>
      <PageHeader
        title={i.name}
        eyebrow={<Link to="/instances">Instances</Link>}
        subtitle={<>{integration.data?.name ?? 'Integration'} for {customerNames.get(i.customerId) ?? i.customerId} · deployed {formatDateTime(i.createdAt)}</>}
        actions={
          <button type="button" className="button primary" onClick={() => run.mutate()} disabled={run.isPending}>
            {run.isPending ? 'Running…' : 'Run'}
          </button>
        }
      />
      <LiveRegion>
        {run.isPending && <p className="loading"><span className="spinner" aria-hidden="true" />Running the instance…</p>}
        {run.data && !run.isPending && <p className={run.data.status === 'succeeded' ? 'alert alert-success' : 'alert alert-error'}>Run {run.data.status}.</p>}
        <ErrorMessage error={run.error} title="The run did not start." />
      </LiveRegion>
      {integration.data ? <Bindings steps={integration.data.steps} bindings={i.bindings} /> : <ErrorMessage error={integration.error} />}
      <section className="stack" aria-labelledby="runs-heading">
        <h2 id="runs-heading">Runs</h2>
        <ErrorMessage error={runs.error} />
        {runs.data && runs.data.items.length === 0 && <p className="muted">Not run yet. Use Run to run it now.</p>}
        {runs.data && runs.data.items.length > 1 && (
          <div className="field">
            <label htmlFor="run-picker">Show run</label>
            <select id="run-picker" value={shownId ?? ''} onChange={(e) => setSelectedRunId(e.target.value)}>
              {runs.data.items.map((r) => (
                <option key={r.id} value={r.id}>{formatDateTime(r.startedAt)} — {r.status}</option>
              ))}
            </select>
          </div>
        )}
        <ErrorMessage error={shownRun.error} />
        {shown && <RunView run={shown} />}
      </section>
    </>
  );
}

