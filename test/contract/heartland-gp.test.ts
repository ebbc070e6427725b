import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { Writable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import express from 'express';
import { ApplicationFailure } from '@temporalio/common';
import { GpApiConnector, GP_CONNECTOR_VERSION, type GpApiOptions } from '../../src/connectors/heartland/gp-api';
import type { GpTransaction, SaleRequest } from '../../src/connectors/heartland/gp-types';
import { signGpWebhook, verifyGpSignature } from '../../src/connectors/heartland/webhook-signature';
import { startHeartlandGpSimulator, type HeartlandGpSimulator } from '../../src/sandbox/heartland-gp';
import { idempotentWrite } from '../../src/db/external-writes';
import { idempotencyKey } from '../../src/domain/ids';
import { luhnValid } from '../../src/domain/card-data';
import { createLogger } from '../../src/logger';
import type { Db } from '../../src/db';
import { testDb } from '../support/env';
import { TEST_PAN } from '../support/pan-audit';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const APP_ID = 'lb-contract-app';
const APP_KEY = 'lb-contract-key-0123456789';
const BIG = 100_000;

let sim: HeartlandGpSimulator;
let db: Db;
const connectors: GpApiConnector[] = [];
const run = Math.random().toString(36).slice(2, 8);
let seq = 0;
const uid = (p: string) => `${p}-${run}-${++seq}`;

function connector(extra: Partial<GpApiOptions> = {}): GpApiConnector {
  const c = new GpApiConnector({ baseUrl: sim.baseUrl, appId: APP_ID, appKey: APP_KEY, timeoutMs: 3000, ...extra });
  connectors.push(c);
  return c;
}

function sale(overrides: Partial<SaleRequest> = {}): SaleRequest {
  return {
    amountMinor: 8999,
    currency: 'USD',
    paymentToken: 'PMT_trail_runner',
    reference: uid('pay'),
    orderReference: uid('order'),
    idempotencyKey: uid('key'),
    ...overrides,
  };
}

async function caught(p: Promise<unknown>): Promise<ApplicationFailure> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(ApplicationFailure);
    return err as ApplicationFailure;
  }
  throw new Error('expected a failure');
}

async function setFaults(spec: unknown): Promise<void> {
  const res = await fetch(`${sim.url}/__faults`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(spec),
  });
  expect(res.status).toBe(200);
}

beforeAll(async () => {
  sim = await startHeartlandGpSimulator({
    appId: APP_ID,
    appKey: APP_KEY,
    seedTransactions: [
      { batchId: 'BAT_BIG', count: BIG, settlementDate: '2025-03-01' },
      { batchId: 'BAT_SMALL', count: 2_500, settlementDate: '2025-03-02', salt: 7 },
    ],
  });
  db = testDb();
});

afterEach(async () => {
  sim.faults.clear();
  await Promise.all(connectors.splice(0).map((c) => c.close()));
});

afterAll(async () => {
  await db?.destroy();
  await sim?.close();
});

describe('GP API connector: happy paths', () => {
  test('sale (AUTO) is captured into the open batch; amounts are numbers; getTransaction reads it back', async () => {
    const gp = connector();
    const req = sale({ amountMinor: 1599 });
    const tx = await gp.sale(req);
    expect(tx).toMatchObject({ type: 'SALE', status: 'CAPTURED', declined: false, amountMinor: 1599, currency: 'USD' });
    expect(tx.reference).toBe(req.reference);
    expect(tx.batchId).toMatch(/^BAT_/);
    expect(tx.cardLast4).toMatch(/^\d{4}$/);
    expect(['VISA', 'MC', 'AMEX', 'DISC']).toContain(tx.cardBrand);
    const again = await gp.getTransaction(tx.id);
    expect(again).toMatchObject({ id: tx.id, status: 'CAPTURED', amountMinor: 1599 });
    // On the wire the amount is a string of minor units.
    const raw = await gp.http.requestRaw({ method: 'GET', path: `/transactions/${tx.id}` });
    expect((raw.body as { amount: unknown }).amount).toBe('1599');
  });

  test('capture_mode LATER authorizes only; capture (partial) then refund and reversal', async () => {
    const gp = connector();
    const auth = await gp.sale(sale({ amountMinor: 12900, captureMode: 'LATER' }));
    expect(auth.status).toBe('PREAUTHORIZED');
    expect(auth.batchId).toBeNull();
    const cap = await gp.capture(auth.id, { amountMinor: 12000, idempotencyKey: uid('cap') });
    expect(cap).toMatchObject({ id: auth.id, status: 'CAPTURED', amountMinor: 12000 });
    const refund = await gp.refund(cap.id, { amountMinor: 2000, idempotencyKey: uid('ref') });
    expect(refund).toMatchObject({ type: 'REFUND', status: 'CAPTURED', amountMinor: 2000, parentId: cap.id });
    const voided = await gp.reversal(refund.id, { idempotencyKey: uid('rev') });
    expect(voided.status).toBe('REVERSED');
    // The reversed refund gives its amount back: a full refund now refunds the whole capture.
    const full = await gp.refund(cap.id, { idempotencyKey: uid('ref') });
    expect(full.amountMinor).toBe(12000);
  });

  test('reversal voids an authorization', async () => {
    const gp = connector();
    const auth = await gp.sale(sale({ captureMode: 'LATER' }));
    const rev = await gp.reversal(auth.id, { idempotencyKey: uid('rev') });
    expect(rev).toMatchObject({ id: auth.id, status: 'REVERSED' });
    expect((await caught(gp.capture(auth.id, { idempotencyKey: uid('cap') }))).type).toBe('UpstreamRejected');
  });

  test('a decline is data (status DECLINED), not an error', async () => {
    const gp = connector();
    const tx = await gp.sale(sale({ paymentToken: 'PMT_card_DECLINE' }));
    expect(tx).toMatchObject({ status: 'DECLINED', declined: true, resultCode: 'DECLINED', paymentResult: '05' });
    expect(tx.batchId).toBeNull();
  });

  test('closeBatch returns totals and a brand breakdown that match the batch; transactions become BATCHED', async () => {
    const gp = connector();
    const first = await gp.sale(sale({ amountMinor: 1000, paymentToken: 'PMT_a' }));
    const batchId = first.batchId!;
    const others: GpTransaction[] = [];
    for (const [amount, token] of [
      [2000, 'PMT_b'],
      [3000, 'PMT_c'],
      [4000, 'PMT_d'],
    ] as const) {
      others.push(await gp.sale(sale({ amountMinor: amount, paymentToken: token })));
    }
    const refund = await gp.refund(others[0].id, { amountMinor: 500, idempotencyKey: uid('ref') });
    const batchTxs = [...sim.state.batches.get(batchId)!.transactionIds].map((id) => sim.state.transactions.get(id)!);
    const captured = batchTxs.filter((t) => t.status === 'CAPTURED');
    const salesAmount = captured.filter((t) => t.type === 'SALE').reduce((a, t) => a + t.captured, 0);
    const refundAmount = captured.filter((t) => t.type === 'REFUND').reduce((a, t) => a + t.captured, 0);

    const close = await gp.closeBatch(batchId, { idempotencyKey: uid('close') });
    expect(close).toMatchObject({ id: batchId, batchId, transactionCount: captured.length, resultCode: 'SUCCESS' });
    expect(close.sales.amountMinor).toBe(salesAmount);
    expect(close.refunds.amountMinor).toBe(refundAmount);
    expect(close.amountMinor).toBe(salesAmount - refundAmount);
    const brandSales = close.brandBreakdown.reduce((a, b) => a + b.sales.amountMinor, 0);
    const brandCount = close.brandBreakdown.reduce((a, b) => a + b.sales.count + b.refunds.count, 0);
    expect(brandSales).toBe(salesAmount);
    expect(brandCount).toBe(captured.length);
    expect((await gp.getTransaction(refund.id)).status).toBe('BATCHED');
    // A new sale lands in a new open batch; closing the old one again is rejected.
    expect((await gp.sale(sale())).batchId).not.toBe(batchId);
    expect((await caught(gp.closeBatch(batchId))).type).toBe('UpstreamRejected');

    // The closed batch settles: its records and deposit are in the settlement reports.
    let records = 0;
    for await (const page of gp.settlementTransactions({ batchId })) {
      records += page.records.length;
      for (const r of page.records) {
        expect(r.batchId).toBe(batchId);
        expect(r.depositId).toBe(`DEP_${batchId}`);
      }
    }
    expect(records).toBe(captured.length);
    const deposits = [];
    for await (const page of gp.settlementDeposits({ depositId: `DEP_${batchId}` })) deposits.push(...page.records);
    expect(deposits).toHaveLength(1);
    expect(deposits[0].sales.amountMinor).toBe(salesAmount);
  });

  test('findTransactionsByReference lists what carries our reference', async () => {
    const gp = connector();
    const req = sale();
    const tx = await gp.sale(req);
    const refund = await gp.refund(tx.id, {
      amountMinor: 100,
      reference: `${req.reference}-r1`,
      idempotencyKey: uid('r'),
    });
    expect((await gp.findTransactionsByReference(req.reference)).map((t) => t.id)).toEqual([tx.id]);
    expect((await gp.findTransactionsByReference(`${req.reference}-r1`)).map((t) => t.id)).toEqual([refund.id]);
    expect(await gp.findTransactionsByReference('no-such-reference')).toEqual([]);
  });

  test('settlement pages can be resumed from a cursor', async () => {
    const gp = connector();
    const seen: string[] = [];
    let cursor: number | null = null;
    for await (const page of gp.settlementTransactions({ batchId: 'BAT_SMALL', pageSize: 1000 })) {
      expect(page.totalRecordCount).toBe(2500);
      seen.push(...page.records.map((r) => r.id));
      cursor = page.nextPage;
      break; // the worker "crashed" after the first page
    }
    expect(cursor).toBe(2);
    const pages: number[] = [];
    for await (const page of gp.settlementTransactions({ batchId: 'BAT_SMALL', pageSize: 1000, startPage: cursor! })) {
      pages.push(page.page);
      seen.push(...page.records.map((r) => r.id));
      if (page.nextPage === null) expect(page.records).toHaveLength(500);
    }
    expect(pages).toEqual([2, 3]);
    expect(new Set(seen).size).toBe(2500);
  });

  test('deposits list seeded and closed batches with net = sales - refunds - fees', async () => {
    const gp = connector();
    const all = [];
    for await (const page of gp.settlementDeposits({ pageSize: 10 })) all.push(...page.records);
    const small = all.find((d) => d.id === 'DEP_BAT_SMALL')!;
    expect(small.status).toBe('FUNDED');
    expect(small.sales.count + small.refunds.count).toBe(2500);
    expect(small.amountMinor).toBe(small.sales.amountMinor - small.refunds.amountMinor - small.feesMinor);
    const filtered = [];
    for await (const page of gp.settlementDeposits({
      fromSettlementDate: '2025-03-02',
      toSettlementDate: '2025-03-02',
    })) {
      filtered.push(...page.records);
    }
    expect(filtered.map((d) => d.id)).toEqual(['DEP_BAT_SMALL']);
  });
});

describe('GP API connector: errors', () => {
  test('unknown transaction => NotFound', async () => {
    const err = await caught(connector().getTransaction('TRN_does_not_exist'));
    expect(err.type).toBe('NotFound');
    expect(err.details?.[0]).toMatchObject({
      connector: 'heartland-gp',
      status: 404,
      code: 'RESOURCE_NOT_FOUND/40008',
    });
  });

  test('capture twice or from the wrong status => UpstreamRejected (non-retryable)', async () => {
    const gp = connector();
    const auth = await gp.sale(sale({ captureMode: 'LATER' }));
    await gp.capture(auth.id, { idempotencyKey: uid('cap') });
    const err = await caught(gp.capture(auth.id, { idempotencyKey: uid('cap') }));
    expect(err.type).toBe('UpstreamRejected');
    expect(err.nonRetryable).toBe(true);
    expect(err.message).toContain('Cannot capture');
  });

  test('partial refunds cannot exceed captured minus refunded => NotRefundable', async () => {
    const gp = connector();
    const tx = await gp.sale(sale({ amountMinor: 1000 }));
    await gp.refund(tx.id, { amountMinor: 600, idempotencyKey: uid('r') });
    const over = await caught(gp.refund(tx.id, { amountMinor: 500, idempotencyKey: uid('r') }));
    expect(over.type).toBe('NotRefundable');
    expect(over.nonRetryable).toBe(true);
    expect(over.message).toContain('exceeds the refundable amount 400');
    expect((await gp.refund(tx.id, { amountMinor: 400, idempotencyKey: uid('r') })).amountMinor).toBe(400);
    expect((await caught(gp.refund(tx.id, { amountMinor: 1, idempotencyKey: uid('r') }))).type).toBe('NotRefundable');
    expect((await caught(gp.refund(tx.id, { idempotencyKey: uid('r') }))).type).toBe('NotRefundable');
  });

  test('a raw card number is rejected by the connector before the wire, and by the simulator on the wire', async () => {
    const gp = connector();
    const local = await caught(gp.sale(sale({ paymentToken: TEST_PAN })));
    expect(local.type).toBe('ValidationError');
    expect(local.message).not.toContain(TEST_PAN);
    const before = sim.state.stats.writes;
    const wire = await caught(
      gp.http.requestRaw({
        method: 'POST',
        path: '/transactions',
        idempotencyKey: uid('raw'),
        body: {
          account_name: 'transaction_processing',
          type: 'SALE',
          channel: 'CNP',
          amount: '100',
          currency: 'USD',
          payment_method: { card: { number: TEST_PAN, expiry_month: '12', expiry_year: '30' } },
        },
      }),
    );
    expect(wire.type).toBe('UpstreamRejected');
    expect(wire.details?.[0]).toMatchObject({ status: 400, code: 'INVALID_REQUEST_DATA/40007' });
    expect(sim.state.stats.writes).toBe(before);
  });

  test('an idempotency key replays the first response; reused with another body => IdempotencyConflict', async () => {
    const gp = connector();
    const req = sale();
    const a = await gp.sale(req);
    const writes = sim.state.stats.writes;
    const b = await gp.sale(req);
    expect(b.id).toBe(a.id);
    expect(sim.state.stats.writes).toBe(writes);
    expect(sim.state.byReference.get(req.reference)).toHaveLength(1);
    const err = await caught(gp.sale({ ...req, amountMinor: req.amountMinor + 1 }));
    expect(err.type).toBe('IdempotencyConflict');
    expect(err.details?.[0]).toMatchObject({ status: 409, code: 'DUPLICATE_ACTION/40039' });
  });

  test('wrong credentials => AuthFailed', async () => {
    const gp = connector({ appKey: 'wrong-key' });
    const err = await caught(gp.getTransaction('TRN_x'));
    expect(err.type).toBe('AuthFailed');
    expect(err.nonRetryable).toBe(true);
  });

  test('an expired token (faults expireTokens) is refreshed once and the request succeeds', async () => {
    const gp = connector();
    const tx = await gp.sale(sale());
    expect(gp.tokens.fetchCount).toBe(1);
    const issued = sim.state.stats.tokensIssued;
    await setFaults({ expireTokens: true });
    expect((await gp.getTransaction(tx.id)).id).toBe(tx.id);
    expect(gp.tokens.fetchCount).toBe(2);
    expect(sim.state.stats.tokensIssued).toBe(issued + 1);
  });

  test('a 401 that survives the refresh => AuthFailed after exactly one refresh', async () => {
    const gp = connector();
    const tx = await gp.sale(sale());
    await setFaults({
      error: { status: 401, count: 2, body: { error_code: 'NOT_AUTHENTICATED', detailed_error_code: '40001' } },
      paths: ['/transactions/'],
    });
    const err = await caught(gp.getTransaction(tx.id));
    expect(err.type).toBe('AuthFailed');
    expect(gp.tokens.fetchCount).toBe(2);
  });

  test('403 => Forbidden (on the token endpoint it means bad credentials: AuthFailed)', async () => {
    const gp = connector();
    await setFaults({ error: { status: 403, count: 1, body: { error_code: 'ACTION_NOT_AUTHORIZED' } } });
    expect((await caught(gp.findTransactionsByReference('x'))).type).toBe('AuthFailed');
    await gp.findTransactionsByReference('warm-up');
    await setFaults({ error: { status: 403, count: 1, body: { error_code: 'ACTION_NOT_AUTHORIZED' } } });
    expect((await caught(gp.findTransactionsByReference('x'))).type).toBe('Forbidden');
  });

  test('429 with Retry-After => RateLimited with nextRetryDelay', async () => {
    const gp = connector();
    await gp.findTransactionsByReference('warm-up');
    await setFaults({ rateLimit: { count: 1, retryAfterSeconds: 3 } });
    const err = await caught(gp.findTransactionsByReference('x'));
    expect(err.type).toBe('RateLimited');
    expect(err.nonRetryable).toBe(false);
    expect(err.nextRetryDelay).toBe(3000);
    expect(await gp.findTransactionsByReference('x')).toEqual([]);
  });

  test('5xx => UpstreamUnavailable (retryable)', async () => {
    const gp = connector();
    await gp.findTransactionsByReference('warm-up');
    await setFaults({ error: { status: 503, count: 1 } });
    const err = await caught(gp.findTransactionsByReference('x'));
    expect(err.type).toBe('UpstreamUnavailable');
    expect(err.nonRetryable).toBe(false);
  });

  test('a hanging request => Timeout; latency beyond the timeout => Timeout', async () => {
    const gp = connector({ timeoutMs: 200 });
    await gp.findTransactionsByReference('warm-up');
    await setFaults({ hang: { count: 1 } });
    expect((await caught(gp.findTransactionsByReference('x'))).type).toBe('Timeout');
    await setFaults({ latencyMs: 500 });
    expect((await caught(gp.findTransactionsByReference('x'))).type).toBe('Timeout');
  });

  test('the simulator gone => NetworkError', async () => {
    const other = await startHeartlandGpSimulator({ appId: APP_ID, appKey: APP_KEY });
    const gp = new GpApiConnector({ baseUrl: other.baseUrl, appId: APP_ID, appKey: APP_KEY, timeoutMs: 2000 });
    connectors.push(gp);
    await gp.findTransactionsByReference('warm-up');
    await other.close();
    expect((await caught(gp.findTransactionsByReference('x'))).type).toBe('NetworkError');
  });

  test('the circuit breaker opens after consecutive 5xx, fails fast, half-opens and closes on success', async () => {
    const gp = connector({ breaker: { failureThreshold: 3, resetTimeoutMs: 300 } });
    await gp.findTransactionsByReference('warm-up');
    await setFaults({ error: { status: 502, count: 4 } });
    for (let i = 0; i < 3; i++)
      expect((await caught(gp.findTransactionsByReference('x'))).type).toBe('UpstreamUnavailable');
    expect(gp.http.breakerState).toBe('open');
    const requests = sim.faults.stats.requests;
    const open = await caught(gp.findTransactionsByReference('x'));
    expect(open.type).toBe('CircuitOpen');
    expect(open.nonRetryable).toBe(false);
    expect(sim.faults.stats.requests).toBe(requests);
    await new Promise((r) => setTimeout(r, 400));
    expect(gp.http.breakerState).toBe('half-open');
    expect((await caught(gp.findTransactionsByReference('x'))).type).toBe('UpstreamUnavailable'); // 4th injected
    expect(gp.http.breakerState).toBe('open');
    await new Promise((r) => setTimeout(r, 400));
    expect(await gp.findTransactionsByReference('x')).toEqual([]);
    expect(gp.http.breakerState).toBe('closed');
  });
});

describe('GP API connector: fault types', () => {
  test('truncated JSON => SchemaMismatch', async () => {
    const gp = connector();
    await gp.findTransactionsByReference('warm-up');
    await setFaults({ malformed: { count: 1, mode: 'truncated' } });
    const err = await caught(gp.findTransactionsByReference('x'));
    expect(err.type).toBe('SchemaMismatch');
    expect(err.nonRetryable).toBe(true);
    expect(err.message).toContain(`heartland-gp@${GP_CONNECTOR_VERSION}`);
  });

  test('garbage (HTML) body => SchemaMismatch', async () => {
    const gp = connector();
    await gp.findTransactionsByReference('warm-up');
    await setFaults({ malformed: { count: 1, mode: 'garbage' } });
    expect((await caught(gp.findTransactionsByReference('x'))).type).toBe('SchemaMismatch');
  });

  test('schema drift => SchemaMismatch naming the field path and the connector version', async () => {
    const gp = connector();
    await setFaults({ drift: { path: 'transactions.*.amount', renameTo: 'amount_minor' }, paths: ['/settlement/'] });
    const err = await caught(gp.settlementTransactions({ batchId: 'BAT_SMALL' })[Symbol.asyncIterator]().next());
    expect(err.type).toBe('SchemaMismatch');
    expect(err.message).toContain(`heartland-gp@${GP_CONNECTOR_VERSION}`);
    expect(err.message).toContain('transactions[0].amount');
    expect(err.details?.[0]).toMatchObject({ field: 'transactions[0].amount', version: GP_CONNECTOR_VERSION });
    await setFaults({ drift: { path: 'brand_breakdown' } });
    const b = await connector().sale(sale());
    expect((await caught(gp.closeBatch(b.batchId!))).message).toContain('brand_breakdown');
  });

  test('an error rate yields a mix of successes and UpstreamUnavailable, never anything else', async () => {
    const gp = connector({ breaker: false });
    await gp.findTransactionsByReference('warm-up');
    await setFaults({ error: { status: 503, rate: 0.5 } });
    const outcomes: string[] = [];
    for (let i = 0; i < 40; i++) {
      try {
        await gp.findTransactionsByReference('x');
        outcomes.push('ok');
      } catch (err) {
        outcomes.push((err as ApplicationFailure).type ?? 'untyped');
      }
    }
    expect(new Set(outcomes)).toEqual(new Set(['ok', 'UpstreamUnavailable']));
  });
});

describe('GP API: idempotent writes across a crash', () => {
  test('a crash between the remote write and our record, then a retry, leaves exactly one remote record', async () => {
    const gp = connector();
    const workflowId = `order:web:${uid('O')}`;
    const key = idempotencyKey(workflowId, 'authorize');
    const req = sale({ reference: key.replace(/[^A-Za-z0-9_.-]/g, '_'), idempotencyKey: key, captureMode: 'LATER' });
    const spec = (crash: boolean) => ({
      key,
      target: 'heartland-gp',
      operation: 'sale',
      workflowId,
      request: req,
      findRemote: async () => {
        const found = (await gp.findTransactionsByReference(req.reference)).find((t) => t.type === 'SALE');
        return found ? { externalId: found.id, result: found } : null;
      },
      write: async () => {
        const tx = await gp.sale(req);
        if (crash) throw new Error('worker crashed after the remote write');
        return { externalId: tx.id, result: tx };
      },
    });
    await expect(idempotentWrite(db, spec(true))).rejects.toThrow('worker crashed');
    const writes = sim.state.stats.writes;
    const retry = await idempotentWrite(db, spec(false));
    expect(retry.created).toBe(false);
    expect(sim.state.stats.writes).toBe(writes);
    expect(sim.state.byReference.get(req.reference)).toHaveLength(1);
    expect(retry.externalId).toBe(sim.state.byReference.get(req.reference)![0]);
    const row = await db('external_writes').where({ idempotency_key: key }).first();
    expect(row).toMatchObject({ status: 'done', external_id: retry.externalId, attempts: 2 });
    // A third run is answered from our own table without asking the remote side.
    const third = await idempotentWrite(db, { ...spec(false), findRemote: undefined, write: async () => mustNotRun() });
    expect(third.externalId).toBe(retry.externalId);
  });
});

function mustNotRun(): never {
  throw new Error('must not be called');
}

describe('GP API: settlement at volume', () => {
  test(`pages ${BIG} settlement records with flat memory, and they reconcile with the batch close`, async () => {
    const gp = connector({ timeoutMs: 15_000 });
    const it = gp.settlementTransactions({ batchId: 'BAT_BIG', pageSize: 1000 })[Symbol.asyncIterator]();
    const first = await it.next();
    expect(first.done).toBe(false);
    // Retained memory, not garbage awaiting collection: collect before each sample.
    const retained = () => {
      gc();
      return process.memoryUsage().heapUsed;
    };
    const baseline = retained();
    let peak = baseline;
    let count = first.value!.records.length;
    let sales = 0;
    let refunds = 0;
    let pages = 1;
    const ids = new Set<string>();
    const tally = (records: typeof first.value.records) => {
      for (const r of records) {
        if (r.type === 'SALE') sales += r.amountMinor;
        else refunds += r.amountMinor;
        if (ids.size < 2000) ids.add(r.id);
      }
    };
    tally(first.value!.records);
    for (let r = await it.next(); !r.done; r = await it.next()) {
      pages++;
      count += r.value.records.length;
      tally(r.value.records);
      if (pages % 10 === 0) peak = Math.max(peak, retained());
    }
    expect(count).toBe(BIG);
    expect(pages).toBe(BIG / 1000);
    expect(ids.size).toBe(2000);
    expect(peak - baseline).toBeLessThan(64 * 1024 * 1024);
    const close = await gp.closeBatch('BAT_BIG', { idempotencyKey: uid('close') });
    expect(close.transactionCount).toBe(BIG);
    expect(close.sales.amountMinor).toBe(sales);
    expect(close.refunds.amountMinor).toBe(refunds);
    expect(close.brandBreakdown.map((b) => b.brand)).toEqual(['VISA', 'MC', 'AMEX', 'DISC']);
  });
});

describe('GP webhooks', () => {
  let receiver: Server;
  let hookUrl: string;
  const received: { raw: Buffer; valid: boolean }[] = [];

  beforeAll(async () => {
    const app = express();
    app.post('/hooks/gp', express.raw({ type: '*/*' }), (req, res) => {
      const raw = req.body as Buffer;
      const valid = verifyGpSignature(raw, req.get('x-gp-signature'), APP_KEY);
      received.push({ raw, valid });
      res.status(valid ? 200 : 401).end();
    });
    receiver = app.listen(0, '127.0.0.1');
    await new Promise((r) => receiver.once('listening', r));
    hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks/gp`;
  });
  afterAll(async () => {
    receiver.closeAllConnections();
    await new Promise((r) => receiver.close(r));
  });

  test('a payment event is delivered twice with identical signed bytes (minified transaction resource)', async () => {
    const tx = await connector().sale(sale());
    received.length = 0;
    const out = await sim.sendWebhook(hookUrl, sim.transactionEvent(tx.id), { times: 2 });
    expect(out.map((d) => d.status)).toEqual([200, 200]);
    expect(received).toHaveLength(2);
    expect(received.every((r) => r.valid)).toBe(true);
    expect(received[0].raw.equals(received[1].raw)).toBe(true);
    const text = received[0].raw.toString('utf8');
    expect(text).toBe(JSON.stringify(JSON.parse(text)));
    const body = JSON.parse(text);
    expect(body).toMatchObject({ id: tx.id, status: 'CAPTURED', amount: String(tx.amountMinor), currency: 'USD' });
    expect(body.payment_method).toMatchObject({ result: '00' });
    expect(body.action).toMatchObject({ result_code: 'SUCCESS' });
  });

  test('a batch-close event keeps the envelope with action.type BATCH_CLOSE', async () => {
    const gp = connector();
    const tx = await gp.sale(sale());
    await gp.closeBatch(tx.batchId!);
    const close = sim.state.batches.get(tx.batchId!)!.closeResponse!;
    received.length = 0;
    await sim.sendWebhook(hookUrl, sim.batchCloseEvent(close), { times: 1 });
    const body = JSON.parse(received[0].raw.toString('utf8'));
    expect(body).toMatchObject({ id: tx.batchId, status: 'CLOSED', action: { type: 'BATCH_CLOSE' } });
    expect(body.brand_breakdown.length).toBeGreaterThan(0);
  });

  test('verification is over raw bytes: re-serialised JSON, a tampered body or a wrong key fail', () => {
    const { body, headers } = signGpWebhook({ id: 'TRN_1', amount: '100' }, APP_KEY);
    const sig = headers['x-gp-signature'];
    expect(sig).toMatch(/^[0-9a-f]{128}$/);
    expect(verifyGpSignature(Buffer.from(body), sig, APP_KEY)).toBe(true);
    expect(verifyGpSignature(Buffer.from(body), sig.toUpperCase(), APP_KEY)).toBe(true);
    expect(verifyGpSignature(Buffer.from(JSON.stringify(JSON.parse(body), null, 2)), sig, APP_KEY)).toBe(false);
    expect(verifyGpSignature(Buffer.from(body.replace('100', '900')), sig, APP_KEY)).toBe(false);
    expect(verifyGpSignature(Buffer.from(body), sig, 'other-key')).toBe(false);
    expect(verifyGpSignature(Buffer.from(body), undefined, APP_KEY)).toBe(false);
    expect(verifyGpSignature(Buffer.from(body), 'short', APP_KEY)).toBe(false);
  });
});

describe('GP API: logs', () => {
  test('connector log lines carry no card number (no Luhn-valid 13-19 digit run) and no secrets', async () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk, _enc, cb) {
        lines.push(...String(chunk).split('\n').filter(Boolean));
        cb();
      },
    });
    const gp = connector({ logger: createLogger({ level: 'info', destination }) });
    const tx = await gp.sale(sale());
    await gp.refund(tx.id, { amountMinor: 100, idempotencyKey: uid('r') });
    await caught(gp.sale(sale({ paymentToken: TEST_PAN })));
    await caught(
      gp.http.requestRaw({
        method: 'POST',
        path: '/transactions',
        idempotencyKey: uid('raw'),
        body: { type: 'SALE', payment_method: { card: { number: '5555555555554444' } } },
      }),
    );
    await setFaults({
      error: {
        status: 400,
        count: 1,
        body: { error_code: 'INVALID_REQUEST_DATA', detailed_error_description: 'card 4012888888881881 invalid' },
      },
    });
    const err = await caught(gp.getTransaction(tx.id));
    expect(err.message).not.toContain('4012888888881881');
    expect(lines.length).toBeGreaterThanOrEqual(5);
    for (const line of lines) {
      const { time, ...fields } = JSON.parse(line);
      expect(typeof time).toBe('number'); // pino's epoch-ms timestamp: 13 digits, but not card data
      expect(fields).toHaveProperty('connector', 'heartland-gp');
      const text = JSON.stringify(fields);
      for (const run of text.match(/\d{13,19}/g) ?? []) expect(luhnValid(run)).toBe(false);
      expect(line).not.toContain(APP_KEY);
      expect(line.toLowerCase()).not.toContain('bearer');
      expect(line).not.toContain('GPT_');
    }
  });
});
