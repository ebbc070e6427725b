import { z } from 'zod';
import { openBalance, today, type P21DocLine, type P21JournalLine, type P21State, type YN } from './state';

/**
 * The P21 Transaction API services the simulator knows, each with its windows (DataElements) and their columns.
 * A transaction either passes as a whole or fails as a whole: every handler validates before it changes state.
 */

const editValue = z.union([z.string(), z.number(), z.boolean(), z.null()]);

export const transactionSetSchema = z.object({
  Name: z.string().min(1),
  UseCodeValues: z.boolean().optional(),
  IgnoreDisabled: z.boolean().optional(),
  Transactions: z
    .array(
      z.object({
        Status: z.string().default('New'),
        DataElements: z.array(
          z.object({
            Name: z.string().min(1),
            Type: z.enum(['Form', 'List']),
            Keys: z.array(z.string()).default([]),
            Rows: z.array(z.object({ Edits: z.array(z.object({ Name: z.string().min(1), Value: editValue })) })),
          }),
        ),
      }),
    )
    .min(1),
});

export type TransactionSet = z.infer<typeof transactionSetSchema>;
export type Transaction = TransactionSet['Transactions'][number];
export type DataElement = Transaction['DataElements'][number];

/** A business-rule failure of one transaction; its message goes to the response's Messages. */
export class TxError extends Error {}

type Edits = Record<string, string | null>;

interface ElementSpec {
  type: 'Form' | 'List';
  columns: readonly string[];
}

interface ServiceSpec {
  elements: Record<string, ElementSpec>;
  /** Validates and applies one transaction; returns the key edits to echo back into the form row. */
  apply(state: P21State, tx: ParsedTx): Edits;
}

class ParsedTx {
  constructor(
    private readonly service: string,
    private readonly specs: Record<string, ElementSpec>,
    private readonly tx: Transaction,
  ) {
    for (const el of tx.DataElements) {
      const spec = specs[el.Name];
      if (!spec) throw new TxError(`DataElement '${el.Name}' does not exist in the ${service} window`);
      if (spec.type !== el.Type) throw new TxError(`DataElement '${el.Name}' is a ${spec.type}, not a ${el.Type}`);
      for (const row of el.Rows) {
        for (const e of row.Edits) {
          if (!spec.columns.includes(e.Name)) throw new TxError(`Column '${e.Name}' does not exist in ${el.Name}`);
        }
      }
    }
  }

  form(name: string): Edits {
    const el = this.tx.DataElements.find((d) => d.Name === name);
    if (!el || el.Rows.length === 0) throw new TxError(`DataElement '${name}' is required`);
    return toEdits(el.Rows[0].Edits);
  }

  list(name: string): Edits[] {
    const el = this.tx.DataElements.find((d) => d.Name === name);
    return el ? el.Rows.map((r) => toEdits(r.Edits)) : [];
  }
}

function toEdits(edits: { Name: string; Value: string | number | boolean | null }[]): Edits {
  const out: Edits = {};
  for (const e of edits) out[e.Name] = e.Value === null ? null : String(e.Value);
  return out;
}

function req(e: Edits, name: string, where: string): string {
  const v = e[name];
  if (v === undefined || v === null || v.trim() === '') throw new TxError(`${where}: ${name} is required`);
  return v.trim();
}

function opt(e: Edits, name: string): string | null {
  const v = e[name];
  return v === undefined || v === null || v.trim() === '' ? null : v.trim();
}

function yn(e: Edits, name: string, where: string): YN | null {
  const v = opt(e, name);
  if (v === null) return null;
  if (v !== 'Y' && v !== 'N') throw new TxError(`${where}: invalid value '${v}' for ${name} (Y or N)`);
  return v;
}

/** Parses a decimal amount into minor units (2 decimals, USD/EUR-like currencies only in the simulator). */
function amount(e: Edits, name: string, where: string, required = true): number {
  const v = required ? req(e, name, where) : (opt(e, name) ?? '0');
  const m = /^(-)?(\d+)(?:\.(\d{1,2}))?$/.exec(v);
  if (!m) throw new TxError(`${where}: invalid value '${v}' for ${name}`);
  const minor = Number(m[2]) * 100 + Number((m[3] ?? '').padEnd(2, '0'));
  return m[1] ? -minor : minor;
}

function quantity(e: Edits, name: string, where: string): number {
  const v = req(e, name, where);
  if (!/^-?\d+(\.0+)?$/.test(v)) throw new TxError(`${where}: invalid value '${v}' for ${name}`);
  return Number(v);
}

/** Accepts `YYYY-MM-DD`, `YYYY-MM-DDTHH:mm:ss` and `MM/DD/YYYY`; rejects impossible calendar dates. */
function date(e: Edits, name: string, where: string, required = false): string {
  const v = required ? req(e, name, where) : opt(e, name);
  if (v === null) return today();
  let y: number, mo: number, d: number;
  const iso = /^(\d{4})-(\d{2})-(\d{2})(T\d{2}:\d{2}(:\d{2})?)?$/.exec(v);
  const us = /^(\d{2})\/(\d{2})\/(\d{4})$/.exec(v);
  if (iso) [y, mo, d] = [Number(iso[1]), Number(iso[2]), Number(iso[3])];
  else if (us) [y, mo, d] = [Number(us[3]), Number(us[1]), Number(us[2])];
  else throw new TxError(`${where}: invalid date '${v}' for ${name}`);
  const dt = new Date(Date.UTC(y, mo - 1, d));
  if (dt.getUTCFullYear() !== y || dt.getUTCMonth() !== mo - 1 || dt.getUTCDate() !== d) {
    throw new TxError(`${where}: invalid date '${v}' for ${name}`);
  }
  return `${dt.toISOString().slice(0, 10)}T00:00:00`;
}

function currency(e: Edits, where: string): string {
  const c = opt(e, 'CurrencyID') ?? 'USD';
  if (c !== 'USD') throw new TxError(`${where}: currency '${c}' is not set up for this company (USD only)`);
  return c;
}

function customerOf(state: P21State, id: string, where: string) {
  const c = state.customers.find((x) => x.CustomerID === id && x.DeleteFlag === 'N');
  if (!c) throw new TxError(`${where}: Customer ID ${id} is invalid`);
  return c;
}

const DOC_LINE_COLUMNS = ['PartNum', 'Quantity', 'UnitPrice', 'TaxAmount', 'UnitOfMeasure', 'Description'] as const;

function docLines(state: P21State, rows: Edits[], el: string, qtyColumn = 'Quantity'): P21DocLine[] {
  if (rows.length === 0) throw new TxError(`${el}: at least one line is required`);
  return rows.map((r, i) => {
    const where = `${el} row ${i + 1}`;
    const sku = req(r, 'PartNum', where);
    const part = state.parts.find((p) => p.PartNum === sku && p.DeleteFlag === 'N');
    if (!part) throw new TxError(`${where}: Item ID ${sku} does not exist`);
    const qty = quantity(r, qtyColumn, where);
    if (qty <= 0) throw new TxError(`${where}: ${qtyColumn} must be greater than zero`);
    const price = amount(r, 'UnitPrice', where);
    if (price < 0) throw new TxError(`${where}: UnitPrice must not be negative`);
    return {
      LineNo: i + 1,
      PartNum: sku,
      Quantity: qty,
      UnitPriceMinor: price,
      TaxMinor: amount(r, 'TaxAmount', where, false),
      UnitOfMeasure: opt(r, 'UnitOfMeasure') ?? part.UnitOfMeasure,
      Description: opt(r, 'Description') ?? opt(r, 'ExtendedDesc'),
    };
  });
}

const next = (state: P21State, k: keyof P21State['seq']) => String(++state.seq[k]);

export const SERVICES: Record<string, ServiceSpec> = {
  Customer: {
    elements: {
      'TABPAGE_1.customer': {
        type: 'Form',
        // prettier-ignore
        columns: [
          'CustomerID', 'CustomerName', 'FirstName', 'LastName', 'EmailAddress', 'PhoneNumber', 'WebReferenceNo',
          'MailAddress1', 'MailAddress2', 'MailCity', 'MailState', 'MailPostalCode', 'MailCountry', 'SalesRepID',
        ],
      },
    },
    apply(state, tx) {
      const where = 'TABPAGE_1.customer';
      const e = tx.form(where);
      // prettier-ignore
      const fields = [
        'CustomerName', 'FirstName', 'LastName', 'EmailAddress', 'PhoneNumber', 'WebReferenceNo', 'MailAddress1',
        'MailAddress2', 'MailCity', 'MailState', 'MailPostalCode', 'MailCountry', 'SalesRepID',
      ] as const;
      const id = opt(e, 'CustomerID');
      if (id) {
        const c = customerOf(state, id, where);
        for (const f of fields) if (f in e) (c as unknown as Record<string, string | null>)[f] = opt(e, f);
        if (!c.CustomerName) throw new TxError(`${where}: CustomerName is required`);
        c.SalesRepID ||= 'HOUSE';
        c.DateLastModified = today();
        return { CustomerID: c.CustomerID };
      }
      const name = req(e, 'CustomerName', where);
      const CustomerID = next(state, 'customer');
      state.customers.push({
        CustomerID,
        CompanyID: 'LB',
        CustomerName: name,
        FirstName: opt(e, 'FirstName'),
        LastName: opt(e, 'LastName'),
        EmailAddress: opt(e, 'EmailAddress'),
        PhoneNumber: opt(e, 'PhoneNumber'),
        WebReferenceNo: opt(e, 'WebReferenceNo'),
        MailAddress1: opt(e, 'MailAddress1'),
        MailAddress2: opt(e, 'MailAddress2'),
        MailCity: opt(e, 'MailCity'),
        MailState: opt(e, 'MailState'),
        MailPostalCode: opt(e, 'MailPostalCode'),
        MailCountry: opt(e, 'MailCountry'),
        // Enrichment the seeds describe: a default sales rep when none is given.
        SalesRepID: opt(e, 'SalesRepID') ?? 'HOUSE',
        DeleteFlag: 'N',
        DateCreated: today(),
        DateLastModified: today(),
      });
      return { CustomerID };
    },
  },

  SalesOrder: {
    elements: {
      'TP_ORDER.order': {
        type: 'Form',
        columns: ['OrderNo', 'CustomerID', 'PONo', 'WebReferenceNo', 'OrderDate', 'CurrencyID', 'CancelFlag'],
      },
      'TP_ITEMS.items': {
        type: 'List',
        columns: ['PartNum', 'UnitQuantity', 'UnitPrice', 'TaxAmount', 'UnitOfMeasure', 'ExtendedDesc'],
      },
    },
    apply(state, tx) {
      const where = 'TP_ORDER.order';
      const e = tx.form(where);
      const orderNo = opt(e, 'OrderNo');
      if (orderNo) {
        const o = state.orders.find((x) => x.OrderNo === orderNo);
        if (!o) throw new TxError(`${where}: Order ${orderNo} does not exist`);
        if (yn(e, 'CancelFlag', where) === 'Y' && o.CancelFlag !== 'Y') {
          if (o.Completed === 'Y') throw new TxError(`${where}: Order ${orderNo} is complete and cannot be cancelled`);
          o.CancelFlag = 'Y';
        }
        return { OrderNo: o.OrderNo };
      }
      const cust = customerOf(state, req(e, 'CustomerID', where), where);
      const lines = docLines(state, tx.list('TP_ITEMS.items'), 'TP_ITEMS.items', 'UnitQuantity');
      const OrderNo = next(state, 'order');
      state.orders.push({
        OrderNo,
        CustomerID: cust.CustomerID,
        PONo: opt(e, 'PONo'),
        WebReferenceNo: opt(e, 'WebReferenceNo'),
        OrderDate: date(e, 'OrderDate', where),
        CurrencyID: currency(e, where),
        SalesRepID: cust.SalesRepID,
        CancelFlag: 'N',
        Completed: 'N',
        lines,
      });
      return { OrderNo };
    },
  },

  Invoice: {
    elements: {
      'TP_INVOICE.invoice': {
        type: 'Form',
        columns: [
          'InvoiceNo',
          'CustomerID',
          'OrderNo',
          'WebReferenceNo',
          'InvoiceDate',
          'CurrencyID',
          'Approved',
          'Reversed',
        ],
      },
      'TP_LINES.lines': { type: 'List', columns: DOC_LINE_COLUMNS },
    },
    apply(state, tx) {
      const where = 'TP_INVOICE.invoice';
      const e = tx.form(where);
      const invoiceNo = opt(e, 'InvoiceNo');
      if (invoiceNo) {
        const inv = state.invoices.find((x) => x.InvoiceNo === invoiceNo);
        if (!inv) throw new TxError(`${where}: Invoice ${invoiceNo} does not exist`);
        const approve = yn(e, 'Approved', where) === 'Y';
        const reverse = yn(e, 'Reversed', where) === 'Y';
        if (approve && inv.Approved !== 'Y') {
          if (inv.Reversed === 'Y')
            throw new TxError(`${where}: Invoice ${invoiceNo} is reversed and cannot be approved`);
          inv.Approved = 'Y';
        }
        if (reverse && inv.Reversed !== 'Y') {
          const paid = state.receipts.some((r) => r.InvoiceNo === invoiceNo && r.Voided === 'N');
          if (paid) throw new TxError(`${where}: Invoice ${invoiceNo} has applied cash receipts; void them first`);
          inv.Reversed = 'Y';
        }
        return { InvoiceNo: inv.InvoiceNo };
      }
      const cust = customerOf(state, req(e, 'CustomerID', where), where);
      const orderNo = opt(e, 'OrderNo');
      const order = orderNo ? state.orders.find((o) => o.OrderNo === orderNo) : undefined;
      if (orderNo && !order) throw new TxError(`${where}: Order ${orderNo} does not exist`);
      if (order && order.CancelFlag === 'Y') throw new TxError(`${where}: Order ${orderNo} is cancelled`);
      if (order && order.CustomerID !== cust.CustomerID) {
        throw new TxError(`${where}: Order ${orderNo} belongs to another customer`);
      }
      const lines = docLines(state, tx.list('TP_LINES.lines'), 'TP_LINES.lines');
      const InvoiceNo = next(state, 'invoice');
      state.invoices.push({
        InvoiceNo,
        CustomerID: cust.CustomerID,
        OrderNo: orderNo,
        WebReferenceNo: opt(e, 'WebReferenceNo'),
        InvoiceDate: date(e, 'InvoiceDate', where),
        CurrencyID: currency(e, where),
        Approved: 'N',
        Reversed: 'N',
        lines,
      });
      // Invoicing a shipped order completes it, as in P21.
      if (order) order.Completed = 'Y';
      return { InvoiceNo };
    },
  },

  CashReceipt: {
    elements: {
      'TP_RECEIPT.receipt': {
        type: 'Form',
        // prettier-ignore
        columns: [
          'ReceiptNo', 'CustomerID', 'InvoiceNo', 'PaymentAmount', 'PaymentDate', 'PaymentTypeID', 'CheckNo',
          'WebReferenceNo', 'CurrencyID', 'Voided',
        ],
      },
    },
    apply(state, tx) {
      const where = 'TP_RECEIPT.receipt';
      const e = tx.form(where);
      const receiptNo = opt(e, 'ReceiptNo');
      if (receiptNo) {
        const r = state.receipts.find((x) => x.ReceiptNo === receiptNo);
        if (!r) throw new TxError(`${where}: Receipt ${receiptNo} does not exist`);
        if (yn(e, 'Voided', where) === 'Y') r.Voided = 'Y';
        return { ReceiptNo: r.ReceiptNo };
      }
      const cust = customerOf(state, req(e, 'CustomerID', where), where);
      const invoiceNo = req(e, 'InvoiceNo', where);
      const inv = state.invoices.find((i) => i.InvoiceNo === invoiceNo);
      if (!inv) throw new TxError(`${where}: Invoice ${invoiceNo} does not exist`);
      if (inv.CustomerID !== cust.CustomerID)
        throw new TxError(`${where}: Invoice ${invoiceNo} belongs to another customer`);
      if (inv.Approved !== 'Y' || inv.Reversed === 'Y') {
        throw new TxError(`${where}: Invoice ${invoiceNo} is not open for cash receipts`);
      }
      const amt = amount(e, 'PaymentAmount', where);
      if (amt <= 0) throw new TxError(`${where}: PaymentAmount must be greater than zero`);
      if (amt > openBalance(state, inv)) {
        throw new TxError(`${where}: PaymentAmount exceeds the open balance of invoice ${invoiceNo}`);
      }
      const type = req(e, 'PaymentTypeID', where);
      if (!state.paymentTypes.includes(type)) throw new TxError(`${where}: Payment type ${type} does not exist`);
      const ReceiptNo = next(state, 'receipt');
      state.receipts.push({
        ReceiptNo,
        CustomerID: cust.CustomerID,
        InvoiceNo: invoiceNo,
        AmountMinor: amt,
        PaymentDate: date(e, 'PaymentDate', where),
        PaymentTypeID: type,
        CheckNo: opt(e, 'CheckNo'),
        WebReferenceNo: opt(e, 'WebReferenceNo'),
        CurrencyID: currency(e, where),
        Voided: 'N',
      });
      return { ReceiptNo };
    },
  },

  CreditMemo: {
    elements: {
      'TP_CREDIT.credit': {
        type: 'Form',
        // prettier-ignore
        columns: [
          'MemoNo', 'CustomerID', 'InvoiceNo', 'WebReferenceNo', 'MemoDate', 'Reason', 'CurrencyID', 'Approved',
          'CancelFlag',
        ],
      },
      'TP_LINES.lines': { type: 'List', columns: DOC_LINE_COLUMNS },
    },
    apply(state, tx) {
      const where = 'TP_CREDIT.credit';
      const e = tx.form(where);
      const memoNo = opt(e, 'MemoNo');
      if (memoNo) {
        const m = state.creditMemos.find((x) => x.MemoNo === memoNo);
        if (!m) throw new TxError(`${where}: Credit memo ${memoNo} does not exist`);
        if (yn(e, 'Approved', where) === 'Y' && m.Approved !== 'Y') {
          if (m.CancelFlag === 'Y') throw new TxError(`${where}: Credit memo ${memoNo} is cancelled`);
          m.Approved = 'Y';
        }
        if (yn(e, 'CancelFlag', where) === 'Y' && m.CancelFlag !== 'Y') {
          if (m.Approved === 'Y')
            throw new TxError(`${where}: Credit memo ${memoNo} is approved and cannot be cancelled`);
          m.CancelFlag = 'Y';
        }
        return { MemoNo: m.MemoNo };
      }
      const cust = customerOf(state, req(e, 'CustomerID', where), where);
      const invoiceNo = opt(e, 'InvoiceNo');
      if (invoiceNo && !state.invoices.some((i) => i.InvoiceNo === invoiceNo && i.CustomerID === cust.CustomerID)) {
        throw new TxError(`${where}: Invoice ${invoiceNo} does not exist for customer ${cust.CustomerID}`);
      }
      const lines = docLines(state, tx.list('TP_LINES.lines'), 'TP_LINES.lines');
      const MemoNo = next(state, 'memo');
      state.creditMemos.push({
        MemoNo,
        CustomerID: cust.CustomerID,
        InvoiceNo: invoiceNo,
        WebReferenceNo: opt(e, 'WebReferenceNo'),
        MemoDate: date(e, 'MemoDate', where),
        Reason: req(e, 'Reason', where),
        CurrencyID: currency(e, where),
        Approved: 'N',
        CancelFlag: 'N',
        lines,
      });
      return { MemoNo };
    },
  },

  JournalEntry: {
    elements: {
      'TP_JOURNAL.journal': {
        type: 'Form',
        columns: ['JournalNo', 'JournalRef', 'JournalID', 'Description', 'TransactionDate', 'CurrencyID', 'Reversed'],
      },
      'TP_LINES.lines': { type: 'List', columns: ['AccountNo', 'DebitAmount', 'CreditAmount', 'Description'] },
    },
    apply(state, tx) {
      const where = 'TP_JOURNAL.journal';
      const e = tx.form(where);
      const journalNo = opt(e, 'JournalNo');
      if (journalNo) {
        const j = state.journals.find((x) => x.JournalNo === journalNo);
        if (!j) throw new TxError(`${where}: Journal ${journalNo} does not exist`);
        if (j.ReversalOf) throw new TxError(`${where}: Journal ${journalNo} is itself a reversal`);
        if (yn(e, 'Reversed', where) === 'Y' && j.Reversed !== 'Y') {
          j.Reversed = 'Y';
          state.journals.push({
            ...j,
            JournalNo: next(state, 'journal'),
            Description: `Reversal of ${j.JournalNo}`,
            TransactionDate: today(),
            Reversed: 'N',
            ReversalOf: j.JournalNo,
            lines: j.lines.map((l) => ({ ...l, DebitMinor: l.CreditMinor, CreditMinor: l.DebitMinor })),
          });
        }
        return { JournalNo: j.JournalNo };
      }
      const rows = tx.list('TP_LINES.lines');
      if (rows.length < 2) throw new TxError('TP_LINES.lines: a journal entry needs at least two lines');
      const lines: P21JournalLine[] = rows.map((r, i) => {
        const w = `TP_LINES.lines row ${i + 1}`;
        const acct = req(r, 'AccountNo', w);
        if (!state.glAccounts.some((a) => a.AccountNo === acct)) {
          throw new TxError(`GL account ${acct} does not exist in the chart of accounts (${w}, AccountNo)`);
        }
        const debit = amount(r, 'DebitAmount', w, false);
        const credit = amount(r, 'CreditAmount', w, false);
        if (debit < 0 || credit < 0 || (debit > 0 && credit > 0) || debit + credit === 0) {
          throw new TxError(`${w}: exactly one of DebitAmount and CreditAmount must be positive`);
        }
        return {
          LineNo: i + 1,
          AccountNo: acct,
          DebitMinor: debit,
          CreditMinor: credit,
          Description: opt(r, 'Description'),
        };
      });
      const dr = lines.reduce((a, l) => a + l.DebitMinor, 0);
      const cr = lines.reduce((a, l) => a + l.CreditMinor, 0);
      if (dr !== cr) throw new TxError(`${where}: journal is out of balance by ${((dr - cr) / 100).toFixed(2)}`);
      const JournalNo = next(state, 'journal');
      state.journals.push({
        JournalNo,
        JournalRef: req(e, 'JournalRef', where),
        JournalID: opt(e, 'JournalID') ?? 'GJ',
        Description: opt(e, 'Description') ?? '',
        TransactionDate: date(e, 'TransactionDate', where),
        CurrencyID: currency(e, where),
        Reversed: 'N',
        ReversalOf: null,
        lines,
      });
      return { JournalNo };
    },
  },

  InventoryAdjustment: {
    elements: {
      'TP_ADJUSTMENT.adjustment': {
        type: 'Form',
        columns: ['LocationID', 'PartNum', 'AdjustmentQty', 'AdjustmentRef', 'Reason'],
      },
    },
    apply(state, tx) {
      const where = 'TP_ADJUSTMENT.adjustment';
      const e = tx.form(where);
      const sku = req(e, 'PartNum', where);
      const part = state.parts.find((p) => p.PartNum === sku && p.DeleteFlag === 'N');
      if (!part) throw new TxError(`${where}: Item ID ${sku} does not exist`);
      if (part.Stockable !== 'Y') throw new TxError(`${where}: Item ID ${sku} is not a stockable item`);
      const loc = req(e, 'LocationID', where);
      if (!state.locations.includes(loc)) throw new TxError(`${where}: Location ${loc} does not exist`);
      const qty = quantity(e, 'AdjustmentQty', where);
      if (qty === 0) throw new TxError(`${where}: AdjustmentQty must not be zero`);
      let row = state.invLoc.find((l) => l.PartNum === sku && l.LocationID === loc);
      if ((row?.OnHandQty ?? 0) + qty < 0) {
        throw new TxError(`${where}: adjustment would make the quantity on hand of ${sku} at ${loc} negative`);
      }
      if (!row) {
        row = { PartNum: sku, LocationID: loc, OnHandQty: 0, QtyAllocated: 0 };
        state.invLoc.push(row);
      }
      row.OnHandQty += qty;
      const AdjustmentNo = next(state, 'adj');
      state.adjustments.push({
        AdjustmentNo,
        AdjustmentRef: opt(e, 'AdjustmentRef'),
        PartNum: sku,
        LocationID: loc,
        AdjustmentQty: qty,
        AdjustmentDate: today(),
        Reason: opt(e, 'Reason'),
      });
      return { AdjustmentNo };
    },
  },
};

export interface TxOutcome {
  status: 'Passed' | 'Failed';
  message?: string;
  dataElements: DataElement[];
}

/** Runs one transaction of a set: the element check, then the service handler; failures never change state. */
export function runTransaction(state: P21State, name: string, tx: Transaction): TxOutcome {
  const service = SERVICES[name];
  try {
    const keys = service.apply(state, new ParsedTx(name, service.elements, tx));
    const [formName] = Object.entries(service.elements).find(([, s]) => s.type === 'Form')!;
    const out = tx.DataElements.map((d) => ({ ...d, Rows: d.Rows.map((r) => ({ Edits: [...r.Edits] })) }));
    let form = out.find((d) => d.Name === formName);
    if (!form) {
      form = { Name: formName, Type: 'Form', Keys: [], Rows: [{ Edits: [] }] };
      out.unshift(form);
    }
    form.Keys = Object.keys(keys);
    const edits = form.Rows[0].Edits.filter((x) => !(x.Name in keys));
    for (const [k, v] of Object.entries(keys)) edits.unshift({ Name: k, Value: v });
    form.Rows[0].Edits = edits;
    return { status: 'Passed', dataElements: out };
  } catch (err) {
    if (!(err instanceof TxError)) throw err;
    return { status: 'Failed', message: err.message, dataElements: tx.DataElements };
  }
}
