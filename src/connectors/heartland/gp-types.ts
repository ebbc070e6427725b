/**
 * What the rest of Ledgerbridge sees of the Heartland / Global Payments GP API: camelCase records with integer
 * minor-unit numbers (the wire carries them as strings), and the `HeartlandGateway` interface that sagas code
 * against. Card data is a payment token plus brand and last four digits, never more.
 */

export const GP_STATUSES = [
  'INITIATED',
  'PREAUTHORIZED',
  'CAPTURED',
  'BATCHED',
  'REVERSED',
  'DECLINED',
  'FUNDED',
  'REJECTED',
] as const;
export type GpStatus = (typeof GP_STATUSES)[number];

export type GpTransactionType = 'SALE' | 'REFUND';
/** AUTO = authorize and capture; LATER = authorize only (capture follows); MULTIPLE = several partial captures. */
export type GpCaptureMode = 'AUTO' | 'LATER' | 'MULTIPLE';
export type GpChannel = 'CP' | 'CNP';
export type CardBrand = 'VISA' | 'MC' | 'AMEX' | 'DISC' | 'OTHER';

export interface GpTransaction {
  id: string;
  type: GpTransactionType;
  status: GpStatus;
  /** True for an issuer decline: declines are data, not errors. */
  declined: boolean;
  amountMinor: number;
  currency: string;
  reference: string | null;
  captureMode: string | null;
  batchId: string | null;
  /** For a refund created from a sale: the sale's id. */
  parentId: string | null;
  cardBrand: CardBrand | null;
  cardLast4: string | null;
  authCode: string | null;
  /** `action.result_code` (SUCCESS, DECLINED, …). */
  resultCode: string;
  /** `payment_method.result` (issuer response code, "00" = approved). */
  paymentResult: string;
  message: string | null;
  timeCreated: string;
}

export interface SaleRequest {
  amountMinor: number;
  currency: string;
  /** A payment token (PMT_…) from the tokenization step; never a card number. */
  paymentToken: string;
  /** Our id for the payment; used to find the remote record after a crash. */
  reference: string;
  orderReference?: string;
  /** AUTO (default) = sale; LATER = authorization only. */
  captureMode?: GpCaptureMode;
  channel?: GpChannel;
  entryMode?: string;
  idempotencyKey: string;
}

export interface FollowUpRequest {
  /** Partial amount; omitted = the full remaining amount. */
  amountMinor?: number;
  /** Our reference for a refund (default: the sale's), so a crashed refund can be found again. */
  reference?: string;
  idempotencyKey: string;
}

export interface BrandTotals {
  count: number;
  amountMinor: number;
}

export interface BrandBreakdown {
  brand: CardBrand;
  sales: BrandTotals;
  refunds: BrandTotals;
  fundingCreditMinor: number;
  fundingDebitMinor: number;
}

export interface GpBatchClose {
  id: string;
  batchId: string;
  transactionCount: number;
  amountMinor: number;
  currency: string;
  sales: BrandTotals;
  refunds: BrandTotals;
  brandBreakdown: BrandBreakdown[];
  resultCode: string;
}

export interface GpSettlementTransaction {
  id: string;
  batchId: string;
  depositId: string | null;
  type: GpTransactionType;
  status: string;
  amountMinor: number;
  feeMinor: number;
  currency: string;
  brand: CardBrand;
  cardLast4: string | null;
  reference: string | null;
  timeCreated: string;
  depositStatus: string | null;
}

export interface GpDeposit {
  id: string;
  timeCreated: string;
  status: string;
  fundingType: string;
  /** Net amount deposited (sales − refunds − fees); negative when the funding type is DEBIT. */
  amountMinor: number;
  currency: string;
  sales: BrandTotals;
  refunds: BrandTotals;
  feesMinor: number;
  merchantId: string | null;
}

export interface SettlementQuery {
  batchId?: string;
  depositId?: string;
  /** YYYY-MM-DD. */
  fromSettlementDate?: string;
  toSettlementDate?: string;
  /** 1-based page to start from: the `nextPage` cursor of an earlier page, to resume. */
  startPage?: number;
  /** Records per page, at most 1000. */
  pageSize?: number;
}

export interface Page<T> {
  page: number;
  pageSize: number;
  totalRecordCount: number;
  records: T[];
  /** The page to ask for next, or null after the last page: store it to resume. */
  nextPage: number | null;
}

/** The Heartland payment gateway as sagas and activities see it. */
export interface HeartlandGateway {
  /** Authorizes (captureMode LATER) or authorizes and captures (AUTO). A decline is returned with status DECLINED. */
  sale(req: SaleRequest): Promise<GpTransaction>;
  /** Captures an authorization (full, or the given amount). */
  capture(transactionId: string, req: FollowUpRequest): Promise<GpTransaction>;
  /** Refunds a captured sale in full or in part; returns the new REFUND transaction. */
  refund(transactionId: string, req: FollowUpRequest): Promise<GpTransaction>;
  /** Voids an authorization or an unbatched capture or refund. */
  reversal(transactionId: string, req: { idempotencyKey: string }): Promise<GpTransaction>;
  /** Closes a batch and returns its totals with the per-brand breakdown. */
  closeBatch(batchReference: string, req?: { idempotencyKey?: string }): Promise<GpBatchClose>;
  getTransaction(transactionId: string): Promise<GpTransaction>;
  /** Transactions carrying our reference (for the crash-recovery lookup before a retried write). */
  findTransactionsByReference(reference: string): Promise<GpTransaction[]>;
  /** Settled transactions, one page at a time. */
  settlementTransactions(q?: SettlementQuery): AsyncIterable<Page<GpSettlementTransaction>>;
  /** Deposits, one page at a time. */
  settlementDeposits(q?: SettlementQuery): AsyncIterable<Page<GpDeposit>>;
}
