import { ApplicationFailure } from '@temporalio/common';
import { OdooConnector, xmlidName, type OdooConnectorOptions } from '../../src/connectors/erp/odoo';
import type { ErpPaymentRecord, ErpSalesOrderInput } from '../../src/connectors/erp/types';
import type { Db } from '../../src/db';
import { startOdooSimulator, type OdooSimulator } from '../../src/sandbox/odoo';
import { testDb } from '../support/env';

/** Contract tests of the Odoo adapter against the Odoo simulator over real HTTP, under both protocols. */

const API_KEY = 'test-odoo-key';
const run = Math.random().toString(36).slice(2, 8);
let sim: OdooSimulator;
let db: Db;
const open: OdooConnector[] = [];

beforeAll(async () => {
  sim = await startOdooSimulator({ port: 0, db: 'ledgerbridge', apiKey: API_KEY });
  db = testDb();
});

afterAll(async () => {
  await Promise.all(open.map((c) => c.close()));
  await sim.close();
  await db.destroy();
});

afterEach(() => sim.faults.clear());

function connector(protocol: 'json2' | 'jsonrpc', extra: Partial<OdooConnectorOptions> = {}): OdooConnector {
  const c = new OdooConnector({
    baseUrl: sim.url,
    db,
    database: 'ledgerbridge',
    apiKey: API_KEY,
    login: 'ledgerbridge-bot',
    protocol,
    timeoutMs: 5000,
    ...extra,
  });
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

async function json2(model: string, method: string, body: Record<string, unknown>): Promise<unknown> {
  const res = await fetch(`${sim.url}/json/2/${model}/${method}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      authorization: `bearer ${API_KEY}`,
      'x-odoo-database': 'ledgerbridge',
    },
    body: JSON.stringify(body),
  });
  expect(res.status).toBe(200);
  return res.json();
}

async function collect(it: AsyncIterable<ErpPaymentRecord>): Promise<ErpPaymentRecord[]> {
  const out: ErpPaymentRecord[] = [];
  for await (const p of it) out.push(p);
  return out;
}

const row = (key: string) => db('external_writes').where({ idempotency_key: key }).first();

describe.each(['json2', 'jsonrpc'] as const)('Odoo adapter over %s', (protocol) => {
  let erp: OdooConnector;
  const k = (s: string) => `test-odoo:${run}:${protocol}/${s}`;
  const ref = (s: string) => `${s}-${run}-${protocol}`;
  let janeId: string;

  beforeAll(async () => {
    erp = connector(protocol);
    const [jane] = await erp.findCustomers({ externalRef: 'heartland:C1001' });
    janeId = jane.erpId;
  });

  const order = (r: string, extra: Partial<ErpSalesOrderInput> = {}): ErpSalesOrderInput => ({
    ref: r,
    customerErpId: janeId,
    currency: 'USD',
    date: '2025-03-14',
    lines: [
      { sku: 'SKU-1001', qty: 2, unitPriceMinor: 8999, taxMinor: 1440 },
      { sku: 'SKU-1002', qty: 1, unitPriceMinor: 1599, description: 'Wool Socks, grey' },
    ],
    totalMinor: 2 * 8999 + 1440 + 1599,
    ...extra,
  });

  test('finds near-duplicate customers by email in any case and by phone written differently', async () => {
    const byEmail = await erp.findCustomers({ email: 'Jane.Doe@EXAMPLE.com' });
    expect(byEmail.map((c) => c.name)).toEqual(['Jane Doe', 'Jane M. Doe']);
    const byPhone = await erp.findCustomers({ phone: '+1 (555) 010-3000' });
    expect(byPhone.map((c) => c.name)).toEqual(['Robert Smith', 'Bob Smith']);
    const byDigits = await erp.findCustomers({ phone: '5550102000' });
    expect(byDigits.map((c) => c.name)).toEqual(['Jane Doe', 'Jane M. Doe']);
    expect(await erp.findCustomers({ email: 'nobody@example.com' })).toEqual([]);
    const [jane] = await erp.findCustomers({ externalRef: 'heartland:C1001' });
    expect(jane).toMatchObject({ name: 'Jane Doe', email: 'jane.doe@example.com', externalRef: 'heartland:C1001' });
  });

  test('upserts a customer once per external ref and updates it later', async () => {
    const extRef = `commerce:${ref('cust')}`;
    const input = {
      externalRef: extRef,
      name: 'Casey Jones',
      email: `casey.${run}.${protocol}@example.com`,
      phone: '555-010-7777',
      address: { line1: '1 Main St', city: 'Portland', region: 'OR', postalCode: '97201', country: 'US' },
    };
    const created = await erp.upsertCustomer(input, { idempotencyKey: k('cust-1') });
    expect(created).toMatchObject({ name: 'Casey Jones', email: input.email, externalRef: extRef });
    const again = await erp.upsertCustomer(input, { idempotencyKey: k('cust-1') });
    expect(again.erpId).toBe(created.erpId);
    const updated = await erp.upsertCustomer({ ...input, name: 'Casey J. Jones' }, { idempotencyKey: k('cust-2') });
    expect(updated).toMatchObject({ erpId: created.erpId, name: 'Casey J. Jones' });
    const partners = sim.state.records('res.partner', [['ref', '=', extRef]]);
    expect(partners).toHaveLength(1);
    expect(partners[0]).toMatchObject({ street: '1 Main St', city: 'Portland', zip: '97201' });
    const byPhone = await erp.findCustomers({ phone: '(555) 010 7777' });
    expect(byPhone.map((c) => c.erpId)).toContain(created.erpId);
  });

  test('order to cash: order, invoice, payment, then every compensation twice', async () => {
    const r = ref('o2c');
    const so = await erp.createSalesOrder(order(r), { idempotencyKey: k('o2c/so') });
    expect(so).toMatchObject({ status: 'confirmed', rawStatus: 'sale' });
    expect(so.number).toMatch(/^S\d{5}$/);
    expect(await erp.getSalesOrder(so.erpId)).toEqual(so);
    const stored = sim.state.records('sale.order', [['client_order_ref', '=', r]]);
    expect(stored).toHaveLength(1);
    expect(stored[0].amount_total).toBe(210.37);

    const inv = await erp.createInvoice(
      { ...order(`${r}-inv`), salesOrderErpId: so.erpId },
      { idempotencyKey: k('o2c/inv') },
    );
    expect(inv.status).toBe('draft');
    const posted = await erp.postInvoice(inv.erpId, { idempotencyKey: k('o2c/post') });
    expect(posted).toMatchObject({ erpId: inv.erpId, status: 'posted', rawStatus: 'posted/not_paid' });
    expect(posted.number).toMatch(/^INV\/\d{4}\/\d{5}$/);
    expect(sim.state.store.get('account.move', Number(inv.erpId)).invoice_origin).toBe(so.number);

    const pay = await erp.applyPayment(
      {
        ref: `${r}-pay`,
        invoiceErpId: inv.erpId,
        customerErpId: janeId,
        amountMinor: 21037,
        currency: 'USD',
        date: '2025-03-15',
        method: 'card:VISA',
        processorRef: `TRN_${r}`,
      },
      { idempotencyKey: k('o2c/pay') },
    );
    expect(pay).toMatchObject({ status: 'applied', rawStatus: 'paid' });
    const payment = sim.state.store.get('account.payment', Number(pay.erpId));
    expect(payment).toMatchObject({ memo: `${r}-pay`, payment_reference: `TRN_${r}`, amount: 210.37 });
    expect(sim.state.store.displayName('account.journal', payment.journal_id as number)).toBe('Card payments');
    expect(sim.state.store.get('account.move', Number(inv.erpId)).payment_state).toBe('paid');

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

    const unapplied = await erp.unapplyPayment(pay.erpId, { idempotencyKey: k('o2c/unpay') });
    expect(unapplied.status).toBe('cancelled');
    expect(await erp.unapplyPayment(pay.erpId, { idempotencyKey: k('o2c/unpay-again') })).toMatchObject({
      status: 'cancelled',
    });
    expect(
      (await collect(erp.listPayments({ from: '2025-03-15', to: '2025-03-15' }))).map((p) => p.erpId),
    ).not.toContain(pay.erpId);

    const reversed = await erp.reverseInvoice(inv.erpId, { idempotencyKey: k('o2c/rev') });
    expect(reversed).toMatchObject({ erpId: inv.erpId, status: 'reversed' });
    expect(await erp.reverseInvoice(inv.erpId, { idempotencyKey: k('o2c/rev-again') })).toMatchObject({
      status: 'reversed',
    });
    expect(sim.state.records('account.move', [['reversed_entry_id', '=', Number(inv.erpId)]])).toHaveLength(1);

    const so2 = await erp.createSalesOrder(order(`${r}-b`), { idempotencyKey: k('o2c/so2') });
    expect(await erp.cancelSalesOrder(so2.erpId, { idempotencyKey: k('o2c/cancel') })).toMatchObject({
      status: 'cancelled',
    });
    expect(await erp.cancelSalesOrder(so2.erpId, { idempotencyKey: k('o2c/cancel-again') })).toMatchObject({
      status: 'cancelled',
      rawStatus: 'cancel',
    });
  });

  test('the same idempotency key never writes twice', async () => {
    const r = ref('idem');
    const a = await erp.createSalesOrder(order(r), { idempotencyKey: k('idem') });
    const b = await erp.createSalesOrder(order(r), { idempotencyKey: k('idem') });
    const c = await erp.createSalesOrder(order(r), { idempotencyKey: k('idem-other-key') });
    expect(b).toEqual(a);
    expect(c.erpId).toBe(a.erpId);
    expect(sim.state.records('sale.order', [['client_order_ref', '=', r]])).toHaveLength(1);
    expect(await row(k('idem'))).toMatchObject({ status: 'done', target: 'odoo', external_id: a.erpId });
  });

  test('a draft invoice reverses by cancelling it', async () => {
    const inv = await erp.createInvoice(order(ref('draft-inv')), { idempotencyKey: k('draft-inv') });
    expect(await erp.reverseInvoice(inv.erpId, { idempotencyKey: k('draft-inv/rev') })).toMatchObject({
      status: 'cancelled',
      rawStatus: 'cancel/not_paid',
    });
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
    const stored = sim.state.store.get('account.move', Number(cm.erpId));
    expect(stored).toMatchObject({
      move_type: 'out_refund',
      reversed_entry_id: Number(inv.erpId),
      narration: 'returned socks',
    });
    const posted = await erp.postCreditMemo(cm.erpId, { idempotencyKey: k('cm/post') });
    expect(posted.status).toBe('posted');
    expect(posted.number).toMatch(/^RINV\//);
    expect(await erp.cancelCreditMemo(cm.erpId, { idempotencyKey: k('cm/cancel') })).toMatchObject({
      status: 'cancelled',
    });
    expect(await erp.cancelCreditMemo(cm.erpId, { idempotencyKey: k('cm/cancel-2') })).toMatchObject({
      status: 'cancelled',
    });
    const draft = await erp.draftCreditMemo({ ...memo, ref: ref('cm-2') }, { idempotencyKey: k('cm/draft-2') });
    expect(await erp.cancelCreditMemo(draft.erpId, { idempotencyKey: k('cm/cancel-3') })).toMatchObject({
      status: 'cancelled',
    });
  });

  test('journals: posted once per ref, found by ref, reversed idempotently', async () => {
    const r = ref('settle');
    const journal = {
      ref: r,
      date: '2025-03-15',
      currency: 'USD',
      memo: `Settlement ${r}`,
      lines: [
        { account: '1030', debitMinor: 97000, creditMinor: 0, dimensions: { brand: 'VISA' } },
        { account: '6100', debitMinor: 3000, creditMinor: 0, description: 'Card fees', dimensions: { brand: 'VISA' } },
        { account: '4000', debitMinor: 0, creditMinor: 92593, description: 'Revenue' },
        { account: '2200', debitMinor: 0, creditMinor: 7407, description: 'Sales tax' },
      ],
    };
    const je = await erp.postJournal(journal, { idempotencyKey: k('je') });
    expect(je).toMatchObject({ status: 'posted', rawStatus: 'posted' });
    expect(je.number).toMatch(/^MISC\/\d{4}\/\d{4}$/);
    const again = await erp.postJournal(journal, { idempotencyKey: k('je-retriggered') });
    expect(again.erpId).toBe(je.erpId);
    expect(sim.state.records('account.move', [['ref', '=', r]])).toHaveLength(1);
    const lines = sim.state.records('account.move.line', [['move_id', '=', Number(je.erpId)]]);
    expect(lines.map((l) => [l.debit, l.credit])).toEqual([
      [970, 0],
      [30, 0],
      [0, 925.93],
      [0, 74.07],
    ]);
    expect(lines[1].name).toBe('Card fees [brand=VISA]');
    expect(await erp.findJournalByRef(r)).toEqual(je);
    expect(await erp.findJournalByRef(`${r}-unknown`)).toBeNull();
    const rev = await erp.reverseJournal(je.erpId, { idempotencyKey: k('je/rev') });
    expect(rev).toMatchObject({ erpId: je.erpId, status: 'reversed' });
    expect(await erp.reverseJournal(je.erpId, { idempotencyKey: k('je/rev-2') })).toMatchObject({ status: 'reversed' });
    expect(sim.state.records('account.move', [['reversed_entry_id', '=', Number(je.erpId)]])).toHaveLength(1);
    expect(await erp.findJournalByRef(r)).toMatchObject({ status: 'reversed' });
  });

  test('an unbalanced journal is refused before any call', async () => {
    const before = sim.state.calls.length;
    await failed(
      erp.postJournal(
        {
          ref: ref('unbalanced'),
          date: '2025-03-15',
          currency: 'USD',
          memo: 'x',
          lines: [
            { account: '1010', debitMinor: 1000, creditMinor: 0 },
            { account: '4000', debitMinor: 0, creditMinor: 999 },
          ],
        },
        { idempotencyKey: k('unbalanced') },
      ),
      'JournalUnbalanced',
    );
    expect(sim.state.calls.length).toBe(before);
    expect(await row(k('unbalanced'))).toBeUndefined();
  });

  test('a missing GL account is GlAccountNotFound (non-retryable) and nothing is posted', async () => {
    const r = ref('gl-missing');
    const err = await failed(
      erp.postJournal(
        {
          ref: r,
          date: '2025-03-15',
          currency: 'USD',
          memo: 'fees',
          lines: [
            { account: '6199', debitMinor: 500, creditMinor: 0 },
            { account: '4999', debitMinor: 0, creditMinor: 500 },
          ],
        },
        { idempotencyKey: k('gl-missing') },
      ),
      'GlAccountNotFound',
    );
    expect(err.nonRetryable).toBe(true);
    expect(err.details?.[0]).toMatchObject({ accounts: ['6199', '4999'] });
    expect(sim.state.records('account.move', [['ref', '=', r]])).toHaveLength(0);
  });

  test('inventory: reads on hand at MAIN and applies deltas once per key', async () => {
    const before = await erp.readOnHand({ skus: ['SKU-1003', 'SKU-1004'], location: 'MAIN' });
    expect(before.map((o) => o.sku)).toEqual(['SKU-1003', 'SKU-1004']);
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
    expect(sim.state.records('stock.move', [['name', '=like', `Ledgerbridge ${k('inv-adjust')}%`]])).toHaveLength(2);
    const all = await erp.readOnHand();
    expect(all.map((o) => o.sku)).toEqual(['SKU-1001', 'SKU-1002', 'SKU-1003', 'SKU-1004', 'SKU-1005']);
    expect(all.every((o) => o.location === 'MAIN')).toBe(true);
  });

  test('lists the shared catalog with integer minor-unit prices', async () => {
    const products = await erp.listProducts();
    expect(products).toEqual([
      { sku: 'REFUND', name: 'Refund adjustment', priceMinor: 0, currency: 'USD', uom: 'Units' },
      { sku: 'SHIPPING', name: 'Shipping', priceMinor: 0, currency: 'USD', uom: 'Units' },
      { sku: 'SKU-1001', name: 'Trail Runner Shoe', priceMinor: 8999, currency: 'USD', uom: 'Units' },
      { sku: 'SKU-1002', name: 'Wool Socks', priceMinor: 1599, currency: 'USD', uom: 'Units' },
      { sku: 'SKU-1003', name: 'Rain Jacket', priceMinor: 12900, currency: 'USD', uom: 'Units' },
      { sku: 'SKU-1004', name: 'Water Bottle', priceMinor: 2499, currency: 'USD', uom: 'Units' },
      { sku: 'SKU-1005', name: 'Headlamp', priceMinor: 3450, currency: 'USD', uom: 'Units' },
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
    expect(so).toMatchObject({ status: 'confirmed', rawStatus: 'sale' });
    const [stored] = sim.state.records('sale.order', [['client_order_ref', '=', r]]);
    expect(stored.amount_total).toBe(39.62);
    const soLines = sim.state.records('sale.order.line', [['order_id', '=', Number(so.erpId)]]);
    expect(soLines.find((l) => l.name === 'Shipping')).toMatchObject({ product_uom_qty: 1, price_unit: 5 });

    const inv = await erp.createInvoice(
      { ...doc, ref: `${r}-inv`, salesOrderErpId: so.erpId },
      { idempotencyKey: k('ship/inv') },
    );
    expect(await erp.postInvoice(inv.erpId, { idempotencyKey: k('ship/post') })).toMatchObject({ status: 'posted' });
    expect(sim.state.store.get('account.move', Number(inv.erpId)).amount_total).toBe(39.62);

    const [socks] = await erp.readOnHand({ skus: ['SKU-1002'], location: 'MAIN' });
    const sold = lines.map((l) => ({ sku: l.sku, location: 'MAIN', delta: -l.qty }));
    await erp.adjustInventory(sold, { idempotencyKey: k('ship/stock') });
    expect(await erp.readOnHand({ skus: ['SKU-1002', 'SHIPPING'], location: 'MAIN' })).toEqual([
      { sku: 'SHIPPING', location: 'MAIN', qty: 0 },
      { sku: 'SKU-1002', location: 'MAIN', qty: socks.qty - 2 },
    ]);
    expect(sim.state.records('stock.move', [['name', '=like', `Ledgerbridge ${k('ship/stock')}%`]])).toHaveLength(1);
  });

  test('a crash after the remote create (external id written) resumes without a second record', async () => {
    const r = ref('crash-a');
    const key = k('crash-a');
    await db('external_writes').insert({
      idempotency_key: key,
      target: 'odoo',
      operation: 'createSalesOrder',
      status: 'pending',
    });
    const [soId] = (await json2('sale.order', 'create', {
      vals_list: [
        {
          partner_id: Number(janeId),
          client_order_ref: r,
          order_line: [[0, 0, { product_id: 1, product_uom_qty: 2, price_unit: 89.99 }]],
        },
      ],
    })) as number[];
    await json2('ir.model.data', 'create', {
      vals_list: [{ module: 'ledgerbridge', name: xmlidName('so', r), model: 'sale.order', res_id: soId }],
    });
    const doc = await erp.createSalesOrder(order(r), { idempotencyKey: key });
    expect(doc).toMatchObject({ erpId: String(soId), status: 'confirmed' });
    expect(sim.state.records('sale.order', [['client_order_ref', '=', r]])).toHaveLength(1);
    expect(await row(key)).toMatchObject({ status: 'done', external_id: String(soId), attempts: 2 });
  });

  test('a crash between the remote create and its external id is repaired, not duplicated', async () => {
    const r = ref('crash-b');
    const key = k('crash-b');
    await db('external_writes').insert({
      idempotency_key: key,
      target: 'odoo',
      operation: 'postJournal',
      status: 'pending',
    });
    const [moveId] = (await json2('account.move', 'create', {
      vals_list: [
        {
          move_type: 'entry',
          ref: r,
          line_ids: [
            [0, 0, { account_id: 1, debit: 10, credit: 0 }],
            [0, 0, { account_id: 8, debit: 0, credit: 10 }],
          ],
        },
      ],
    })) as number[];
    const je = await erp.postJournal(
      {
        ref: r,
        date: '2025-03-15',
        currency: 'USD',
        memo: 'x',
        lines: [
          { account: '1010', debitMinor: 1000, creditMinor: 0 },
          { account: '4000', debitMinor: 0, creditMinor: 1000 },
        ],
      },
      { idempotencyKey: key },
    );
    expect(je).toMatchObject({ erpId: String(moveId), status: 'posted' });
    expect(sim.state.records('account.move', [['ref', '=', r]])).toHaveLength(1);
    expect(sim.state.records('ir.model.data', [['name', '=', xmlidName('je', r)]])).toHaveLength(1);
    expect(await row(key)).toMatchObject({ status: 'done', external_id: String(moveId) });
  });

  test('Odoo-side errors map to the taxonomy', async () => {
    await failed(erp.getSalesOrder('999999'), 'NotFound');
    await failed(erp.getSalesOrder('abc'), 'ValidationError');
    const unknownSku = order(ref('bad-sku'), {
      lines: [{ sku: 'SKU-9999', qty: 1, unitPriceMinor: 100 }],
      totalMinor: 100,
    });
    await failed(erp.createSalesOrder(unknownSku, { idempotencyKey: k('bad-sku') }), 'ValidationError');
    await failed(
      erp.createSalesOrder({ ...order(ref('bad-total')), totalMinor: 1 }, { idempotencyKey: k('bad-total') }),
      'ValidationError',
    );
    const badEmail = await failed(
      erp.upsertCustomer(
        { externalRef: `x:${ref('bad-email')}`, name: 'Bad Email', email: 'not-an-email' },
        { idempotencyKey: k('bad-email') },
      ),
      'ValidationError',
    );
    expect(badEmail.message).toContain('Invalid email address');
    expect(badEmail.details?.[0]).toMatchObject({ connector: 'odoo', code: 'odoo.exceptions.ValidationError' });
    const draft = await erp.createInvoice(order(ref('pay-draft')), { idempotencyKey: k('pay-draft/inv') });
    const rejected = await failed(
      erp.applyPayment(
        {
          ref: ref('pay-draft'),
          invoiceErpId: draft.erpId,
          customerErpId: janeId,
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
    expect(rejected.message).toContain('posted journal entries');
    expect(rejected.nonRetryable).toBe(true);
  });

  test('an expired key or session is refreshed once, transparently', async () => {
    await erp.listProducts();
    const before = { ...sim.state.authFailures };
    sim.faults.set({ expireTokens: true });
    const found = await erp.findCustomers({ email: 'jane.doe@example.com' });
    expect(found).toHaveLength(2);
    if (protocol === 'json2') expect(sim.state.authFailures.json2).toBe(before.json2 + 1);
    else expect(sim.state.authFailures.sessionExpired).toBe(before.sessionExpired + 1);
  });

  test('a wrong key is AuthFailed', async () => {
    const bad = connector(protocol, { apiKey: 'wrong-key' });
    const err = await failed(bad.listProducts(), 'AuthFailed');
    expect(err.nonRetryable).toBe(true);
  });

  test('429 is RateLimited with the Retry-After delay', async () => {
    await erp.listProducts();
    sim.faults.set({ rateLimit: { count: 1, retryAfterSeconds: 7 } });
    const err = await failed(erp.findCustomers({ email: 'jane.doe@example.com' }), 'RateLimited');
    expect(err.nextRetryDelay).toBe(7000);
    expect(err.nonRetryable).toBe(false);
  });

  test('a hung request is a retryable Timeout', async () => {
    const slow = connector(protocol, { timeoutMs: 300 });
    await slow.listProducts();
    sim.faults.set({ hang: { count: 1 } });
    const err = await failed(slow.listProducts(), 'Timeout');
    expect(err.nonRetryable).toBe(false);
  });

  test('the breaker opens after consecutive upstream failures and stops calling Odoo', async () => {
    const fragile = connector(protocol, { breaker: { failureThreshold: 2, resetTimeoutMs: 60_000 } });
    await fragile.listProducts();
    sim.faults.set({ error: { status: 503, count: 2 } });
    await failed(fragile.listProducts(), 'UpstreamUnavailable');
    await failed(fragile.listProducts(), 'UpstreamUnavailable');
    const requests = sim.faults.stats.requests;
    await failed(fragile.listProducts(), 'CircuitOpen');
    expect(sim.faults.stats.requests).toBe(requests);
    expect(fragile.breakerState).toBe('open');
  });

  test('a response that lost a field is SchemaMismatch', async () => {
    await erp.listProducts();
    sim.faults.set({ drift: { path: '*.list_price', renameTo: 'lst_price' }, paths: ['product.product'] });
    if (protocol === 'jsonrpc') sim.faults.set({ drift: { path: 'result.*.list_price', renameTo: 'lst_price' } });
    const err = await failed(erp.listProducts(), 'SchemaMismatch');
    expect(err.message).toContain('list_price');
  });
});

test('the ERP-side unknown-account error (JSON-2 422) is GlAccountNotFound', async () => {
  const erp = connector('json2');
  sim.faults.set({
    error: {
      status: 422,
      count: 1,
      body: {
        name: 'odoo.exceptions.ValidationError',
        message:
          'The operation cannot be completed: the record account.account(4999,) referenced by Account (account_id) does not exist.',
        arguments: [],
        context: {},
        debug: '',
      },
    },
    paths: ['/json/2/account.move/create'],
  });
  const err = await failed(
    erp.postJournal(
      {
        ref: `gl-race-${run}`,
        date: '2025-03-15',
        currency: 'USD',
        memo: 'x',
        lines: [
          { account: '1010', debitMinor: 1000, creditMinor: 0 },
          { account: '4000', debitMinor: 0, creditMinor: 1000 },
        ],
      },
      { idempotencyKey: `test-odoo:${run}/gl-race` },
    ),
    'GlAccountNotFound',
  );
  expect(err.nonRetryable).toBe(true);
  sim.faults.clear();
});
