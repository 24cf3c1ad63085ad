import { Value } from 'typebox/value';
import type { TObject } from 'typebox';

/**
 * Step inputs may refer to an earlier step's output with `{{steps.<name>.<path>}}`,
 * e.g. `{{steps.list.entries.0.pathDisplay}}`. A string that is exactly one reference
 * takes the referenced value as it is (any JSON type); references inside longer text
 * are replaced by their text form.
 */
const REFERENCE = /\{\{\s*steps\.([A-Za-z][\w-]*)((?:\.[\w-]+)*)\s*\}\}/g;
const WHOLE_REFERENCE = /^\{\{\s*steps\.([A-Za-z][\w-]*)((?:\.[\w-]+)*)\s*\}\}$/;

/** Names of the steps an input value refers to. */
export const referencedSteps = (value: unknown): string[] => {
  if (typeof value === 'string') return [...value.matchAll(REFERENCE)].map((m) => m[1] as string);
  if (Array.isArray(value)) return value.flatMap(referencedSteps);
  if (value && typeof value === 'object') return Object.values(value).flatMap(referencedSteps);
  return [];
};

const lookup = (outputs: ReadonlyMap<string, unknown>, step: string, path: string): unknown => {
  if (!outputs.has(step)) throw new Error(`refers to step ${step}, which has not run before this one`);
  let current: unknown = outputs.get(step);
  for (const part of path.split('.').filter(Boolean)) {
    if (current === null || typeof current !== 'object' || !Object.hasOwn(current, part)) {
      throw new Error(`refers to steps.${step}${path}, which the output of ${step} does not have`);
    }
    current = (current as Record<string, unknown>)[part];
  }
  return current;
};

/** Replaces every reference with the output it names. Throws an Error naming a reference that cannot be followed. */
export const substituteReferences = (value: unknown, outputs: ReadonlyMap<string, unknown>): unknown => {
  if (typeof value === 'string') {
    const whole = value.match(WHOLE_REFERENCE);
    if (whole) return lookup(outputs, whole[1] as string, whole[2] ?? '');
    return value.replace(REFERENCE, (_match, step: string, path: string) => {
      const found = lookup(outputs, step, path);
      return typeof found === 'string' ? found : JSON.stringify(found);
    });
  }
  if (Array.isArray(value)) return value.map((item) => substituteReferences(item, outputs));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, substituteReferences(item, outputs)]));
  }
  return value;
};

/** Applies defaults and checks inputs against an action's schema; returns the inputs or a sentence saying what is wrong. */
export const checkInputs = (schema: TObject, inputs: unknown): { ok: true; value: Record<string, unknown> } | { ok: false; message: string } => {
  const value = Value.Default(schema, structuredClone(inputs ?? {})) as Record<string, unknown>;
  const errors = [...Value.Errors(schema, value)].slice(0, 5);
  if (errors.length === 0) return { ok: true, value };
  return { ok: false, message: errors.map((e) => `${e.instancePath || 'inputs'} ${e.message}`).join('; ') };
};
