import { z } from 'zod';
import {
  GP_STATUSES,
  type BrandTotals,
  type CardBrand,
  type GpBatchClose,
  type GpDeposit,
  type GpSettlementTransaction,
  type GpTransaction,
} from './gp-types';

/**
 * Wire schemas of the GP API responses the connector reads (only the fields it uses; others pass unchecked), and
 * the mappers from wire records to the camelCase records of gp-types.ts.
 */

/** Integer minor units as a decimal string, as the GP API sends amounts. */
const minor = z.string().regex(/^-?\d{1,15}$/, 'expected integer minor units as a string');
const opt = z.string().nullish();

export const gpTokenSchema = z.object({
  token: z.string().min(1),
  type: opt,
  app_id: opt,
  app_name: opt,
  time_created: opt,
  seconds_to_expire: z.number().int().positive(),
});

export const gpErrorSchema = z.object({
  error_code: z.string(),
  detailed_error_code: z.string().optional(),
  detailed_error_description: z.string().optional(),
});

export const gpTransactionSchema = z.object({
  id: z.string().min(1),
  time_created: z.string(),
  type: z.enum(['SALE', 'REFUND']),
  status: z.enum(GP_STATUSES),
  capture_mode: opt,
  amount: minor,
  currency: z.string().length(3),
  reference: opt,
  batch_id: opt,
  parent_resource_id: opt,
  payment_method: z.object({
    result: z.string(),
    message: opt,
    entry_mode: opt,
    card: z.object({ brand: opt, masked_number_last4: opt, authcode: opt }).nullish(),
  }),
  action: z.object({ id: opt, type: opt, result_code: z.string() }),
});
export type GpTransactionWire = z.infer<typeof gpTransactionSchema>;

const paging = z.object({ page: z.number().int().min(1), page_size: z.number().int().min(1) });

export const gpTransactionListSchema = z.object({
  total_record_count: z.number().int().min(0),
  paging,
  transactions: z.array(gpTransactionSchema),
});

const totals = z.object({ count: z.number().int().min(0), amount: minor });

export const gpBatchCloseSchema = z.object({
  id: z.string(),
  batch_id: z.string(),
  transaction_count: z.number().int().min(0),
  amount: minor,
  currency: z.string().length(3),
  sales: totals,
  refunds: totals,
  brand_breakdown: z.array(
    z.object({ brand: z.string(), sales: totals, refunds: totals, funding_credit: minor, funding_debit: minor }),
  ),
  action: z.object({ type: z.literal('CLOSE'), result_code: z.string() }),
});

export const gpSettlementTransactionSchema = z.object({
  id: z.string(),
  time_created: z.string(),
  status: z.string(),
  type: z.enum(['SALE', 'REFUND']),
  amount: minor,
  currency: z.string().length(3),
  reference: opt,
  batch_id: z.string(),
  deposit_id: opt,
  deposit_status: opt,
  fees: z.object({ amount: minor }),
  payment_method: z.object({ card: z.object({ brand: z.string(), masked_number_first6last4: opt }) }),
});

export const gpSettlementTransactionListSchema = z.object({
  total_record_count: z.number().int().min(0),
  paging,
  transactions: z.array(gpSettlementTransactionSchema),
});

export const gpDepositSchema = z.object({
  id: z.string(),
  time_created: z.string(),
  status: z.string(),
  funding_type: z.string(),
  amount: minor,
  currency: z.string().length(3),
  system: z.object({ mid: opt }).nullish(),
  sales: totals,
  refunds: totals,
  fees: z.object({ amount: minor }),
});

export const gpDepositListSchema = z.object({
  total_record_count: z.number().int().min(0),
  paging,
  deposits: z.array(gpDepositSchema),
});

const BRANDS: Record<string, CardBrand> = {
  VISA: 'VISA',
  MC: 'MC',
  MASTERCARD: 'MC',
  AMEX: 'AMEX',
  DISC: 'DISC',
  DISCOVER: 'DISC',
};

/** Normalises a GP brand name to ours. */
export function toBrand(brand: string | null | undefined): CardBrand {
  return (brand && BRANDS[brand.toUpperCase()]) || 'OTHER';
}

function last4(masked: string | null | undefined): string | null {
  const digits = masked?.replace(/\D/g, '') ?? '';
  return digits.length >= 4 ? digits.slice(-4) : null;
}

const num = (s: string) => Number(s);
const mapTotals = (t: { count: number; amount: string }): BrandTotals => ({
  count: t.count,
  amountMinor: num(t.amount),
});

export function mapTransaction(w: GpTransactionWire): GpTransaction {
  const card = w.payment_method.card;
  return {
    id: w.id,
    type: w.type,
    status: w.status,
    declined: w.status === 'DECLINED',
    amountMinor: num(w.amount),
    currency: w.currency,
    reference: w.reference ?? null,
    captureMode: w.capture_mode ?? null,
    batchId: w.batch_id ?? null,
    parentId: w.parent_resource_id ?? null,
    cardBrand: card?.brand ? toBrand(card.brand) : null,
    cardLast4: last4(card?.masked_number_last4),
    authCode: card?.authcode ?? null,
    resultCode: w.action.result_code,
    paymentResult: w.payment_method.result,
    message: w.payment_method.message ?? null,
    timeCreated: w.time_created,
  };
}

export function mapBatchClose(w: z.infer<typeof gpBatchCloseSchema>): GpBatchClose {
  return {
    id: w.id,
    batchId: w.batch_id,
    transactionCount: w.transaction_count,
    amountMinor: num(w.amount),
    currency: w.currency,
    sales: mapTotals(w.sales),
    refunds: mapTotals(w.refunds),
    brandBreakdown: w.brand_breakdown.map((b) => ({
      brand: toBrand(b.brand),
      sales: mapTotals(b.sales),
      refunds: mapTotals(b.refunds),
      fundingCreditMinor: num(b.funding_credit),
      fundingDebitMinor: num(b.funding_debit),
    })),
    resultCode: w.action.result_code,
  };
}

export function mapSettlementTransaction(w: z.infer<typeof gpSettlementTransactionSchema>): GpSettlementTransaction {
  return {
    id: w.id,
    batchId: w.batch_id,
    depositId: w.deposit_id ?? null,
    type: w.type,
    status: w.status,
    amountMinor: num(w.amount),
    feeMinor: num(w.fees.amount),
    currency: w.currency,
    brand: toBrand(w.payment_method.card.brand),
    cardLast4: last4(w.payment_method.card.masked_number_first6last4),
    reference: w.reference ?? null,
    timeCreated: w.time_created,
    depositStatus: w.deposit_status ?? null,
  };
}

export function mapDeposit(w: z.infer<typeof gpDepositSchema>): GpDeposit {
  return {
    id: w.id,
    timeCreated: w.time_created,
    status: w.status,
    fundingType: w.funding_type,
    amountMinor: w.funding_type === 'DEBIT' ? -Math.abs(num(w.amount)) : num(w.amount),
    currency: w.currency,
    sales: mapTotals(w.sales),
    refunds: mapTotals(w.refunds),
    feesMinor: num(w.fees.amount),
    merchantId: w.system?.mid ?? null,
  };
}

/**
 * GP error bodies: `{error_code, detailed_error_code, detailed_error_description}`. The public docs name the
 * `error_code` values; the detailed codes below are the ones the connector and the simulator agree on.
 */
export const GP_ERRORS = {
  notAuthenticated: { status: 401, error_code: 'NOT_AUTHENTICATED', detailed_error_code: '40001' },
  badCredentials: { status: 403, error_code: 'ACTION_NOT_AUTHORIZED', detailed_error_code: '40004' },
  missingField: { status: 400, error_code: 'MANDATORY_DATA_MISSING', detailed_error_code: '40005' },
  invalidField: { status: 400, error_code: 'INVALID_REQUEST_DATA', detailed_error_code: '40006' },
  rawCardData: { status: 400, error_code: 'INVALID_REQUEST_DATA', detailed_error_code: '40007' },
  refundExceeds: { status: 400, error_code: 'INVALID_REQUEST_DATA', detailed_error_code: '40213' },
  invalidAction: { status: 400, error_code: 'INVALID_TRANSACTION_ACTION', detailed_error_code: '40090' },
  batchClosed: { status: 400, error_code: 'INVALID_BATCH_ACTION', detailed_error_code: '40091' },
  notFound: { status: 404, error_code: 'RESOURCE_NOT_FOUND', detailed_error_code: '40008' },
  idempotencyReused: { status: 409, error_code: 'DUPLICATE_ACTION', detailed_error_code: '40039' },
} as const;
