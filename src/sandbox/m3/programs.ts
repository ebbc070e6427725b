import { formatDecimal, money, parseDecimal } from '../../domain/money';

/**
 * The M3 business data of the simulator and its MI programs. Every transaction takes the input fields as strings
 * and returns output records whose values are strings (as M3 returns them); a failure is an `MiError` that the
 * HTTP layer turns into `errorMessage` / `errorCode` / `errorField` on the transaction's result.
 */

export class MiError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

export type Fields = Record<string, string>;
export type MiRecord = Record<string, string>;

export interface Customer {
  CUNO: string;
  CUNM: string;
  CUA1: string;
  CUA2: string;
  CUA3: string;
  CUA4: string;
  PHNO: string;
  MAIL: string;
  CSCD: string;
  TOWN: string;
  PONO: string;
  ECAR: string;
  YREF: string;
  STAT: string;
}

export interface OrderLine {
  PONR: number;
  ITNO: string;
  ORQT: string;
  SAPR: number;
  TAXA: number;
  CUPO: string;
}

export interface Order {
  ORNO: string;
  CUNO: string;
  ORTP: string;
  CUOR: string;
  ORDT: string;
  CUCD: string;
  WHLO: string;
  ORST: string;
  lines: OrderLine[];
}

export interface InvoiceLine {
  LINO: string;
  ITNO: string;
  IVQT: string;
  SAPR: number;
  TAXA: number;
}

export interface Invoice {
  IVNO: string;
  IVTP: 'IN' | 'CN';
  CUNO: string;
  ORNO: string;
  YRE1: string;
  IVDT: string;
  CUCD: string;
  STAT: string;
  OIVN: string;
  TX40: string;
  lines: InvoiceLine[];
}

export interface Payment {
  PYNO: string;
  CUNO: string;
  CINO: string;
  CUAM: number;
  CUCD: string;
  PYDT: string;
  PYME: string;
  VTXT: string;
  PYRF: string;
  STAT: string;
}

export interface BatchLine {
  LINE: number;
  AIT: string[];
  CUAM: number;
  CUCD: string;
  ACDT: string;
  VTXT: string;
}

export interface GlBatch {
  BCHN: string;
  BTXT: string;
  STAT: string;
  VONO: string;
  lines: BatchLine[];
}

export interface StockTransaction {
  TTYP: string;
  ITNO: string;
  WHLO: string;
  TRQT: string;
  REMK: string;
  RGDT: string;
}

export interface Item {
  ITNO: string;
  ITDS: string;
  UNMS: string;
  STAT: string;
  SAPR: number;
  CUCD: string;
  /** Inventory accounting (MMS001 STCD): '1' stocked, '0' a service item without balances (SHIPPING). */
  STCD: '0' | '1';
}

/** Every transaction the simulator received (single and bulk), for tests to count. */
export interface MiLogEntry {
  program: string;
  transaction: string;
  record: Fields;
  ok: boolean;
  bulk: boolean;
}

/** The simulator's M3 tables, number series and transaction log. */
export class M3Data {
  readonly customers = new Map<string, Customer>();
  readonly items = new Map<string, Item>();
  readonly warehouses = new Map<string, string>();
  /** `${WHLO}|${ITNO}` → on-hand quantity (decimal string arithmetic kept in thousandths). */
  readonly balances = new Map<string, number>();
  readonly stockTransactions: StockTransaction[] = [];
  readonly orders = new Map<string, Order>();
  readonly invoices = new Map<string, Invoice>();
  readonly payments = new Map<string, Payment>();
  readonly accounts = new Set<string>();
  readonly batches = new Map<string, GlBatch>();
  readonly log: MiLogEntry[] = [];
  private counters: Record<string, number> = {
    order: 1000000,
    invoice: 500000,
    payment: 700000,
    batch: 900,
    voucher: 30000,
  };

  next(kind: 'order' | 'invoice' | 'payment' | 'batch' | 'voucher'): string {
    return String(++this.counters[kind]);
  }
}

const LIMITS: Record<string, number> = {
  CUNO: 10,
  CUNM: 36,
  CUA1: 36,
  CUA2: 36,
  CUA3: 36,
  CUA4: 36,
  PHNO: 16,
  MAIL: 60,
  TOWN: 20,
  PONO: 10,
  YREF: 30,
  CUOR: 20,
  YRE1: 30,
  VTXT: 40,
  BTXT: 40,
  REMK: 30,
  PYRF: 30,
  TX40: 40,
  CUPO: 6,
  ITNO: 15,
};

function check(f: Fields): void {
  for (const [k, v] of Object.entries(f)) {
    const max = LIMITS[k];
    if (max !== undefined && v.length > max)
      throw new MiError(`Field ${k} is too long, max length is ${max}`, 'WFL0101', k);
  }
}

function required(f: Fields, ...names: string[]): void {
  for (const n of names) if (!f[n]?.trim()) throw new MiError(`${n} must be entered`, 'WMA0101', n);
}

function amount(f: Fields, field: string, currency: string, { allowNegative = false } = {}): number {
  const raw = (f[field] ?? '').trim();
  if (!raw) return 0;
  try {
    const v = parseDecimal(raw, currency || 'USD').amountMinor;
    if (v < 0 && !allowNegative) throw new MiError(`${field} must not be negative`, 'WAM0102', field);
    return v;
  } catch (err) {
    if (err instanceof MiError) throw err;
    throw new MiError(`${field} ${raw} is not a valid amount`, 'WAM0101', field);
  }
}

function quantity(f: Fields, field: string): number {
  const raw = (f[field] ?? '').trim();
  if (!/^-?\d+(\.\d{1,6})?$/.test(raw))
    throw new MiError(`${field} ${raw || '(blank)'} is not a valid quantity`, 'WQT0101', field);
  return Number(raw);
}

function date8(f: Fields, field: string): string {
  const raw = (f[field] ?? '').trim();
  if (!raw) return new Date().toISOString().slice(0, 10).replace(/-/g, '');
  if (!/^\d{8}$/.test(raw)) throw new MiError(`${field} ${raw} is not a valid date (YYYYMMDD)`, 'WDT0101', field);
  return raw;
}

const fmt = (minor: number, currency: string) => formatDecimal(money(minor, currency));
const qtyText = (q: number) => String(Math.round(q * 1e6) / 1e6);

function page<T>(rows: T[], f: Fields, maxrecs: number): T[] {
  return maxrecs > 0 ? rows.slice(0, maxrecs) : rows;
}

function customerOut(c: Customer): MiRecord {
  return { ...c };
}

function orderTotals(o: Order) {
  const net = o.lines.reduce((a, l) => a + Math.round(Number(l.ORQT) * l.SAPR), 0);
  const tax = o.lines.reduce((a, l) => a + l.TAXA, 0);
  return { net, tax, total: net + tax };
}

function orderOut(o: Order): MiRecord {
  const t = orderTotals(o);
  return {
    ORNO: o.ORNO,
    CUNO: o.CUNO,
    ORTP: o.ORTP,
    CUOR: o.CUOR,
    ORDT: o.ORDT,
    CUCD: o.CUCD,
    WHLO: o.WHLO,
    ORST: o.ORST,
    ORSL: o.ORST,
    NTAM: fmt(t.net, o.CUCD),
    TAXA: fmt(t.tax, o.CUCD),
    TOAM: fmt(t.total, o.CUCD),
    NBLN: String(o.lines.length),
  };
}

/** Invoice total in minor units: rounded line amounts plus tax. */
export function invoiceTotal(inv: Invoice): number {
  return inv.lines.reduce((a, l) => a + Math.round(Number(l.IVQT) * l.SAPR) + l.TAXA, 0);
}

function openAmount(d: M3Data, inv: Invoice): number {
  if (inv.STAT !== '20') return 0;
  const paid = [...d.payments.values()]
    .filter((p) => p.CINO === inv.IVNO && p.STAT === '20')
    .reduce((a, p) => a + p.CUAM, 0);
  return Math.max(0, invoiceTotal(inv) - paid);
}

function invoiceOut(d: M3Data, inv: Invoice): MiRecord {
  return {
    IVNO: inv.IVNO,
    IVTP: inv.IVTP,
    CUNO: inv.CUNO,
    ORNO: inv.ORNO,
    YRE1: inv.YRE1,
    IVDT: inv.IVDT,
    CUCD: inv.CUCD,
    STAT: inv.STAT,
    OIVN: inv.OIVN,
    TX40: inv.TX40,
    CUAM: fmt(invoiceTotal(inv), inv.CUCD),
    OPAM: fmt(openAmount(d, inv), inv.CUCD),
    NBLN: String(inv.lines.length),
  };
}

function paymentOut(p: Payment): MiRecord {
  return {
    PYNO: p.PYNO,
    CUNO: p.CUNO,
    CINO: p.CINO,
    CUAM: fmt(p.CUAM, p.CUCD),
    CUCD: p.CUCD,
    PYDT: p.PYDT,
    PYME: p.PYME,
    VTXT: p.VTXT,
    PYRF: p.PYRF,
    STAT: p.STAT,
  };
}

function batchOut(b: GlBatch): MiRecord {
  return { BCHN: b.BCHN, BTXT: b.BTXT, STAT: b.STAT, VONO: b.VONO, NLIN: String(b.lines.length) };
}

/** The record under `key`, or the MI error "<what> <key> does not exist". */
function existing<T>(map: Map<string, T>, key: string, what: string, code: string, field: string): T {
  const r = map.get(key);
  if (!r) throw new MiError(`${what} ${key} does not exist`, code, field);
  return r;
}

const getCustomer = (d: M3Data, cuno: string) => existing(d.customers, cuno, 'Customer number', 'WCU0203', 'CUNO');
const getOrder = (d: M3Data, orno: string) => existing(d.orders, orno, 'Order number', 'WOR0203', 'ORNO');
const getInvoice = (d: M3Data, ivno: string, field = 'IVNO') =>
  existing(d.invoices, ivno, 'Invoice number', 'WIV0203', field);
const getItem = (d: M3Data, itno: string) => existing(d.items, itno, 'Item number', 'WIT0203', 'ITNO');
const getBatch = (d: M3Data, bchn: string) => existing(d.batches, bchn, 'Batch number', 'WBC0203', 'BCHN');
const getPayment = (d: M3Data, pyno: string) => existing(d.payments, pyno, 'Payment number', 'WPY0203', 'PYNO');

function currency(f: Fields, field = 'CUCD'): string {
  const c = (f[field] ?? '').trim() || 'USD';
  try {
    money(0, c);
  } catch {
    throw new MiError(`Currency ${c} does not exist`, 'WCU0303', field);
  }
  return c;
}

type Handler = (d: M3Data, f: Fields, maxrecs: number) => MiRecord[];

const CUSTOMER_FIELDS = [
  'CUNM',
  'CUA1',
  'CUA2',
  'CUA3',
  'CUA4',
  'PHNO',
  'MAIL',
  'CSCD',
  'TOWN',
  'PONO',
  'ECAR',
  'YREF',
  'STAT',
] as const;

function checkMail(f: Fields): void {
  if (f.MAIL && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(f.MAIL))
    throw new MiError(`E-mail address ${f.MAIL} is invalid`, 'WMA0303', 'MAIL');
}

/** MI programs and their transactions. */
export const PROGRAMS: Record<string, Record<string, Handler>> = {
  CRS610MI: {
    Add(d, f) {
      check(f);
      required(f, 'CUNO', 'CUNM');
      checkMail(f);
      if (d.customers.has(f.CUNO)) throw new MiError(`Customer number ${f.CUNO} already exists`, 'WCU0202', 'CUNO');
      const c = { CUNO: f.CUNO } as Customer;
      for (const k of CUSTOMER_FIELDS) c[k] = f[k] ?? '';
      c.STAT ||= '20';
      d.customers.set(c.CUNO, c);
      return [{ CUNO: c.CUNO }];
    },
    Get(d, f) {
      required(f, 'CUNO');
      return [customerOut(getCustomer(d, f.CUNO))];
    },
    ChgBasicData(d, f) {
      check(f);
      required(f, 'CUNO');
      checkMail(f);
      const c = getCustomer(d, f.CUNO);
      // MI semantics: a blank field means "no change".
      for (const k of CUSTOMER_FIELDS) if (f[k]?.trim()) c[k] = f[k];
      return [];
    },
    LstByName(d, f, maxrecs) {
      const from = (f.CUNM ?? '').toUpperCase();
      const rows = [...d.customers.values()]
        .filter((c) => c.CUNM.toUpperCase() >= from)
        .sort((a, b) => a.CUNM.toUpperCase().localeCompare(b.CUNM.toUpperCase()) || a.CUNO.localeCompare(b.CUNO));
      return page(rows, f, maxrecs).map(customerOut);
    },
    LstByNumber(d, f, maxrecs) {
      const from = f.CUNO ?? '';
      const rows = [...d.customers.values()].filter((c) => c.CUNO >= from).sort((a, b) => a.CUNO.localeCompare(b.CUNO));
      return page(rows, f, maxrecs).map(customerOut);
    },
  },
  OIS100MI: {
    AddBatchHead(d, f) {
      check(f);
      required(f, 'CUNO');
      getCustomer(d, f.CUNO);
      const o: Order = {
        ORNO: d.next('order'),
        CUNO: f.CUNO,
        ORTP: f.ORTP || 'A01',
        CUOR: f.CUOR ?? '',
        ORDT: date8(f, 'ORDT'),
        CUCD: currency(f),
        WHLO: f.WHLO || 'MAIN',
        ORST: '05',
        lines: [],
      };
      if (!d.warehouses.has(o.WHLO)) throw new MiError(`Warehouse ${o.WHLO} does not exist`, 'WWH0203', 'WHLO');
      d.orders.set(o.ORNO, o);
      return [{ ORNO: o.ORNO }];
    },
    AddBatchLine(d, f) {
      check(f);
      required(f, 'ORNO', 'ITNO', 'ORQT');
      const o = getOrder(d, f.ORNO);
      if (o.ORST !== '05') throw new MiError(`Order ${o.ORNO} is not a batch order in status 05`, 'WOR0501', 'ORNO');
      const item = getItem(d, f.ITNO);
      const qty = quantity(f, 'ORQT');
      if (qty <= 0) throw new MiError('ORQT must be greater than zero', 'WQT0102', 'ORQT');
      const line: OrderLine = {
        PONR: o.lines.length ? Math.max(...o.lines.map((l) => l.PONR)) + 10 : 10,
        ITNO: item.ITNO,
        ORQT: qtyText(qty),
        SAPR: f.SAPR ? amount(f, 'SAPR', o.CUCD) : item.SAPR,
        TAXA: amount(f, 'TAXA', o.CUCD),
        CUPO: f.CUPO ?? '',
      };
      o.lines.push(line);
      return [{ ORNO: o.ORNO, PONR: String(line.PONR) }];
    },
    Confirm(d, f) {
      required(f, 'ORNO');
      const o = getOrder(d, f.ORNO);
      if (o.ORST !== '05') throw new MiError(`Order ${o.ORNO} is not a batch order in status 05`, 'WOR0501', 'ORNO');
      if (!o.lines.length) throw new MiError(`Order ${o.ORNO} has no lines`, 'WOR0502', 'ORNO');
      o.ORST = '20';
      return [{ ORNO: o.ORNO, ORST: o.ORST }];
    },
    GetHead(d, f) {
      required(f, 'ORNO');
      return [orderOut(getOrder(d, f.ORNO))];
    },
    LstHead(d, f, maxrecs) {
      required(f, 'CUNO');
      const rows = [...d.orders.values()].filter((o) => o.CUNO === f.CUNO && (!f.CUOR || o.CUOR === f.CUOR));
      return page(rows, f, maxrecs).map(orderOut);
    },
    LstLine(d, f, maxrecs) {
      required(f, 'ORNO');
      const o = getOrder(d, f.ORNO);
      return page(o.lines, f, maxrecs).map((l) => ({
        ORNO: o.ORNO,
        PONR: String(l.PONR),
        ITNO: l.ITNO,
        ORQT: l.ORQT,
        SAPR: fmt(l.SAPR, o.CUCD),
        TAXA: fmt(l.TAXA, o.CUCD),
        CUPO: l.CUPO,
        ORST: o.ORST,
      }));
    },
    CancelOrder(d, f) {
      required(f, 'ORNO');
      const o = getOrder(d, f.ORNO);
      if (o.ORST === '90') throw new MiError(`Order ${o.ORNO} is already cancelled`, 'WOR0901', 'ORNO');
      if (o.ORST >= '66')
        throw new MiError(`Order ${o.ORNO} cannot be cancelled in status ${o.ORST}`, 'WOR0902', 'ORNO');
      o.ORST = '90';
      return [{ ORNO: o.ORNO, ORST: o.ORST }];
    },
  },
  OIS300MI: {
    AddHead(d, f) {
      check(f);
      required(f, 'CUNO');
      getCustomer(d, f.CUNO);
      const type = (f.IVTP || 'IN') as Invoice['IVTP'];
      if (type !== 'IN' && type !== 'CN') throw new MiError(`Invoice type ${type} is invalid`, 'WIT0101', 'IVTP');
      if (f.ORNO) {
        const o = getOrder(d, f.ORNO);
        if (o.CUNO !== f.CUNO) throw new MiError(`Order ${o.ORNO} belongs to customer ${o.CUNO}`, 'WOR0301', 'ORNO');
        if (o.ORST < '20' || o.ORST === '90')
          throw new MiError(`Order ${o.ORNO} cannot be invoiced in status ${o.ORST}`, 'WOR0302', 'ORNO');
      }
      if (f.OIVN) {
        const orig = getInvoice(d, f.OIVN, 'OIVN');
        if (orig.STAT !== '20' && orig.STAT !== '80')
          throw new MiError(`Invoice ${orig.IVNO} is not released`, 'WIV0301', 'OIVN');
      }
      const inv: Invoice = {
        IVNO: d.next('invoice'),
        IVTP: type,
        CUNO: f.CUNO,
        ORNO: f.ORNO ?? '',
        YRE1: f.YRE1 ?? '',
        IVDT: date8(f, 'IVDT'),
        CUCD: currency(f),
        STAT: '10',
        OIVN: f.OIVN ?? '',
        TX40: f.TX40 ?? '',
        lines: [],
      };
      d.invoices.set(inv.IVNO, inv);
      return [{ IVNO: inv.IVNO }];
    },
    AddLine(d, f) {
      check(f);
      required(f, 'IVNO', 'ITNO', 'IVQT');
      const inv = getInvoice(d, f.IVNO);
      if (inv.STAT !== '10') throw new MiError(`Invoice ${inv.IVNO} is not in status 10`, 'WIV0101', 'IVNO');
      const item = getItem(d, f.ITNO);
      const qty = quantity(f, 'IVQT');
      if (qty <= 0) throw new MiError('IVQT must be greater than zero', 'WQT0102', 'IVQT');
      inv.lines.push({
        LINO: f.LINO || String(inv.lines.length + 1),
        ITNO: item.ITNO,
        IVQT: qtyText(qty),
        SAPR: f.SAPR ? amount(f, 'SAPR', inv.CUCD) : item.SAPR,
        TAXA: amount(f, 'TAXA', inv.CUCD),
      });
      return [{ IVNO: inv.IVNO, LINO: inv.lines[inv.lines.length - 1].LINO }];
    },
    LstLine(d, f, maxrecs) {
      required(f, 'IVNO');
      const inv = getInvoice(d, f.IVNO);
      return page(inv.lines, f, maxrecs).map((l) => ({
        IVNO: inv.IVNO,
        LINO: l.LINO,
        ITNO: l.ITNO,
        IVQT: l.IVQT,
        SAPR: fmt(l.SAPR, inv.CUCD),
        TAXA: fmt(l.TAXA, inv.CUCD),
      }));
    },
    Release(d, f) {
      required(f, 'IVNO');
      const inv = getInvoice(d, f.IVNO);
      if (inv.STAT !== '10') throw new MiError(`Invoice ${inv.IVNO} is not in status 10`, 'WIV0101', 'IVNO');
      if (!inv.lines.length) throw new MiError(`Invoice ${inv.IVNO} has no lines`, 'WIV0102', 'IVNO');
      inv.STAT = '20';
      if (inv.ORNO && inv.IVTP === 'IN') getOrder(d, inv.ORNO).ORST = '77';
      return [{ IVNO: inv.IVNO, STAT: inv.STAT }];
    },
    Get(d, f) {
      required(f, 'IVNO');
      return [invoiceOut(d, getInvoice(d, f.IVNO))];
    },
    LstHead(d, f, maxrecs) {
      required(f, 'CUNO');
      const rows = [...d.invoices.values()].filter(
        (i) => i.CUNO === f.CUNO && (!f.YRE1 || i.YRE1 === f.YRE1) && (!f.IVTP || i.IVTP === f.IVTP),
      );
      return page(rows, f, maxrecs).map((i) => invoiceOut(d, i));
    },
    Cancel(d, f) {
      required(f, 'IVNO');
      const inv = getInvoice(d, f.IVNO);
      if (inv.STAT !== '10')
        throw new MiError(`Invoice ${inv.IVNO} is not in status 10 and cannot be cancelled`, 'WIV0103', 'IVNO');
      inv.STAT = '90';
      return [{ IVNO: inv.IVNO, STAT: inv.STAT }];
    },
    Reverse(d, f) {
      required(f, 'IVNO');
      const inv = getInvoice(d, f.IVNO);
      if (inv.STAT !== '20')
        throw new MiError(`Invoice ${inv.IVNO} is not released and cannot be reversed`, 'WIV0104', 'IVNO');
      const reversal: Invoice = {
        ...inv,
        IVNO: d.next('invoice'),
        IVTP: inv.IVTP === 'IN' ? 'CN' : 'IN',
        YRE1: `REV ${inv.IVNO}`.slice(0, 30),
        IVDT: date8(f, 'IVDT'),
        STAT: '20',
        OIVN: inv.IVNO,
        lines: inv.lines.map((l) => ({ ...l })),
      };
      d.invoices.set(reversal.IVNO, reversal);
      inv.STAT = '80';
      return [{ IVNO: reversal.IVNO, OIVN: inv.IVNO }];
    },
  },
  ARS110MI: {
    AddPayment(d, f) {
      check(f);
      required(f, 'CUNO', 'CINO', 'CUAM');
      getCustomer(d, f.CUNO);
      const inv = getInvoice(d, f.CINO, 'CINO');
      if (inv.CUNO !== f.CUNO)
        throw new MiError(`Invoice ${inv.IVNO} belongs to customer ${inv.CUNO}`, 'WIV0302', 'CINO');
      if (inv.STAT !== '20' || inv.IVTP !== 'IN')
        throw new MiError(`Invoice ${inv.IVNO} is not open for payment`, 'WIV0303', 'CINO');
      const cur = currency(f);
      if (cur !== inv.CUCD)
        throw new MiError(`Currency ${cur} differs from invoice currency ${inv.CUCD}`, 'WCU0304', 'CUCD');
      const value = amount(f, 'CUAM', cur);
      if (value <= 0) throw new MiError('CUAM must be greater than zero', 'WAM0103', 'CUAM');
      const p: Payment = {
        PYNO: d.next('payment'),
        CUNO: f.CUNO,
        CINO: inv.IVNO,
        CUAM: value,
        CUCD: cur,
        PYDT: date8(f, 'PYDT'),
        PYME: f.PYME ?? '',
        VTXT: f.VTXT ?? '',
        PYRF: f.PYRF ?? '',
        STAT: '20',
      };
      d.payments.set(p.PYNO, p);
      return [{ PYNO: p.PYNO }];
    },
    Get(d, f) {
      required(f, 'PYNO');
      return [paymentOut(getPayment(d, f.PYNO))];
    },
    LstPayments(d, f, maxrecs) {
      const rows = [...d.payments.values()]
        .filter(
          (p) =>
            (!f.CINO || p.CINO === f.CINO) &&
            (!f.FDAT || p.PYDT >= f.FDAT) &&
            (!f.TDAT || p.PYDT <= f.TDAT) &&
            (!f.PYNO || p.PYNO >= f.PYNO),
        )
        .sort((a, b) => a.PYNO.localeCompare(b.PYNO));
      return page(rows, f, maxrecs).map(paymentOut);
    },
    Reverse(d, f) {
      required(f, 'PYNO');
      const p = getPayment(d, f.PYNO);
      if (p.STAT === '90') throw new MiError(`Payment ${p.PYNO} is already reversed`, 'WPY0901', 'PYNO');
      p.STAT = '90';
      return [{ PYNO: p.PYNO, STAT: p.STAT }];
    },
  },
  GLS840MI: {
    AddBatchHead(d, f) {
      check(f);
      required(f, 'BTXT');
      const b: GlBatch = { BCHN: d.next('batch'), BTXT: f.BTXT, STAT: '10', VONO: '', lines: [] };
      d.batches.set(b.BCHN, b);
      return [{ BCHN: b.BCHN }];
    },
    AddBatchLine(d, f) {
      check(f);
      required(f, 'BCHN', 'AIT1', 'CUAM');
      const b = getBatch(d, f.BCHN);
      if (b.STAT !== '10') throw new MiError(`Batch ${b.BCHN} is already updated`, 'WBC0901', 'BCHN');
      if (!d.accounts.has(f.AIT1)) throw new MiError(`Account ${f.AIT1} does not exist`, 'WAI0103', 'AIT1');
      const cur = currency(f);
      const line: BatchLine = {
        LINE: b.lines.length + 1,
        AIT: [1, 2, 3, 4, 5, 6, 7].map((i) => f[`AIT${i}`] ?? ''),
        CUAM: amount(f, 'CUAM', cur, { allowNegative: true }),
        CUCD: cur,
        ACDT: date8(f, 'ACDT'),
        VTXT: f.VTXT ?? '',
      };
      b.lines.push(line);
      return [{ BCHN: b.BCHN, LINE: String(line.LINE) }];
    },
    UpdBatch(d, f) {
      required(f, 'BCHN');
      const b = getBatch(d, f.BCHN);
      if (b.STAT !== '10') throw new MiError(`Batch ${b.BCHN} is already updated`, 'WBC0901', 'BCHN');
      if (!b.lines.length) throw new MiError(`Batch ${b.BCHN} has no lines`, 'WBC0102', 'BCHN');
      const byCurrency = new Map<string, number>();
      for (const l of b.lines) byCurrency.set(l.CUCD, (byCurrency.get(l.CUCD) ?? 0) + l.CUAM);
      for (const [cur, diff] of byCurrency) {
        if (diff !== 0)
          throw new MiError(`Batch ${b.BCHN} is not balanced, difference ${fmt(diff, cur)} ${cur}`, 'WBC0103', 'BCHN');
      }
      b.STAT = '90';
      b.VONO = d.next('voucher');
      return [{ BCHN: b.BCHN, VONO: b.VONO }];
    },
    LstBatchHead(d, f, maxrecs) {
      const rows = [...d.batches.values()].filter(
        (b) => (!f.BTXT || b.BTXT === f.BTXT) && (!f.BCHN || b.BCHN === f.BCHN),
      );
      return page(rows, f, maxrecs).map(batchOut);
    },
    LstBatchLine(d, f, maxrecs) {
      required(f, 'BCHN');
      const b = getBatch(d, f.BCHN);
      return page(b.lines, f, maxrecs).map((l) => ({
        BCHN: b.BCHN,
        LINE: String(l.LINE),
        ...Object.fromEntries(l.AIT.map((v, i) => [`AIT${i + 1}`, v])),
        CUAM: fmt(l.CUAM, l.CUCD),
        CUCD: l.CUCD,
        ACDT: l.ACDT,
        VTXT: l.VTXT,
      }));
    },
  },
  MMS200MI: {
    Get(d, f) {
      required(f, 'ITNO');
      return [itemOut(getItem(d, f.ITNO))];
    },
    LstItmByItm(d, f, maxrecs) {
      const rows = [...d.items.values()]
        .filter((i) => i.ITNO >= (f.ITNO ?? ''))
        .sort((a, b) => a.ITNO.localeCompare(b.ITNO));
      return page(rows, f, maxrecs).map(itemOut);
    },
  },
  MMS005MI: {
    LstWarehouses(d) {
      return [...d.warehouses.entries()].map(([WHLO, WHNM]) => ({ WHLO, WHNM }));
    },
  },
  MMS060MI: {
    LstBalID(d, f, maxrecs) {
      required(f, 'WHLO');
      if (!d.warehouses.has(f.WHLO)) throw new MiError(`Warehouse ${f.WHLO} does not exist`, 'WWH0203', 'WHLO');
      const rows = [...d.balances.entries()]
        .map(([k, q]) => ({ key: k.split('|'), q }))
        .filter(({ key }) => key[0] === f.WHLO && (!f.ITNO || key[1] === f.ITNO))
        .sort((a, b) => a.key[1].localeCompare(b.key[1]));
      return page(rows, f, maxrecs).map(({ key, q }) => ({
        WHLO: key[0],
        ITNO: key[1],
        WHSL: 'MAIN',
        BANO: '',
        STQT: qtyText(q),
      }));
    },
  },
  MMS850MI: {
    AddAdjust(d, f) {
      check(f);
      required(f, 'WHLO', 'ITNO', 'QLQT');
      if (!d.warehouses.has(f.WHLO)) throw new MiError(`Warehouse ${f.WHLO} does not exist`, 'WWH0203', 'WHLO');
      if (getItem(d, f.ITNO).STCD !== '1')
        throw new MiError(`Item ${f.ITNO} is not inventory accounted`, 'WIT0301', 'ITNO');
      const delta = quantity(f, 'QLQT');
      const key = `${f.WHLO}|${f.ITNO}`;
      d.balances.set(key, Math.round(((d.balances.get(key) ?? 0) + delta) * 1e6) / 1e6);
      d.stockTransactions.push({
        TTYP: '90',
        ITNO: f.ITNO,
        WHLO: f.WHLO,
        TRQT: qtyText(delta),
        REMK: f.REMK ?? '',
        RGDT: new Date().toISOString().slice(0, 10).replace(/-/g, ''),
      });
      return [];
    },
  },
  MWS070MI: {
    LstTransByItem(d, f, maxrecs) {
      required(f, 'ITNO');
      const rows = d.stockTransactions.filter((t) => t.ITNO === f.ITNO && (!f.WHLO || t.WHLO === f.WHLO));
      return page(rows, f, maxrecs).map((t) => ({ ...t }));
    },
  },
};

function itemOut(i: Item): MiRecord {
  return {
    ITNO: i.ITNO,
    ITDS: i.ITDS,
    UNMS: i.UNMS,
    STAT: i.STAT,
    SAPR: fmt(i.SAPR, i.CUCD),
    CUCD: i.CUCD,
    STCD: i.STCD,
  };
}

/**
 * Seeds customers (with near-duplicates), items with stock at MAIN, the SHIPPING service item (price 0, no balance)
 * and the chart of accounts (4999 and 6199 missing).
 */
export function seedM3(d: M3Data): void {
  const customers: Partial<Customer>[] = [
    {
      CUNO: 'C1001',
      CUNM: 'Jane Doe',
      MAIL: 'jane.doe@example.com',
      PHNO: '(555) 010-2000',
      TOWN: 'Portland',
      YREF: 'heartland:C1001',
    },
    { CUNO: 'C1002', CUNM: 'Jane M Doe', MAIL: 'JANE.DOE@EXAMPLE.COM', PHNO: '555-010-2000', TOWN: 'Portland' },
    { CUNO: 'C1003', CUNM: 'Robert Smith', MAIL: 'rsmith@example.com', PHNO: '+1 555 010 3000', TOWN: 'Seattle' },
    { CUNO: 'C1004', CUNM: 'Bob Smith', MAIL: 'bob.smith@example.org', PHNO: '555.010.3000', TOWN: 'Seattle' },
    { CUNO: 'C1005', CUNM: 'Acme Outfitters', MAIL: 'ap@acme.example', PHNO: '555-010-4000', TOWN: 'Austin' },
  ];
  for (const c of customers) {
    const full = {
      CUA1: '',
      CUA2: '',
      CUA3: '',
      CUA4: '',
      CSCD: 'US',
      PONO: '',
      ECAR: '',
      YREF: '',
      STAT: '20',
      ...c,
    } as Customer;
    d.customers.set(full.CUNO, full);
  }
  const items: [string, string, number, number][] = [
    ['SKU-1001', 'Trail Runner Shoe', 8999, 120],
    ['SKU-1002', 'Wool Socks', 1599, 340],
    ['SKU-1003', 'Rain Jacket', 12900, 45],
    ['SKU-1004', 'Water Bottle', 2499, 210],
    ['SKU-1005', 'Headlamp', 3450, 60],
  ];
  d.warehouses.set('MAIN', 'Main warehouse');
  for (const [ITNO, ITDS, SAPR, onHand] of items) {
    d.items.set(ITNO, { ITNO, ITDS, UNMS: 'EA', STAT: '20', SAPR, CUCD: 'USD', STCD: '1' });
    d.balances.set(`MAIN|${ITNO}`, onHand);
  }
  d.items.set('SHIPPING', {
    ITNO: 'SHIPPING',
    ITDS: 'Shipping',
    UNMS: 'EA',
    STAT: '20',
    SAPR: 0,
    CUCD: 'USD',
    STCD: '0',
  });
  d.items.set('REFUND', {
    ITNO: 'REFUND',
    ITDS: 'Refund adjustment',
    UNMS: 'EA',
    STAT: '20',
    SAPR: 0,
    CUCD: 'USD',
    STCD: '0',
  });
  for (const a of ['1010', '1030', '1200', '1999', '2100', '2110', '2200', '4000', '4010', '6000', '6100'])
    d.accounts.add(a);
}
