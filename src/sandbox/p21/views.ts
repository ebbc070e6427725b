import type { Row } from './odata';
import { lineTotal, openBalance, renderMoney, type P21DocLine, type P21Order, type P21State } from './state';

/**
 * The OData tables and views the P21 simulator serves. Each has its field list (the entity type: an unknown field
 * in `$filter`, `$orderby` or `$select` is a 400) and a function that renders the rows, decimals as strings when
 * the client asked for IEEE754Compatible.
 */
export interface ODataSet {
  fields: readonly string[];
  key: string;
  rows(state: P21State, ieee754: boolean): Row[];
}

const status = (cancelled: boolean, done: boolean, open: string, doneLabel: string) =>
  cancelled ? 'Cancelled' : done ? doneLabel : open;

function docTotals(lines: P21DocLine[], currency: string, ieee: boolean) {
  const { net, tax } = lineTotal(lines);
  return { TotalAmount: renderMoney(net + tax, currency, ieee), TaxAmount: renderMoney(tax, currency, ieee) };
}

/** An order header as the `p21_view_oe_hdr` view and the entity API render it. */
export function orderHeader(o: P21Order, ieee: boolean): Row {
  return {
    OrderNo: o.OrderNo,
    CustomerID: o.CustomerID,
    PONo: o.PONo,
    WebReferenceNo: o.WebReferenceNo,
    OrderDate: o.OrderDate,
    CurrencyID: o.CurrencyID,
    SalesRepID: o.SalesRepID,
    CancelFlag: o.CancelFlag,
    Completed: o.Completed,
    Status: status(o.CancelFlag === 'Y', o.Completed === 'Y', 'Open', 'Completed'),
    ...docTotals(o.lines, o.CurrencyID, ieee),
  };
}

/** An order line as the `p21_view_oe_line` view and the entity API render it. */
export function orderLine(o: P21Order, l: P21DocLine, ieee: boolean): Row {
  return {
    OrderNo: o.OrderNo,
    LineNo: l.LineNo,
    PartNum: l.PartNum,
    UnitQuantity: l.Quantity,
    UnitPrice: renderMoney(l.UnitPriceMinor, o.CurrencyID, ieee),
    TaxAmount: renderMoney(l.TaxMinor, o.CurrencyID, ieee),
    UnitOfMeasure: l.UnitOfMeasure,
  };
}

export const TABLES: Record<string, ODataSet> = {
  customer: {
    key: 'CustomerID',
    // prettier-ignore
    fields: [
      'CustomerID', 'CompanyID', 'CustomerName', 'FirstName', 'LastName', 'EmailAddress', 'PhoneNumber',
      'WebReferenceNo', 'MailAddress1', 'MailAddress2', 'MailCity', 'MailState', 'MailPostalCode', 'MailCountry',
      'SalesRepID', 'DeleteFlag', 'DateCreated', 'DateLastModified',
    ],
    rows: (s) => s.customers.map((c) => ({ ...c })),
  },
  inv_mast: {
    key: 'PartNum',
    fields: ['PartNum', 'ItemDesc', 'Price', 'UnitOfMeasure', 'CurrencyID', 'Stockable', 'DeleteFlag'],
    rows: (s, ieee) =>
      s.parts.map((p) => ({
        PartNum: p.PartNum,
        ItemDesc: p.ItemDesc,
        Price: renderMoney(p.PriceMinor, p.CurrencyID, ieee),
        UnitOfMeasure: p.UnitOfMeasure,
        CurrencyID: p.CurrencyID,
        Stockable: p.Stockable,
        DeleteFlag: p.DeleteFlag,
      })),
  },
  chart_of_accts: {
    key: 'AccountNo',
    fields: ['AccountNo', 'AccountDesc', 'AccountType'],
    rows: (s) => s.glAccounts.map((a) => ({ ...a })),
  },
};

export const VIEWS: Record<string, ODataSet> = {
  p21_view_inv_loc: {
    key: 'PartNum',
    fields: ['PartNum', 'LocationID', 'ItemDesc', 'OnHandQty', 'QtyAllocated', 'QtyAvailable'],
    rows: (s) =>
      s.invLoc.map((l) => ({
        PartNum: l.PartNum,
        LocationID: l.LocationID,
        ItemDesc: s.parts.find((p) => p.PartNum === l.PartNum)?.ItemDesc ?? null,
        OnHandQty: l.OnHandQty,
        QtyAllocated: l.QtyAllocated,
        QtyAvailable: l.OnHandQty - l.QtyAllocated,
      })),
  },
  p21_view_oe_hdr: {
    key: 'OrderNo',
    // prettier-ignore
    fields: [
      'OrderNo', 'CustomerID', 'PONo', 'WebReferenceNo', 'OrderDate', 'CurrencyID', 'SalesRepID', 'CancelFlag',
      'Completed', 'Status', 'TotalAmount', 'TaxAmount',
    ],
    rows: (s, ieee) => s.orders.map((o) => orderHeader(o, ieee)),
  },
  p21_view_oe_line: {
    key: 'OrderNo',
    fields: ['OrderNo', 'LineNo', 'PartNum', 'UnitQuantity', 'UnitPrice', 'TaxAmount', 'UnitOfMeasure'],
    rows: (s, ieee) => s.orders.flatMap((o) => o.lines.map((l) => orderLine(o, l, ieee))),
  },
  p21_view_invoice_hdr: {
    key: 'InvoiceNo',
    // prettier-ignore
    fields: [
      'InvoiceNo', 'CustomerID', 'OrderNo', 'WebReferenceNo', 'InvoiceDate', 'CurrencyID', 'Approved', 'Reversed',
      'PaidInFull', 'Status', 'TotalAmount', 'TaxAmount', 'OpenAmount',
    ],
    rows: (s, ieee) =>
      s.invoices.map((i) => {
        const open = openBalance(s, i);
        return {
          InvoiceNo: i.InvoiceNo,
          CustomerID: i.CustomerID,
          OrderNo: i.OrderNo,
          WebReferenceNo: i.WebReferenceNo,
          InvoiceDate: i.InvoiceDate,
          CurrencyID: i.CurrencyID,
          Approved: i.Approved,
          Reversed: i.Reversed,
          PaidInFull: open <= 0 && i.Approved === 'Y' ? 'Y' : 'N',
          Status: i.Reversed === 'Y' ? 'Reversed' : i.Approved === 'Y' ? 'Approved' : 'Pending',
          ...docTotals(i.lines, i.CurrencyID, ieee),
          OpenAmount: renderMoney(open, i.CurrencyID, ieee),
        };
      }),
  },
  /** The payments view (cash receipts applied to invoices): P21 has no standard view name for it, this one is ours. */
  p21_view_ar_receipts: {
    key: 'ReceiptNo',
    // prettier-ignore
    fields: [
      'ReceiptNo', 'CustomerID', 'InvoiceNo', 'PaymentAmount', 'PaymentDate', 'PaymentTypeID', 'CheckNo',
      'WebReferenceNo', 'CurrencyID', 'Voided', 'Status',
    ],
    rows: (s, ieee) =>
      s.receipts.map((r) => ({
        ReceiptNo: r.ReceiptNo,
        CustomerID: r.CustomerID,
        InvoiceNo: r.InvoiceNo,
        PaymentAmount: renderMoney(r.AmountMinor, r.CurrencyID, ieee),
        PaymentDate: r.PaymentDate,
        PaymentTypeID: r.PaymentTypeID,
        CheckNo: r.CheckNo,
        WebReferenceNo: r.WebReferenceNo,
        CurrencyID: r.CurrencyID,
        Voided: r.Voided,
        Status: r.Voided === 'Y' ? 'Voided' : 'Applied',
      })),
  },
  p21_view_credit_memo: {
    key: 'MemoNo',
    // prettier-ignore
    fields: [
      'MemoNo', 'CustomerID', 'InvoiceNo', 'WebReferenceNo', 'MemoDate', 'Reason', 'CurrencyID', 'Approved',
      'CancelFlag', 'Status', 'TotalAmount', 'TaxAmount',
    ],
    rows: (s, ieee) =>
      s.creditMemos.map((m) => ({
        MemoNo: m.MemoNo,
        CustomerID: m.CustomerID,
        InvoiceNo: m.InvoiceNo,
        WebReferenceNo: m.WebReferenceNo,
        MemoDate: m.MemoDate,
        Reason: m.Reason,
        CurrencyID: m.CurrencyID,
        Approved: m.Approved,
        CancelFlag: m.CancelFlag,
        Status: status(m.CancelFlag === 'Y', m.Approved === 'Y', 'Pending', 'Approved'),
        ...docTotals(m.lines, m.CurrencyID, ieee),
      })),
  },
  p21_view_gl_journal: {
    key: 'JournalNo',
    // prettier-ignore
    fields: [
      'JournalNo', 'JournalRef', 'JournalID', 'Description', 'TransactionDate', 'CurrencyID', 'Reversed',
      'ReversalOf', 'Status', 'TotalDebit', 'TotalCredit',
    ],
    rows: (s, ieee) =>
      s.journals.map((j) => ({
        JournalNo: j.JournalNo,
        JournalRef: j.JournalRef,
        JournalID: j.JournalID,
        Description: j.Description,
        TransactionDate: j.TransactionDate,
        CurrencyID: j.CurrencyID,
        Reversed: j.Reversed,
        ReversalOf: j.ReversalOf,
        Status: j.Reversed === 'Y' ? 'Reversed' : 'Posted',
        TotalDebit: renderMoney(
          j.lines.reduce((a, l) => a + l.DebitMinor, 0),
          j.CurrencyID,
          ieee,
        ),
        TotalCredit: renderMoney(
          j.lines.reduce((a, l) => a + l.CreditMinor, 0),
          j.CurrencyID,
          ieee,
        ),
      })),
  },
  p21_view_inv_adj: {
    key: 'AdjustmentNo',
    fields: ['AdjustmentNo', 'AdjustmentRef', 'PartNum', 'LocationID', 'AdjustmentQty', 'AdjustmentDate', 'Reason'],
    rows: (s) => s.adjustments.map((a) => ({ ...a })),
  },
};
