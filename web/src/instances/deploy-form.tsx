import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { api } from '../api/client.js';
import { readAll, useAllCustomers, useAllIntegrations, useComponents } from '../api/hooks.js';
import { keys } from '../api/query-keys.js';
import type { Credential, Instance } from '../api/types.js';
import { isOrgUser, useUser } from '../auth/session.js';
import { ErrorMessage, Loading } from '../ui/feedback.js';
import { Field } from '../ui/field.js';
import { MissingScopesHelp } from './missing-scopes.js';
import { StepBinding } from './step-binding.js';

/** The credentials a customer's instance may use: its own and (for organization members) the organization's. */
const useBindableCredentials = (customerId: string, includeOrganization: boolean) =>
  useQuery({
    queryKey: [...keys.credentials, 'bindable', customerId, includeOrganization],
    enabled: customerId !== '',
    queryFn: async (): Promise<Credential[]> => {
      const own = readAll<Credential>((cursor) => api.credentials.list({ level: 'customer', customerId, limit: 200, cursor }));
      const shared = includeOrganization ? readAll<Credential>((cursor) => api.credentials.list({ level: 'organization', limit: 200, cursor })) : Promise.resolve([]);
      return [...(await own), ...(await shared)];
    },
  });

/** Deploy an integration for a customer, with one credential drop-down per step. */
export function DeployForm({ initialIntegrationId = '', initialCustomerId = '', onDeployed }: { initialIntegrationId?: string; initialCustomerId?: string; onDeployed: (instance: Instance) => void }) {
  const user = useUser();
  const orgUser = isOrgUser(user);
  const queryClient = useQueryClient();
  const integrations = useAllIntegrations();
  const customers = useAllCustomers();
  const components = useComponents();
  const [integrationId, setIntegrationId] = useState(initialIntegrationId);
  const [customerId, setCustomerId] = useState(orgUser ? initialCustomerId : (user.customerId ?? ''));
  const [name, setName] = useState('');
  const [bindings, setBindings] = useState<Record<string, string>>({});
  const credentials = useBindableCredentials(customerId, orgUser);
  const deploy = useMutation({
    mutationFn: api.instances.create,
    onSuccess: (instance) => {
      void queryClient.invalidateQueries({ queryKey: keys.instances });
      void queryClient.invalidateQueries({ queryKey: keys.credentials });
      onDeployed(instance);
    },
  });

  if (integrations.isPending || customers.isPending || components.isPending) return <Loading />;
  const loadError = integrations.error ?? customers.error ?? components.error;
  if (loadError) return <ErrorMessage error={loadError} />;
  const integration = integrations.data?.find((i) => i.id === integrationId);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (!integration || !customerId) return;
    const chosen = Object.fromEntries(Object.entries(bindings).filter(([step, id]) => id !== '' && integration.steps.some((s) => s.name === step)));
    deploy.mutate({ integrationId: integration.id, customerId, name: name.trim(), bindings: chosen });
  };

  return (
    <form className="stack form-card" onSubmit={submit}>
      <ErrorMessage error={deploy.error} title="The instance was not deployed." />
      {integration && (
        <MissingScopesHelp error={deploy.error} steps={integration.steps} bindings={deploy.variables?.bindings ?? {}} credentials={credentials.data ?? []} components={components.data?.items ?? []} />
      )}
      <div className="form-row">
        <Field label="Integration">
          {(ids) => (
            <select {...ids} required value={integrationId} onChange={(e) => { setIntegrationId(e.target.value); setBindings({}); }}>
              <option value="">Choose an integration</option>
              {integrations.data?.map((i) => <option key={i.id} value={i.id}>{i.name}</option>)}
            </select>
          )}
        </Field>
        <Field label="Customer">
          {(ids) => (
            <select {...ids} required value={customerId} disabled={!orgUser} onChange={(e) => { setCustomerId(e.target.value); setBindings({}); }}>
              <option value="">Choose a customer</option>
              {customers.data?.map((c) => <option key={c.id} value={c.id}>{c.name}</option>)}
            </select>
          )}
        </Field>
      </div>
      <Field label="Instance name">{(ids) => <input {...ids} required maxLength={200} value={name} onChange={(e) => setName(e.target.value)} />}</Field>
      {integration && customerId && (
        <fieldset className="fieldset">
          <legend>Credentials for each step</legend>
          <p className="hint">Only credentials of this customer or of the organization whose method the step accepts are offered. Steps that do not need one may stay empty.</p>
          {credentials.isPending ? (
            <Loading label="Loading credentials…" />
          ) : (
            <>
              <ErrorMessage error={credentials.error} />
              {integration.steps.map((step) => (
                <StepBinding
                  key={step.name}
                  step={step}
                  components={components.data?.items ?? []}
                  credentials={credentials.data ?? []}
                  customerId={customerId}
                  newCredentialHref={orgUser ? `/customers/${customerId}/credentials/new` : '/credentials/new'}
                  value={bindings[step.name] ?? ''}
                  onChange={(id) => setBindings((current) => ({ ...current, [step.name]: id }))}
                />
              ))}
            </>
          )}
        </fieldset>
      )}
      <div className="button-row">
        <button type="submit" className="button primary" disabled={!integration || !customerId || deploy.isPending}>{deploy.isPending ? 'Deploying…' : 'Deploy instance'}</button>
      </div>
    </form>
  );
}
