/**
 * The one interface the sagas use to talk to any ERP. Four adapters implement it (odoo, m3, p21, sagepro).
 * Amounts are integer minor units with an ISO currency; dates are ISO `YYYY-MM-DD` (adapters convert, e.g. Sage
 * Pro's MM/DD/YYYY). Every write takes a WriteContext: its idempotency key is recorded in `external_writes`, and the
 * adapter looks the record up on the remote side by our reference (`ref`) before creating, so a retry after a crash
 * between the remote write and our own record never creates a second remote record.
 */

export type ErpSystem = 'odoo' | 'm3' | 'p21' | 'sagepro';

export interface WriteContext {
  /** Derived from workflow id, step and line (see src/domain/ids.ts idempotencyKey). */
  idempotencyKey: string;
  workflowId?: string;
}

export interface Address {
  line1: string;
  line2?: string;
  city: string;
  region?: string;
  postalCode?: string;
  country: string;
}

export interface ErpCustomerInput {
  /** Our reference for the customer (e.g. `heartland:C123` or `commerce:8812`); stored on the ERP record. */
  externalRef: string;
  name: string;
  firstName?: string;
  lastName?: string;
  email?: string;
  phone?: string;
  address?: Address;
}

export interface ErpCustomer {
  erpId: string;
  name: string;
  email?: string;
  phone?: string;
  externalRef?: string;
}

export interface ErpLine {
  sku: string;
  description?: string;
  qty: number;
  unitPriceMinor: number;
  /** Tax of this line, already allocated (minor units). */
  taxMinor?: number;
  uom?: string;
}

export interface ErpDocumentInput {
  /** Our reference (order id, refund id, …): unique per document, used for the remote lookup before create. */
  ref: string;
  customerErpId: string;
  currency: string;
  date: string;
  lines: ErpLine[];
  totalMinor: number;
}

export interface ErpSalesOrderInput extends ErpDocumentInput {
  poNumber?: string;
}

export interface ErpInvoiceInput extends ErpDocumentInput {
  salesOrderErpId?: string;
}

export interface ErpCreditMemoInput extends ErpDocumentInput {
  invoiceErpId?: string;
  reason: string;
}

export interface ErpPaymentInput {
  ref: string;
  invoiceErpId: string;
  customerErpId: string;
  amountMinor: number;
  currency: string;
  date: string;
  /** Payment method (e.g. `card:VISA`, `cash`); the adapter maps it to a journal / cash account. */
  method: string;
  /** The ERP journal for this method, from the GL rules (adapters that map journals themselves may ignore it). */
  journal?: string;
  /** The processor's transaction id (Heartland), kept on the ERP payment for reconciliation. */
  processorRef: string;
}

export interface JournalLine {
  account: string;
  debitMinor: number;
  creditMinor: number;
  description?: string;
  /** Analytic dimensions, e.g. { brand: 'VISA', method: 'card' }. */
  dimensions?: Record<string, string>;
}

export interface ErpJournalInput {
  /** External reference, e.g. the settlement batch id: a journal with the same ref is never posted twice. */
  ref: string;
  date: string;
  currency: string;
  journal?: string;
  memo: string;
  lines: JournalLine[];
}

export interface ErpDocRef {
  erpId: string;
  number?: string;
  /** Normalised status: draft | open | posted | cancelled | reversed | applied | confirmed | … (adapter-specific raw status in `rawStatus`). */
  status: string;
  rawStatus?: string;
}

export interface OnHand {
  sku: string;
  location: string;
  qty: number;
}

export interface InventoryAdjustment {
  sku: string;
  location: string;
  /** Negative for a sale, positive for a restock. */
  delta: number;
}

export interface ErpProduct {
  sku: string;
  name: string;
  priceMinor: number;
  currency: string;
  uom?: string;
}

export interface ErpPaymentRecord {
  erpId: string;
  ref: string;
  processorRef?: string;
  amountMinor: number;
  currency: string;
  date: string;
  method?: string;
}

export interface ErpConnector {
  readonly system: ErpSystem;

  findCustomers(q: { email?: string; phone?: string; externalRef?: string }): Promise<ErpCustomer[]>;
  upsertCustomer(c: ErpCustomerInput, ctx: WriteContext): Promise<ErpCustomer>;

  createSalesOrder(o: ErpSalesOrderInput, ctx: WriteContext): Promise<ErpDocRef>;
  cancelSalesOrder(erpId: string, ctx: WriteContext): Promise<ErpDocRef>;
  getSalesOrder(erpId: string): Promise<ErpDocRef>;

  createInvoice(i: ErpInvoiceInput, ctx: WriteContext): Promise<ErpDocRef>;
  postInvoice(erpId: string, ctx: WriteContext): Promise<ErpDocRef>;
  reverseInvoice(erpId: string, ctx: WriteContext): Promise<ErpDocRef>;

  applyPayment(p: ErpPaymentInput, ctx: WriteContext): Promise<ErpDocRef>;
  unapplyPayment(paymentErpId: string, ctx: WriteContext): Promise<ErpDocRef>;
  /** Payments recorded in the ERP for a date range (the ERP side of settlement reconciliation). */
  listPayments(q: { from: string; to: string }): AsyncIterable<ErpPaymentRecord>;

  draftCreditMemo(c: ErpCreditMemoInput, ctx: WriteContext): Promise<ErpDocRef>;
  postCreditMemo(erpId: string, ctx: WriteContext): Promise<ErpDocRef>;
  cancelCreditMemo(erpId: string, ctx: WriteContext): Promise<ErpDocRef>;

  /** Throws GlAccountNotFound (non-retryable) when the ERP does not know an account. */
  postJournal(j: ErpJournalInput, ctx: WriteContext): Promise<ErpDocRef>;
  reverseJournal(erpId: string, ctx: WriteContext): Promise<ErpDocRef>;
  findJournalByRef(ref: string): Promise<ErpDocRef | null>;

  readOnHand(q?: { skus?: string[]; location?: string }): Promise<OnHand[]>;
  adjustInventory(adjustments: InventoryAdjustment[], ctx: WriteContext): Promise<void>;
  listProducts(): Promise<ErpProduct[]>;
}
