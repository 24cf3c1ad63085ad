import fc from 'fast-check';
import type { JsonSchema } from './route-table.js';

/**
 * fast-check arbitraries derived from a request body's JSON schema: values that break it
 * by construction (a wrong type, an unknown property, a string past its maxLength, a number
 * out of range, a value outside an enum), nested anywhere the schema describes. Every
 * string is drawn from text that tends to break things: NUL, lone surrogates, bidi
 * overrides, zero-width characters, astral-plane characters, template and path syntax.
 */

const SPECIALS = ['\u0000', 'a\u0000b', '\u202e\u200d\u200b', '\ud800', 'x\udfffy', '𝕏𝕐', '\ufeff', '<script>', "' OR 1=1 --", '../../etc/passwd', '%00', '{{steps.x.y}}', '__proto__', 'constructor'];

export const nastyString: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.constantFrom(...SPECIALS),
  fc.tuple(fc.constantFrom(...SPECIALS), fc.string({ maxLength: 8 })).map(([a, b]) => `${b}${a}${b}`),
);

const anyJson = fc.jsonValue({ maxDepth: 2 });

const ofType = (type: string): fc.Arbitrary<unknown> => {
  switch (type) {
    case 'string':
      return nastyString;
    case 'number':
      return fc.double({ noNaN: true, noDefaultInfinity: true });
    case 'integer':
      return fc.integer();
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'array':
      return fc.array(anyJson, { maxLength: 4 });
    default:
      return fc.dictionary(nastyString, anyJson, { maxKeys: 3 });
  }
};

const jsonTypeOf = (value: unknown): string =>
  value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value === 'number' ? (Number.isInteger(value) ? 'integer' : 'number') : typeof value;

/** The JSON types a schema admits; undefined when it admits anything. */
export const typesOf = (schema: JsonSchema): Set<string> | undefined => {
  if (schema.anyOf) {
    const parts = schema.anyOf.map(typesOf);
    return parts.every((part) => part !== undefined) ? new Set(parts.flatMap((part) => [...(part ?? [])])) : undefined;
  }
  if (schema.enum) return new Set(schema.enum.map(jsonTypeOf));
  if (schema.type === undefined) return undefined;
  return new Set(Array.isArray(schema.type) ? schema.type : [schema.type]);
};

const branches = (schema: JsonSchema): JsonSchema[] => schema.anyOf ?? [schema];

/** A value of a JSON type the schema does not admit. */
const wrongType = (schema: JsonSchema): fc.Arbitrary<unknown> | undefined => {
  const allowed = typesOf(schema);
  if (!allowed) return undefined;
  const options: Array<fc.Arbitrary<unknown>> = ['string', 'boolean', 'null', 'array', 'object']
    .filter((type) => !allowed.has(type))
    .map(ofType);
  if (!allowed.has('number')) {
    const number = fc.double({ noNaN: true, noDefaultInfinity: true });
    options.push(allowed.has('integer') ? number.filter((n) => !Number.isInteger(n)) : number);
  }
  const values = schema.enum;
  if (values) options.push(nastyString.filter((text) => !values.includes(text)));
  return options.length > 0 ? fc.oneof(...options) : undefined;
};

/** A string longer than every string branch allows, sometimes close to the 1 MiB body limit. */
const tooLong = (schema: JsonSchema): fc.Arbitrary<unknown> | undefined => {
  const strings = branches(schema).filter((b) => b.type === 'string');
  if (strings.length === 0 || strings.some((b) => b.maxLength === undefined)) return undefined;
  const max = Math.max(...strings.map((b) => b.maxLength ?? 0));
  return fc
    .tuple(fc.integer({ min: max + 1, max: Math.max(max + 1, 1_000_000) }), fc.constantFrom('x', 'é', '\u0000', '𝕏', '\u202e'))
    .map(([length, unit]) => unit.repeat(Math.min(length, Math.floor(1_000_000 / unit.length))));
};

const outOfRange = (schema: JsonSchema & { minimum?: number; maximum?: number; maxItems?: number }): fc.Arbitrary<unknown> | undefined => {
  const options: Array<fc.Arbitrary<unknown>> = [];
  if (schema.type === 'integer' && schema.minimum !== undefined) options.push(fc.integer({ min: -(2 ** 40), max: schema.minimum - 1 }));
  if (schema.type === 'integer' && schema.maximum !== undefined) options.push(fc.integer({ min: schema.maximum + 1, max: 2 ** 40 }));
  if (schema.type === 'array' && schema.maxItems !== undefined) options.push(fc.constant(Array.from({ length: schema.maxItems + 1 }, () => ({}))));
  return options.length > 0 ? fc.oneof(...options) : undefined;
};

/** A value the schema accepts (used for the siblings of the one broken property). */
export const validValue = (schema: JsonSchema & { minimum?: number }): unknown => {
  if (schema.enum) return schema.enum[0];
  const type = Array.isArray(schema.type) ? schema.type[0] : (schema.type ?? (schema.anyOf ? undefined : 'null'));
  if (type === undefined) return validValue(schema.anyOf?.[0] ?? {});
  if (type === 'string') return 'x';
  if (type === 'integer' || type === 'number') return schema.minimum ?? 1;
  if (type === 'boolean') return true;
  if (type === 'array') return [];
  if (type === 'object') return Object.fromEntries((schema.required ?? []).map((name) => [name, validValue(schema.properties?.[name] ?? {})]));
  return null;
};

/** Values that break `schema` somewhere, at this level or deeper; undefined when nothing can. */
export const invalidValue = (schema: JsonSchema): fc.Arbitrary<unknown> | undefined => {
  const options = [wrongType(schema), tooLong(schema), outOfRange(schema)].filter((arb): arb is fc.Arbitrary<unknown> => arb !== undefined);
  if (typesOf(schema)?.has('object') && schema.type === 'object') {
    const base = validValue(schema) as Record<string, unknown>;
    const properties = schema.properties ?? {};
    const withEntry = (key: fc.Arbitrary<string>, value: fc.Arbitrary<unknown>) =>
      fc.tuple(key, value).map(([k, v]) => {
        const copy: Record<string, unknown> = { ...base };
        Object.defineProperty(copy, k, { value: v, enumerable: true, configurable: true, writable: true });
        return copy;
      });
    if (schema.additionalProperties === false) options.push(withEntry(nastyString.filter((k) => !Object.hasOwn(properties, k)), anyJson));
    for (const [name, property] of Object.entries(properties)) {
      const broken = invalidValue(property);
      if (broken) options.push(withEntry(fc.constant(name), broken));
    }
    const extra = schema.additionalProperties;
    if (extra && typeof extra === 'object') {
      const broken = invalidValue(extra);
      if (broken) options.push(withEntry(nastyString.filter((k) => !Object.hasOwn(properties, k)), broken));
    }
  }
  if (schema.type === 'array' && schema.items) {
    const broken = invalidValue(schema.items);
    if (broken) options.push(fc.array(broken, { minLength: 1, maxLength: 2 }));
  }
  return options.length > 0 ? fc.oneof(...options) : undefined;
};
