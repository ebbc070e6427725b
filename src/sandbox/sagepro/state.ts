/**
 * In-memory books of the Sage Pro simulator and its seed. Money is integer minor units (the company currency is
 * USD); dates are kept as Sage Pro exports them, MM/DD/YYYY. Blank fields are empty strings, as in the files.
 */

export interface SpCustomer {
  CUSTNO: string;
  COMPANY: string;
  CONTACT: string;
  EMAIL: string;
  PHONE: string;
  ADDRESS1: string;
  ADDRESS2: string;
  CITY: string;
  STATE: string;
  ZIP: string;
  COUNTRY: string;
  EXTREF: string;
}

export interface SpItem {
  ITEM: string;
  ITMDESC: string;
  PRICE: number;
  STKUMID: string;
  /** N for a service item (SHIPPING): documents take it, IC adjustments do not. */
  STOCKED: 'Y' | 'N';
}

export interface SpOnHand {
  ITEM: string;
  LOCTID: string;
  ONHAND: number;
}

export interface SpLine {
  LINENO: number;
  ITEM: string;
  DESCRIP: string;
  QTY: number;
  PRICE: number;
  TAXAMT: number;
}

export interface SpOrder {
  SONO: string;
  REFNO: string;
  CUSTNO: string;
  PONUM: string;
  ORDDATE: string;
  STATUS: 'OPEN' | 'CANCELLED' | 'INVOICED';
  lines: SpLine[];
}

export interface SpInvoice {
  INVNO: string;
  REFNO: string;
  /** I = invoice, C = credit memo. */
  DOCTYPE: 'I' | 'C';
  CUSTNO: string;
  SONO: string;
  APPLYTO: string;
  INVDATE: string;
  REASON: string;
  STATUS: 'UNPOSTED' | 'POSTED' | 'VOID' | 'CANCELLED';
  lines: SpLine[];
}

export interface SpReceipt {
  RECEIPTNO: string;
  REFNO: string;
  CUSTNO: string;
  INVNO: string;
  PAYDATE: string;
  AMOUNT: number;
  PAYCODE: string;
  CHECKNO: string;
  STATUS: 'APPLIED' | 'VOID';
}

export interface SpJournalLine {
  LINENO: number;
  GLACCT: string;
  DEBIT: number;
  CREDIT: number;
  DESCRIP: string;
}

export interface SpJournal {
  JOURNALNO: string;
  REFNO: string;
  SOURCE: string;
  JEDATE: string;
  MEMO: string;
  STATUS: 'POSTED' | 'REVERSED';
  REVERSES: string;
  lines: SpJournalLine[];
}

export interface SpIcTran {
  TRANNO: string;
  REFNO: string;
  LINENO: number;
  ITEM: string;
  LOCTID: string;
  QTY: number;
  TRANDATE: string;
}

export interface SpBatchRecord {
  batchId: string;
  type: string;
  records: number;
  outcome: 'applied' | 'rejected' | 'held';
  at: string;
}

export interface SpState {
  customers: SpCustomer[];
  items: SpItem[];
  onhand: SpOnHand[];
  locations: string[];
  orders: SpOrder[];
  invoices: SpInvoice[];
  receipts: SpReceipt[];
  journals: SpJournal[];
  ictrans: SpIcTran[];
  glAccounts: { GLACCT: string; DESCRIP: string }[];
  payCodes: string[];
  seq: { cust: number; so: number; inv: number; cm: number; rcpt: number; je: number; ic: number };
  /** Every batch the importer took, in order: what tests check "exactly one" against. */
  batches: SpBatchRecord[];
}

export const docTotal = (lines: readonly SpLine[]) => lines.reduce((a, l) => a + l.QTY * l.PRICE + l.TAXAMT, 0);

/** What is still open on an invoice: its total less applied receipts. */
export function invoiceBalance(state: SpState, inv: SpInvoice): number {
  const paid = state.receipts
    .filter((r) => r.INVNO === inv.INVNO && r.STATUS === 'APPLIED')
    .reduce((a, r) => a + r.AMOUNT, 0);
  return docTotal(inv.lines) - paid;
}

function cust(no: string, company: string, email: string, phone: string, city: string, st: string): SpCustomer {
  return {
    CUSTNO: no,
    COMPANY: company,
    CONTACT: company,
    EMAIL: email,
    PHONE: phone,
    ADDRESS1: '200 Market St',
    ADDRESS2: '',
    CITY: city,
    STATE: st,
    ZIP: '94105',
    COUNTRY: 'US',
    EXTREF: '',
  };
}

const line = (n: number, item: string, qty: number, price: number, tax: number): SpLine => ({
  LINENO: n,
  ITEM: item,
  DESCRIP: '',
  QTY: qty,
  PRICE: price,
  TAXAMT: tax,
});

/**
 * The seed: shared SKUs plus the non-stocked SHIPPING service item (price 0), near-duplicate customers, stock at MAIN
 * and WEST, a GL chart without 4999 and 6199.
 */
export function seedState(): SpState {
  const customers = [
    cust('C00001', 'Ada Lovelace', 'ada.lovelace@example.com', '(555) 010-1001', 'San Francisco', 'CA'),
    // Near-duplicate of C00001: same email in another case, same phone written differently.
    cust('C00002', 'Ada Lovelace', 'ADA.LOVELACE@EXAMPLE.COM', '555.010.1001', 'San Francisco', 'CA'),
    cust('C00003', 'Grace Hopper', 'grace@navy.example.org', '+1 555 010 2002', 'Arlington', 'VA'),
    // Near-duplicate of C00003 by phone only.
    cust('C00004', 'G. Hopper', 'ghopper@example.net', '555-010-2002', 'Arlington', 'VA'),
    cust('C00005', 'Alan Turing', 'alan@example.co.uk', '555 010 3003', 'Austin', 'TX'),
  ];
  customers[4].EXTREF = 'heartland:C-3003';
  const items: SpItem[] = [
    { ITEM: 'SKU-1001', ITMDESC: 'Trail Runner Shoe', PRICE: 8999, STKUMID: 'EA', STOCKED: 'Y' },
    { ITEM: 'SKU-1002', ITMDESC: 'Wool Socks', PRICE: 1599, STKUMID: 'EA', STOCKED: 'Y' },
    { ITEM: 'SKU-1003', ITMDESC: 'Rain Jacket', PRICE: 12900, STKUMID: 'EA', STOCKED: 'Y' },
    { ITEM: 'SKU-1004', ITMDESC: 'Water Bottle', PRICE: 2499, STKUMID: 'EA', STOCKED: 'Y' },
    { ITEM: 'SKU-1005', ITMDESC: 'Headlamp', PRICE: 3450, STKUMID: 'EA', STOCKED: 'Y' },
    { ITEM: 'SHIPPING', ITMDESC: 'Shipping', PRICE: 0, STKUMID: 'EA', STOCKED: 'N' },
    { ITEM: 'REFUND', ITMDESC: 'Refund adjustment', PRICE: 0, STKUMID: 'EA', STOCKED: 'N' },
  ];
  const onhand: SpOnHand[] = [
    { ITEM: 'SKU-1001', LOCTID: 'MAIN', ONHAND: 40 },
    { ITEM: 'SKU-1002', LOCTID: 'MAIN', ONHAND: 120 },
    { ITEM: 'SKU-1003', LOCTID: 'MAIN', ONHAND: 15 },
    { ITEM: 'SKU-1004', LOCTID: 'MAIN', ONHAND: 60 },
    { ITEM: 'SKU-1005', LOCTID: 'MAIN', ONHAND: 25 },
    { ITEM: 'SKU-1001', LOCTID: 'WEST', ONHAND: 5 },
  ];
  const glAccounts = [
    ['1010', 'Cash - Operating'],
    ['1030', 'Card Clearing'],
    ['1200', 'Accounts Receivable'],
    ['1999', 'Suspense'],
    ['2100', 'Payroll Liabilities'],
    ['2110', 'Payroll Tax Liabilities'],
    ['2200', 'Sales Tax Payable'],
    ['4000', 'Sales'],
    ['4010', 'Sales Returns'],
    ['6000', 'Wages'],
    ['6100', 'Bank Card Fees'],
  ].map(([GLACCT, DESCRIP]) => ({ GLACCT, DESCRIP }));
  const invoices: SpInvoice[] = [
    {
      INVNO: 'I00001',
      REFNO: 'seed:inv-7001',
      DOCTYPE: 'I',
      CUSTNO: 'C00001',
      SONO: '',
      APPLYTO: '',
      INVDATE: '05/02/2024',
      REASON: '',
      STATUS: 'POSTED',
      lines: [line(1, 'SKU-1002', 2, 1599, 264)],
    },
    {
      INVNO: 'I00002',
      REFNO: 'seed:inv-7002',
      DOCTYPE: 'I',
      CUSTNO: 'C00003',
      SONO: '',
      APPLYTO: '',
      INVDATE: '05/15/2024',
      REASON: '',
      STATUS: 'POSTED',
      lines: [line(1, 'SKU-1003', 1, 12900, 1064)],
    },
  ];
  const receipts: SpReceipt[] = [
    {
      RECEIPTNO: 'R00001',
      REFNO: 'seed:pay-7001',
      CUSTNO: 'C00001',
      INVNO: 'I00001',
      PAYDATE: '05/02/2024',
      AMOUNT: 3462,
      PAYCODE: 'VISA',
      CHECKNO: 'txn_seed_0101',
      STATUS: 'APPLIED',
    },
    {
      RECEIPTNO: 'R00002',
      REFNO: 'seed:pay-7002',
      CUSTNO: 'C00003',
      INVNO: 'I00002',
      PAYDATE: '05/15/2024',
      AMOUNT: 13964,
      PAYCODE: 'MC',
      CHECKNO: 'txn_seed_0102',
      STATUS: 'APPLIED',
    },
  ];
  return {
    customers,
    items,
    onhand,
    locations: ['MAIN', 'WEST'],
    orders: [],
    invoices,
    receipts,
    journals: [],
    ictrans: [],
    glAccounts,
    payCodes: ['VISA', 'MC', 'AMEX', 'DISC', 'CARD', 'CASH', 'CHECK', 'GIFT'],
    seq: { cust: 100, so: 100, inv: 100, cm: 100, rcpt: 100, je: 100, ic: 100 },
    batches: [],
  };
}
