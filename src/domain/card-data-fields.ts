import { z } from 'zod';
import { scrub, scrubCardField } from './card-data';

/**
 * Which fields are free text is the schema's call. A zod schema marks the fields it parses as ids, references,
 * amounts or contact keys (`notFreeText`); the scrubber leaves those exactly as received, and treats every other
 * field, and every field the schema does not know, as free text. A field named like card data is always scrubbed.
 * Guessing from the digits cannot work: about one in ten 13-digit ids passes the Luhn check.
 */

/** Why a field is not free text: an id (ours or a vendor's), a reference or SKU, an amount, an email or phone. */
export type FieldKind = 'id' | 'reference' | 'amount' | 'contact';

/** The registry of schema instances whose values are never scrubbed. */
export const notFreeText = z.registry<{ kind: FieldKind }>();

/** Marks a schema instance as holding an id (or another `kind`); returns it. Mark a fresh instance, never a shared one. */
export function marked<S extends z.ZodType>(schema: S, kind: FieldKind = 'id'): S {
  notFreeText.add(schema, { kind });
  return schema;
}

/** How to scrub a value of a schema: keep it, treat it as free text, or go into its fields or items. */
export type ScrubPlan =
  { keep: FieldKind } | { text: true } | { fields: Record<string, ScrubPlan> } | { items: ScrubPlan };

const TEXT: ScrubPlan = { text: true };

type Def = {
  type: string;
  innerType?: z.ZodType;
  in?: z.ZodType;
  shape?: Record<string, z.ZodType>;
  element?: z.ZodType;
  options?: readonly z.ZodType[];
  left?: z.ZodType;
  right?: z.ZodType;
  getter?: () => z.ZodType;
};

/** Two plans for one value (union options): a field stays kept only when both keep it. */
function merge(a: ScrubPlan, b: ScrubPlan): ScrubPlan {
  if ('keep' in a && 'keep' in b) return a;
  if ('fields' in a && 'fields' in b) {
    const fields: Record<string, ScrubPlan> = { ...a.fields };
    for (const [k, p] of Object.entries(b.fields)) fields[k] = fields[k] ? merge(fields[k], p) : p;
    return { fields };
  }
  if ('items' in a && 'items' in b) return { items: merge(a.items, b.items) };
  if ('fields' in a || 'items' in a) return a;
  if ('fields' in b || 'items' in b) return b;
  return TEXT;
}

const plans = new WeakMap<z.ZodType, ScrubPlan>();

/** The scrub plan of a schema: its marked fields kept, everything else (unknown fields included) free text. */
export function scrubPlan(schema: z.ZodType, seen = new Set<z.ZodType>()): ScrubPlan {
  const cached = plans.get(schema);
  if (cached) return cached;
  const meta = notFreeText.get(schema);
  if (meta) return { keep: meta.kind };
  if (seen.has(schema)) return TEXT;
  seen.add(schema);
  const def = (schema as unknown as { _zod: { def: Def } })._zod.def;
  let plan: ScrubPlan;
  switch (def.type) {
    case 'optional':
    case 'nullable':
    case 'default':
    case 'prefault':
    case 'nonoptional':
    case 'readonly':
    case 'catch':
      plan = scrubPlan(def.innerType!, seen);
      break;
    case 'pipe': // the wire side of a transform
      plan = scrubPlan(def.in!, seen);
      break;
    case 'lazy':
      plan = scrubPlan(def.getter!(), seen);
      break;
    case 'object':
      plan = {
        fields: Object.fromEntries(Object.entries(def.shape!).map(([k, s]) => [k, scrubPlan(s, seen)])),
      };
      break;
    case 'array':
      plan = { items: scrubPlan(def.element!, seen) };
      break;
    case 'union':
      plan = def.options!.map((o) => scrubPlan(o, seen)).reduce(merge);
      break;
    case 'intersection':
      plan = merge(scrubPlan(def.left!, seen), scrubPlan(def.right!, seen));
      break;
    default:
      plan = TEXT;
  }
  seen.delete(schema);
  plans.set(schema, plan);
  return plan;
}

const isRecord = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);

/**
 * Deep-copies a value with card data removed as its plan says: kept fields exactly as they are (a scalar only: an
 * object where an id belongs is free text), every other field and every unknown field scrubbed as free text.
 */
export function scrubWith<T>(value: T, plan: ScrubPlan, depth = 0, parentKey?: string): T {
  if (depth > 32) return value;
  if ('keep' in plan) return (value !== null && typeof value === 'object' ? scrub(value, depth) : value) as T;
  if ('items' in plan) {
    return (
      Array.isArray(value) ? value.map((v) => scrubWith(v, plan.items, depth + 1, parentKey)) : scrub(value)
    ) as T;
  }
  if ('fields' in plan && isRecord(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const card = scrubCardField(k, v, parentKey);
      const field = plan.fields[k];
      out[k] = card ? card.value : field ? scrubWith(v, field, depth + 1, k) : scrub(v, depth + 1, k);
    }
    return out as T;
  }
  return scrub(value, depth, parentKey);
}

/**
 * The values a plan keeps (ids, references, amounts and contact keys) as strings, with where they are: what a card
 * audit may find in the records that value reaches without it being card data.
 */
export function keptValues(value: unknown, plan: ScrubPlan, path = '', out: { path: string; value: string }[] = []) {
  if ('keep' in plan) {
    if (typeof value === 'string' || typeof value === 'number') out.push({ path, value: String(value) });
  } else if ('items' in plan && Array.isArray(value)) {
    value.forEach((v, i) => keptValues(v, plan.items, `${path}.${i}`, out));
  } else if ('fields' in plan && isRecord(value)) {
    for (const [k, p] of Object.entries(plan.fields)) {
      if (k in value) keptValues(value[k], p, path ? `${path}.${k}` : k, out);
    }
  }
  return out;
}

/** The names of the fields that the schemas' plans keep, at any depth. */
export function keptFieldNames(...schemas: z.ZodType[]): Set<string> {
  const names = new Set<string>();
  const walk = (plan: ScrubPlan) => {
    if ('items' in plan) walk(plan.items);
    else if ('fields' in plan) {
      for (const [k, p] of Object.entries(plan.fields)) {
        if ('keep' in p) names.add(k);
        else walk(p);
      }
    }
  };
  for (const s of schemas) walk(scrubPlan(s));
  return names;
}

/**
 * Deep-copies a value whose shape has no schema of its own (a dead letter's step input, a log line's fields) with
 * card data removed: a scalar under one of `names` is kept, everything else is free text.
 */
export function scrubByName<T>(value: T, names: ReadonlySet<string>, depth = 0, parentKey?: string): T {
  if (depth > 32) return value;
  if (Array.isArray(value)) return value.map((v) => scrubByName(v, names, depth + 1, parentKey)) as T;
  if (!isRecord(value)) return scrub(value, depth, parentKey);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    const card = scrubCardField(k, v, parentKey);
    const kept = names.has(k) && (typeof v === 'string' || typeof v === 'number');
    out[k] = card ? card.value : kept ? v : scrubByName(v, names, depth + 1, k);
  }
  return out as T;
}
