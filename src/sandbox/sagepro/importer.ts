import { invoiceBalance, type SpInvoice, type SpJournalLine, type SpLine, type SpState } from './state';

/**
 * The Sage Pro import routines the simulator plays: one layout per module, each row a record, validated in full
 * before anything is applied. A batch is all or nothing: any error rejects the whole batch.
 */

// prettier-ignore
export const LAYOUTS = {
  CU: [
    'ACTION', 'CUSTNO', 'COMPANY', 'CONTACT', 'EMAIL', 'PHONE', 'ADDRESS1', 'ADDRESS2', 'CITY', 'STATE', 'ZIP',
    'COUNTRY', 'EXTREF',
  ],
  SO: [
    'ACTION', 'REFNO', 'SONO', 'CUSTNO', 'PONUM', 'ORDDATE', 'LINENO', 'ITEM', 'DESCRIP', 'QTYORD', 'PRICE', 'TAXAMT',
    'EXTAMT',
  ],
  AR: [
    'ACTION', 'REFNO', 'INVNO', 'DOCTYPE', 'CUSTNO', 'SONO', 'APPLYTO', 'INVDATE', 'LINENO', 'ITEM', 'DESCRIP', 'QTY',
    'PRICE', 'TAXAMT', 'EXTAMT', 'REASON',
  ],
  CR: ['ACTION', 'REFNO', 'RECEIPTNO', 'CUSTNO', 'INVNO', 'PAYDATE', 'AMOUNT', 'PAYCODE', 'CHECKNO'],
  GL: ['ACTION', 'REFNO', 'JOURNALNO', 'SOURCE', 'JEDATE', 'MEMO', 'LINENO', 'GLACCT', 'DEBIT', 'CREDIT', 'DESCRIP'],
  IC: ['ACTION', 'REFNO', 'LINENO', 'ITEM', 'LOCTID', 'QTY', 'TRANDATE'],
} as const;

export type BatchType = keyof typeof LAYOUTS;

/** The column whose sum is the batch's control total (CU batches carry a count only: their total is 0.00). */
export const TOTAL_COLUMN: Record<BatchType, string | null> = {
  CU: null,
  SO: 'EXTAMT',
  AR: 'EXTAMT',
  CR: 'AMOUNT',
  GL: 'DEBIT',
  IC: 'QTY',
};

export const ACK_COLUMNS = ['BATCHID', 'RECNO', 'ACTION', 'REFNO', 'DOCNO', 'STATUS'] as const;
export const ERROR_COLUMNS = ['BATCHID', 'RECNO', 'FIELD', 'CODE', 'MESSAGE'] as const;

export type Row = Record<string, string>;
export interface ImportError {
  recno: number;
  field: string;
  code: string;
  message: string;
}
export interface AckRow {
  recno: number;
  action: string;
  refno: string;
  docno: string;
}

/** Parses a decimal with at most two places into minor units; null when malformed. */
export function parseAmount(v: string): number | null {
  const m = /^(-)?(\d+)(?:\.(\d{1,2}))?$/.exec(v.trim());
  if (!m) return null;
  const minor = Number(m[2]) * 100 + Number((m[3] ?? '').padEnd(2, '0'));
  return m[1] ? -minor : minor;
}

/** Minor units as a decimal with two places (`-12.05`). */
export function formatAmount(minor: number): string {
  const neg = minor < 0;
  const d = String(Math.abs(minor)).padStart(3, '0');
  return `${neg ? '-' : ''}${d.slice(0, -2)}.${d.slice(-2)}`;
}

/** Checks MM/DD/YYYY and that the day exists. */
export function validDate(v: string): boolean {
  const m = /^(\d{2})\/(\d{2})\/(\d{4})$/.exec(v);
  if (!m) return false;
  const [mo, d, y] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const dt = new Date(Date.UTC(y, mo - 1, d));
  return dt.getUTCFullYear() === y && dt.getUTCMonth() === mo - 1 && dt.getUTCDate() === d;
}

export const todaySage = () => {
  const d = new Date();
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getMonth() + 1)}/${p(d.getDate())}/${d.getFullYear()}`;
};

class Checker {
  readonly errors: ImportError[] = [];

  err(recno: number, field: string, code: string, message: string): void {
    this.errors.push({ recno, field, code, message });
  }

  req(row: Row, recno: number, field: string): string {
    const v = (row[field] ?? '').trim();
    if (!v) this.err(recno, field, 'MISSING_FIELD', `${field} is required`);
    return v;
  }

  date(row: Row, recno: number, field: string): string {
    const v = (row[field] ?? '').trim();
    if (!validDate(v)) this.err(recno, field, 'BAD_DATE', `invalid date '${v}' in ${field}: expected MM/DD/YYYY`);
    return v;
  }

  amount(row: Row, recno: number, field: string, required = true): number {
    const v = (row[field] ?? '').trim();
    if (!v && !required) return 0;
    const a = parseAmount(v);
    if (a === null) {
      this.err(recno, field, 'BAD_AMOUNT', `invalid amount '${v}' in ${field}`);
      return 0;
    }
    return a;
  }

  int(row: Row, recno: number, field: string): number {
    const v = (row[field] ?? '').trim();
    if (!/^-?\d+$/.test(v)) {
      this.err(recno, field, 'BAD_NUMBER', `invalid whole number '${v}' in ${field}`);
      return 0;
    }
    return Number(v);
  }
}

const pad = (n: number) => String(n).padStart(5, '0');

function next(state: SpState, k: keyof SpState['seq'], prefix: string): string {
  return `${prefix}${pad(++state.seq[k])}`;
}

/** Groups consecutive rows of an add action by REFNO: one document per group. */
function groups(rows: { row: Row; recno: number }[]): { refno: string; items: { row: Row; recno: number }[] }[] {
  const out: { refno: string; items: { row: Row; recno: number }[] }[] = [];
  for (const r of rows) {
    const refno = (r.row.REFNO ?? '').trim();
    const last = out.at(-1);
    if (last && last.refno === refno) last.items.push(r);
    else out.push({ refno, items: [r] });
  }
  return out;
}

function docLines(state: SpState, c: Checker, items: { row: Row; recno: number }[], qtyField: string): SpLine[] {
  return items.map(({ row, recno }, i) => {
    const item = c.req(row, recno, 'ITEM');
    if (item && !state.items.some((x) => x.ITEM === item)) {
      c.err(recno, 'ITEM', 'UNKNOWN_ITEM', `item ${item} is not in inventory`);
    }
    const qty = c.int(row, recno, qtyField);
    if (qty <= 0) c.err(recno, qtyField, 'BAD_NUMBER', `${qtyField} must be greater than zero`);
    const price = c.amount(row, recno, 'PRICE');
    const tax = c.amount(row, recno, 'TAXAMT', false);
    const ext = c.amount(row, recno, 'EXTAMT');
    if (ext !== qty * price + tax) {
      c.err(recno, 'EXTAMT', 'BAD_EXTENSION', `EXTAMT ${formatAmount(ext)} is not ${qtyField} x PRICE + TAXAMT`);
    }
    const lineNo = (row.LINENO ?? '').trim();
    return {
      LINENO: /^\d+$/.test(lineNo) ? Number(lineNo) : i + 1,
      ITEM: item,
      DESCRIP: (row.DESCRIP ?? '').trim(),
      QTY: qty,
      PRICE: price,
      TAXAMT: tax,
    };
  });
}

function customerExists(state: SpState, c: Checker, recno: number, custno: string): void {
  if (custno && !state.customers.some((x) => x.CUSTNO === custno)) {
    c.err(recno, 'CUSTNO', 'UNKNOWN_CUSTOMER', `customer ${custno} does not exist`);
  }
}

/**
 * Validates every record and applies the batch to `state` (a copy: the caller discards it on errors). Returns the
 * errors, or the ack rows (one per document, or per record for IC).
 */
export function importBatch(state: SpState, type: BatchType, rows: Row[]): { errors: ImportError[]; acks: AckRow[] } {
  const c = new Checker();
  const acks: AckRow[] = [];
  const numbered = rows.map((row, i) => ({ row, recno: i + 1 }));
  const valid = new Set(ACTIONS[type]);
  for (const { row, recno } of numbered) {
    const a = (row.ACTION ?? '').trim();
    if (!valid.has(a)) c.err(recno, 'ACTION', 'BAD_ACTION', `action '${a}' is not one of ${[...valid].join(', ')}`);
  }
  if (c.errors.length) return { errors: c.errors, acks };
  const adds = numbered.filter((r) => r.row.ACTION.trim() === 'A');
  const others = numbered.filter((r) => r.row.ACTION.trim() !== 'A');
  IMPORTERS[type](state, c, adds, others, acks);
  return { errors: c.errors, acks };
}

const ACTIONS: Record<BatchType, string[]> = {
  CU: ['A', 'U'],
  SO: ['A', 'X'],
  AR: ['A', 'P', 'V', 'X'],
  CR: ['A', 'V'],
  GL: ['A', 'V'],
  IC: ['A'],
};

type Numbered = { row: Row; recno: number }[];
type Importer = (state: SpState, c: Checker, adds: Numbered, others: Numbered, acks: AckRow[]) => void;

/** The customer fields besides CUSTNO: what a CU record sets and what the customers export lists. */
export const CUSTOMER_FIELDS = [
  'COMPANY',
  'CONTACT',
  'EMAIL',
  'PHONE',
  'ADDRESS1',
  'ADDRESS2',
  'CITY',
  'STATE',
  'ZIP',
  'COUNTRY',
  'EXTREF',
] as const;

const IMPORTERS: Record<BatchType, Importer> = {
  CU(state, c, adds, others, acks) {
    for (const { row, recno } of [...adds, ...others].sort((a, b) => a.recno - b.recno)) {
      const email = (row.EMAIL ?? '').trim();
      if (email && !/^[^@\s]+@[^@\s]+$/.test(email)) c.err(recno, 'EMAIL', 'BAD_EMAIL', `invalid e-mail '${email}'`);
      if (row.ACTION.trim() === 'A') {
        const company = c.req(row, recno, 'COMPANY');
        let custno = (row.CUSTNO ?? '').trim();
        if (custno && state.customers.some((x) => x.CUSTNO === custno)) {
          c.err(recno, 'CUSTNO', 'DUPLICATE', `customer ${custno} already exists`);
        }
        custno ||= next(state, 'cust', 'C');
        const rec = { CUSTNO: custno, COMPANY: company } as Record<string, string>;
        for (const f of CUSTOMER_FIELDS) if (f !== 'COMPANY') rec[f] = (row[f] ?? '').trim();
        state.customers.push(rec as unknown as SpState['customers'][number]);
        acks.push({ recno, action: 'A', refno: rec.EXTREF, docno: custno });
      } else {
        const custno = c.req(row, recno, 'CUSTNO');
        const existing = state.customers.find((x) => x.CUSTNO === custno);
        if (!existing) {
          if (custno) c.err(recno, 'CUSTNO', 'UNKNOWN_CUSTOMER', `customer ${custno} does not exist`);
          continue;
        }
        // An update keeps the fields the file leaves blank.
        for (const f of CUSTOMER_FIELDS) if ((row[f] ?? '').trim()) existing[f] = row[f].trim();
        acks.push({ recno, action: 'U', refno: existing.EXTREF, docno: custno });
      }
    }
  },

  SO(state, c, adds, others, acks) {
    for (const g of groups(adds)) {
      const { row, recno } = g.items[0];
      if (!g.refno) c.err(recno, 'REFNO', 'MISSING_FIELD', 'REFNO is required');
      const custno = c.req(row, recno, 'CUSTNO');
      customerExists(state, c, recno, custno);
      const date = c.date(row, recno, 'ORDDATE');
      const lines = docLines(state, c, g.items, 'QTYORD');
      const sono = next(state, 'so', 'S');
      state.orders.push({
        SONO: sono,
        REFNO: g.refno,
        CUSTNO: custno,
        PONUM: (row.PONUM ?? '').trim(),
        ORDDATE: date,
        STATUS: 'OPEN',
        lines,
      });
      acks.push({ recno, action: 'A', refno: g.refno, docno: sono });
    }
    for (const { row, recno } of others) {
      const sono = c.req(row, recno, 'SONO');
      const o = state.orders.find((x) => x.SONO === sono);
      if (!o) {
        if (sono) c.err(recno, 'SONO', 'UNKNOWN_DOCUMENT', `sales order ${sono} does not exist`);
        continue;
      }
      if (o.STATUS === 'INVOICED')
        c.err(recno, 'SONO', 'INVALID_STATUS', `sales order ${sono} is invoiced and cannot be cancelled`);
      else o.STATUS = 'CANCELLED';
      acks.push({ recno, action: 'X', refno: o.REFNO, docno: sono });
    }
  },

  AR(state, c, adds, others, acks) {
    for (const g of groups(adds)) {
      const { row, recno } = g.items[0];
      if (!g.refno) c.err(recno, 'REFNO', 'MISSING_FIELD', 'REFNO is required');
      const doctype = (row.DOCTYPE ?? '').trim();
      if (doctype !== 'I' && doctype !== 'C')
        c.err(recno, 'DOCTYPE', 'BAD_VALUE', `DOCTYPE '${doctype}' is not I or C`);
      const custno = c.req(row, recno, 'CUSTNO');
      customerExists(state, c, recno, custno);
      const date = c.date(row, recno, 'INVDATE');
      const sono = (row.SONO ?? '').trim();
      const order = sono ? state.orders.find((o) => o.SONO === sono) : undefined;
      if (sono && !order) c.err(recno, 'SONO', 'UNKNOWN_DOCUMENT', `sales order ${sono} does not exist`);
      if (order && order.STATUS === 'CANCELLED')
        c.err(recno, 'SONO', 'INVALID_STATUS', `sales order ${sono} is cancelled`);
      const applyTo = (row.APPLYTO ?? '').trim();
      if (applyTo && !state.invoices.some((i) => i.INVNO === applyTo && i.DOCTYPE === 'I')) {
        c.err(recno, 'APPLYTO', 'UNKNOWN_DOCUMENT', `invoice ${applyTo} does not exist`);
      }
      const reason = (row.REASON ?? '').trim();
      if (doctype === 'C' && !reason) c.err(recno, 'REASON', 'MISSING_FIELD', 'REASON is required for a credit memo');
      const lines = docLines(state, c, g.items, 'QTY');
      const invno = doctype === 'C' ? next(state, 'cm', 'M') : next(state, 'inv', 'I');
      state.invoices.push({
        INVNO: invno,
        REFNO: g.refno,
        DOCTYPE: doctype === 'C' ? 'C' : 'I',
        CUSTNO: custno,
        SONO: sono,
        APPLYTO: applyTo,
        INVDATE: date,
        REASON: reason,
        STATUS: 'UNPOSTED',
        lines,
      });
      if (order) order.STATUS = 'INVOICED';
      acks.push({ recno, action: 'A', refno: g.refno, docno: invno });
    }
    for (const { row, recno } of others) {
      const action = row.ACTION.trim();
      const invno = c.req(row, recno, 'INVNO');
      const inv = state.invoices.find((x) => x.INVNO === invno);
      if (!inv) {
        if (invno) c.err(recno, 'INVNO', 'UNKNOWN_DOCUMENT', `document ${invno} does not exist`);
        continue;
      }
      const bad = (why: string) => c.err(recno, 'INVNO', 'INVALID_STATUS', `document ${invno} ${why}`);
      if (action === 'P') {
        if (inv.STATUS === 'VOID' || inv.STATUS === 'CANCELLED')
          bad(`is ${inv.STATUS.toLowerCase()} and cannot be posted`);
        else inv.STATUS = 'POSTED';
      } else if (action === 'V') {
        if (inv.DOCTYPE !== 'I') bad('is not an invoice');
        else if (inv.STATUS === 'VOID') {
          // already void: nothing to do
        } else if (state.receipts.some((r) => r.INVNO === invno && r.STATUS === 'APPLIED')) {
          bad('has applied cash receipts; void them first');
        } else inv.STATUS = 'VOID';
      } else if (action === 'X') {
        if (inv.DOCTYPE !== 'C') bad('is not a credit memo');
        else if (inv.STATUS === 'POSTED') bad('is posted and cannot be cancelled');
        else inv.STATUS = 'CANCELLED';
      }
      acks.push({ recno, action, refno: inv.REFNO, docno: invno });
    }
  },

  CR(state, c, adds, others, acks) {
    for (const { row, recno } of adds) {
      const refno = c.req(row, recno, 'REFNO');
      const custno = c.req(row, recno, 'CUSTNO');
      customerExists(state, c, recno, custno);
      const invno = c.req(row, recno, 'INVNO');
      const inv: SpInvoice | undefined = state.invoices.find((i) => i.INVNO === invno && i.DOCTYPE === 'I');
      const date = c.date(row, recno, 'PAYDATE');
      const amount = c.amount(row, recno, 'AMOUNT');
      if (invno && !inv) c.err(recno, 'INVNO', 'UNKNOWN_DOCUMENT', `invoice ${invno} does not exist`);
      if (inv && inv.CUSTNO !== custno)
        c.err(recno, 'INVNO', 'BAD_VALUE', `invoice ${invno} belongs to customer ${inv.CUSTNO}`);
      if (inv && inv.STATUS !== 'POSTED') c.err(recno, 'INVNO', 'INVALID_STATUS', `invoice ${invno} is not posted`);
      if (amount <= 0) c.err(recno, 'AMOUNT', 'BAD_AMOUNT', 'AMOUNT must be greater than zero');
      if (inv && amount > invoiceBalance(state, inv)) {
        c.err(recno, 'AMOUNT', 'OVERPAYMENT', `AMOUNT exceeds the balance of invoice ${invno}`);
      }
      const paycode = c.req(row, recno, 'PAYCODE');
      if (paycode && !state.payCodes.includes(paycode))
        c.err(recno, 'PAYCODE', 'BAD_VALUE', `unknown pay code ${paycode}`);
      const rcpt = next(state, 'rcpt', 'R');
      state.receipts.push({
        RECEIPTNO: rcpt,
        REFNO: refno,
        CUSTNO: custno,
        INVNO: invno,
        PAYDATE: date,
        AMOUNT: amount,
        PAYCODE: paycode,
        CHECKNO: (row.CHECKNO ?? '').trim(),
        STATUS: 'APPLIED',
      });
      acks.push({ recno, action: 'A', refno, docno: rcpt });
    }
    for (const { row, recno } of others) {
      const no = c.req(row, recno, 'RECEIPTNO');
      const r = state.receipts.find((x) => x.RECEIPTNO === no);
      if (!r) {
        if (no) c.err(recno, 'RECEIPTNO', 'UNKNOWN_DOCUMENT', `receipt ${no} does not exist`);
        continue;
      }
      r.STATUS = 'VOID';
      acks.push({ recno, action: 'V', refno: r.REFNO, docno: no });
    }
  },

  GL(state, c, adds, others, acks) {
    for (const g of groups(adds)) {
      const { row, recno } = g.items[0];
      if (!g.refno) c.err(recno, 'REFNO', 'MISSING_FIELD', 'REFNO is required');
      const date = c.date(row, recno, 'JEDATE');
      const lines: SpJournalLine[] = g.items.map(({ row: r, recno: n }, i) => {
        const acct = c.req(r, n, 'GLACCT');
        if (acct && !state.glAccounts.some((a) => a.GLACCT === acct)) {
          c.err(n, 'GLACCT', 'GL_ACCOUNT_NOT_FOUND', `GL account ${acct} is not in the chart of accounts`);
        }
        const debit = c.amount(r, n, 'DEBIT', false);
        const credit = c.amount(r, n, 'CREDIT', false);
        if (debit < 0 || credit < 0 || debit > 0 === credit > 0) {
          c.err(n, 'DEBIT', 'BAD_AMOUNT', 'exactly one of DEBIT and CREDIT must be positive');
        }
        return { LINENO: i + 1, GLACCT: acct, DEBIT: debit, CREDIT: credit, DESCRIP: (r.DESCRIP ?? '').trim() };
      });
      const dr = lines.reduce((a, l) => a + l.DEBIT, 0);
      const cr = lines.reduce((a, l) => a + l.CREDIT, 0);
      if (dr !== cr) {
        c.err(
          recno,
          'DEBIT',
          'UNBALANCED',
          `journal ${g.refno} is out of balance: debits ${formatAmount(dr)}, credits ${formatAmount(cr)}`,
        );
      }
      const jno = next(state, 'je', 'J');
      state.journals.push({
        JOURNALNO: jno,
        REFNO: g.refno,
        SOURCE: (row.SOURCE ?? '').trim() || 'GJ',
        JEDATE: date,
        MEMO: (row.MEMO ?? '').trim(),
        STATUS: 'POSTED',
        REVERSES: '',
        lines,
      });
      acks.push({ recno, action: 'A', refno: g.refno, docno: jno });
    }
    for (const { row, recno } of others) {
      const no = c.req(row, recno, 'JOURNALNO');
      const j = state.journals.find((x) => x.JOURNALNO === no);
      if (!j) {
        if (no) c.err(recno, 'JOURNALNO', 'UNKNOWN_DOCUMENT', `journal ${no} does not exist`);
        continue;
      }
      if (j.REVERSES) {
        c.err(recno, 'JOURNALNO', 'INVALID_STATUS', `journal ${no} is itself a reversal`);
        continue;
      }
      if (j.STATUS !== 'REVERSED') {
        j.STATUS = 'REVERSED';
        state.journals.push({
          ...j,
          JOURNALNO: next(state, 'je', 'J'),
          JEDATE: todaySage(),
          MEMO: `Reversal of ${no}`,
          STATUS: 'POSTED',
          REVERSES: no,
          lines: j.lines.map((l) => ({ ...l, DEBIT: l.CREDIT, CREDIT: l.DEBIT })),
        });
      }
      acks.push({ recno, action: 'V', refno: j.REFNO, docno: no });
    }
  },

  IC(state, c, adds, _others, acks) {
    for (const { row, recno } of adds) {
      const refno = c.req(row, recno, 'REFNO');
      const item = c.req(row, recno, 'ITEM');
      const known = state.items.find((x) => x.ITEM === item);
      if (item && !known) c.err(recno, 'ITEM', 'UNKNOWN_ITEM', `item ${item} is not in inventory`);
      if (known?.STOCKED === 'N') c.err(recno, 'ITEM', 'NOT_STOCKED', `item ${item} is a service item without stock`);
      const loc = c.req(row, recno, 'LOCTID');
      if (loc && !state.locations.includes(loc)) c.err(recno, 'LOCTID', 'BAD_VALUE', `location ${loc} does not exist`);
      const qty = c.int(row, recno, 'QTY');
      if (qty === 0) c.err(recno, 'QTY', 'BAD_NUMBER', 'QTY must not be zero');
      const date = c.date(row, recno, 'TRANDATE');
      let oh = state.onhand.find((x) => x.ITEM === item && x.LOCTID === loc);
      if ((oh?.ONHAND ?? 0) + qty < 0) {
        c.err(recno, 'QTY', 'NEGATIVE_ONHAND', `on hand of ${item} at ${loc} would go below zero`);
      }
      if (!oh) {
        oh = { ITEM: item, LOCTID: loc, ONHAND: 0 };
        state.onhand.push(oh);
      }
      oh.ONHAND += qty;
      const tran = next(state, 'ic', 'T');
      const lineNo = (row.LINENO ?? '').trim();
      state.ictrans.push({
        TRANNO: tran,
        REFNO: refno,
        LINENO: /^\d+$/.test(lineNo) ? Number(lineNo) : recno,
        ITEM: item,
        LOCTID: loc,
        QTY: qty,
        TRANDATE: date,
      });
      acks.push({ recno, action: 'A', refno, docno: tran });
    }
  },
};
