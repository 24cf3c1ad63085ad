import type { Component } from '../api/types.js';
import { needsScopesText } from '../credentials/scopes.js';
import { Field } from '../ui/field.js';

/** A step while it is edited: inputs are JSON text until the form is saved. */
export interface StepDraft {
  key: number;
  name: string;
  component: string;
  action: string;
  inputs: string;
}

let nextKey = 1;
export const newStep = (index: number): StepDraft => ({ key: nextKey++, name: `step${index + 1}`, component: '', action: '', inputs: '{}' });

function StepEditor({ step, index, count, components, onChange, onMove, onRemove }: {
  step: StepDraft;
  index: number;
  count: number;
  components: Component[];
  onChange: (step: StepDraft) => void;
  onMove: (offset: -1 | 1) => void;
  onRemove: () => void;
}) {
  const component = components.find((c) => c.key === step.component);
  const action = component?.actions.find((a) => a.key === step.action);
  return (
    <fieldset className="fieldset step">
      <legend>Step {index + 1}{step.name ? `: ${step.name}` : ''}</legend>
      <div className="form-row">
        <Field label="Step name" hint="Letters, digits, _ and -; later steps refer to it.">
          {(ids) => <input {...ids} required pattern="[A-Za-z][A-Za-z0-9_\-]*" maxLength={64} value={step.name} onChange={(e) => onChange({ ...step, name: e.target.value })} />}
        </Field>
        <Field label="Component">
          {(ids) => (
            <select {...ids} required value={step.component} onChange={(e) => onChange({ ...step, component: e.target.value, action: components.find((c) => c.key === e.target.value)?.actions[0]?.key ?? '' })}>
              <option value="">Choose a component</option>
              {components.map((c) => <option key={c.key} value={c.key}>{c.name}</option>)}
            </select>
          )}
        </Field>
        <Field label="Action" hint={action ? <>{action.description} {action.credentialRequired ? 'Needs' : 'May use'} a credential: {action.authMethods.join(', ') || 'none'}.{action.scopes.length > 0 && <span className="step-scopes"> {needsScopesText(action.scopes)}</span>}</> : undefined}>
          {(ids) => (
            <select {...ids} required value={step.action} disabled={!component} onChange={(e) => onChange({ ...step, action: e.target.value })}>
              {!component && <option value="">Choose a component first</option>}
              {component?.actions.map((a) => <option key={a.key} value={a.key}>{a.name}</option>)}
            </select>
          )}
        </Field>
      </div>
      <Field
        label="Inputs (JSON)"
        hint={<>An object of input values. Use <code>{'"{{steps.<name>.<path>}}"'}</code> to pass an earlier step’s output.{action ? ` Inputs: ${Object.keys(action.inputs.properties ?? {}).join(', ') || 'none'}.` : ''}</>}
      >
        {(ids) => <textarea {...ids} className="mono" rows={4} spellCheck={false} value={step.inputs} onChange={(e) => onChange({ ...step, inputs: e.target.value })} />}
      </Field>
      <div className="button-row">
        <button type="button" className="button secondary small" onClick={() => onMove(-1)} disabled={index === 0} aria-label={`Move step ${index + 1} up`}>Move up</button>
        <button type="button" className="button secondary small" onClick={() => onMove(1)} disabled={index === count - 1} aria-label={`Move step ${index + 1} down`}>Move down</button>
        <button type="button" className="button danger-outline small" onClick={onRemove} disabled={count === 1} aria-label={`Remove step ${index + 1}`}>Remove</button>
      </div>
    </fieldset>
  );
}

/** The ordered steps of an integration: add, edit, reorder, remove. */
export function StepsEditor({ steps, components, onChange }: { steps: StepDraft[]; components: Component[]; onChange: (steps: StepDraft[]) => void }) {
  const update = (index: number, step: StepDraft) => onChange(steps.map((s, i) => (i === index ? step : s)));
  const move = (index: number, offset: -1 | 1) => {
    const next = [...steps];
    const [moved] = next.splice(index, 1);
    if (moved) next.splice(index + offset, 0, moved);
    onChange(next);
  };
  return (
    <div className="stack">
      {steps.map((step, index) => (
        <StepEditor
          key={step.key}
          step={step}
          index={index}
          count={steps.length}
          components={components}
          onChange={(s) => update(index, s)}
          onMove={(offset) => move(index, offset)}
          onRemove={() => onChange(steps.filter((_, i) => i !== index))}
        />
      ))}
      <div>
        <button type="button" className="button secondary" onClick={() => onChange([...steps, newStep(steps.length)])}>+ Step</button>
      </div>
    </div>
  );
}
