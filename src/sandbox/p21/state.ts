import { formatDecimal } from '../../domain/money';

/**
 * In-memory state of the P21 simulator and its seed data. Money is kept in integer minor units (USD) and rendered
 * as decimals on the wire; dates are kept as P21 renders them in OData (`YYYY-MM-DDT00:00:00`, no offset).
 */

export type YN = 'Y' | 'N';

export interface P21Customer {
  CustomerID: string;
  CompanyID: string;
  CustomerName: string;
  FirstName: string | null;
  LastName: string | null;
  EmailAddress: string | null;
  PhoneNumber: string | null;
  WebReferenceNo: string | null;
  MailAddress1: string | null;
  MailAddress2: string | null;
  MailCity: string | null;
  MailState: string | null;
  MailPostalCode: string | null;
  MailCountry: string | null;
  SalesRepID: string;
  DeleteFlag: YN;
  DateCreated: string;
  DateLastModified: string;
}

export interface P21Part {
  PartNum: string;
  ItemDesc: string;
  PriceMinor: number;
  UnitOfMeasure: string;
  CurrencyID: string;
  /** N for a service item (SHIPPING): no inventory locations, no adjustments. */
  Stockable: YN;
  DeleteFlag: YN;
}

export interface P21InvLoc {
  PartNum: string;
  LocationID: string;
  OnHandQty: number;
  QtyAllocated: number;
}

export interface P21DocLine {
  LineNo: number;
  PartNum: string;
  Quantity: number;
  UnitPriceMinor: number;
  TaxMinor: number;
  UnitOfMeasure: string;
  Description: string | null;
}

export interface P21Order {
  OrderNo: string;
  CustomerID: string;
  PONo: string | null;
  WebReferenceNo: string | null;
  OrderDate: string;
  CurrencyID: string;
  SalesRepID: string;
  CancelFlag: YN;
  Completed: YN;
  lines: P21DocLine[];
}

export interface P21Invoice {
  InvoiceNo: string;
  CustomerID: string;
  OrderNo: string | null;
  WebReferenceNo: string | null;
  InvoiceDate: string;
  CurrencyID: string;
  Approved: YN;
  Reversed: YN;
  lines: P21DocLine[];
}

export interface P21Receipt {
  ReceiptNo: string;
  CustomerID: string;
  InvoiceNo: string;
  AmountMinor: number;
  PaymentDate: string;
  PaymentTypeID: string;
  CheckNo: string | null;
  WebReferenceNo: string | null;
  CurrencyID: string;
  Voided: YN;
}

export interface P21CreditMemo {
  MemoNo: string;
  CustomerID: string;
  InvoiceNo: string | null;
  WebReferenceNo: string | null;
  MemoDate: string;
  Reason: string;
  CurrencyID: string;
  Approved: YN;
  CancelFlag: YN;
  lines: P21DocLine[];
}

export interface P21JournalLine {
  LineNo: number;
  AccountNo: string;
  DebitMinor: number;
  CreditMinor: number;
  Description: string | null;
}

export interface P21Journal {
  JournalNo: string;
  JournalRef: string;
  JournalID: string;
  Description: string;
  TransactionDate: string;
  CurrencyID: string;
  Reversed: YN;
  ReversalOf: string | null;
  lines: P21JournalLine[];
}

export interface P21Adjustment {
  AdjustmentNo: string;
  AdjustmentRef: string | null;
  PartNum: string;
  LocationID: string;
  AdjustmentQty: number;
  AdjustmentDate: string;
  Reason: string | null;
}

export interface P21GlAccount {
  AccountNo: string;
  AccountDesc: string;
  AccountType: 'Asset' | 'Liability' | 'Revenue' | 'Expense';
}

export interface IssuedToken {
  kind: 'access' | 'refresh';
  epoch: number;
  expiresAt: number;
  username: string;
}

export interface P21State {
  customers: P21Customer[];
  parts: P21Part[];
  invLoc: P21InvLoc[];
  locations: string[];
  orders: P21Order[];
  invoices: P21Invoice[];
  receipts: P21Receipt[];
  creditMemos: P21CreditMemo[];
  journals: P21Journal[];
  adjustments: P21Adjustment[];
  glAccounts: P21GlAccount[];
  paymentTypes: string[];
  tokens: Map<string, IssuedToken>;
  /** Token grants by type, for tests: how often the client logged in or refreshed. */
  tokenGrants: { password: number; client_credentials: number; refresh_token: number };
  /** Every Transaction API request: its service name and how many transactions it carried. */
  transactionRequests: { name: string; transactions: number; failed: number }[];
  seq: {
    customer: number;
    order: number;
    invoice: number;
    receipt: number;
    memo: number;
    journal: number;
    adj: number;
  };
}

export const today = (): string => `${new Date().toISOString().slice(0, 10)}T00:00:00`;

/** Renders minor units as OData renders Edm.Decimal: a string under IEEE754Compatible, else a number. */
export function renderMoney(minor: number, currency: string, ieee754: boolean): string | number {
  const s = formatDecimal({ amountMinor: minor, currency });
  return ieee754 ? s : Number(s);
}

/** Net (quantity x price) and tax of document lines, in minor units. */
export function lineTotal(lines: readonly P21DocLine[]): { net: number; tax: number } {
  let net = 0;
  let tax = 0;
  for (const l of lines) {
    net += l.Quantity * l.UnitPriceMinor;
    tax += l.TaxMinor;
  }
  return { net, tax };
}

/** The invoice total less non-voided receipts. */
export function openBalance(state: P21State, inv: P21Invoice): number {
  const { net, tax } = lineTotal(inv.lines);
  const paid = state.receipts
    .filter((r) => r.InvoiceNo === inv.InvoiceNo && r.Voided === 'N')
    .reduce((a, r) => a + r.AmountMinor, 0);
  return net + tax - paid;
}

function customer(
  id: string,
  name: string,
  email: string | null,
  phone: string | null,
  city: string,
  state: string,
  rep: string,
): P21Customer {
  const [first, ...rest] = name.split(' ');
  return {
    CustomerID: id,
    CompanyID: 'LB',
    CustomerName: name,
    FirstName: first ?? null,
    LastName: rest.join(' ') || null,
    EmailAddress: email,
    PhoneNumber: phone,
    WebReferenceNo: null,
    MailAddress1: '100 Main St',
    MailAddress2: null,
    MailCity: city,
    MailState: state,
    MailPostalCode: '60601',
    MailCountry: 'US',
    SalesRepID: rep,
    DeleteFlag: 'N',
    DateCreated: '2024-01-15T00:00:00',
    DateLastModified: '2024-01-15T00:00:00',
  };
}

const line = (n: number, sku: string, qty: number, price: number, tax: number): P21DocLine => ({
  LineNo: n,
  PartNum: sku,
  Quantity: qty,
  UnitPriceMinor: price,
  TaxMinor: tax,
  UnitOfMeasure: 'EA',
  Description: null,
});

/**
 * The seed: shared SKUs plus the non-stockable SHIPPING service part (price 0), near-duplicate customers, stock at
 * MAIN and WEST, a GL chart without 4999 and 6199.
 */
export function seedState(): P21State {
  const customers = [
    customer('10001', 'Ada Lovelace', 'ada.lovelace@example.com', '(555) 010-1001', 'Chicago', 'IL', 'REP01'),
    // Near-duplicate of 10001: same email in other case, same phone written differently.
    customer('10002', 'Ada Lovelace', 'Ada.Lovelace@Example.COM', '555.010.1001', 'Chicago', 'IL', 'REP01'),
    customer('10003', 'Grace Hopper', 'grace@navy.example.org', '+1 555 010 2002', 'Arlington', 'VA', 'REP02'),
    // Near-duplicate of 10003 by phone only.
    customer('10004', 'G. Hopper', 'ghopper@example.net', '555-010-2002', 'Arlington', 'VA', 'REP02'),
    customer('10005', 'Alan Turing', 'alan@example.co.uk', '555 010 3003', 'Austin', 'TX', 'REP03'),
    customer('10006', 'Katherine Johnson', null, '5550104004', 'Hampton', 'VA', 'REP02'),
  ];
  customers[4].WebReferenceNo = 'heartland:C-3003';
  const parts: P21Part[] = [
    ['SKU-1001', 'Trail Runner Shoe', 8999],
    ['SKU-1002', 'Wool Socks', 1599],
    ['SKU-1003', 'Rain Jacket', 12900],
    ['SKU-1004', 'Water Bottle', 2499],
    ['SKU-1005', 'Headlamp', 3450],
    ['SHIPPING', 'Shipping', 0],
    ['REFUND', 'Refund adjustment', 0],
  ].map(([PartNum, ItemDesc, PriceMinor]) => ({
    PartNum: PartNum as string,
    ItemDesc: ItemDesc as string,
    PriceMinor: PriceMinor as number,
    UnitOfMeasure: 'EA',
    CurrencyID: 'USD',
    Stockable: PartNum === 'SHIPPING' || PartNum === 'REFUND' ? ('N' as const) : ('Y' as const),
    DeleteFlag: 'N' as const,
  }));
  const invLoc: P21InvLoc[] = [
    { PartNum: 'SKU-1001', LocationID: 'MAIN', OnHandQty: 40, QtyAllocated: 0 },
    { PartNum: 'SKU-1002', LocationID: 'MAIN', OnHandQty: 120, QtyAllocated: 0 },
    { PartNum: 'SKU-1003', LocationID: 'MAIN', OnHandQty: 15, QtyAllocated: 0 },
    { PartNum: 'SKU-1004', LocationID: 'MAIN', OnHandQty: 60, QtyAllocated: 0 },
    { PartNum: 'SKU-1005', LocationID: 'MAIN', OnHandQty: 25, QtyAllocated: 0 },
    { PartNum: 'SKU-1001', LocationID: 'WEST', OnHandQty: 5, QtyAllocated: 0 },
    { PartNum: 'SKU-1004', LocationID: 'WEST', OnHandQty: 12, QtyAllocated: 0 },
  ];
  const glAccounts: P21GlAccount[] = [
    ['1010', 'Cash - Operating Bank', 'Asset'],
    ['1030', 'Card Clearing', 'Asset'],
    ['1200', 'Accounts Receivable', 'Asset'],
    ['1999', 'Suspense', 'Asset'],
    ['2100', 'Payroll Liabilities', 'Liability'],
    ['2110', 'Payroll Tax Liabilities', 'Liability'],
    ['2200', 'Sales Tax Payable', 'Liability'],
    ['4000', 'Sales Revenue', 'Revenue'],
    ['4010', 'Sales Returns and Refunds', 'Revenue'],
    ['6000', 'Wages Expense', 'Expense'],
    ['6100', 'Card Processing Fees', 'Expense'],
  ].map(([AccountNo, AccountDesc, AccountType]) => ({
    AccountNo,
    AccountDesc,
    AccountType: AccountType as P21GlAccount['AccountType'],
  }));
  const orders: P21Order[] = [
    {
      OrderNo: '1000001',
      CustomerID: '10001',
      PONo: 'WEB-5001',
      WebReferenceNo: 'seed:order-5001',
      OrderDate: '2024-05-01T00:00:00',
      CurrencyID: 'USD',
      SalesRepID: 'REP01',
      CancelFlag: 'N',
      Completed: 'Y',
      lines: [line(1, 'SKU-1002', 2, 1599, 264)],
    },
    {
      OrderNo: '1000002',
      CustomerID: '10003',
      PONo: 'WEB-5002',
      WebReferenceNo: 'seed:order-5002',
      OrderDate: '2024-05-14T00:00:00',
      CurrencyID: 'USD',
      SalesRepID: 'REP02',
      CancelFlag: 'N',
      Completed: 'Y',
      lines: [line(1, 'SKU-1003', 1, 12900, 1064)],
    },
  ];
  const invoices: P21Invoice[] = [
    {
      InvoiceNo: '2000001',
      CustomerID: '10001',
      OrderNo: '1000001',
      WebReferenceNo: 'seed:inv-5001',
      InvoiceDate: '2024-05-02T00:00:00',
      CurrencyID: 'USD',
      Approved: 'Y',
      Reversed: 'N',
      lines: orders[0].lines,
    },
    {
      InvoiceNo: '2000002',
      CustomerID: '10003',
      OrderNo: '1000002',
      WebReferenceNo: 'seed:inv-5002',
      InvoiceDate: '2024-05-15T00:00:00',
      CurrencyID: 'USD',
      Approved: 'Y',
      Reversed: 'N',
      lines: orders[1].lines,
    },
  ];
  const receipts: P21Receipt[] = [
    {
      ReceiptNo: '3000001',
      CustomerID: '10001',
      InvoiceNo: '2000001',
      AmountMinor: 3462,
      PaymentDate: '2024-05-02T00:00:00',
      PaymentTypeID: 'VISA',
      CheckNo: 'txn_seed_0001',
      WebReferenceNo: 'seed:pay-5001',
      CurrencyID: 'USD',
      Voided: 'N',
    },
    {
      ReceiptNo: '3000002',
      CustomerID: '10003',
      InvoiceNo: '2000002',
      AmountMinor: 10000,
      PaymentDate: '2024-05-15T00:00:00',
      PaymentTypeID: 'MC',
      CheckNo: 'txn_seed_0002',
      WebReferenceNo: 'seed:pay-5002',
      CurrencyID: 'USD',
      Voided: 'N',
    },
    {
      ReceiptNo: '3000003',
      CustomerID: '10003',
      InvoiceNo: '2000002',
      AmountMinor: 3964,
      PaymentDate: '2024-06-03T00:00:00',
      PaymentTypeID: 'CASH',
      CheckNo: null,
      WebReferenceNo: 'seed:pay-5003',
      CurrencyID: 'USD',
      Voided: 'N',
    },
  ];
  return {
    customers,
    parts,
    invLoc,
    locations: ['MAIN', 'WEST'],
    orders,
    invoices,
    receipts,
    creditMemos: [],
    journals: [],
    adjustments: [],
    glAccounts,
    paymentTypes: ['VISA', 'MC', 'AMEX', 'DISC', 'CARD', 'CASH', 'CHECK', 'GIFT'],
    tokens: new Map(),
    tokenGrants: { password: 0, client_credentials: 0, refresh_token: 0 },
    transactionRequests: [],
    seq: {
      customer: 10100,
      order: 1000100,
      invoice: 2000100,
      receipt: 3000100,
      memo: 4000100,
      journal: 5000100,
      adj: 6000100,
    },
  };
}
