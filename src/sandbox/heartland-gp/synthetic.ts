/**
 * Synthetic settled transactions, generated from their index on demand: a batch of 100,000 records costs a few
 * numbers until a page is asked for, and the same index always yields the same record.
 */

export const SYNTHETIC_BRANDS = ['VISA', 'MC', 'AMEX', 'DISC'] as const;
export type SyntheticBrand = (typeof SYNTHETIC_BRANDS)[number];

export interface SettlementSeed {
  batchId: string;
  count: number;
  depositId?: string;
  currency?: string;
  /** Settlement (deposit) date, YYYY-MM-DD. Default: today (UTC). */
  settlementDate?: string;
  /** Varies the amounts between seeds. */
  salt?: number;
}

export interface SettlementRecordWire {
  id: string;
  time_created: string;
  status: string;
  type: 'SALE' | 'REFUND';
  channel: string;
  amount: string;
  currency: string;
  reference: string;
  batch_id: string;
  batch_time_created: string;
  deposit_id: string;
  deposit_status: string;
  deposit_time_created: string;
  fees: { amount: string };
  payment_method: { card: { brand: string; masked_number_first6last4: string } };
}

export interface Totals {
  count: number;
  amount: number;
}

export interface SegmentTotals {
  transactionCount: number;
  sales: Totals;
  refunds: Totals;
  fees: number;
  byBrand: Map<string, { sales: Totals; refunds: Totals; fees: number }>;
}

/** Card fee the simulator charges on a sale: 2.9 % (rounded half up) + 30 minor units; refunds carry none. */
export function feeFor(type: 'SALE' | 'REFUND', amount: number): number {
  return type === 'SALE' ? Math.floor((amount * 29 + 500) / 1000) + 30 : 0;
}

const FIRST6: Record<string, string> = { VISA: '424242', MC: '555555', AMEX: '378282', DISC: '601111' };

/** A contiguous run of settlement records: either materialised (closed API batches) or generated (seeds). */
export interface Segment {
  batchId: string;
  depositId: string;
  currency: string;
  settlementDate: string;
  count: number;
  at(i: number): SettlementRecordWire;
  totals(): SegmentTotals;
}

export function computeTotals(count: number, at: (i: number) => SettlementRecordWire): SegmentTotals {
  const t: SegmentTotals = {
    transactionCount: 0,
    sales: { count: 0, amount: 0 },
    refunds: { count: 0, amount: 0 },
    fees: 0,
    byBrand: new Map(),
  };
  for (let i = 0; i < count; i++) {
    const r = at(i);
    const amount = Number(r.amount);
    const fee = Number(r.fees.amount);
    const brand = r.payment_method.card.brand;
    let b = t.byBrand.get(brand);
    if (!b) t.byBrand.set(brand, (b = { sales: { count: 0, amount: 0 }, refunds: { count: 0, amount: 0 }, fees: 0 }));
    const bucket = r.type === 'SALE' ? 'sales' : 'refunds';
    t[bucket].count++;
    t[bucket].amount += amount;
    b[bucket].count++;
    b[bucket].amount += amount;
    t.fees += fee;
    b.fees += fee;
    t.transactionCount++;
  }
  return t;
}

/** A lazily generated segment: record i is computed from i alone. */
export function syntheticSegment(seed: SettlementSeed): Segment {
  const currency = seed.currency ?? 'USD';
  const settlementDate = seed.settlementDate ?? new Date().toISOString().slice(0, 10);
  const depositId = seed.depositId ?? `DEP_${seed.batchId}`;
  const salt = seed.salt ?? 0;
  const dayStart = Date.parse(`${settlementDate}T00:00:00Z`) - 86_400_000;
  const batchTime = new Date(dayStart + 86_399_000).toISOString();
  const depositTime = `${settlementDate}T06:00:00.000Z`;
  let cached: SegmentTotals | undefined;
  const at = (i: number): SettlementRecordWire => {
    const brand = SYNTHETIC_BRANDS[i % 4];
    const type = i % 10 === 9 ? 'REFUND' : 'SALE';
    const amount = 500 + ((i * 7919 + salt * 104_729) % 20_000);
    return {
      id: `TRN_${seed.batchId}_${String(i).padStart(7, '0')}`,
      time_created: new Date(dayStart + Math.floor((i * 86_000_000) / Math.max(1, seed.count))).toISOString(),
      status: 'FUNDED',
      type,
      channel: 'CNP',
      amount: String(amount),
      currency,
      reference: `${seed.batchId}-${i}`,
      batch_id: seed.batchId,
      batch_time_created: batchTime,
      deposit_id: depositId,
      deposit_status: 'FUNDED',
      deposit_time_created: depositTime,
      fees: { amount: String(feeFor(type, amount)) },
      payment_method: {
        card: { brand, masked_number_first6last4: `${FIRST6[brand]}XXXXXX${String(1000 + (i % 9000))}` },
      },
    };
  };
  return {
    batchId: seed.batchId,
    depositId,
    currency,
    settlementDate,
    count: seed.count,
    at,
    totals: () => (cached ??= computeTotals(seed.count, at)),
  };
}

/** A segment over records that already exist (an API batch closed through the simulator). */
export function materialSegment(
  batchId: string,
  depositId: string,
  currency: string,
  settlementDate: string,
  records: SettlementRecordWire[],
): Segment {
  let cached: SegmentTotals | undefined;
  return {
    batchId,
    depositId,
    currency,
    settlementDate,
    count: records.length,
    at: (i) => records[i],
    totals: () => (cached ??= computeTotals(records.length, (i) => records[i])),
  };
}
