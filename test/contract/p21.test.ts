import { randomUUID } from 'node:crypto';
import type { ApplicationFailure } from '@temporalio/common';
import { P21Connector } from '../../src/connectors/erp/p21';
import type { ErpJournalInput, WriteContext } from '../../src/connectors/erp/types';
import type { Db } from '../../src/db';
import { startP21Simulator, type P21Simulator } from '../../src/sandbox/p21';
import { lineTotal, type P21DocLine } from '../../src/sandbox/p21/state';
import { testDb } from '../support/env';

/** The P21 adapter against the P21 simulator over real HTTP, with a real Postgres for external_writes. */

const USER = 'lb-test';
const PASS = 'p21-test-password';
const run = randomUUID().slice(0, 8);
let seq = 0;
const ctx = (step: string): WriteContext => ({
  idempotencyKey: `test-p21-${run}/${step}-${++seq}`,
  workflowId: `test-p21-${run}`,
});

let sim: P21Simulator;
let db: Db;
let erp: P21Connector;
const extra: P21Connector[] = [];

function connector(opts: Partial<ConstructorParameters<typeof P21Connector>[0]> = {}): P21Connector {
  const c = new P21Connector({ baseUrl: sim.url, db, username: USER, password: PASS, ...opts });
  extra.push(c);
  return c;
}

async function failureOf(p: Promise<unknown>): Promise<ApplicationFailure> {
  try {
    await p;
  } catch (err) {
    return err as ApplicationFailure;
  }
  throw new Error('expected the call to fail');
}

const requestsOf = (name: string) => sim.state.transactionRequests.filter((r) => r.name === name).length;
const onHand = (sku: string, loc = 'MAIN') =>
  sim.state.invLoc.find((l) => l.PartNum === sku && l.LocationID === loc)!.OnHandQty;

/** The state after a crash between the remote write and our record: the row is still pending. */
async function simulateCrashAfterRemoteWrite(key: string): Promise<void> {
  await db('external_writes')
    .where({ idempotency_key: key })
    .update({ status: 'pending', external_id: null, result: null });
}

const order = (ref: string) => ({
  ref,
  customerErpId: '10005',
  currency: 'USD',
  date: '2024-06-10',
  totalMinor: 2 * 8999 + 1485,
  lines: [{ sku: 'SKU-1001', qty: 2, unitPriceMinor: 8999, taxMinor: 1485, description: 'Trail Runner Shoe' }],
});

const journal = (ref: string, lines: ErpJournalInput['lines']): ErpJournalInput => ({
  ref,
  date: '2024-06-10',
  currency: 'USD',
  memo: `settlement ${ref}`,
  lines,
});

const balanced = [
  { account: '1030', debitMinor: 10_000, creditMinor: 0, dimensions: { brand: 'VISA' } },
  { account: '6100', debitMinor: 250, creditMinor: 0 },
  { account: '4000', debitMinor: 0, creditMinor: 9_425 },
  { account: '2200', debitMinor: 0, creditMinor: 825 },
];

beforeAll(async () => {
  sim = await startP21Simulator({ port: 0, username: USER, password: PASS });
  db = testDb();
  erp = connector();
});

afterAll(async () => {
  await Promise.all(extra.map((c) => c.close()));
  await sim.close();
  await db.destroy();
});

beforeEach(() => sim.faults.clear());

describe('customers', () => {
  it('finds near-duplicates by email regardless of case', async () => {
    const found = await erp.findCustomers({ email: 'ADA.LOVELACE@example.com' });
    expect(found.map((c) => c.erpId).sort()).toEqual(['10001', '10002']);
  });

  it('finds near-duplicates by phone written differently', async () => {
    const found = await erp.findCustomers({ phone: '+1 (555) 010-2002' });
    expect(found.map((c) => c.erpId).sort()).toEqual(['10003', '10004']);
    expect(await erp.findCustomers({ phone: '555 010 9999' })).toEqual([]);
  });

  it('finds by our reference and creates then updates through the Transaction API', async () => {
    expect((await erp.findCustomers({ externalRef: 'heartland:C-3003' })).map((c) => c.erpId)).toEqual(['10005']);
    const ref = `commerce:${run}-1`;
    const created = await erp.upsertCustomer(
      {
        externalRef: ref,
        name: 'Mary Jackson',
        email: 'mary@example.com',
        phone: '555-010-7007',
        address: { line1: '1 NASA Way', city: 'Hampton', region: 'VA', country: 'US' },
      },
      ctx('customer'),
    );
    const updated = await erp.upsertCustomer(
      { externalRef: ref, name: 'Mary Jackson', email: 'mary.j@example.com' },
      ctx('customer'),
    );
    expect(updated.erpId).toBe(created.erpId);
    const rows = sim.state.customers.filter((c) => c.WebReferenceNo === ref);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      EmailAddress: 'mary.j@example.com',
      PhoneNumber: '555-010-7007',
      MailCity: 'Hampton',
      SalesRepID: 'HOUSE',
    });
  });

  it('does not write twice for the same idempotency key', async () => {
    const c = ctx('customer');
    const input = { externalRef: `commerce:${run}-2`, name: 'Dorothy Vaughan' };
    const first = await erp.upsertCustomer(input, c);
    const before = requestsOf('Customer');
    const again = await erp.upsertCustomer(input, c);
    expect(again.erpId).toBe(first.erpId);
    expect(requestsOf('Customer')).toBe(before);
  });
});

describe('order to cash', () => {
  it('creates, reads and cancels a sales order; cancelling again is a no-op', async () => {
    const so = await erp.createSalesOrder({ ...order(`order-${run}-1`), poNumber: 'PO-77' }, ctx('so'));
    expect(so.status).toBe('open');
    expect(await erp.getSalesOrder(so.erpId)).toMatchObject({ erpId: so.erpId, status: 'open', rawStatus: 'Open' });
    expect(sim.state.orders.find((o) => o.OrderNo === so.erpId)).toMatchObject({
      PONo: 'PO-77',
      WebReferenceNo: `order-${run}-1`,
    });
    expect((await erp.cancelSalesOrder(so.erpId, ctx('cancel'))).status).toBe('cancelled');
    const before = requestsOf('SalesOrder');
    expect((await erp.cancelSalesOrder(so.erpId, ctx('cancel'))).status).toBe('cancelled');
    expect(requestsOf('SalesOrder')).toBe(before);
  });

  it('invoices, posts, applies and lists a payment, then unapplies and reverses idempotently', async () => {
    const ref = `order-${run}-2`;
    const so = await erp.createSalesOrder(order(ref), ctx('so'));
    const inv = await erp.createInvoice({ ...order(`inv-${run}-2`), salesOrderErpId: so.erpId }, ctx('inv'));
    expect(inv.status).toBe('draft');
    expect((await erp.getSalesOrder(so.erpId)).status).toBe('completed');
    expect((await erp.postInvoice(inv.erpId, ctx('post'))).status).toBe('posted');
    expect((await erp.postInvoice(inv.erpId, ctx('post'))).status).toBe('posted');

    const pay = await erp.applyPayment(
      {
        ref: `pay-${run}-2`,
        invoiceErpId: inv.erpId,
        customerErpId: '10005',
        amountMinor: 19_483,
        currency: 'USD',
        date: '2024-06-11',
        method: 'card:VISA',
        processorRef: `txn_${run}`,
      },
      ctx('pay'),
    );
    expect(pay.status).toBe('applied');
    const listed = [];
    for await (const p of erp.listPayments({ from: '2024-06-11', to: '2024-06-11' })) listed.push(p);
    expect(listed).toEqual([
      {
        erpId: pay.erpId,
        ref: `pay-${run}-2`,
        processorRef: `txn_${run}`,
        amountMinor: 19_483,
        currency: 'USD',
        date: '2024-06-11',
        method: 'VISA',
      },
    ]);

    const reverseWhilePaid = await failureOf(erp.reverseInvoice(inv.erpId, ctx('rev')));
    expect(reverseWhilePaid.type).toBe('UpstreamRejected');
    expect(reverseWhilePaid.message).toMatch(/applied cash receipts/);

    expect((await erp.unapplyPayment(pay.erpId, ctx('unapply'))).status).toBe('reversed');
    expect((await erp.unapplyPayment(pay.erpId, ctx('unapply'))).status).toBe('reversed');
    expect((await erp.reverseInvoice(inv.erpId, ctx('rev'))).status).toBe('reversed');
    expect((await erp.reverseInvoice(inv.erpId, ctx('rev'))).status).toBe('reversed');
    const after = [];
    for await (const p of erp.listPayments({ from: '2024-06-11', to: '2024-06-11' })) after.push(p);
    expect(after).toEqual([]);
  });

  it('pages through seeded payments of a date range', async () => {
    const c = connector({ pageSize: 1 });
    const may = [];
    for await (const p of c.listPayments({ from: '2024-05-01', to: '2024-05-31' })) may.push(p);
    expect(may.map((p) => [p.erpId, p.amountMinor, p.processorRef])).toEqual([
      ['3000001', 3462, 'txn_seed_0001'],
      ['3000002', 10000, 'txn_seed_0002'],
    ]);
  });

  it('rejects an order for an unknown item with the P21 message', async () => {
    const err = await failureOf(
      erp.createSalesOrder(
        { ...order(`order-${run}-bad`), lines: [{ sku: 'SKU-9999', qty: 1, unitPriceMinor: 100 }], totalMinor: 100 },
        ctx('so'),
      ),
    );
    expect(err.type).toBe('UpstreamRejected');
    expect(err.nonRetryable).toBe(true);
    expect(err.message).toMatch(/Item ID SKU-9999 does not exist/);
  });

  it('refuses a malformed date before sending anything', async () => {
    const before = requestsOf('SalesOrder');
    const err = await failureOf(erp.createSalesOrder({ ...order(`order-${run}-date`), date: '06/10/2024' }, ctx('so')));
    expect(err.type).toBe('ValidationError');
    expect(requestsOf('SalesOrder')).toBe(before);
  });
});

describe('credit memos', () => {
  it('drafts and posts; cancels a draft idempotently; refuses to cancel a posted memo', async () => {
    const memo = { ...order(`cm-${run}-1`), reason: 'damaged' };
    const posted = await erp.draftCreditMemo(memo, ctx('cm'));
    expect(posted.status).toBe('draft');
    expect((await erp.postCreditMemo(posted.erpId, ctx('cm-post'))).status).toBe('posted');
    const err = await failureOf(erp.cancelCreditMemo(posted.erpId, ctx('cm-cancel')));
    expect(err.type).toBe('UpstreamRejected');

    const draft = await erp.draftCreditMemo({ ...memo, ref: `cm-${run}-2` }, ctx('cm'));
    expect((await erp.cancelCreditMemo(draft.erpId, ctx('cm-cancel'))).status).toBe('cancelled');
    expect((await erp.cancelCreditMemo(draft.erpId, ctx('cm-cancel'))).status).toBe('cancelled');
  });
});

describe('journals', () => {
  it('posts once per ref, finds it by ref and reverses it idempotently', async () => {
    const ref = `batch-${run}-1`;
    const posted = await erp.postJournal(journal(ref, balanced), ctx('je'));
    expect(posted.status).toBe('posted');
    const again = await erp.postJournal(journal(ref, balanced), ctx('je'));
    expect(again.erpId).toBe(posted.erpId);
    expect(sim.state.journals.filter((j) => j.JournalRef === ref)).toHaveLength(1);
    expect(sim.state.journals.find((j) => j.JournalNo === posted.erpId)!.lines[0].Description).toBe('[brand=VISA]');
    expect(await erp.findJournalByRef(ref)).toMatchObject({ erpId: posted.erpId, status: 'posted' });
    expect(await erp.findJournalByRef(`nope-${run}`)).toBeNull();

    expect((await erp.reverseJournal(posted.erpId, ctx('je-rev'))).status).toBe('reversed');
    expect((await erp.reverseJournal(posted.erpId, ctx('je-rev'))).status).toBe('reversed');
    expect(sim.state.journals.filter((j) => j.ReversalOf === posted.erpId)).toHaveLength(1);
  });

  it('refuses an unbalanced entry before sending it', async () => {
    const before = requestsOf('JournalEntry');
    const err = await failureOf(
      erp.postJournal(journal(`batch-${run}-unbal`, [balanced[0], { ...balanced[2], creditMinor: 9_999 }]), ctx('je')),
    );
    expect(err.type).toBe('JournalUnbalanced');
    expect(err.nonRetryable).toBe(true);
    expect(requestsOf('JournalEntry')).toBe(before);
  });

  it('maps an unknown GL account to GlAccountNotFound', async () => {
    const lines = [balanced[0], { account: '4999', debitMinor: 0, creditMinor: 10_000 }];
    const err = await failureOf(erp.postJournal(journal(`batch-${run}-gl`, lines), ctx('je')));
    expect(err.type).toBe('GlAccountNotFound');
    expect(err.nonRetryable).toBe(true);
    expect(err.details?.[0]).toMatchObject({ connector: 'p21', account: '4999' });
    expect(await erp.findJournalByRef(`batch-${run}-gl`)).toBeNull();
  });
});

describe('inventory and products', () => {
  it('reads on-hand by sku and location, and lists products with prices', async () => {
    const rows = await erp.readOnHand({ skus: ['SKU-1001', 'SKU-1004'], location: 'WEST' });
    expect(rows.sort((a, b) => a.sku.localeCompare(b.sku))).toEqual([
      { sku: 'SKU-1001', location: 'WEST', qty: 5 },
      { sku: 'SKU-1004', location: 'WEST', qty: 12 },
    ]);
    expect((await erp.readOnHand()).length).toBe(sim.state.invLoc.length);
    const products = await erp.listProducts();
    expect(products.find((p) => p.sku === 'SKU-1003')).toEqual({
      sku: 'SKU-1003',
      name: 'Rain Jacket',
      priceMinor: 12900,
      currency: 'USD',
      uom: 'EA',
    });
    expect(products.map((p) => p.sku).sort()).toEqual([
      'REFUND',
      'SHIPPING',
      'SKU-1001',
      'SKU-1002',
      'SKU-1003',
      'SKU-1004',
      'SKU-1005',
    ]);
    expect(products.find((p) => p.sku === 'SHIPPING')).toMatchObject({ name: 'Shipping', priceMinor: 0 });
  });

  it('adjusts inventory once per key', async () => {
    const c = ctx('adj');
    const start = onHand('SKU-1002');
    await erp.adjustInventory([{ sku: 'SKU-1002', location: 'MAIN', delta: -3 }], c);
    await erp.adjustInventory([{ sku: 'SKU-1002', location: 'MAIN', delta: -3 }], c);
    expect(onHand('SKU-1002')).toBe(start - 3);
  });

  it('on Summary.Failed records the passed lines and retries only the failed ones', async () => {
    const c = ctx('adj-partial');
    const start = [onHand('SKU-1003'), onHand('SKU-1004'), onHand('SKU-1005')];
    const adjustments = [
      { sku: 'SKU-1003', location: 'MAIN', delta: -1 },
      { sku: 'SKU-1004', location: 'MAIN', delta: -2 },
      { sku: 'SKU-1005', location: 'MAIN', delta: 4 },
    ];
    sim.faults.set({ partialFailure: { count: 1, failRecords: 1 } });
    const err = await failureOf(erp.adjustInventory(adjustments, c));
    expect(err.type).toBe('PartialFailure');
    expect(err.nonRetryable).toBe(false);
    expect(err.details?.[0]).toMatchObject({ failedLines: [3], succeededLines: [1, 2] });
    const lines = await db('external_writes')
      .where('idempotency_key', 'like', `${c.idempotencyKey}/line-%`)
      .orderBy('idempotency_key');
    expect(lines.map((l) => [l.idempotency_key.split('/').pop(), l.status])).toEqual([
      ['line-1', 'done'],
      ['line-2', 'done'],
    ]);
    expect([onHand('SKU-1003'), onHand('SKU-1004'), onHand('SKU-1005')]).toEqual([
      start[0] - 1,
      start[1] - 2,
      start[2],
    ]);

    await erp.adjustInventory(adjustments, c);
    const last = sim.state.transactionRequests.at(-1)!;
    expect(last).toEqual({ name: 'InventoryAdjustment', transactions: 1, failed: 0 });
    expect([onHand('SKU-1003'), onHand('SKU-1004'), onHand('SKU-1005')]).toEqual([
      start[0] - 1,
      start[1] - 2,
      start[2] + 4,
    ]);
  });

  it('maps an adjustment P21 refuses outright to a non-retryable error', async () => {
    const err = await failureOf(
      erp.adjustInventory([{ sku: 'SKU-1005', location: 'MAIN', delta: -100_000 }], ctx('adj')),
    );
    expect(err.type).toBe('UpstreamRejected');
    expect(err.message).toMatch(/negative/);
  });
});

describe('service items', () => {
  const total = (lines: P21DocLine[]) => lineTotal(lines).net + lineTotal(lines).tax;
  const lines = [
    { sku: 'SKU-1002', qty: 2, unitPriceMinor: 1599, taxMinor: 264 },
    { sku: 'SHIPPING', description: 'Shipping', qty: 1, unitPriceMinor: 500, taxMinor: 0 },
  ];
  const shipped = (ref: string) => ({ ...order(ref), lines, totalMinor: 2 * 1599 + 264 + 500 });

  it('accepts a SHIPPING line on an order and an invoice with matching totals, and never adjusts its stock', async () => {
    const so = await erp.createSalesOrder(shipped(`order-${run}-ship`), ctx('so'));
    const stored = sim.state.orders.find((o) => o.OrderNo === so.erpId)!;
    expect(stored.lines.map((l) => [l.PartNum, l.Quantity, l.UnitPriceMinor])).toEqual([
      ['SKU-1002', 2, 1599],
      ['SHIPPING', 1, 500],
    ]);
    expect(total(stored.lines)).toBe(3962);

    const inv = await erp.createInvoice({ ...shipped(`inv-${run}-ship`), salesOrderErpId: so.erpId }, ctx('inv'));
    expect((await erp.postInvoice(inv.erpId, ctx('post'))).status).toBe('posted');
    expect(total(sim.state.invoices.find((i) => i.InvoiceNo === inv.erpId)!.lines)).toBe(3962);

    const start = onHand('SKU-1002');
    await erp.adjustInventory(
      lines.map((l) => ({ sku: l.sku, location: 'MAIN', delta: -l.qty })),
      ctx('adj'),
    );
    expect(onHand('SKU-1002')).toBe(start - 2);
    expect(sim.state.adjustments.filter((a) => a.PartNum === 'SHIPPING')).toEqual([]);
    const sent = requestsOf('InventoryAdjustment');
    await erp.adjustInventory([{ sku: 'SHIPPING', location: 'MAIN', delta: -1 }], ctx('adj'));
    expect(requestsOf('InventoryAdjustment')).toBe(sent);
    expect(sim.state.invLoc.some((l) => l.PartNum === 'SHIPPING')).toBe(false);
  });

  it('refuses a document whose total is not the sum of its lines before sending anything', async () => {
    const before = requestsOf('Invoice');
    const err = await failureOf(erp.createInvoice({ ...shipped(`inv-${run}-bad`), totalMinor: 3462 }, ctx('inv')));
    expect(err.type).toBe('ValidationError');
    expect(err.message).toMatch(/lines add up to 3962 minor units but totalMinor is 3462/);
    expect(requestsOf('Invoice')).toBe(before);
  });
});

describe('crash between the remote write and our record', () => {
  it('a retried sales order finds the first one by WebReferenceNo', async () => {
    const c = ctx('so-crash');
    const ref = `order-${run}-crash`;
    const first = await erp.createSalesOrder(order(ref), c);
    await simulateCrashAfterRemoteWrite(c.idempotencyKey);
    const before = requestsOf('SalesOrder');
    const retried = await erp.createSalesOrder(order(ref), c);
    expect(retried.erpId).toBe(first.erpId);
    expect(requestsOf('SalesOrder')).toBe(before);
    expect(sim.state.orders.filter((o) => o.WebReferenceNo === ref)).toHaveLength(1);
    expect(await db('external_writes').where({ idempotency_key: c.idempotencyKey }).first()).toMatchObject({
      status: 'done',
      external_id: first.erpId,
      attempts: 2,
    });
  });

  it('a retried inventory adjustment finds its lines by AdjustmentRef', async () => {
    const c = ctx('adj-crash');
    const start = onHand('SKU-1001');
    const adjustments = [{ sku: 'SKU-1001', location: 'MAIN', delta: 6 }];
    await erp.adjustInventory(adjustments, c);
    await simulateCrashAfterRemoteWrite(c.idempotencyKey);
    await db('external_writes').where('idempotency_key', 'like', `${c.idempotencyKey}/line-%`).delete();
    const before = requestsOf('InventoryAdjustment');
    await erp.adjustInventory(adjustments, c);
    expect(requestsOf('InventoryAdjustment')).toBe(before);
    expect(onHand('SKU-1001')).toBe(start + 6);
    expect(
      await db('external_writes')
        .where({ idempotency_key: `${c.idempotencyKey}/line-1` })
        .first(),
    ).toMatchObject({ status: 'done' });
  });

  it('a retried journal finds the posted one by JournalRef', async () => {
    const c = ctx('je-crash');
    const ref = `batch-${run}-crash`;
    const first = await erp.postJournal(journal(ref, balanced), c);
    await simulateCrashAfterRemoteWrite(c.idempotencyKey);
    expect((await erp.postJournal(journal(ref, balanced), c)).erpId).toBe(first.erpId);
    expect(sim.state.journals.filter((j) => j.JournalRef === ref)).toHaveLength(1);
  });
});

describe('transport faults', () => {
  it('refreshes an expired token once with the RefreshToken', async () => {
    await erp.readOnHand({ skus: ['SKU-1001'] });
    const grants = { ...sim.state.tokenGrants };
    sim.faults.set({ expireTokens: true });
    const rows = await erp.readOnHand({ skus: ['SKU-1001'], location: 'MAIN' });
    expect(rows).toHaveLength(1);
    expect(sim.state.tokenGrants).toEqual({ ...grants, refresh_token: grants.refresh_token + 1 });
  });

  it('fails with AuthFailed when the refreshed token is refused too', async () => {
    sim.faults.set({
      error: { status: 401, count: 2, body: { Message: 'Authorization has been denied for this request.' } },
      paths: ['/odataservice'],
    });
    const err = await failureOf(erp.readOnHand({ skus: ['SKU-1001'] }));
    expect(err.type).toBe('AuthFailed');
    expect(err.nonRetryable).toBe(true);
  });

  it('logs in with the password when the refresh token is no longer accepted', async () => {
    const c = connector();
    await c.listProducts();
    sim.state.tokens.clear();
    const before = sim.state.tokenGrants.password;
    expect((await c.listProducts()).length).toBe(7);
    expect(sim.state.tokenGrants.password).toBe(before + 1);
  });

  it('turns 429 into RateLimited with Retry-After as the next retry delay', async () => {
    sim.faults.set({ rateLimit: { count: 1, retryAfterSeconds: 7 }, paths: ['/odataservice'] });
    const err = await failureOf(erp.findJournalByRef('any'));
    expect(err.type).toBe('RateLimited');
    expect(err.nonRetryable).toBe(false);
    expect(err.nextRetryDelay).toBe(7000);
  });

  it('times out a request that never answers', async () => {
    const c = connector({ timeoutMs: 300 });
    await c.listProducts();
    sim.faults.set({ hang: { count: 1 }, paths: ['/odataservice'] });
    const err = await failureOf(c.listProducts());
    expect(err.type).toBe('Timeout');
    expect(err.nonRetryable).toBe(false);
  });

  it('opens the breaker after repeated 5xx and stops calling P21', async () => {
    const c = connector({ breaker: { failureThreshold: 3, resetTimeoutMs: 60_000 } });
    await c.listProducts();
    sim.faults.set({ error: { status: 503 }, paths: ['/odataservice'] });
    for (let i = 0; i < 3; i++) expect((await failureOf(c.listProducts())).type).toBe('UpstreamUnavailable');
    const seen = sim.faults.stats.requests;
    const err = await failureOf(c.listProducts());
    expect(err.type).toBe('CircuitOpen');
    expect(c.breakerState).toBe('open');
    expect(sim.faults.stats.requests).toBe(seen);
  });

  it('reports schema drift in an OData view as SchemaMismatch naming the field', async () => {
    sim.faults.set({ drift: { path: 'value.*.OnHandQty', renameTo: 'QtyOnHand' }, paths: ['p21_view_inv_loc'] });
    const err = await failureOf(erp.readOnHand({ skus: ['SKU-1001'] }));
    expect(err.type).toBe('SchemaMismatch');
    expect(err.message).toMatch(/value\[0\]\.OnHandQty/);
  });
});
