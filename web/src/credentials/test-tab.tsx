import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { api } from '../api/client.js';
import { useComponents } from '../api/hooks.js';
import { keys } from '../api/query-keys.js';
import type { Component } from '../api/types.js';
import { ErrorMessage, LiveRegion, Loading } from '../ui/feedback.js';
import { Field } from '../ui/field.js';
import { formatDateTime, formatDuration } from '../ui/format.js';
import { SchemaInputs, initialSchemaValues, schemaInputs, type SchemaValues } from '../ui/schema-inputs.js';
import { useCredentialOfPage } from './credential-page.js';
import { CheckEveryField, DEFAULT_CHECK_MINUTES, HealthCheckSummary, useHealthCheckChange } from './scheduled-check.js';

/** The Test tab: run one of the actions that accept this method, with real inputs, and see whether it worked. */
export function TestTab() {
  const credential = useCredentialOfPage();
  const components = useComponents();
  const queryClient = useQueryClient();
  const [componentKey, setComponentKey] = useState('');
  const [actionKey, setActionKey] = useState('');
  const [values, setValues] = useState<SchemaValues>({});
  const [problem, setProblem] = useState<string | null>(null);
  const [checkEvery, setCheckEvery] = useState(false);
  const [minutes, setMinutes] = useState(String(credential.healthCheck?.everyMinutes ?? DEFAULT_CHECK_MINUTES));
  const schedule = useHealthCheckChange(credential.id);
  const run = useMutation({
    mutationFn: (body: { component: string; action: string; inputs: Record<string, unknown> }) => api.credentials.test(credential.id, body),
    onSettled: () => void queryClient.invalidateQueries({ queryKey: keys.credentials }),
  });

  if (components.isPending) return <Loading label="Loading components…" />;
  if (components.isError) return <ErrorMessage error={components.error} />;
  const usable: Component[] = components.data.items
    .map((c) => ({ ...c, actions: c.actions.filter((a) => a.authMethods.includes(credential.authMethod)) }))
    .filter((c) => c.actions.length > 0);
  const component = usable.find((c) => c.key === componentKey);
  const action = component?.actions.find((a) => a.key === actionKey);

  const chooseComponent = (key: string) => {
    const next = usable.find((c) => c.key === key);
    const first = next?.actions.find((a) => a.key === next.testAction) ?? next?.actions[0];
    setComponentKey(key);
    setActionKey(first?.key ?? '');
    setValues(first ? initialSchemaValues(first.inputs) : {});
    run.reset();
    schedule.reset();
  };
  const chooseAction = (key: string) => {
    const next = component?.actions.find((a) => a.key === key);
    setActionKey(key);
    setValues(next ? initialSchemaValues(next.inputs) : {});
    run.reset();
    schedule.reset();
  };
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (!component || !action) return;
    try {
      const inputs = schemaInputs(action.inputs, values);
      setProblem(null);
      const body = { component: component.key, action: action.key, inputs };
      run.mutate(body);
      if (checkEvery) schedule.mutate({ ...body, everyMinutes: Number(minutes) });
      else schedule.reset();
    } catch (error) {
      setProblem((error as Error).message);
    }
  };

  return (
    <form className="stack form-card" onSubmit={submit}>
      <p className="hint">A test makes a real call to the service with this credential. Its result is kept as the credential’s last test.</p>
      {credential.lastTest && (
        <p>
          Last test, {formatDateTime(credential.lastTest.at)}: <strong>{credential.lastTest.ok ? 'passed' : 'failed'}</strong> — {credential.lastTest.message}
        </p>
      )}
      {credential.healthCheck && <p><HealthCheckSummary check={credential.healthCheck} /></p>}
      {usable.length === 0 ? (
        <p>No component accepts this authorization method.</p>
      ) : (
        <div className="form-row">
          <Field label="Component">
            {(ids) => (
              <select {...ids} required value={componentKey} onChange={(e) => chooseComponent(e.target.value)}>
                <option value="">Choose a component</option>
                {usable.map((c) => <option key={c.key} value={c.key}>{c.name}</option>)}
              </select>
            )}
          </Field>
          {component && (
            <Field label="Action" hint={action?.description}>
              {(ids) => (
                <select {...ids} required value={actionKey} onChange={(e) => chooseAction(e.target.value)}>
                  {component.actions.map((a) => <option key={a.key} value={a.key}>{a.name}</option>)}
                </select>
              )}
            </Field>
          )}
        </div>
      )}
      {action && (
        <fieldset className="fieldset">
          <legend>Inputs</legend>
          <SchemaInputs schema={action.inputs} values={values} onChange={setValues} />
        </fieldset>
      )}
      {action && (
        <CheckEveryField checked={checkEvery} minutes={minutes} current={credential.healthCheck} onChecked={setCheckEvery} onMinutes={setMinutes} />
      )}
      {problem && <div className="alert alert-error" role="alert">{problem}</div>}
      <div className="button-row">
        <button type="submit" className="button primary" disabled={!action || run.isPending || schedule.isPending}>{run.isPending ? 'Testing…' : checkEvery ? 'Run test and schedule check' : 'Run test'}</button>
      </div>
      <LiveRegion>
        <ErrorMessage error={run.error} />
        <ErrorMessage error={schedule.error} title="The check was not scheduled:" />
        {schedule.data?.healthCheck && <p className="alert alert-success">Check scheduled: every {schedule.data.healthCheck.everyMinutes} minutes.</p>}
        {run.data && (
          <p className={run.data.ok ? 'alert alert-success' : 'alert alert-error'}>
            <strong>{run.data.ok ? 'Test passed.' : 'Test failed.'}</strong> {run.data.message} <span className="muted">({formatDuration(run.data.durationMs)})</span>
          </p>
        )}
      </LiveRegion>
    </form>
  );
}
