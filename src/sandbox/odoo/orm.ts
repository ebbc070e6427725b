/**
 * A small in-memory imitation of the Odoo ORM, enough for the simulator: typed fields, x2many commands, domains in
 * Polish notation (with dotted many2one paths), `search`/`search_read`/`read`/`create`/`write`/`unlink`, and read
 * formatting as Odoo serialises it over RPC (many2one as `[id, display_name]` or `false`, x2many as id lists).
 */

export type FieldType =
  | 'char'
  | 'text'
  | 'integer'
  | 'float'
  | 'boolean'
  | 'date'
  | 'datetime'
  | 'selection'
  | 'many2one'
  | 'one2many'
  | 'many2many'
  | 'json';

export interface FieldDef {
  type: FieldType;
  string?: string;
  relation?: string;
  /** one2many: the many2one field on the comodel that points back. */
  inverse?: string;
  /** one2many: only comodel records matching this domain (Odoo's field `domain`). */
  domain?: unknown[];
  required?: boolean;
  readonly?: boolean;
  selection?: string[];
  default?: unknown | ((store: Store, vals: Rec, ctx: Ctx) => unknown);
}

export type Rec = Record<string, unknown> & { id: number };
export type Ctx = Record<string, unknown>;

export interface MethodDef {
  /** `@api.model`: no `ids`. */
  model?: boolean;
  /** Positional parameter names after `ids` (maps JSON-RPC `args` to named parameters). */
  params: string[];
  handler: (store: Store, ids: number[], args: Record<string, unknown>, ctx: Ctx) => unknown;
}

export interface ModelDef {
  name: string;
  description: string;
  fields: Record<string, FieldDef>;
  recName?: string;
  order?: string;
  /** Recomputes derived fields; runs before every read and search. */
  compute?: (rec: Rec, store: Store) => void;
  /** The fields `compute` sets: a search whose domain names none of them filters the stored records first. */
  computed?: string[];
  /** Checks after create/write (Odoo constraints); throw an OdooError to reject. */
  check?: (rec: Rec, store: Store) => void;
  /** Runs after a write applied its values (Odoo inverse methods). */
  onWrite?: (rec: Rec, vals: Record<string, unknown>, store: Store) => void;
  /** Defaults computed from the other values at create (e.g. sequence numbers). */
  onCreate?: (rec: Rec, store: Store, ctx: Ctx) => void;
  /** Transient wizard models: records are kept but never listed in tests' counts. */
  transient?: boolean;
  methods?: Record<string, MethodDef>;
}

/** An Odoo exception as the server reports it: fully qualified name, message and the HTTP status JSON-2 uses. */
export class OdooError extends Error {
  constructor(
    readonly odooName: string,
    message: string,
    readonly status = 422,
  ) {
    super(message);
  }
}

/** Builders of the exceptions Odoo raises, with the JSON-2 status each maps to. */
export const userError = (msg: string) => new OdooError('odoo.exceptions.UserError', msg, 422);
export const validationError = (msg: string) => new OdooError('odoo.exceptions.ValidationError', msg, 422);
export const missingError = (model: string, ids: number[]) =>
  new OdooError(
    'odoo.exceptions.MissingError',
    `Record does not exist or has been deleted.\n(Record: ${model}(${ids.join(', ')},), User: 2)`,
    404,
  );
export const valueError = (msg: string) => new OdooError('builtins.ValueError', msg, 422);
export const typeError = (msg: string) => new OdooError('builtins.TypeError', msg, 422);

const GENERIC_METHODS: Record<string, { model: boolean; params: string[] }> = {
  search: { model: true, params: ['domain', 'offset', 'limit', 'order'] },
  search_read: { model: true, params: ['domain', 'fields', 'offset', 'limit', 'order'] },
  search_count: { model: true, params: ['domain', 'limit'] },
  read: { model: false, params: ['fields'] },
  create: { model: true, params: ['vals_list'] },
  write: { model: false, params: ['vals'] },
  unlink: { model: false, params: [] },
  name_search: { model: true, params: ['name', 'domain', 'operator', 'limit'] },
};

const READ_ONLY_METHODS = new Set(['search', 'search_read', 'search_count', 'read', 'name_search']);

/** The in-memory database: one table per model, integer ids per model. */
export class Store {
  readonly models = new Map<string, ModelDef>();
  private readonly tables = new Map<string, Map<number, Rec>>();
  private readonly nextIds = new Map<string, number>();
  /** Named sequences (e.g. `sale.order` → S00001). */
  private readonly sequences = new Map<string, number>();
  /** Each record's state before the running transaction first changed it (null: it did not exist). */
  private journal?: Map<string, Map<number, Rec | null>>;

  define(def: ModelDef): void {
    const fields: Record<string, FieldDef> = {
      id: { type: 'integer', readonly: true },
      display_name: { type: 'char', readonly: true },
      create_date: { type: 'datetime', readonly: true },
      write_date: { type: 'datetime', readonly: true },
      ...def.fields,
    };
    this.models.set(def.name, { ...def, fields });
    this.tables.set(def.name, new Map());
    this.nextIds.set(def.name, 1);
  }

  model(name: string): ModelDef {
    const m = this.models.get(name);
    if (!m) throw new OdooError('werkzeug.exceptions.NotFound', `Object ${name} doesn't exist`, 404);
    return m;
  }

  table(name: string): Map<number, Rec> {
    this.model(name);
    return this.tables.get(name)!;
  }

  nextSequence(code: string): number {
    const n = (this.sequences.get(code) ?? 0) + 1;
    this.sequences.set(code, n);
    return n;
  }

  /** The public method (generic ORM or model-specific) callable over RPC, or a 404 like Odoo. */
  method(model: string, method: string): { model: boolean; params: string[]; custom?: MethodDef } {
    const def = this.model(model);
    if (method.startsWith('_')) {
      throw new OdooError(
        'odoo.exceptions.AccessError',
        `Private methods (such as ${model}.${method}) cannot be called remotely.`,
        403,
      );
    }
    const custom = def.methods?.[method];
    if (custom) return { model: !!custom.model, params: custom.params, custom };
    const generic = GENERIC_METHODS[method];
    if (generic) return generic;
    throw new OdooError(
      'werkzeug.exceptions.NotFound',
      `The method '${method}' does not exist on the model '${model}'`,
      404,
    );
  }

  /**
   * Runs `fn` as one transaction: any error restores every record it changed, as Odoo rolls back the request's
   * cursor. Changes are journaled copy-on-write (see `touch`), so a call costs what it changes, not the store's size.
   */
  transaction<T>(fn: () => T): T {
    if (this.journal) return fn();
    const journal = new Map<string, Map<number, Rec | null>>();
    const nextIds = new Map(this.nextIds);
    const sequences = new Map(this.sequences);
    this.journal = journal;
    try {
      return fn();
    } catch (err) {
      for (const [model, recs] of journal) {
        const table = this.tables.get(model)!;
        for (const [id, before] of recs) {
          if (before) table.set(id, before);
          else table.delete(id);
        }
        // Records were inserted in id order; a restored record must take its place again, not go last.
        const restored = [...table.values()].sort((a, b) => a.id - b.id);
        table.clear();
        for (const rec of restored) table.set(rec.id, rec);
      }
      for (const [k, v] of nextIds) this.nextIds.set(k, v);
      this.sequences.clear();
      for (const [k, v] of sequences) this.sequences.set(k, v);
      throw err;
    } finally {
      this.journal = undefined;
    }
  }

  /**
   * Journals a record before it changes, once per transaction (a shallow copy is a snapshot: field values are
   * scalars or id lists that are replaced, never changed in place). Every change to a stored field outside
   * `create`/`write`/`unlink` (model methods changing `state`, say) must call this first; derived fields that
   * `compute` sets need not, as they are recomputed on every read.
   */
  touch(model: string, rec: Rec): Rec {
    if (!this.journal) return rec;
    let recs = this.journal.get(model);
    if (!recs) this.journal.set(model, (recs = new Map()));
    if (!recs.has(rec.id)) {
      const stored = this.tables.get(model)!.get(rec.id);
      recs.set(rec.id, stored ? { ...stored } : null);
    }
    return rec;
  }

  /** Runs a method as one transaction; the read-only ORM methods need no snapshot, as they change nothing. */
  callInTransaction(
    model: string,
    method: string,
    ids: number[] | undefined,
    args: Record<string, unknown>,
    ctx: Ctx,
  ): unknown {
    if (READ_ONLY_METHODS.has(method) && !this.model(model).methods?.[method]) {
      return this.call(model, method, ids, args, ctx);
    }
    return this.transaction(() => this.call(model, method, ids, args, ctx));
  }

  /** Runs a method with named arguments (JSON-2 shape). */
  call(model: string, method: string, ids: number[] | undefined, args: Record<string, unknown>, ctx: Ctx): unknown {
    const m = this.method(model, method);
    const allowed = new Set(m.params);
    for (const k of Object.keys(args)) {
      if (!allowed.has(k)) throw typeError(`${model}.${method}() got an unexpected keyword argument '${k}'`);
    }
    const recIds = ids ?? [];
    if (!m.model && ids === undefined) throw typeError(`${model}.${method}() missing the record ids`);
    if (m.custom) {
      this.browse(model, recIds);
      return m.custom.handler(this, recIds, args, ctx);
    }
    switch (method) {
      case 'search':
        return this.search(model, asDomain(args.domain), num(args.offset), num(args.limit), str(args.order));
      case 'search_read':
        return this.read(
          model,
          this.search(model, asDomain(args.domain), num(args.offset), num(args.limit), str(args.order)),
          asFields(args.fields),
        );
      case 'search_count': {
        const n = this.search(model, asDomain(args.domain)).length;
        const limit = num(args.limit);
        return limit ? Math.min(n, limit) : n;
      }
      case 'read':
        return this.read(model, recIds, asFields(args.fields));
      case 'create': {
        if (Array.isArray(args.vals_list)) return args.vals_list.map((v) => this.create(model, asVals(v), ctx));
        return this.create(model, asVals(args.vals_list), ctx);
      }
      case 'write':
        this.write(model, recIds, asVals(args.vals), ctx);
        return true;
      case 'unlink':
        this.unlink(model, recIds);
        return true;
      case 'name_search': {
        const name = str(args.name) ?? '';
        const domain = [
          ...asDomain(args.domain),
          [this.model(model).recName ?? 'name', str(args.operator) ?? 'ilike', name],
        ];
        const ids2 = this.search(model, domain, 0, num(args.limit) ?? 100);
        return ids2.map((id) => [id, this.displayName(model, id)]);
      }
    }
    throw typeError(`unsupported method ${method}`);
  }

  /** Ensures every id exists (Odoo's MissingError otherwise) and returns the records. */
  browse(model: string, ids: number[]): Rec[] {
    const t = this.table(model);
    const missing = ids.filter((id) => !t.has(id));
    if (missing.length) throw missingError(model, missing);
    return ids.map((id) => this.materialize(model, t.get(id)!));
  }

  get(model: string, id: number): Rec {
    return this.browse(model, [id])[0];
  }

  /** Records as stored, without recomputing derived fields (for use inside compute functions). */
  raw(model: string): Rec[] {
    return [...this.table(model).values()];
  }

  all(model: string): Rec[] {
    return [...this.table(model).values()].map((r) => this.materialize(model, r));
  }

  private materialize(model: string, rec: Rec): Rec {
    this.model(model).compute?.(rec, this);
    return rec;
  }

  displayName(model: string, id: number): string {
    const def = this.model(model);
    const rec = this.table(model).get(id);
    if (!rec) return '';
    const v = rec[def.recName ?? 'name'];
    return typeof v === 'string' ? v : `${model},${id}`;
  }

  search(model: string, domain: unknown[], offset = 0, limit?: number, order?: string): number[] {
    const def = this.model(model);
    // When the domain reads no derived field, filter the stored records first and recompute only the hits: a
    // search then costs one pass, not one recompute (itself a scan of related tables) per record.
    const stored = !def.compute || (def.computed && !def.computed.some((f) => domainMentions(domain, f)));
    const recs = stored
      ? this.raw(model)
          .filter((r) => this.matches(model, r, domain))
          .map((r) => this.materialize(model, r))
      : this.all(model).filter((r) => this.matches(model, r, domain));
    const activeField = def.fields.active;
    const visible = activeField && !domainMentions(domain, 'active') ? recs.filter((r) => r.active !== false) : recs;
    sortRecords(visible, order ?? def.order ?? 'id');
    const sliced = visible.slice(offset, limit ? offset + limit : undefined);
    return sliced.map((r) => r.id);
  }

  read(model: string, ids: number[], fields?: string[]): Record<string, unknown>[] {
    const def = this.model(model);
    const names = fields && fields.length ? fields : Object.keys(def.fields);
    for (const f of names) if (!def.fields[f]) throw valueError(`Invalid field '${f}' on model '${model}'`);
    return this.browse(model, ids).map((rec) => {
      const out: Record<string, unknown> = { id: rec.id };
      for (const f of names) out[f] = this.readValue(model, rec, f);
      return out;
    });
  }

  private readValue(model: string, rec: Rec, field: string): unknown {
    const fd = this.model(model).fields[field];
    if (field === 'display_name') return this.displayName(model, rec.id);
    const v = rec[field];
    switch (fd.type) {
      case 'many2one':
        return typeof v === 'number' && this.table(fd.relation!).has(v)
          ? [v, this.displayName(fd.relation!, v)]
          : false;
      case 'one2many':
        return this.o2mIds(fd, rec.id);
      case 'many2many':
        return Array.isArray(v) ? [...v] : [];
      case 'boolean':
        return v === true;
      default:
        return v === undefined || v === null ? false : v;
    }
  }

  private o2mIds(fd: FieldDef, parentId: number): number[] {
    return this.all(fd.relation!)
      .filter((c) => c[fd.inverse!] === parentId && (!fd.domain || this.matches(fd.relation!, c, fd.domain)))
      .map((c) => c.id);
  }

  create(model: string, vals: Record<string, unknown>, ctx: Ctx = {}): number {
    const def = this.model(model);
    const id = this.nextIds.get(model)!;
    const rec: Rec = { id };
    const now = new Date().toISOString().replace('T', ' ').slice(0, 19);
    rec.create_date = now;
    rec.write_date = now;
    const x2many: [string, unknown][] = [];
    for (const [k, v] of Object.entries(vals)) {
      const fd = def.fields[k];
      if (!fd) throw valueError(`Invalid field '${k}' on model '${model}'`);
      if (fd.type === 'one2many' || fd.type === 'many2many') x2many.push([k, v]);
      else rec[k] = this.convert(model, k, fd, v);
    }
    for (const [k, fd] of Object.entries(def.fields)) {
      if (k in rec || fd.default === undefined) continue;
      rec[k] =
        typeof fd.default === 'function'
          ? (fd.default as (s: Store, v: Rec, c: Ctx) => unknown)(this, rec, ctx)
          : fd.default;
    }
    def.onCreate?.(rec, this, ctx);
    for (const [k, fd] of Object.entries(def.fields)) {
      if (fd.required && (rec[k] === undefined || rec[k] === false || rec[k] === null || rec[k] === '')) {
        throw validationError(
          `The operation cannot be completed:\n- Create/update: a mandatory field is not set.\n` +
            `Model: ${def.description} (${model}), Field: ${fd.string ?? k} (${k})`,
        );
      }
    }
    this.nextIds.set(model, id + 1);
    this.touch(model, rec);
    this.table(model).set(id, rec);
    try {
      for (const [k, v] of x2many) this.applyX2many(model, rec, k, v, ctx);
      this.materialize(model, rec);
      def.check?.(rec, this);
    } catch (err) {
      this.unlinkCascade(model, id);
      throw err;
    }
    return id;
  }

  write(model: string, ids: number[], vals: Record<string, unknown>, ctx: Ctx = {}): void {
    const def = this.model(model);
    const recs = this.browse(model, ids);
    for (const rec of recs) {
      this.touch(model, rec);
      const before = { ...rec };
      for (const [k, v] of Object.entries(vals)) {
        const fd = def.fields[k];
        if (!fd) throw valueError(`Invalid field '${k}' on model '${model}'`);
        if (fd.type === 'one2many' || fd.type === 'many2many') this.applyX2many(model, rec, k, v, ctx);
        else rec[k] = this.convert(model, k, fd, v);
      }
      rec.write_date = new Date().toISOString().replace('T', ' ').slice(0, 19);
      try {
        def.onWrite?.(rec, vals, this);
        this.materialize(model, rec);
        def.check?.(rec, this);
      } catch (err) {
        Object.assign(rec, before);
        throw err;
      }
    }
  }

  unlink(model: string, ids: number[]): void {
    this.browse(model, ids);
    for (const id of ids) this.unlinkCascade(model, id);
  }

  private unlinkCascade(model: string, id: number): void {
    const def = this.model(model);
    for (const fd of Object.values(def.fields)) {
      if (fd.type === 'one2many')
        for (const cid of this.o2mIds({ ...fd, domain: undefined }, id)) this.remove(fd.relation!, cid);
    }
    this.remove(model, id);
  }

  private remove(model: string, id: number): void {
    const rec = this.table(model).get(id);
    if (rec) this.touch(model, rec);
    this.table(model).delete(id);
  }

  private convert(model: string, field: string, fd: FieldDef, v: unknown): unknown {
    if (v === null || v === undefined) return false;
    switch (fd.type) {
      case 'many2one': {
        if (v === false) return false;
        const id = Array.isArray(v) ? v[0] : v;
        if (typeof id !== 'number' || !Number.isInteger(id))
          throw valueError(`Wrong value for ${model}.${field}: ${JSON.stringify(v)}`);
        if (!this.table(fd.relation!).has(id)) {
          throw validationError(
            `The operation cannot be completed: the record ${fd.relation}(${id},) referenced by ` +
              `${fd.string ?? field} (${field}) on ${this.model(model).description} (${model}) does not exist.`,
          );
        }
        return id;
      }
      case 'integer':
      case 'float':
        if (v === false) return 0;
        if (typeof v !== 'number' || !Number.isFinite(v))
          throw valueError(`Wrong value for ${model}.${field}: ${JSON.stringify(v)}`);
        return fd.type === 'integer' ? Math.trunc(v) : v;
      case 'boolean':
        return v === true;
      case 'selection':
        if (v !== false && fd.selection && !fd.selection.includes(String(v))) {
          throw valueError(`Wrong value for ${model}.${field}: ${JSON.stringify(v)}`);
        }
        return v;
      case 'date':
        if (v !== false && (typeof v !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(v))) {
          throw valueError(`time data ${JSON.stringify(v)} does not match format '%Y-%m-%d'`);
        }
        return v;
      default:
        if (v !== false && fd.type !== 'json' && typeof v !== 'string') {
          throw valueError(`Wrong value for ${model}.${field}: ${JSON.stringify(v)}`);
        }
        return v;
    }
  }

  /** x2many commands: (0,0,vals) create, (1,id,vals) update, (2,id) delete, (3,id) unlink, (4,id) link, (5) clear, (6,0,ids) set. */
  private applyX2many(model: string, rec: Rec, field: string, value: unknown, ctx: Ctx): void {
    const fd = this.model(model).fields[field];
    if (!Array.isArray(value)) throw valueError(`Wrong value for ${model}.${field}: ${JSON.stringify(value)}`);
    const comodel = fd.relation!;
    for (const cmd of value) {
      if (!Array.isArray(cmd)) throw valueError(`Wrong command for ${model}.${field}: ${JSON.stringify(cmd)}`);
      const [op, cid, payload] = cmd as [number, number, unknown];
      if (fd.type === 'one2many') {
        if (op === 0) this.create(comodel, { ...asVals(payload), [fd.inverse!]: rec.id }, ctx);
        else if (op === 1) this.write(comodel, [cid], asVals(payload), ctx);
        else if (op === 2 || op === 3) this.unlink(comodel, [cid]);
        else if (op === 4) this.write(comodel, [cid], { [fd.inverse!]: rec.id }, ctx);
        else if (op === 5) for (const id of this.o2mIds(fd, rec.id)) this.unlink(comodel, [id]);
        else throw valueError(`Unsupported command ${op} on ${model}.${field}`);
      } else {
        const cur = new Set<number>(Array.isArray(rec[field]) ? (rec[field] as number[]) : []);
        if (op === 0) cur.add(this.create(comodel, asVals(payload), ctx));
        else if (op === 3 || op === 2) cur.delete(cid);
        else if (op === 4) cur.add(this.browse(comodel, [cid])[0].id);
        else if (op === 5) cur.clear();
        else if (op === 6) {
          cur.clear();
          for (const id of payload as number[]) cur.add(this.browse(comodel, [id])[0].id);
        } else throw valueError(`Unsupported command ${op} on ${model}.${field}`);
        rec[field] = [...cur];
      }
    }
  }

  /** Evaluates a domain (Polish notation, implicit AND) against one record. */
  matches(model: string, rec: Rec, domain: unknown[]): boolean {
    const stack: boolean[] = [];
    for (let i = domain.length - 1; i >= 0; i--) {
      const t = domain[i];
      if (t === '&' || t === '|') {
        if (stack.length < 2) throw valueError(`Invalid domain: ${JSON.stringify(domain)}`);
        const a = stack.pop()!;
        const b = stack.pop()!;
        stack.push(t === '&' ? a && b : a || b);
      } else if (t === '!') {
        if (stack.length < 1) throw valueError(`Invalid domain: ${JSON.stringify(domain)}`);
        stack.push(!stack.pop());
      } else if (Array.isArray(t) && t.length === 3 && typeof t[0] === 'string' && typeof t[1] === 'string') {
        stack.push(this.leaf(model, rec, t[0], t[1], t[2]));
      } else if (Array.isArray(t) && t.length === 3 && (t[0] === 1 || t[0] === 0)) {
        stack.push(t[0] === t[2]);
      } else {
        throw valueError(`Invalid leaf ${JSON.stringify(t)}`);
      }
    }
    return stack.every(Boolean);
  }

  private leaf(model: string, rec: Rec, path: string, op: string, value: unknown): boolean {
    const [head, ...rest] = path.split('.');
    const def = this.model(model);
    const fd = def.fields[head];
    if (!fd) throw valueError(`Invalid field ${model}.${head} in leaf ${JSON.stringify([path, op, value])}`);
    if (rest.length) {
      if (fd.type !== 'many2one' && fd.type !== 'one2many' && fd.type !== 'many2many') {
        throw valueError(`Invalid path ${path} on ${model}`);
      }
      const ids = this.relatedIds(model, rec, head);
      const sub = rest.join('.');
      const hits = ids.map((id) => this.table(fd.relation!).get(id)).filter((r): r is Rec => !!r);
      const any = hits.some((r) => this.leaf(fd.relation!, this.materialize(fd.relation!, r), sub, op, value));
      return op.startsWith('not ') || op === '!='
        ? hits.length === 0 || hits.every((r) => this.leaf(fd.relation!, r, sub, op, value))
        : any;
    }
    if (fd.type === 'many2one' || fd.type === 'one2many' || fd.type === 'many2many') {
      const ids = this.relatedIds(model, rec, head);
      if (typeof value === 'string' && /like$/.test(op)) {
        const names = ids.map((id) => this.displayName(fd.relation!, id));
        const m = names.some((n) => likeMatch(n, value, op));
        return op.startsWith('not ') ? !m : m;
      }
      return compareIds(ids, op, value);
    }
    const v = head === 'display_name' ? this.displayName(model, rec.id) : rec[head];
    return compare(v, op, value);
  }

  private relatedIds(model: string, rec: Rec, field: string): number[] {
    const fd = this.model(model).fields[field];
    if (fd.type === 'many2one') return typeof rec[field] === 'number' ? [rec[field] as number] : [];
    if (fd.type === 'one2many') return this.o2mIds(fd, rec.id);
    return Array.isArray(rec[field]) ? (rec[field] as number[]) : [];
  }
}

function compareIds(ids: number[], op: string, value: unknown): boolean {
  const values = Array.isArray(value) ? value : [value];
  switch (op) {
    case '=':
      return value === false ? ids.length === 0 : ids.includes(value as number);
    case '!=':
      return value === false ? ids.length > 0 : !ids.includes(value as number);
    case 'in':
      return ids.some((id) => values.includes(id)) || (values.includes(false) && ids.length === 0);
    case 'not in':
      return !ids.some((id) => values.includes(id));
    default:
      throw valueError(`Invalid operator ${op} for a relational field`);
  }
}

function compare(v: unknown, op: string, value: unknown): boolean {
  const empty = v === undefined || v === null || v === false || v === '';
  switch (op) {
    case '=':
    case '==':
      return value === false ? empty : v === value;
    case '!=':
    case '<>':
      return value === false ? !empty : v !== value;
    case 'in':
      return Array.isArray(value) && (value.includes(v) || (empty && value.includes(false)));
    case 'not in':
      return Array.isArray(value) && !value.includes(v);
    case '<':
    case '>':
    case '<=':
    case '>=': {
      if (empty) return false;
      const a = v as number | string;
      const b = value as number | string;
      return op === '<' ? a < b : op === '>' ? a > b : op === '<=' ? a <= b : a >= b;
    }
    case 'like':
    case 'ilike':
    case '=like':
    case '=ilike':
    case 'not like':
    case 'not ilike': {
      const m = typeof v === 'string' && likeMatch(v, String(value), op);
      return op.startsWith('not ') ? !m : m;
    }
    default:
      throw valueError(`Invalid operator ${JSON.stringify(op)}`);
  }
}

/** SQL LIKE semantics: `%` and `_` wildcards; `like`/`ilike` wrap the value in `%…%`, `=like`/`=ilike` do not. */
function likeMatch(text: string, pattern: string, op: string): boolean {
  const exact = op.startsWith('=');
  const insensitive = op.includes('ilike');
  const body = pattern
    .replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
    .replace(/%/g, '.*')
    .replace(/_/g, '.');
  const re = new RegExp(exact ? `^${body}$` : `^.*${body}.*$`, insensitive ? 'is' : 's');
  return re.test(text);
}

function sortRecords(recs: Rec[], order: string): void {
  const keys = order.split(',').map((p) => {
    const [field, dir] = p.trim().split(/\s+/);
    return { field, desc: (dir ?? '').toLowerCase() === 'desc' };
  });
  recs.sort((a, b) => {
    for (const { field, desc } of keys) {
      const x = a[field] as string | number | boolean | undefined;
      const y = b[field] as string | number | boolean | undefined;
      if (x === y) continue;
      const c = x === undefined || x === false ? -1 : y === undefined || y === false ? 1 : x < y ? -1 : 1;
      return desc ? -c : c;
    }
    return 0;
  });
}

function domainMentions(domain: unknown[], field: string): boolean {
  return domain.some((t) => Array.isArray(t) && typeof t[0] === 'string' && t[0].split('.')[0] === field);
}

function asDomain(v: unknown): unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw valueError(`Invalid domain: ${JSON.stringify(v)}`);
  return v;
}

function asFields(v: unknown): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.some((f) => typeof f !== 'string'))
    throw valueError('fields must be a list of field names');
  return v as string[];
}

function asVals(v: unknown): Record<string, unknown> {
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw valueError(`Invalid values: ${JSON.stringify(v)}`);
  return v as Record<string, unknown>;
}

function num(v: unknown): number | undefined {
  if (v === undefined || v === null || v === false) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0)
    throw valueError(`Expected a non-negative integer, got ${JSON.stringify(v)}`);
  return v;
}

function str(v: unknown): string | undefined {
  if (v === undefined || v === null || v === false) return undefined;
  if (typeof v !== 'string') throw valueError(`Expected a string, got ${JSON.stringify(v)}`);
  return v;
}
