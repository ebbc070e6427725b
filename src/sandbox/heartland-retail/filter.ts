/**
 * Heartland Retail `_filter` evaluation for the simulator: URL-encoded JSON whose keys are field names and whose
 * values are either a bare value (equality) or an object of operators `$eq`, `$gt`, `$lt`. Several keys AND together.
 * Timestamp fields compare as instants, numbers numerically, other strings exactly (case-sensitive).
 */

export type FieldKind = 'timestamp' | 'string' | 'number' | 'id';
export type FieldSpec<T> = { kind: FieldKind; get: (row: T) => unknown };
export type Predicate<T> = (row: T) => boolean;

export class FilterError extends Error {}

const OPERATORS = new Set(['$eq', '$gt', '$lt']);

function normalise(kind: FieldKind, value: unknown, field: string): number | string | null {
  if (value === null) return null;
  switch (kind) {
    case 'timestamp': {
      if (typeof value !== 'string' || Number.isNaN(Date.parse(value))) {
        throw new FilterError(`${field} expects an ISO 8601 timestamp, got ${JSON.stringify(value)}`);
      }
      return Date.parse(value);
    }
    case 'number':
      if (typeof value !== 'number' || !Number.isFinite(value)) {
        throw new FilterError(`${field} expects a number, got ${JSON.stringify(value)}`);
      }
      return value;
    case 'id':
      if (typeof value === 'number' && Number.isInteger(value)) return String(value);
      if (typeof value === 'string' && value.length > 0) return value;
      throw new FilterError(`${field} expects an id, got ${JSON.stringify(value)}`);
    case 'string':
      if (typeof value !== 'string') throw new FilterError(`${field} expects a string, got ${JSON.stringify(value)}`);
      return value;
  }
}

function rowValue(kind: FieldKind, raw: unknown): number | string | null {
  if (raw === null || raw === undefined) return null;
  if (kind === 'timestamp') return Date.parse(String(raw));
  if (kind === 'id') return String(raw);
  return raw as number | string;
}

/** Compiles a `_filter` query value into a row predicate; throws FilterError for anything invalid. */
export function compileFilter<T>(raw: unknown, fields: Record<string, FieldSpec<T>>): Predicate<T> {
  if (raw === undefined) return () => true;
  if (typeof raw !== 'string') throw new FilterError('_filter must be given once, as URL-encoded JSON');
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new FilterError('_filter is not valid JSON');
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new FilterError('_filter must be a JSON object of field conditions');
  }
  const checks: Predicate<T>[] = [];
  for (const [field, cond] of Object.entries(parsed as Record<string, unknown>)) {
    const spec = fields[field];
    if (!spec) throw new FilterError(`cannot filter on ${field}; filterable: ${Object.keys(fields).join(', ')}`);
    const ops: [string, unknown][] =
      cond !== null && typeof cond === 'object' && !Array.isArray(cond)
        ? Object.entries(cond as Record<string, unknown>)
        : [['$eq', cond]];
    if (ops.length === 0) throw new FilterError(`empty condition on ${field}`);
    for (const [op, value] of ops) {
      if (!OPERATORS.has(op)) throw new FilterError(`unsupported operator ${op} on ${field}; use $eq, $gt or $lt`);
      const want = normalise(spec.kind, value, field);
      if (want === null && op !== '$eq') throw new FilterError(`${op} on ${field} needs a value`);
      checks.push((row) => {
        const have = rowValue(spec.kind, spec.get(row));
        if (op === '$eq') return have === want;
        if (have === null || want === null) return false;
        return op === '$gt' ? have > want : have < want;
      });
    }
  }
  return (row) => checks.every((c) => c(row));
}
