import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { Link, useNavigate } from 'react-router';
import { api } from '../api/client.js';
import { useComponents } from '../api/hooks.js';
import { keys } from '../api/query-keys.js';
import type { IntegrationStep } from '../api/types.js';
import { ErrorMessage, Loading } from '../ui/feedback.js';
import { Field } from '../ui/field.js';
import { PageHeader } from '../ui/page.js';
import { StepsEditor, newStep, type StepDraft } from './steps-editor.js';

/** Reads the drafts into steps; throws naming the step whose inputs are not a JSON object. */
const toSteps = (drafts: StepDraft[]): IntegrationStep[] =>
  drafts.map((draft, index) => {
    let inputs: unknown;
    try {
      inputs = JSON.parse(draft.inputs.trim() || '{}');
    } catch {
      throw new Error(`Step ${index + 1} (${draft.name}): the inputs are not valid JSON.`);
    }
    if (typeof inputs !== 'object' || inputs === null || Array.isArray(inputs)) throw new Error(`Step ${index + 1} (${draft.name}): the inputs must be a JSON object.`);
    return { name: draft.name.trim(), component: draft.component, action: draft.action, inputs: inputs as Record<string, unknown> };
  });

/** `/integrations/new`: a name and ordered steps. */
export function IntegrationNewPage() {
  const components = useComponents();
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [steps, setSteps] = useState<StepDraft[]>(() => [newStep(0)]);
  const [problem, setProblem] = useState<string | null>(null);
  const create = useMutation({
    mutationFn: api.integrations.create,
    onSuccess: () => {
      void queryClient.invalidateQueries({ queryKey: keys.integrations });
      void navigate('/integrations');
    },
  });

  const submit = (event: FormEvent) => {
    event.preventDefault();
    try {
      const parsed = toSteps(steps);
      setProblem(null);
      create.mutate({ name: name.trim(), description: description.trim() || null, steps: parsed });
    } catch (error) {
      setProblem((error as Error).message);
    }
  };

  return (
    <>
      <PageHeader title="New integration" eyebrow={<Link to="/integrations">← Integrations</Link>} />
      {components.isPending ? (
        <Loading label="Loading components…" />
      ) : (
        <form className="stack form-card" onSubmit={submit}>
          <ErrorMessage error={components.error ?? create.error} title={create.error ? 'The integration was not saved.' : undefined} />
          {problem && <div className="alert alert-error" role="alert">{problem}</div>}
          <Field label="Name">{(ids) => <input {...ids} required maxLength={200} value={name} onChange={(e) => setName(e.target.value)} />}</Field>
          <Field label="Description">{(ids) => <textarea {...ids} rows={2} maxLength={2000} value={description} onChange={(e) => setDescription(e.target.value)} />}</Field>
          <h2>Steps</h2>
          <StepsEditor steps={steps} components={components.data?.items ?? []} onChange={setSteps} />
          <div className="button-row">
            <button type="submit" className="button primary" disabled={create.isPending}>{create.isPending ? 'Saving…' : 'Create integration'}</button>
            <Link className="button secondary" to="/integrations">Cancel</Link>
          </div>
        </form>
      )}
    </>
  );
}
