/**
 * A small OData v4 `$filter` / `$orderby` / `$select` evaluator for the P21 simulator. It supports what P21
 * integrations send in practice: `eq ne gt ge lt le`, `and or not`, parentheses, string literals with '' escaping,
 * numbers, `null`, `true`/`false`, Edm.Date / Edm.DateTimeOffset literals (unquoted `2024-05-01`,
 * `2024-05-01T00:00:00Z`), and the functions `tolower toupper trim contains startswith endswith`. Anything else is a
 * syntax error, which the simulator answers with HTTP 400 and an OData error body, as the real OData service does.
 */

export class ODataError extends Error {
  override name = 'ODataError';
}

type Tok =
  | { k: 'str'; v: string }
  | { k: 'num'; v: number }
  | { k: 'date'; v: string }
  | { k: 'id'; v: string }
  | { k: 'op'; v: '(' | ')' | ',' };

type Value = string | number | boolean | null;

type Node =
  | { t: 'lit'; v: Value; date?: boolean }
  | { t: 'field'; name: string }
  | { t: 'call'; fn: string; args: Node[] }
  | { t: 'cmp'; op: string; a: Node; b: Node }
  | { t: 'and' | 'or'; a: Node; b: Node }
  | { t: 'not'; a: Node };

const DATE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?/;
const FUNCS = new Set(['tolower', 'toupper', 'trim', 'contains', 'startswith', 'endswith']);
const CMP = new Set(['eq', 'ne', 'gt', 'ge', 'lt', 'le']);

function tokenize(src: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (c === ' ' || c === '\t') {
      i++;
    } else if (c === '(' || c === ')' || c === ',') {
      out.push({ k: 'op', v: c });
      i++;
    } else if (c === "'") {
      let v = '';
      i++;
      for (;;) {
        if (i >= src.length) throw new ODataError('unterminated string literal');
        if (src[i] === "'") {
          if (src[i + 1] === "'") {
            v += "'";
            i += 2;
            continue;
          }
          i++;
          break;
        }
        v += src[i++];
      }
      out.push({ k: 'str', v });
    } else {
      const rest = src.slice(i);
      const date = DATE.exec(rest);
      if (date) {
        out.push({ k: 'date', v: date[0] });
        i += date[0].length;
        continue;
      }
      const num = /^-?\d+(\.\d+)?/.exec(rest);
      if (num) {
        out.push({ k: 'num', v: Number(num[0]) });
        i += num[0].length;
        continue;
      }
      const id = /^[A-Za-z_][A-Za-z0-9_]*/.exec(rest);
      if (!id) throw new ODataError(`syntax error at position ${i}: ${JSON.stringify(rest.slice(0, 20))}`);
      out.push({ k: 'id', v: id[0] });
      i += id[0].length;
    }
  }
  return out;
}

class Parser {
  private i = 0;
  constructor(private readonly toks: Tok[]) {}

  parse(): Node {
    const n = this.or();
    if (this.i < this.toks.length) throw new ODataError(`unexpected token ${JSON.stringify(this.toks[this.i].v)}`);
    return n;
  }

  private peekId(v: string): boolean {
    const t = this.toks[this.i];
    return t?.k === 'id' && t.v.toLowerCase() === v;
  }

  private expectOp(v: '(' | ')' | ','): void {
    const t = this.toks[this.i];
    if (t?.k !== 'op' || t.v !== v) throw new ODataError(`expected '${v}'`);
    this.i++;
  }

  private or(): Node {
    let a = this.and();
    while (this.peekId('or')) {
      this.i++;
      a = { t: 'or', a, b: this.and() };
    }
    return a;
  }

  private and(): Node {
    let a = this.not();
    while (this.peekId('and')) {
      this.i++;
      a = { t: 'and', a, b: this.not() };
    }
    return a;
  }

  private not(): Node {
    if (this.peekId('not')) {
      this.i++;
      return { t: 'not', a: this.not() };
    }
    return this.cmp();
  }

  private cmp(): Node {
    const a = this.value();
    const t = this.toks[this.i];
    if (t?.k === 'id' && CMP.has(t.v.toLowerCase())) {
      this.i++;
      return { t: 'cmp', op: t.v.toLowerCase(), a, b: this.value() };
    }
    return a;
  }

  private value(): Node {
    const t = this.toks[this.i++];
    if (!t) throw new ODataError('unexpected end of $filter');
    if (t.k === 'op' && t.v === '(') {
      const n = this.or();
      this.expectOp(')');
      return n;
    }
    if (t.k === 'str') return { t: 'lit', v: t.v };
    if (t.k === 'num') return { t: 'lit', v: t.v };
    if (t.k === 'date') return { t: 'lit', v: t.v, date: true };
    if (t.k === 'id') {
      const low = t.v.toLowerCase();
      if (low === 'null') return { t: 'lit', v: null };
      if (low === 'true' || low === 'false') return { t: 'lit', v: low === 'true' };
      const next = this.toks[this.i];
      if (next?.k === 'op' && next.v === '(') {
        if (!FUNCS.has(low)) throw new ODataError(`unsupported function ${t.v}`);
        this.i++;
        const args: Node[] = [this.or()];
        while (this.toks[this.i]?.k === 'op' && this.toks[this.i].v === ',') {
          this.i++;
          args.push(this.or());
        }
        this.expectOp(')');
        return { t: 'call', fn: low, args };
      }
      return { t: 'field', name: t.v };
    }
    throw new ODataError(`unexpected token ${JSON.stringify(t.v)}`);
  }
}

export type Row = Record<string, unknown>;
export type Predicate = (row: Row) => boolean;

/** Compiles a `$filter` expression against rows whose fields are listed in `fields` (unknown fields are an error). */
export function compileFilter(src: string | undefined, fields: readonly string[]): Predicate {
  if (!src || !src.trim()) return () => true;
  const node = new Parser(tokenize(src)).parse();
  check(node, new Set(fields));
  return (row) => truthy(evaluate(node, row));
}

function check(n: Node, fields: Set<string>): void {
  if (n.t === 'field' && !fields.has(n.name)) {
    throw new ODataError(`Could not find a property named '${n.name}' on this entity type`);
  }
  if (n.t === 'call') n.args.forEach((a) => check(a, fields));
  if (n.t === 'cmp' || n.t === 'and' || n.t === 'or') {
    check(n.a, fields);
    check(n.b, fields);
  }
  if (n.t === 'not') check(n.a, fields);
}

function truthy(v: unknown): boolean {
  return v === true;
}

function str(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  return String(v);
}

function evaluate(n: Node, row: Row): unknown {
  switch (n.t) {
    case 'lit':
      return n.date ? { date: n.v } : n.v;
    case 'field':
      return row[n.name] ?? null;
    case 'and':
      return truthy(evaluate(n.a, row)) && truthy(evaluate(n.b, row));
    case 'or':
      return truthy(evaluate(n.a, row)) || truthy(evaluate(n.b, row));
    case 'not':
      return !truthy(evaluate(n.a, row));
    case 'call': {
      const args = n.args.map((a) => evaluate(a, row));
      const s = str(args[0]);
      const t = str(args[1]);
      switch (n.fn) {
        case 'tolower':
          return s === null ? null : s.toLowerCase();
        case 'toupper':
          return s === null ? null : s.toUpperCase();
        case 'trim':
          return s === null ? null : s.trim();
        case 'contains':
          return s !== null && t !== null && s.includes(t);
        case 'startswith':
          return s !== null && t !== null && s.startsWith(t);
        case 'endswith':
          return s !== null && t !== null && s.endsWith(t);
      }
      return null;
    }
    case 'cmp':
      return compare(n.op, evaluate(n.a, row), evaluate(n.b, row));
  }
}

function compare(op: string, a: unknown, b: unknown): boolean {
  // A date literal compares with the precision it was written in: `2024-05-31` matches the whole day.
  const isDate = (x: unknown): x is { date: string } => typeof x === 'object' && x !== null && 'date' in x;
  if (isDate(a) || isDate(b)) {
    const len = ((isDate(a) ? a : b) as { date: string }).date.replace(/Z$/, '').length;
    const cut = (x: unknown) => (isDate(x) ? x.date.replace(/Z$/, '') : x === null ? null : String(x).slice(0, len));
    a = cut(a);
    b = cut(b);
  }
  if (op === 'eq') return a === null || b === null ? a === b : String(a) === String(b);
  if (op === 'ne') return !compare('eq', a, b);
  if (a === null || b === null) return false;
  const numeric = typeof a === 'number' && typeof b === 'number';
  const x = numeric ? (a as number) : String(a);
  const y = numeric ? (b as number) : String(b);
  if (op === 'gt') return x > y;
  if (op === 'ge') return x >= y;
  if (op === 'lt') return x < y;
  return x <= y;
}

/** Applies `$orderby` (one or more `Field [asc|desc]`, comma separated). */
export function orderRows<T extends Row>(rows: T[], orderby: string | undefined, fields: readonly string[]): T[] {
  if (!orderby) return rows;
  const keys = orderby.split(',').map((part) => {
    const [name, dir = 'asc'] = part.trim().split(/\s+/);
    if (!fields.includes(name)) throw new ODataError(`Could not find a property named '${name}' on this entity type`);
    if (dir !== 'asc' && dir !== 'desc') throw new ODataError(`invalid $orderby direction ${dir}`);
    return { name, sign: dir === 'desc' ? -1 : 1 };
  });
  return [...rows].sort((r1, r2) => {
    for (const k of keys) {
      const a = r1[k.name] as string | number | null;
      const b = r2[k.name] as string | number | null;
      if (a === b) continue;
      if (a === null) return -k.sign;
      if (b === null) return k.sign;
      return (a < b ? -1 : 1) * k.sign;
    }
    return 0;
  });
}

/** Applies `$select` (comma-separated field names). */
export function selectFields(row: Row, select: string | undefined, fields: readonly string[]): Row {
  if (!select) return row;
  const out: Row = {};
  for (const name of select.split(',').map((s) => s.trim())) {
    if (!fields.includes(name)) throw new ODataError(`Could not find a property named '${name}' on this entity type`);
    out[name] = row[name];
  }
  return out;
}
