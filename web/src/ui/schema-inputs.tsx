import type { JsonSchema } from '../api/types.js';
import { Field } from './field.js';

/** What an input of an action's JSON Schema becomes in a form. */
type InputKind = 'text' | 'number' | 'boolean' | 'choice' | 'json';

export type SchemaValues = Record<string, string | boolean>;

const kindOf = (schema: JsonSchema): InputKind => {
  if (Array.isArray(schema.enum)) return 'choice';
  if (schema.type === 'boolean') return 'boolean';
  if (schema.type === 'integer' || schema.type === 'number') return 'number';
  if (schema.type === 'string') return 'text';
  return 'json';
};

const entriesOf = (schema: JsonSchema) => Object.entries(schema.properties ?? {});

/** The starting values: each boolean at its default; everything else empty (defaults show as placeholders). */
export const initialSchemaValues = (schema: JsonSchema): SchemaValues =>
  Object.fromEntries(entriesOf(schema).filter(([, s]) => kindOf(s) === 'boolean').map(([name, s]) => [name, s.default === true]));

/**
 * The inputs to send: empty fields are left out (the action's default applies), numbers
 * are parsed and JSON fields read as JSON. Throws an Error naming the field otherwise.
 */
export const schemaInputs = (schema: JsonSchema, values: SchemaValues): Record<string, unknown> => {
  const inputs: Record<string, unknown> = {};
  for (const [name, property] of entriesOf(schema)) {
    const value = values[name];
    if (value === undefined || value === '') continue;
    const kind = kindOf(property);
    if (kind === 'boolean') inputs[name] = value === true;
    else if (typeof value !== 'string') continue;
    else if (kind === 'number') {
      const number = Number(value);
      if (!Number.isFinite(number)) throw new Error(`${name} must be a number`);
      inputs[name] = number;
    } else if (kind === 'json') {
      try {
        inputs[name] = JSON.parse(value) as unknown;
      } catch {
        throw new Error(`${name} must be JSON`);
      }
    } else inputs[name] = value;
  }
  return inputs;
};

const placeholderOf = (property: JsonSchema): string | undefined =>
  property.default === undefined || property.default === '' ? undefined : typeof property.default === 'string' ? property.default : JSON.stringify(property.default);

/** One form field per property of an action's input schema. */
export function SchemaInputs({ schema, values, onChange }: { schema: JsonSchema; values: SchemaValues; onChange: (values: SchemaValues) => void }) {
  const required = new Set(schema.required ?? []);
  const set = (name: string, value: string | boolean) => onChange({ ...values, [name]: value });
  const entries = entriesOf(schema);
  if (entries.length === 0) return <p className="hint">This action takes no inputs.</p>;
  return (
    <>
      {entries.map(([name, property]) => {
        const kind = kindOf(property);
        const value = values[name];
        const label = required.has(name) ? <>{name} <span className="required" aria-hidden="true">*</span></> : name;
        const hint = kind === 'json' ? `${property.description ?? ''} (JSON)`.trim() : property.description;
        if (kind === 'boolean') {
          return (
            <div className="field checkbox" key={name}>
              <label>
                <input type="checkbox" checked={value === true} onChange={(e) => set(name, e.target.checked)} /> {name}
              </label>
              {property.description && <p className="hint">{property.description}</p>}
            </div>
          );
        }
        return (
          <Field key={name} label={label} hint={hint}>
            {(ids) =>
              kind === 'choice' ? (
                <select {...ids} value={typeof value === 'string' ? value : ''} onChange={(e) => set(name, e.target.value)}>
                  <option value="">{property.default !== undefined ? `Default (${String(property.default)})` : 'Choose…'}</option>
                  {(property.enum ?? []).map((option) => (
                    <option key={String(option)} value={String(option)}>{String(option)}</option>
                  ))}
                </select>
              ) : kind === 'json' ? (
                <textarea {...ids} className="mono" rows={3} value={typeof value === 'string' ? value : ''} onChange={(e) => set(name, e.target.value)} />
              ) : (
                <input
                  {...ids}
                  type={kind === 'number' ? 'number' : 'text'}
                  required={required.has(name)}
                  {...(property.minimum !== undefined ? { min: property.minimum } : {})}
                  {...(property.maximum !== undefined ? { max: property.maximum } : {})}
                  placeholder={placeholderOf(property)}
                  value={typeof value === 'string' ? value : ''}
                  onChange={(e) => set(name, e.target.value)}
                />
              )
            }
          </Field>
        );
      })}
    </>
  );
}
