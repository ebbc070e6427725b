import { createHash, randomBytes } from 'node:crypto';
import {
  feeFor,
  materialSegment,
  syntheticSegment,
  SYNTHETIC_BRANDS,
  type Segment,
  type SegmentTotals,
  type SettlementRecordWire,
  type SettlementSeed,
} from './synthetic';

/** In-memory state of the GP API simulator: transactions, batches, settlement segments, idempotency and tokens. */

export type SimStatus = 'INITIATED' | 'PREAUTHORIZED' | 'CAPTURED' | 'BATCHED' | 'REVERSED' | 'DECLINED';

export interface SimTransaction {
  id: string;
  type: 'SALE' | 'REFUND';
  status: SimStatus;
  channel: string;
  captureMode: string;
  /** Authorized (or refunded) amount. */
  amount: number;
  captured: number;
  refunded: number;
  currency: string;
  country: string;
  accountName: string;
  reference: string | null;
  orderReference: string | null;
  paymentToken: string;
  entryMode: string;
  brand: string;
  last4: string;
  authCode: string;
  batchId: string | null;
  parentId: string | null;
  timeCreated: string;
  resultCode: string;
  paymentResult: string;
  message: string;
  lastAction: string;
  actionId: string;
}

export interface SimBatch {
  id: string;
  status: 'OPEN' | 'CLOSED';
  transactionIds: string[];
  closeResponse?: Record<string, unknown>;
  /** Seeded batches have their records in a synthetic segment from the start. */
  segment?: Segment;
}

export interface StoredResponse {
  hash: string;
  status: number;
  body: unknown;
}

export const SIM_MERCHANT = {
  id: 'MER_LEDGERBRIDGE_SANDBOX',
  name: 'Ledgerbridge Sandbox Merchant',
  mid: '101023947262',
};

let counter = 0;
function newId(prefix: string): string {
  counter++;
  const serial = counter.toString(36).padStart(4, '0');
  return `${prefix}_${Date.now().toString(36)}${serial}${randomBytes(3).toString('hex')}`;
}

function digitsOf(text: string, n: number): string {
  const h = createHash('sha256').update(text).digest();
  let out = '';
  for (let i = 0; out.length < n; i++) out += String(h[i % h.length] % 10);
  return out;
}

export class GpSimState {
  readonly transactions = new Map<string, SimTransaction>();
  readonly byReference = new Map<string, string[]>();
  readonly batches = new Map<string, SimBatch>();
  /** Settlement records, in the order they became available. */
  readonly segments: Segment[] = [];
  readonly idempotency = new Map<string, StoredResponse>();
  readonly tokens = new Map<string, { epoch: number; expiresAt: number }>();
  readonly stats = { tokensIssued: 0, writes: 0, replays: 0 };
  private batchSeq = 0;
  openBatchId: string;

  constructor(
    readonly appId: string,
    readonly appName = 'ledgerbridge-sandbox',
  ) {
    this.openBatchId = this.newBatch();
  }

  private newBatch(): string {
    this.batchSeq++;
    const id = `BAT_${String(this.batchSeq).padStart(6, '0')}`;
    this.batches.set(id, { id, status: 'OPEN', transactionIds: [] });
    return id;
  }

  issueToken(epoch: number, ttlSeconds: number): string {
    const token = `GPT_${randomBytes(24).toString('base64url')}`;
    this.tokens.set(token, { epoch, expiresAt: Date.now() + ttlSeconds * 1000 });
    this.stats.tokensIssued++;
    return token;
  }

  tokenValid(token: string, epoch: number): boolean {
    const t = this.tokens.get(token);
    return !!t && t.epoch >= epoch && Date.now() < t.expiresAt;
  }

  /** Registers lazily generated settled transactions for a batch (listed in settlement reports at once). */
  seedSettlement(seed: SettlementSeed): Segment {
    if (this.batches.has(seed.batchId)) throw new Error(`batch ${seed.batchId} already exists`);
    const segment = syntheticSegment(seed);
    this.batches.set(seed.batchId, { id: seed.batchId, status: 'OPEN', transactionIds: [], segment });
    this.segments.push(segment);
    return segment;
  }

  createTransaction(input: {
    type: 'SALE' | 'REFUND';
    captureMode: string;
    channel: string;
    amount: number;
    currency: string;
    country: string;
    accountName: string;
    reference: string | null;
    orderReference: string | null;
    paymentToken: string;
    entryMode: string;
  }): SimTransaction {
    const token = input.paymentToken;
    const declined = token.toUpperCase().endsWith('DECLINE');
    const pending = token.toUpperCase().endsWith('PENDING');
    let status: SimStatus;
    if (declined) status = 'DECLINED';
    else if (pending) status = 'INITIATED';
    else if (input.type === 'REFUND' || input.captureMode === 'AUTO') status = 'CAPTURED';
    else status = 'PREAUTHORIZED';
    const tx: SimTransaction = {
      id: newId('TRN'),
      type: input.type,
      status,
      channel: input.channel,
      captureMode: input.captureMode,
      amount: input.amount,
      captured: status === 'CAPTURED' ? input.amount : 0,
      refunded: 0,
      currency: input.currency,
      country: input.country,
      accountName: input.accountName,
      reference: input.reference,
      orderReference: input.orderReference,
      paymentToken: token,
      entryMode: input.entryMode,
      brand: SYNTHETIC_BRANDS[Number(digitsOf(token, 2)) % 4],
      last4: digitsOf(`${token}/last4`, 4),
      authCode: declined ? '' : digitsOf(`${token}/${Date.now()}/${counter}`, 6),
      batchId: null,
      parentId: null,
      timeCreated: new Date().toISOString(),
      resultCode: declined ? 'DECLINED' : 'SUCCESS',
      paymentResult: declined ? '05' : '00',
      message: declined ? 'DECLINED' : status === 'INITIATED' ? 'PENDING' : 'SUCCESS',
      lastAction: input.type === 'REFUND' ? 'REFUND' : input.captureMode === 'AUTO' ? 'SALE' : 'AUTHORIZE',
      actionId: newId('ACT'),
    };
    if (status === 'CAPTURED') this.addToOpenBatch(tx);
    this.store(tx);
    return tx;
  }

  store(tx: SimTransaction): void {
    this.transactions.set(tx.id, tx);
    if (tx.reference) {
      const ids = this.byReference.get(tx.reference) ?? [];
      if (!ids.includes(tx.id)) ids.push(tx.id);
      this.byReference.set(tx.reference, ids);
    }
  }

  addToOpenBatch(tx: SimTransaction): void {
    tx.batchId = this.openBatchId;
    this.batches.get(this.openBatchId)!.transactionIds.push(tx.id);
  }

  /** A follow-up refund transaction of a captured sale. */
  createRefund(sale: SimTransaction, amount: number, reference: string | null): SimTransaction {
    const tx: SimTransaction = {
      ...sale,
      id: newId('TRN'),
      type: 'REFUND',
      status: 'CAPTURED',
      amount,
      captured: amount,
      refunded: 0,
      reference: reference ?? sale.reference,
      parentId: sale.id,
      batchId: null,
      timeCreated: new Date().toISOString(),
      resultCode: 'SUCCESS',
      paymentResult: '00',
      message: 'SUCCESS',
      lastAction: 'REFUND',
      actionId: newId('ACT'),
    };
    sale.refunded += amount;
    this.addToOpenBatch(tx);
    this.store(tx);
    return tx;
  }

  /** Closes an API batch (its captured transactions become BATCHED and settle) or a seeded one. */
  closeBatch(batch: SimBatch): Record<string, unknown> {
    let segment = batch.segment;
    if (!segment) {
      const date = new Date().toISOString().slice(0, 10);
      const depositId = `DEP_${batch.id}`;
      const records: SettlementRecordWire[] = [];
      let currency = 'USD';
      for (const id of batch.transactionIds) {
        const tx = this.transactions.get(id)!;
        if (tx.status !== 'CAPTURED') continue;
        tx.status = 'BATCHED';
        currency = tx.currency;
        records.push(this.settlementRecord(tx, depositId, date));
      }
      segment = materialSegment(batch.id, depositId, currency, date, records);
      this.segments.push(segment);
    }
    batch.status = 'CLOSED';
    batch.segment = segment;
    if (batch.id === this.openBatchId) this.openBatchId = this.newBatch();
    batch.closeResponse = this.closeResponse(batch.id, segment);
    return batch.closeResponse;
  }

  private settlementRecord(tx: SimTransaction, depositId: string, date: string): SettlementRecordWire {
    const first6: Record<string, string> = { VISA: '424242', MC: '555555', AMEX: '378282', DISC: '601111' };
    return {
      id: tx.id,
      time_created: tx.timeCreated,
      status: 'FUNDED',
      type: tx.type,
      channel: tx.channel,
      amount: String(tx.captured),
      currency: tx.currency,
      reference: tx.reference ?? '',
      batch_id: tx.batchId!,
      batch_time_created: new Date().toISOString(),
      deposit_id: depositId,
      deposit_status: 'FUNDED',
      deposit_time_created: `${date}T06:00:00.000Z`,
      fees: { amount: String(feeFor(tx.type, tx.captured)) },
      payment_method: { card: { brand: tx.brand, masked_number_first6last4: `${first6[tx.brand]}XXXXXX${tx.last4}` } },
    };
  }

  closeResponse(batchId: string, segment: Segment): Record<string, unknown> {
    const t = segment.totals();
    const now = new Date().toISOString();
    return {
      id: batchId,
      batch_id: batchId,
      status: 'CLOSED',
      time_created: now,
      merchant_id: SIM_MERCHANT.id,
      merchant_name: SIM_MERCHANT.name,
      transaction_count: t.transactionCount,
      amount: String(t.sales.amount - t.refunds.amount),
      currency: segment.currency,
      sales: { count: t.sales.count, amount: String(t.sales.amount) },
      refunds: { count: t.refunds.count, amount: String(t.refunds.amount) },
      brand_breakdown: brandBreakdown(t),
      action: {
        id: newId('ACT'),
        type: 'CLOSE',
        time_created: now,
        result_code: 'SUCCESS',
        app_id: this.appId,
        app_name: this.appName,
      },
    };
  }

  /** Deposits: one per deposit id across the settlement segments, totals summed. */
  deposits(): { id: string; settlementDate: string; segments: Segment[] }[] {
    const byId = new Map<string, { id: string; settlementDate: string; segments: Segment[] }>();
    for (const s of this.segments) {
      const d = byId.get(s.depositId) ?? { id: s.depositId, settlementDate: s.settlementDate, segments: [] };
      d.segments.push(s);
      byId.set(s.depositId, d);
    }
    return [...byId.values()];
  }
}

export function brandBreakdown(t: SegmentTotals): Record<string, unknown>[] {
  const order = [...SYNTHETIC_BRANDS, ...[...t.byBrand.keys()].filter((b) => !SYNTHETIC_BRANDS.includes(b as never))];
  return order
    .filter((b) => t.byBrand.has(b))
    .map((brand) => {
      const b = t.byBrand.get(brand)!;
      return {
        brand,
        sales: { count: b.sales.count, amount: String(b.sales.amount) },
        refunds: { count: b.refunds.count, amount: String(b.refunds.amount) },
        funding_credit: String(b.sales.amount),
        funding_debit: String(b.refunds.amount + b.fees),
      };
    });
}

export function depositWire(d: { id: string; settlementDate: string; segments: Segment[] }): Record<string, unknown> {
  let sales = 0;
  let salesCount = 0;
  let refunds = 0;
  let refundsCount = 0;
  let fees = 0;
  for (const s of d.segments) {
    const t = s.totals();
    sales += t.sales.amount;
    salesCount += t.sales.count;
    refunds += t.refunds.amount;
    refundsCount += t.refunds.count;
    fees += t.fees;
  }
  const net = sales - refunds - fees;
  return {
    id: d.id,
    time_created: `${d.settlementDate}T06:00:00.000Z`,
    status: 'FUNDED',
    funding_type: net >= 0 ? 'CREDIT' : 'DEBIT',
    amount: String(Math.abs(net)),
    currency: d.segments[0].currency,
    system: { mid: SIM_MERCHANT.mid, hierarchy: '000-00-000-000-000', name: SIM_MERCHANT.name },
    sales: { count: salesCount, amount: String(sales) },
    refunds: { count: refundsCount, amount: String(refunds) },
    disputes: { chargebacks: { count: 0, amount: '0' }, reversals: { count: 0, amount: '0' } },
    fees: { amount: String(fees) },
  };
}
