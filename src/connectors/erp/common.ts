import { createHash } from 'node:crypto';
import type { ApplicationFailure } from '@temporalio/common';
import type { Db } from '../../db';
import { idempotentWrite } from '../../db/external-writes';
import { normalizeEmail, normalizePhone } from '../../domain/dedup';
import { failure } from '../../domain/errors';
import { formatDecimal, isCurrency } from '../../domain/money';
import type {
  ErpCustomer,
  ErpCustomerInput,
  ErpDocRef,
  ErpDocumentInput,
  ErpJournalInput,
  ErpLine,
  ErpPaymentInput,
  InventoryAdjustment,
  WriteContext,
} from './types';

/**
 * What the four ERP adapters (odoo, m3, p21, sagepro) share: the checks made before anything is sent (documents and
 * their totals, journals and their balance, payments, inventory adjustments), customer matching on the dedup
 * normalisation of email and phone, payment-method mapping, journal line text, and the idempotent write wrappers
 * around `idempotentWrite`. Every check throws a non-retryable ApplicationFailure that names the connector and field.
 */

/** The SKU of the shipping service line that order-to-cash adds to sales orders, invoices and credit memos. */
export const SHIPPING_SKU = 'SHIPPING';

/** Service items: documents carry them as lines, but they are never stocked, so no adapter adjusts stock for them. */
/** The service item an amount-only credit memo (a refund without returned lines) is written on. */
export const REFUND_SKU = 'REFUND';
export const SERVICE_SKUS: ReadonlySet<string> = new Set([SHIPPING_SKU, REFUND_SKU]);

/** Builds the ValidationError of an input refused before any call. */
export function invalid(connector: string, message: string, field?: string): ApplicationFailure {
  return failure('ValidationError', `${connector}: ${message}`, { connector, field });
}

/** A hex prefix of the SHA-256 of `s`: stable names and ids derived from our refs and keys. */
export function sha256Hex(s: string, length: number): string {
  return createHash('sha256').update(s).digest('hex').slice(0, length);
}

const isMinor = (v: number | undefined) => Number.isSafeInteger(v) && (v as number) >= 0;

/** Refuses a date that is not ISO `YYYY-MM-DD` (whether the day exists is the ERP's call); returns it. */
export function checkDate(connector: string, date: string, field = 'date'): string {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date)) {
    throw invalid(connector, `${field} must be YYYY-MM-DD, got ${JSON.stringify(date)}`, field);
  }
  return date;
}

/** Refuses a currency that is not ISO 4217. */
export function checkCurrency(connector: string, currency: string): void {
  if (!isCurrency(currency)) throw invalid(connector, `unknown currency ${JSON.stringify(currency)}`, 'currency');
}

/** A line's amount in minor units: quantity times unit price, rounded, plus the line's tax. */
export function lineAmountMinor(l: ErpLine): number {
  return Math.round(l.qty * l.unitPriceMinor) + (l.taxMinor ?? 0);
}

/**
 * Checks a sales order, invoice or credit memo before anything is sent: ref, customer, currency, date, well-formed
 * lines (whole quantities where the ERP only takes those) and a `totalMinor` equal to the sum of the line amounts.
 */
export function checkDocument(connector: string, d: ErpDocumentInput, opts: { wholeQuantities?: boolean } = {}): void {
  if (!d.ref) throw invalid(connector, 'a document needs a ref', 'ref');
  if (!d.customerErpId) throw invalid(connector, 'a document needs customerErpId', 'customerErpId');
  checkCurrency(connector, d.currency);
  checkDate(connector, d.date);
  if (!d.lines.length) throw invalid(connector, 'a document needs at least one line', 'lines');
  const whole = opts.wholeQuantities === true;
  let total = 0;
  d.lines.forEach((l, i) => {
    if (!l.sku) throw invalid(connector, `line ${i + 1} has no sku`, `lines[${i}].sku`);
    if (!(l.qty > 0) || !(whole ? Number.isSafeInteger(l.qty) : Number.isFinite(l.qty))) {
      throw invalid(
        connector,
        `line ${i + 1} quantity must be a positive ${whole ? 'whole ' : ''}number`,
        `lines[${i}].qty`,
      );
    }
    if (!isMinor(l.unitPriceMinor)) {
      throw invalid(
        connector,
        `line ${i + 1} unit price must be non-negative integer minor units`,
        `lines[${i}].unitPriceMinor`,
      );
    }
    if (l.taxMinor !== undefined && !isMinor(l.taxMinor)) {
      throw invalid(connector, `line ${i + 1} tax must be non-negative integer minor units`, `lines[${i}].taxMinor`);
    }
    total += lineAmountMinor(l);
  });
  if (total !== d.totalMinor) {
    throw invalid(connector, `lines add up to ${total} minor units but totalMinor is ${d.totalMinor}`, 'totalMinor');
  }
}

/**
 * Checks that each journal line has an account and exactly one positive side (ValidationError otherwise), and that
 * the journal has two or more lines whose debits equal its credits (JournalUnbalanced otherwise).
 */
export function checkBalance(connector: string, j: ErpJournalInput): { debitMinor: number; creditMinor: number } {
  let debitMinor = 0;
  let creditMinor = 0;
  j.lines.forEach((l, i) => {
    if (!l.account || !isMinor(l.debitMinor) || !isMinor(l.creditMinor) || l.debitMinor > 0 === l.creditMinor > 0) {
      throw invalid(
        connector,
        `journal ${j.ref} line ${i + 1} (${l.account || 'no account'}) must be a debit or a credit on an account`,
        `lines[${i}]`,
      );
    }
    debitMinor += l.debitMinor;
    creditMinor += l.creditMinor;
  });
  const amount = (minor: number) =>
    isCurrency(j.currency) ? formatDecimal({ amountMinor: minor, currency: j.currency }) : String(minor);
  if (j.lines.length < 2) {
    throw failure('JournalUnbalanced', `${connector}: journal ${j.ref} needs at least two lines`, {
      connector,
      field: 'lines',
      debitMinor,
      creditMinor,
    });
  }
  if (debitMinor !== creditMinor) {
    throw failure(
      'JournalUnbalanced',
      `${connector}: journal ${j.ref} does not balance: debits ${amount(debitMinor)} != credits ` +
        `${amount(creditMinor)} ${j.currency}`,
      { connector, debitMinor, creditMinor },
    );
  }
  return { debitMinor, creditMinor };
}

/** Checks a journal before anything is sent: ref, currency, date, then its lines and balance (see checkBalance). */
export function checkJournal(connector: string, j: ErpJournalInput): void {
  if (!j.ref) throw invalid(connector, 'a journal needs a ref', 'ref');
  checkCurrency(connector, j.currency);
  checkDate(connector, j.date);
  checkBalance(connector, j);
}

/** Checks a payment before anything is sent: ref, invoice, a positive amount, currency and date. */
export function checkPayment(connector: string, p: ErpPaymentInput): void {
  if (!p.ref) throw invalid(connector, 'a payment needs a ref', 'ref');
  if (!p.invoiceErpId) throw invalid(connector, 'a payment needs invoiceErpId', 'invoiceErpId');
  if (!isMinor(p.amountMinor) || p.amountMinor === 0) {
    throw invalid(connector, 'payment amount must be positive integer minor units', 'amountMinor');
  }
  checkCurrency(connector, p.currency);
  checkDate(connector, p.date);
}

/**
 * Checks inventory adjustments (sku, location, a finite delta, whole where the ERP only takes those) and returns
 * the ones that move stock, each with its index in the input: zero deltas and service items (SHIPPING) are left out.
 */
export function stockAdjustments(
  connector: string,
  adjustments: InventoryAdjustment[],
  opts: { wholeUnits?: boolean } = {},
): { index: number; adj: InventoryAdjustment }[] {
  adjustments.forEach((a, i) => {
    if (!a.sku || !a.location)
      throw invalid(connector, `adjustment ${i + 1} needs a sku and a location`, `adjustments[${i}]`);
    if (!(opts.wholeUnits ? Number.isSafeInteger(a.delta) : Number.isFinite(a.delta))) {
      throw invalid(
        connector,
        `adjustment ${i + 1} delta must be a ${opts.wholeUnits ? 'whole ' : ''}number`,
        `adjustments[${i}].delta`,
      );
    }
  });
  return adjustments
    .map((adj, index) => ({ index, adj }))
    .filter(({ adj }) => adj.delta !== 0 && !SERVICE_SKUS.has(adj.sku));
}

/** Checks a customer upsert (it needs an externalRef) and returns its name, else first and last name joined. */
export function customerName(connector: string, c: ErpCustomerInput): string {
  if (!c.externalRef) throw invalid(connector, 'a customer needs an externalRef', 'externalRef');
  const name = c.name || [c.firstName, c.lastName].filter(Boolean).join(' ');
  if (!name) throw invalid(connector, 'a customer needs a name', 'name');
  return name;
}

/** Whether a customer found by its ref already carries the values of an upsert (then the write is done). */
function carriesCustomer(found: ErpCustomer, c: ErpCustomerInput, name: string): boolean {
  return (
    found.name === name &&
    (c.email === undefined || found.email === c.email) &&
    (c.phone === undefined || found.phone === c.phone)
  );
}

/** The lookup keys of a findCustomers query: email and phone in their dedup form (src/domain/dedup.ts). */
export interface CustomerKeys {
  externalRef?: string;
  email?: string;
  phone?: string;
}

/** Normalises a findCustomers query; a value that does not normalise (not an email, too few digits) is dropped. */
export function customerKeys(q: { email?: string; phone?: string; externalRef?: string }): CustomerKeys {
  return { externalRef: q.externalRef || undefined, email: normalizeEmail(q.email), phone: normalizePhone(q.phone) };
}

/** Whether an ERP customer record matches a key: same external ref, same normalised email or any phone equal. */
export function matchesCustomer(
  keys: CustomerKeys,
  r: { externalRef?: string | null; email?: string | null | false; phones?: (string | null | undefined | false)[] },
): boolean {
  const text = (v: string | null | undefined | false) => (typeof v === 'string' ? v : undefined);
  return (
    (keys.externalRef !== undefined && r.externalRef === keys.externalRef) ||
    (keys.email !== undefined && normalizeEmail(text(r.email)) === keys.email) ||
    (keys.phone !== undefined && (r.phones ?? []).some((p) => normalizePhone(text(p)) === keys.phone))
  );
}

/** A payment method's code in a method table: the exact method (`card:VISA`), its kind (`card`), else `bank`. */
export function methodCode(table: Record<string, string>, method: string, fallback: string): string {
  return table[method] ?? table[method.split(':')[0]] ?? table.bank ?? fallback;
}

/** The reverse of a method table (code → method), the first method listed winning for a shared code. */
export function methodsByCode(table: Record<string, string>): Map<string, string> {
  return new Map(
    Object.entries(table)
      .map(([method, code]) => [code, method] as const)
      .reverse(),
  );
}

/** Maps our payment method (`card:VISA`, `cash`, ...) to a pay code (VISA MC AMEX DISC CARD CASH CHECK GIFT). */
export function paymentTypeFor(method: string): string {
  const [kind, brand = ''] = method.toLowerCase().split(':');
  if (kind === 'card') {
    const byBrand: Record<string, string> = {
      visa: 'VISA',
      mastercard: 'MC',
      mc: 'MC',
      amex: 'AMEX',
      discover: 'DISC',
    };
    return byBrand[brand] ?? 'CARD';
  }
  const byKind: Record<string, string> = { cash: 'CASH', check: 'CHECK', gift: 'GIFT', giftcard: 'GIFT' };
  return byKind[kind] ?? kind.toUpperCase();
}

/** Journal line text with its analytic dimensions appended (`Visa sales [brand=VISA method=card]`). */
export function describeLine(
  description: string | undefined,
  dims: Record<string, string> | undefined,
): string | undefined {
  const tags = dims ? Object.entries(dims).map(([k, v]) => `${k}=${v}`) : [];
  if (tags.length === 0) return description;
  return `${description ?? ''} [${tags.join(' ')}]`.trim();
}

/** An ErpDocRef whose status comes from a vendor status table; an unknown code maps to `fallback` or itself. */
export function docRef(
  erpId: string,
  number: string | undefined,
  rawStatus: string,
  statuses: Record<string, string>,
  fallback?: string,
): ErpDocRef {
  return { erpId, number, status: statuses[rawStatus] ?? fallback ?? rawStatus.toLowerCase(), rawStatus };
}

/** One external write of an adapter, recorded in `external_writes` under ctx.idempotencyKey. */
export interface WriteOnce<R> {
  db: Db;
  target: string;
  ctx: WriteContext;
  operation: string;
  request: unknown;
  /** On a retry after a crash: the record when the remote side already has it, else null. */
  findRemote?: () => Promise<R | null>;
  write: () => Promise<R>;
}

/** What every write of one adapter shares: `write(...)` for writeOnce/createOnce, `change(...)` for changeOnce. */
export function writesOf(db: Db, target: string) {
  return {
    write: <Q>(ctx: WriteContext, operation: string, request: Q) => ({ db, target, ctx, operation, request }),
    change: (ctx: WriteContext, operation: string, erpId: string) => ({ db, target, ctx, operation, erpId }),
  };
}

/** Runs a write at most once per idempotency key; the external id recorded is the result's `erpId`, if any. */
export async function writeOnce<R>(w: WriteOnce<R>): Promise<R> {
  if (!w.ctx?.idempotencyKey) throw invalid(w.target, `${w.operation} needs ctx.idempotencyKey`);
  const idOf = (r: R) => ((r as { erpId?: string } | null)?.erpId ?? null) as string | null;
  const { findRemote, write } = w;
  const res = await idempotentWrite<R>(w.db, {
    key: w.ctx.idempotencyKey,
    target: w.target,
    operation: w.operation,
    workflowId: w.ctx.workflowId,
    request: w.request,
    findRemote: findRemote
      ? async () => {
          const r = await findRemote();
          return r === null ? null : { externalId: idOf(r), result: r };
        }
      : undefined,
    write: async () => {
      const r = await write();
      return { externalId: idOf(r), result: r };
    },
  });
  return res.result;
}

/**
 * Creates a record once: `find` looks it up by our ref on a retry and again right before creating, so neither a
 * retry nor a crash between the remote write and our own record creates it twice. `precheck`, when given, stands in
 * for `find` right before creating: a cheaper look-up (one call where `find` takes several) that still refuses a
 * second record for the same ref under another key.
 */
export function createOnce<R extends { erpId: string }>(
  w: Omit<WriteOnce<R>, 'findRemote' | 'write'> & {
    find: () => Promise<R | null>;
    precheck?: () => Promise<R | null>;
    create: () => Promise<R>;
  },
): Promise<R> {
  const before = w.precheck ?? w.find;
  return writeOnce({ ...w, findRemote: w.find, write: async () => (await before()) ?? (await w.create()) });
}

/**
 * Creates or updates the customer with our external ref once. An update is idempotent by itself, so on a retry the
 * write counts as done only when the record found by our ref already carries the new values.
 */
export function upsertCustomerOnce(
  w: Omit<WriteOnce<ErpCustomer>, 'findRemote' | 'write' | 'request'> & {
    request: ErpCustomerInput;
    name: string;
    byRef: () => Promise<ErpCustomer | null>;
    save: (existing: ErpCustomer | null) => Promise<ErpCustomer>;
  },
): Promise<ErpCustomer> {
  return writeOnce({
    ...w,
    findRemote: async () => {
      const found = await w.byRef();
      return found && carriesCustomer(found, w.request, w.name) ? found : null;
    },
    write: async () => w.save(await w.byRef()),
  });
}

/**
 * A status change (cancel, post, reverse, void): skipped when `done` says the document already has the target
 * status, so a repeated compensation is a no-op; returns the document as it is afterwards.
 */
export function changeOnce(
  w: Omit<WriteOnce<ErpDocRef>, 'findRemote' | 'write' | 'request'> & {
    erpId: string;
    get: () => Promise<ErpDocRef>;
    done: (d: ErpDocRef) => boolean;
    send: (current: ErpDocRef) => Promise<unknown>;
  },
): Promise<ErpDocRef> {
  return writeOnce({
    ...w,
    request: { erpId: w.erpId },
    findRemote: async () => {
      const d = await w.get();
      return w.done(d) ? d : null;
    },
    write: async () => {
      const d = await w.get();
      if (w.done(d)) return d;
      await w.send(d);
      return w.get();
    },
  });
}
