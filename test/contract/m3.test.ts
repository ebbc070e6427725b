import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { M3Connector, cunoFor, type M3ConnectorOptions } from '../../src/connectors/erp/m3';
import type { ErpJournalInput, ErpPaymentRecord, ErpSalesOrderInput } from '../../src/connectors/erp/types';
import type { Db } from '../../src/db';
import { startM3Simulator, type M3Simulator } from '../../src/sandbox/m3';
import { testDb } from '../support/env';

/** Contract tests of the Infor M3 adapter against the M3 simulator (ION API gateway + MI programs) over real HTTP. */

const run = Math.random().toString(36).slice(2, 8);
let sim: M3Simulator;
let db: Db;
let erp: M3Connector;
const open: M3Connector[] = [];

beforeAll(async () => {
  sim = await startM3Simulator({ port: 0, clientId: 'LB~test-client', clientSecret: 'test-secret' });
  db = testDb();
  erp = connector();
});

afterAll(async () => {
  await Promise.all(open.map((c) => c.close()));
  await sim.close();
  await db.destroy();
});

afterEach(() => sim.faults.clear());

function connector(extra: Partial<M3ConnectorOptions> = {}): M3Connector {
  const c = new M3Connector({ baseUrl: sim.url, db, ionapi: sim.ionapi, timeoutMs: 5000, ...extra });
  open.push(c);
  return c;
}

async function failed(p: Promise<unknown>, type: string): Promise<ApplicationFailure> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect((err as ApplicationFailure).type).toBe(type);
    return err as ApplicationFailure;
  }
  throw new Error(`expected a ${type} failure`);
}

async function collect(it: AsyncIterable<ErpPaymentRecord>): Promise<ErpPaymentRecord[]> {
  const out: ErpPaymentRecord[] = [];
  for await (const p of it) out.push(p);
  return out;
}

const k = (s: string) => `test-m3:${run}/${s}`;
const ref = (s: string) => `${s}-${run}`;
const row = (key: string) => db('external_writes').where({ idempotency_key: key }).first();

const order = (r: string, extra: Partial<ErpSalesOrderInput> = {}): ErpSalesOrderInput => ({
  ref: r,
  customerErpId: 'C1001',
  currency: 'USD',
  date: '2025-03-14',
  lines: [
    { sku: 'SKU-1001', qty: 2, unitPriceMinor: 8999, taxMinor: 1440 },
    { sku: 'SKU-1002', qty: 1, unitPriceMinor: 1599 },
  ],
  totalMinor: 2 * 8999 + 1440 + 1599,
  ...extra,
});

const journal = (r: string): ErpJournalInput => ({
  ref: r,
  date: '2025-03-15',
  currency: 'USD',
  memo: `Settlement ${r}`,
  lines: [
    { account: '1030', debitMinor: 97000, creditMinor: 0, dimensions: { brand: 'VISA', method: 'card' } },
    { account: '6100', debitMinor: 3000, creditMinor: 0, description: 'Card fees' },
    { account: '4000', debitMinor: 0, creditMinor: 92593, description: 'Revenue' },
    { account: '2200', debitMinor: 0, creditMinor: 7407, description: 'Sales tax' },
  ],
});

test('finds near-duplicate customers by email in any case, by phone written differently and by external ref', async () => {
  expect((await erp.findCustomers({ email: 'Jane.Doe@example.COM' })).map((c) => c.erpId)).toEqual(['C1001', 'C1002']);
  expect((await erp.findCustomers({ phone: '+1 (555) 010-3000' })).map((c) => c.name)).toEqual([
    'Robert Smith',
    'Bob Smith',
  ]);
  expect((await erp.findCustomers({ phone: '5550102000' })).map((c) => c.erpId)).toEqual(['C1001', 'C1002']);
  expect(await erp.findCustomers({ externalRef: 'heartland:C1001' })).toEqual([
    {
      erpId: 'C1001',
      name: 'Jane Doe',
      email: 'jane.doe@example.com',
      phone: '(555) 010-2000',
      externalRef: 'heartland:C1001',
    },
  ]);
  expect(await erp.findCustomers({ email: 'nobody@example.com' })).toEqual([]);
});

test('upserts a customer under a CUNO derived from the external ref, then updates it', async () => {
  const extRef = `commerce:${ref('cust')}`;
  const input = {
    externalRef: extRef,
    name: 'Casey Jones',
    email: `casey.${run}@example.com`,
    phone: '555-010-7777',
    address: { line1: '1 Main St', city: 'Portland', region: 'OR', postalCode: '97201', country: 'us' },
  };
  const created = await erp.upsertCustomer(input, { idempotencyKey: k('cust-1') });
  expect(created).toEqual({
    erpId: cunoFor(extRef),
    name: 'Casey Jones',
    email: input.email,
    phone: '555-010-7777',
    externalRef: extRef,
  });
  expect(created.erpId).toHaveLength(10);
  expect(await erp.upsertCustomer(input, { idempotencyKey: k('cust-1') })).toEqual(created);
  const updated = await erp.upsertCustomer({ ...input, name: 'Casey J. Jones' }, { idempotencyKey: k('cust-2') });
  expect(updated).toMatchObject({ erpId: created.erpId, name: 'Casey J. Jones' });
  expect(sim.state.data.customers.get(created.erpId)).toMatchObject({
    CUA1: '1 Main St',
    TOWN: 'Portland',
    ECAR: 'OR',
    CSCD: 'US',
    YREF: extRef,
  });
  expect(sim.state.seen('CRS610MI', 'Add', (r) => r.CUNO === created.erpId)).toBe(1);
  expect((await erp.findCustomers({ externalRef: extRef })).map((c) => c.erpId)).toEqual([created.erpId]);
});

test('order to cash: order, invoice, payment, then every compensation twice', async () => {
  const r = ref('o2c');
  const so = await erp.createSalesOrder(order(r), { idempotencyKey: k('o2c/so') });
  expect(so).toMatchObject({ status: 'confirmed', rawStatus: '20' });
  expect(await erp.getSalesOrder(so.erpId)).toEqual(so);
  const stored = sim.state.data.orders.get(so.erpId)!;
  expect(stored).toMatchObject({ CUOR: r, CUNO: 'C1001', ORDT: '20250314' });
  expect(stored.lines.map((l) => [l.ITNO, l.ORQT, l.SAPR, l.TAXA, l.CUPO])).toEqual([
    ['SKU-1001', '2', 8999, 1440, '1'],
    ['SKU-1002', '1', 1599, 0, '2'],
  ]);
  expect(await row(k('o2c/so/line-1'))).toMatchObject({ status: 'done', target: 'm3' });

  const inv = await erp.createInvoice(
    { ...order(`${r}-inv`), salesOrderErpId: so.erpId },
    { idempotencyKey: k('o2c/inv') },
  );
  expect(inv).toMatchObject({ status: 'draft', rawStatus: '10' });
  expect(await erp.postInvoice(inv.erpId, { idempotencyKey: k('o2c/post') })).toMatchObject({
    status: 'posted',
    rawStatus: '20',
  });
  expect(await erp.getSalesOrder(so.erpId)).toMatchObject({ status: 'invoiced', rawStatus: '77' });

  const pay = await erp.applyPayment(
    {
      ref: `${r}-pay`,
      invoiceErpId: inv.erpId,
      customerErpId: 'C1001',
      amountMinor: 21037,
      currency: 'USD',
      date: '2025-03-15',
      method: 'card:VISA',
      processorRef: `TRN_${r}`,
    },
    { idempotencyKey: k('o2c/pay') },
  );
  expect(pay).toMatchObject({ status: 'applied', rawStatus: '20' });
  expect(sim.state.execute('OIS300MI', 'Get', { IVNO: inv.erpId })[0]).toMatchObject({ CUAM: '210.37', OPAM: '0.00' });
  const listed = await collect(erp.listPayments({ from: '2025-03-15', to: '2025-03-15' }));
  expect(listed.find((p) => p.erpId === pay.erpId)).toEqual({
    erpId: pay.erpId,
    ref: `${r}-pay`,
    processorRef: `TRN_${r}`,
    amountMinor: 21037,
    currency: 'USD',
    date: '2025-03-15',
    method: 'card',
  });

  expect(await erp.unapplyPayment(pay.erpId, { idempotencyKey: k('o2c/unpay') })).toMatchObject({
    status: 'cancelled',
  });
  expect(await erp.unapplyPayment(pay.erpId, { idempotencyKey: k('o2c/unpay-2') })).toMatchObject({
    status: 'cancelled',
  });
  expect((await collect(erp.listPayments({ from: '2025-03-15', to: '2025-03-15' }))).map((p) => p.erpId)).not.toContain(
    pay.erpId,
  );

  expect(await erp.reverseInvoice(inv.erpId, { idempotencyKey: k('o2c/rev') })).toMatchObject({
    status: 'reversed',
    rawStatus: '80',
  });
  expect(await erp.reverseInvoice(inv.erpId, { idempotencyKey: k('o2c/rev-2') })).toMatchObject({ status: 'reversed' });
  expect([...sim.state.data.invoices.values()].filter((i) => i.OIVN === inv.erpId)).toHaveLength(1);

  const so2 = await erp.createSalesOrder(order(`${r}-b`), { idempotencyKey: k('o2c/so2') });
  expect(await erp.cancelSalesOrder(so2.erpId, { idempotencyKey: k('o2c/cancel') })).toMatchObject({
    status: 'cancelled',
    rawStatus: '90',
  });
  expect(await erp.cancelSalesOrder(so2.erpId, { idempotencyKey: k('o2c/cancel-2') })).toMatchObject({
    status: 'cancelled',
  });
  expect(sim.state.seen('OIS100MI', 'CancelOrder', (x) => x.ORNO === so2.erpId)).toBe(1);
});

test('the same idempotency key never writes twice, and the same ref under another key finds the order', async () => {
  const r = ref('idem');
  const a = await erp.createSalesOrder(order(r), { idempotencyKey: k('idem') });
  expect(await erp.createSalesOrder(order(r), { idempotencyKey: k('idem') })).toEqual(a);
  expect((await erp.createSalesOrder(order(r), { idempotencyKey: k('idem-2') })).erpId).toBe(a.erpId);
  expect([...sim.state.data.orders.values()].filter((o) => o.CUOR === r)).toHaveLength(1);
  expect(sim.state.data.orders.get(a.erpId)!.lines).toHaveLength(2);
});

test('credit memos: draft, post, cancel (twice); a draft memo cancels directly', async () => {
  const inv = await erp.createInvoice(order(ref('cm-inv')), { idempotencyKey: k('cm/inv') });
  await erp.postInvoice(inv.erpId, { idempotencyKey: k('cm/inv-post') });
  const memo = {
    ...order(ref('cm')),
    lines: [{ sku: 'SKU-1002', qty: 1, unitPriceMinor: 1599 }],
    totalMinor: 1599,
    invoiceErpId: inv.erpId,
    reason: 'returned socks',
  };
  const cm = await erp.draftCreditMemo(memo, { idempotencyKey: k('cm/draft') });
  expect(cm.status).toBe('draft');
  expect(sim.state.data.invoices.get(cm.erpId)).toMatchObject({ IVTP: 'CN', OIVN: inv.erpId, TX40: 'returned socks' });
  expect(await erp.postCreditMemo(cm.erpId, { idempotencyKey: k('cm/post') })).toMatchObject({ status: 'posted' });
  expect(await erp.cancelCreditMemo(cm.erpId, { idempotencyKey: k('cm/cancel') })).toMatchObject({
    status: 'reversed',
  });
  expect(await erp.cancelCreditMemo(cm.erpId, { idempotencyKey: k('cm/cancel-2') })).toMatchObject({
    status: 'reversed',
  });
  const draft = await erp.draftCreditMemo({ ...memo, ref: ref('cm-2') }, { idempotencyKey: k('cm/draft-2') });
  expect(await erp.cancelCreditMemo(draft.erpId, { idempotencyKey: k('cm/cancel-3') })).toMatchObject({
    status: 'cancelled',
    rawStatus: '90',
  });
  expect(await erp.cancelCreditMemo(draft.erpId, { idempotencyKey: k('cm/cancel-4') })).toMatchObject({
    status: 'cancelled',
  });
});

test('journals: posted once per ref with signed amounts, found by ref, reversed idempotently', async () => {
  const r = ref('settle');
  const je = await erp.postJournal(journal(r), { idempotencyKey: k('je') });
  expect(je).toMatchObject({ status: 'posted', rawStatus: '90' });
  expect(je.number).toMatch(/^\d+$/);
  expect((await erp.postJournal(journal(r), { idempotencyKey: k('je-retriggered') })).erpId).toBe(je.erpId);
  expect([...sim.state.data.batches.values()].filter((b) => b.BTXT === r)).toHaveLength(1);
  const lines = sim.state.data.batches.get(je.erpId)!.lines;
  expect(lines.map((l) => [l.AIT[0], l.CUAM, l.VTXT])).toEqual([
    ['1030', 97000, `Settlement ${r} #1`],
    ['6100', 3000, 'Card fees #2'],
    ['4000', -92593, 'Revenue #3'],
    ['2200', -7407, 'Sales tax #4'],
  ]);
  expect(lines[0].AIT.slice(1, 3)).toEqual(['VISA', 'card']);
  expect(await erp.findJournalByRef(r)).toEqual(je);
  expect(await erp.findJournalByRef(`${r}-unknown`)).toBeNull();
  expect(await erp.reverseJournal(je.erpId, { idempotencyKey: k('je/rev') })).toMatchObject({
    erpId: je.erpId,
    status: 'reversed',
  });
  expect(await erp.reverseJournal(je.erpId, { idempotencyKey: k('je/rev-2') })).toMatchObject({ status: 'reversed' });
  const reversals = [...sim.state.data.batches.values()].filter((b) => b.BTXT === `REV ${je.erpId}`);
  expect(reversals).toHaveLength(1);
  expect(reversals[0].lines.map((l) => l.CUAM)).toEqual([-97000, -3000, 92593, 7407]);
  expect(await erp.findJournalByRef(r)).toMatchObject({ status: 'reversed' });
});

test('an unbalanced journal is refused before any call', async () => {
  const before = sim.state.data.log.length;
  const bad = journal(ref('unbalanced'));
  bad.lines[0].debitMinor += 1;
  await failed(erp.postJournal(bad, { idempotencyKey: k('unbalanced') }), 'JournalUnbalanced');
  expect(sim.state.data.log.length).toBe(before);
});

test('GL account not found: the per-record MI error is GlAccountNotFound (non-retryable), the batch is not updated', async () => {
  const r = ref('gl-missing');
  const bad = journal(r);
  bad.lines[1].account = '6199';
  const err = await failed(erp.postJournal(bad, { idempotencyKey: k('gl-missing') }), 'GlAccountNotFound');
  expect(err.nonRetryable).toBe(true);
  expect(err.message).toContain('Account 6199 does not exist');
  expect(err.details?.[0]).toMatchObject({ failedLines: [1], succeededLines: [0, 2, 3], field: 'AIT1' });
  const batch = [...sim.state.data.batches.values()].find((b) => b.BTXT === r)!;
  expect(batch.STAT).toBe('10');
  expect(sim.state.seen('GLS840MI', 'UpdBatch', (x) => x.BCHN === batch.BCHN)).toBe(0);
});

test('partial batch failure: the adapter records the lines that succeeded and the retry sends only the failed ones', async () => {
  const r = ref('partial');
  const key = k('partial');
  sim.faults.set({ partialFailure: { count: 1, failRecords: 1 } });
  const err = await failed(erp.postJournal(journal(r), { idempotencyKey: key }), 'PartialFailure');
  expect(err.nonRetryable).toBe(false);
  expect(err.details?.[0]).toMatchObject({ failedLines: [3], succeededLines: [0, 1, 2] });
  const status = async (n: number) => (await row(`${key}/line-${n}`))?.status;
  expect([await status(0), await status(1), await status(2), await status(3)]).toEqual([
    'done',
    'done',
    'done',
    'failed',
  ]);
  expect((await row(key)).status).toBe('pending');
  const batch = [...sim.state.data.batches.values()].find((b) => b.BTXT === r)!;
  expect(batch.STAT).toBe('10');

  const je = await erp.postJournal(journal(r), { idempotencyKey: key });
  expect(je).toMatchObject({ erpId: batch.BCHN, status: 'posted' });
  const linesOf = (n: number, ok?: boolean) =>
    sim.state.seen(
      'GLS840MI',
      'AddBatchLine',
      (x) => x.BCHN === batch.BCHN && x.VTXT.endsWith(`#${n}`) && (ok === undefined || ok),
    );
  const okLines = sim.state.data.log.filter(
    (e) => e.transaction === 'AddBatchLine' && e.record.BCHN === batch.BCHN && e.ok,
  );
  for (const n of [1, 2, 3]) expect(linesOf(n)).toBe(1);
  expect(linesOf(4)).toBe(2);
  expect(okLines.map((e) => e.record.VTXT.slice(-2))).toEqual(['#1', '#2', '#3', '#4']);
  expect(batch.lines).toHaveLength(4);
  expect(await status(3)).toBe('done');
  expect(await row(key)).toMatchObject({ status: 'done', external_id: batch.BCHN });
});

test('inventory: reads on hand at MAIN and applies deltas once per key', async () => {
  const before = await erp.readOnHand({ skus: ['SKU-1003', 'SKU-1004'], location: 'MAIN' });
  const qty = (rows: typeof before, sku: string) => rows.find((o) => o.sku === sku)!.qty;
  const adjustments = [
    { sku: 'SKU-1003', location: 'MAIN', delta: -2 },
    { sku: 'SKU-1004', location: 'MAIN', delta: 5 },
  ];
  await erp.adjustInventory(adjustments, { idempotencyKey: k('inv-adjust') });
  await erp.adjustInventory(adjustments, { idempotencyKey: k('inv-adjust') });
  const after = await erp.readOnHand({ skus: ['SKU-1003', 'SKU-1004'], location: 'MAIN' });
  expect(qty(after, 'SKU-1003')).toBe(qty(before, 'SKU-1003') - 2);
  expect(qty(after, 'SKU-1004')).toBe(qty(before, 'SKU-1004') + 5);
  expect(sim.state.seen('MMS850MI', 'AddAdjust', (x) => x.ITNO === 'SKU-1003' && x.QLQT === '-2')).toBe(1);
  const all = await erp.readOnHand();
  expect(all.map((o) => `${o.location}/${o.sku}`)).toEqual([
    'MAIN/SKU-1001',
    'MAIN/SKU-1002',
    'MAIN/SKU-1003',
    'MAIN/SKU-1004',
    'MAIN/SKU-1005',
  ]);
});

test('inventory: a crash after M3 applied a line does not apply it again', async () => {
  const key = k('inv-crash');
  const [before] = await erp.readOnHand({ skus: ['SKU-1005'], location: 'MAIN' });
  await erp.adjustInventory([{ sku: 'SKU-1005', location: 'MAIN', delta: -1 }], { idempotencyKey: key });
  // Simulate the crash: our line row goes back to pending as if the answer had never been recorded.
  await db('external_writes')
    .whereIn('idempotency_key', [key, `${key}/line-0`])
    .update({ status: 'pending' });
  await erp.adjustInventory([{ sku: 'SKU-1005', location: 'MAIN', delta: -1 }], { idempotencyKey: key });
  const [after] = await erp.readOnHand({ skus: ['SKU-1005'], location: 'MAIN' });
  expect(after.qty).toBe(before.qty - 1);
  expect(await row(`${key}/line-0`)).toMatchObject({ status: 'done', attempts: 1 });
});

test('lists the shared catalog with integer minor-unit prices', async () => {
  expect(await erp.listProducts()).toEqual([
    { sku: 'REFUND', name: 'Refund adjustment', priceMinor: 0, currency: 'USD', uom: 'EA' },
    { sku: 'SHIPPING', name: 'Shipping', priceMinor: 0, currency: 'USD', uom: 'EA' },
    { sku: 'SKU-1001', name: 'Trail Runner Shoe', priceMinor: 8999, currency: 'USD', uom: 'EA' },
    { sku: 'SKU-1002', name: 'Wool Socks', priceMinor: 1599, currency: 'USD', uom: 'EA' },
    { sku: 'SKU-1003', name: 'Rain Jacket', priceMinor: 12900, currency: 'USD', uom: 'EA' },
    { sku: 'SKU-1004', name: 'Water Bottle', priceMinor: 2499, currency: 'USD', uom: 'EA' },
    { sku: 'SKU-1005', name: 'Headlamp', priceMinor: 3450, currency: 'USD', uom: 'EA' },
  ]);
});

test('a SHIPPING service line is accepted on an order and an invoice, totals match, stock is left alone', async () => {
  const r = ref('ship');
  const lines = [
    { sku: 'SKU-1002', qty: 2, unitPriceMinor: 1599, taxMinor: 264 },
    { sku: 'SHIPPING', description: 'Shipping', qty: 1, unitPriceMinor: 500, taxMinor: 0 },
  ];
  const doc = order(r, { lines, totalMinor: 2 * 1599 + 264 + 500 });
  const so = await erp.createSalesOrder(doc, { idempotencyKey: k('ship/so') });
  expect(so).toMatchObject({ status: 'confirmed', rawStatus: '20' });
  expect(sim.state.execute('OIS100MI', 'GetHead', { ORNO: so.erpId })[0]).toMatchObject({ TOAM: '39.62', NBLN: '2' });
  expect(sim.state.data.orders.get(so.erpId)!.lines.map((l) => [l.ITNO, l.SAPR])).toEqual([
    ['SKU-1002', 1599],
    ['SHIPPING', 500],
  ]);

  const inv = await erp.createInvoice(
    { ...doc, ref: `${r}-inv`, salesOrderErpId: so.erpId },
    { idempotencyKey: k('ship/inv') },
  );
  expect(await erp.postInvoice(inv.erpId, { idempotencyKey: k('ship/post') })).toMatchObject({ status: 'posted' });
  expect(sim.state.execute('OIS300MI', 'Get', { IVNO: inv.erpId })[0]).toMatchObject({ CUAM: '39.62', STAT: '20' });

  const [socks] = await erp.readOnHand({ skus: ['SKU-1002'], location: 'MAIN' });
  const sold = lines.map((l) => ({ sku: l.sku, location: 'MAIN', delta: -l.qty }));
  await erp.adjustInventory(sold, { idempotencyKey: k('ship/stock') });
  expect(await erp.readOnHand({ skus: ['SKU-1002', 'SHIPPING'], location: 'MAIN' })).toEqual([
    { sku: 'SHIPPING', location: 'MAIN', qty: 0 },
    { sku: 'SKU-1002', location: 'MAIN', qty: socks.qty - 2 },
  ]);
  expect(sim.state.seen('MMS850MI', 'AddAdjust', (x) => x.ITNO === 'SHIPPING')).toBe(0);
  expect(() => sim.state.execute('MMS850MI', 'AddAdjust', { WHLO: 'MAIN', ITNO: 'SHIPPING', QLQT: '1' })).toThrow(
    'Item SHIPPING is not inventory accounted',
  );
});

test('a crash between the remote write and our record: the retry finds the order and adds only the missing line', async () => {
  const r = ref('crash');
  const key = k('crash');
  await db('external_writes').insert({
    idempotency_key: key,
    target: 'm3',
    operation: 'createSalesOrder',
    status: 'pending',
  });
  const [{ ORNO }] = sim.state.execute('OIS100MI', 'AddBatchHead', { CUNO: 'C1001', CUOR: r, CUCD: 'USD' });
  sim.state.execute('OIS100MI', 'AddBatchLine', {
    ORNO,
    ITNO: 'SKU-1001',
    ORQT: '2',
    SAPR: '89.99',
    TAXA: '14.40',
    CUPO: '1',
  });
  const doc = await erp.createSalesOrder(order(r), { idempotencyKey: key });
  expect(doc).toMatchObject({ erpId: ORNO, status: 'confirmed' });
  expect([...sim.state.data.orders.values()].filter((o) => o.CUOR === r)).toHaveLength(1);
  expect(sim.state.data.orders.get(ORNO)!.lines.map((l) => l.CUPO)).toEqual(['1', '2']);
  expect(sim.state.seen('OIS100MI', 'AddBatchHead', (x) => x.CUOR === r)).toBe(1);
  expect(await row(key)).toMatchObject({ status: 'done', external_id: ORNO, attempts: 2 });
});

test('a crash mid-journal: the retry continues the open batch without duplicating lines', async () => {
  const r = ref('je-crash');
  const key = k('je-crash');
  await db('external_writes').insert({
    idempotency_key: key,
    target: 'm3',
    operation: 'postJournal',
    status: 'pending',
  });
  const [{ BCHN }] = sim.state.execute('GLS840MI', 'AddBatchHead', { BTXT: r });
  sim.state.execute('GLS840MI', 'AddBatchLine', {
    BCHN,
    AIT1: '1030',
    CUAM: '970.00',
    CUCD: 'USD',
    VTXT: `Settlement ${r} #1`,
  });
  const je = await erp.postJournal(journal(r), { idempotencyKey: key });
  expect(je).toMatchObject({ erpId: BCHN, status: 'posted' });
  expect(sim.state.data.batches.get(BCHN)!.lines.map((l) => l.VTXT.slice(-2))).toEqual(['#1', '#2', '#3', '#4']);
});

test('M3 errors map to the taxonomy', async () => {
  await failed(erp.getSalesOrder('9999999999'), 'NotFound');
  const unknownSku = order(ref('bad-sku'), {
    lines: [{ sku: 'SKU-9999', qty: 1, unitPriceMinor: 100 }],
    totalMinor: 100,
  });
  const sku = await failed(erp.createSalesOrder(unknownSku, { idempotencyKey: k('bad-sku') }), 'ValidationError');
  expect(sku.message).toContain('Item number SKU-9999 does not exist');
  await failed(
    erp.createSalesOrder({ ...order(ref('bad-total')), totalMinor: 5 }, { idempotencyKey: k('bad-total') }),
    'ValidationError',
  );
  const mail = await failed(
    erp.upsertCustomer(
      { externalRef: `x:${ref('bad-mail')}`, name: 'Bad Mail', email: 'nope' },
      { idempotencyKey: k('bad-mail') },
    ),
    'ValidationError',
  );
  expect(mail.details?.[0]).toMatchObject({ connector: 'm3', field: 'MAIL' });
  const draft = await erp.createInvoice(order(ref('pay-draft')), { idempotencyKey: k('pay-draft/inv') });
  const rejected = await failed(
    erp.applyPayment(
      {
        ref: ref('pay-draft'),
        invoiceErpId: draft.erpId,
        customerErpId: 'C1001',
        amountMinor: 100,
        currency: 'USD',
        date: '2025-03-15',
        method: 'cash',
        processorRef: 'TRN_x',
      },
      { idempotencyKey: k('pay-draft/pay') },
    ),
    'UpstreamRejected',
  );
  expect(rejected.message).toContain('is not open for payment');
});

test('an expired token is refreshed once, transparently', async () => {
  const c = connector();
  await c.listProducts();
  const issued = sim.state.tokensIssued();
  const rejected = sim.state.unauthorized();
  sim.faults.set({ expireTokens: true });
  expect(await c.findCustomers({ externalRef: 'heartland:C1001' })).toHaveLength(1);
  expect(sim.state.tokensIssued()).toBe(issued + 1);
  expect(sim.state.unauthorized()).toBe(rejected + 1);
  expect(c.tokenFetches).toBe(2);
});

test('bad client credentials are AuthFailed; a bad .ionapi file is ConfigError', async () => {
  const bad = connector({ ionapi: { ...sim.ionapi, cs: 'wrong' } });
  const err = await failed(bad.listProducts(), 'AuthFailed');
  expect(err.nonRetryable).toBe(true);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lb-ionapi-'));
  const file = path.join(dir, 'ledgerbridge.ionapi');
  writeFileSync(file, JSON.stringify(sim.ionapi));
  const fromFile = connector({ ionapi: file });
  expect((await fromFile.listProducts()).length).toBe(7);
  writeFileSync(file, JSON.stringify({ ti: 'x' }));
  expect(() => new M3Connector({ db, ionapi: file })).toThrow(expect.objectContaining({ type: 'ConfigError' }));
});

test('the token is fetched with a form-encoded grant; token endpoint failures keep the taxonomy', async () => {
  const c = connector();
  await c.listProducts();
  expect(sim.state.tokenRequests.at(-1)).toEqual({
    contentType: 'application/x-www-form-urlencoded',
    grantType: 'password',
  });
  const badAccount = await failed(connector({ ionapi: { ...sim.ionapi, sask: 'wrong' } }).listProducts(), 'AuthFailed');
  expect(badAccount.nonRetryable).toBe(true);
  expect(badAccount.details?.[0]).toMatchObject({ connector: 'm3', status: 400, code: 'invalid_grant' });
  const tokenPath = `/${sim.state.tenant}/as/token.oauth2`;
  sim.faults.set({ rateLimit: { count: 1, retryAfterSeconds: 4 }, paths: [tokenPath] });
  const limited = await failed(connector().listProducts(), 'RateLimited');
  expect(limited.nextRetryDelay).toBe(4000);
  sim.faults.set({ error: { status: 503, count: 1 }, paths: [tokenPath] });
  expect((await failed(connector().listProducts(), 'UpstreamUnavailable')).nonRetryable).toBe(false);
  sim.faults.set({ malformed: { count: 1, mode: 'truncated' }, paths: [tokenPath] });
  await failed(connector().listProducts(), 'SchemaMismatch');
});

test('429 from the gateway is RateLimited with the Retry-After delay; 503 is UpstreamUnavailable', async () => {
  await erp.listProducts();
  sim.faults.set({ rateLimit: { count: 1, retryAfterSeconds: 3 } });
  const err = await failed(erp.listProducts(), 'RateLimited');
  expect(err.nextRetryDelay).toBe(3000);
  sim.faults.set({ error: { status: 503, count: 1 } });
  expect((await failed(erp.listProducts(), 'UpstreamUnavailable')).nonRetryable).toBe(false);
});

test('a hung request is a retryable Timeout', async () => {
  const slow = connector({ timeoutMs: 300 });
  await slow.listProducts();
  sim.faults.set({ hang: { count: 1 } });
  expect((await failed(slow.listProducts(), 'Timeout')).nonRetryable).toBe(false);
});

test('the breaker opens after consecutive gateway failures and stops calling M3', async () => {
  const fragile = connector({ breaker: { failureThreshold: 2, resetTimeoutMs: 60_000 } });
  await fragile.listProducts();
  sim.faults.set({ error: { status: 503, count: 2 } });
  await failed(fragile.listProducts(), 'UpstreamUnavailable');
  await failed(fragile.listProducts(), 'UpstreamUnavailable');
  const requests = sim.faults.stats.requests;
  await failed(fragile.listProducts(), 'CircuitOpen');
  expect(sim.faults.stats.requests).toBe(requests);
  expect(fragile.breakerState).toBe('open');
});

test('a response without results is SchemaMismatch', async () => {
  await erp.listProducts();
  sim.faults.set({ drift: { path: 'results', renameTo: 'result' } });
  const err = await failed(erp.listProducts(), 'SchemaMismatch');
  expect(err.message).toContain('results');
});
