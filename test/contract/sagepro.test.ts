import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ApplicationFailure } from '@temporalio/common';
import { parse } from 'csv-parse/sync';
import { SageProConnector } from '../../src/connectors/erp/sagepro';
import type { ErpJournalInput, WriteContext } from '../../src/connectors/erp/types';
import type { Db } from '../../src/db';
import { startSageProSimulator, type SageProSimulator } from '../../src/sandbox/sagepro';
import { docTotal } from '../../src/sandbox/sagepro/state';
import { testDb, testTmpDir } from '../support/env';

/** The Sage Pro adapter against the Sage Pro importer simulator through real files, with a real Postgres. */

const run = randomUUID().slice(0, 8);
let seq = 0;
const ctx = (step: string): WriteContext => ({
  idempotencyKey: `test-sage-${run}/${step}-${++seq}`,
  workflowId: `test-sage-${run}`,
});

let sim: SageProSimulator;
let db: Db;
let erp: SageProConnector;
let dropDir: string;

function connector(ackTimeoutMs = 10_000): SageProConnector {
  return new SageProConnector({ dropDir, db, ackTimeoutMs, pollMs: 20 });
}

async function failureOf(p: Promise<unknown>): Promise<ApplicationFailure> {
  try {
    await p;
  } catch (err) {
    return err as ApplicationFailure;
  }
  throw new Error('expected the call to fail');
}

async function waitFor<T>(probe: () => Promise<T | undefined>, what: string, ms = 5_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const readOr = (file: string) => readFile(file, 'utf8').catch(() => undefined);
const batchesFor = (batchId: string) => sim.state.batches.filter((b) => b.batchId === batchId);
const onHand = (sku: string, loc = 'MAIN') => sim.state.onhand.find((o) => o.ITEM === sku && o.LOCTID === loc)!.ONHAND;

async function simulateCrashAfterRemoteWrite(key: string): Promise<void> {
  await db('external_writes')
    .where({ idempotency_key: key })
    .update({ status: 'pending', external_id: null, result: null });
}

const doc = (ref: string, date = '2024-06-10') => ({
  ref,
  customerErpId: 'C00005',
  currency: 'USD',
  date,
  totalMinor: 2 * 3450 + 569,
  lines: [{ sku: 'SKU-1005', qty: 2, unitPriceMinor: 3450, taxMinor: 569, description: 'Headlamp, "pro" edition' }],
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
  dropDir = mkdtempSync(path.join(testTmpDir(), 'sagepro-'));
  sim = await startSageProSimulator({ dropDir, pollMs: 20 });
  db = testDb();
  erp = connector();
});

afterAll(async () => {
  await sim.close();
  await db.destroy();
  await rm(dropDir, { recursive: true, force: true });
});

beforeEach(() => sim.faults.clear());

describe('customers', () => {
  it('finds near-duplicates by email regardless of case', async () => {
    const found = await erp.findCustomers({ email: 'Ada.Lovelace@Example.com' });
    expect(found.map((c) => c.erpId).sort()).toEqual(['C00001', 'C00002']);
  });

  it('finds near-duplicates by phone written differently', async () => {
    expect((await erp.findCustomers({ phone: '(555) 010-2002' })).map((c) => c.erpId).sort()).toEqual([
      'C00003',
      'C00004',
    ]);
    expect(await erp.findCustomers({ phone: '555-010-0000' })).toEqual([]);
  });

  it('creates through a CU batch, then updates the same record by EXTREF', async () => {
    expect((await erp.findCustomers({ externalRef: 'heartland:C-3003' })).map((c) => c.erpId)).toEqual(['C00005']);
    const ref = `commerce:${run}-1`;
    const created = await erp.upsertCustomer(
      {
        externalRef: ref,
        name: 'Mary Jackson',
        firstName: 'Mary',
        lastName: 'Jackson',
        email: 'mary@example.com',
        phone: '555-010-7007',
        address: { line1: '1 NASA Way', city: 'Hampton', region: 'VA', country: 'US' },
      },
      ctx('cu'),
    );
    expect(created).toMatchObject({ name: 'Mary Jackson', email: 'mary@example.com', externalRef: ref });
    const updated = await erp.upsertCustomer(
      { externalRef: ref, name: 'Mary Jackson', email: 'mary.j@example.com' },
      ctx('cu'),
    );
    expect(updated.erpId).toBe(created.erpId);
    const rows = sim.state.customers.filter((c) => c.EXTREF === ref);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      EMAIL: 'mary.j@example.com',
      PHONE: '555-010-7007',
      CITY: 'Hampton',
      CONTACT: 'Mary Jackson',
    });
  });

  it('does not drop a second batch for the same idempotency key', async () => {
    const c = ctx('cu');
    const input = { externalRef: `commerce:${run}-2`, name: 'Dorothy Vaughan' };
    const first = await erp.upsertCustomer(input, c);
    const before = sim.state.batches.length;
    expect((await erp.upsertCustomer(input, c)).erpId).toBe(first.erpId);
    expect(sim.state.batches.length).toBe(before);
  });
});

describe('order to cash', () => {
  it('creates, reads and cancels a sales order; cancelling again drops no batch', async () => {
    const so = await erp.createSalesOrder({ ...doc(`order-${run}-1`), poNumber: 'PO-9' }, ctx('so'));
    expect(so).toMatchObject({ status: 'open', rawStatus: 'OPEN' });
    expect(await erp.getSalesOrder(so.erpId)).toMatchObject({ erpId: so.erpId, status: 'open' });
    expect(sim.state.orders.find((o) => o.SONO === so.erpId)).toMatchObject({ PONUM: 'PO-9', ORDDATE: '06/10/2024' });
    expect(sim.state.orders.find((o) => o.SONO === so.erpId)!.lines[0].DESCRIP).toBe('Headlamp, "pro" edition');
    expect((await erp.cancelSalesOrder(so.erpId, ctx('cancel'))).status).toBe('cancelled');
    const before = sim.state.batches.length;
    expect((await erp.cancelSalesOrder(so.erpId, ctx('cancel'))).status).toBe('cancelled');
    expect(sim.state.batches.length).toBe(before);
  });

  it('invoices, posts, applies and lists a payment, then unapplies and voids idempotently', async () => {
    const so = await erp.createSalesOrder(doc(`order-${run}-2`), ctx('so'));
    const inv = await erp.createInvoice({ ...doc(`inv-${run}-2`), salesOrderErpId: so.erpId }, ctx('inv'));
    expect(inv.status).toBe('draft');
    expect((await erp.getSalesOrder(so.erpId)).status).toBe('completed');
    expect((await erp.postInvoice(inv.erpId, ctx('post'))).status).toBe('posted');
    expect((await erp.postInvoice(inv.erpId, ctx('post'))).status).toBe('posted');

    const pay = await erp.applyPayment(
      {
        ref: `pay-${run}-2`,
        invoiceErpId: inv.erpId,
        customerErpId: 'C00005',
        amountMinor: 7_469,
        currency: 'USD',
        date: '2024-06-11',
        method: 'card:MASTERCARD',
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
        amountMinor: 7_469,
        currency: 'USD',
        date: '2024-06-11',
        method: 'MC',
      },
    ]);

    const refused = await failureOf(erp.reverseInvoice(inv.erpId, ctx('void')));
    expect(refused.type).toBe('ImportRejected');
    expect(refused.message).toMatch(/record 1 INVNO: .*applied cash receipts/);

    expect((await erp.unapplyPayment(pay.erpId, ctx('unapply'))).status).toBe('reversed');
    expect((await erp.unapplyPayment(pay.erpId, ctx('unapply'))).status).toBe('reversed');
    expect((await erp.reverseInvoice(inv.erpId, ctx('void'))).status).toBe('reversed');
    expect((await erp.reverseInvoice(inv.erpId, ctx('void'))).status).toBe('reversed');
    const after = [];
    for await (const p of erp.listPayments({ from: '2024-06-11', to: '2024-06-11' })) after.push(p);
    expect(after).toEqual([]);
  });

  it('lists the seeded payments of a date range', async () => {
    const may = [];
    for await (const p of erp.listPayments({ from: '2024-05-01', to: '2024-05-31' })) may.push(p);
    expect(may.map((p) => [p.erpId, p.amountMinor, p.date, p.processorRef])).toEqual([
      ['R00001', 3462, '2024-05-02', 'txn_seed_0101'],
      ['R00002', 13964, '2024-05-15', 'txn_seed_0102'],
    ]);
  });
});

describe('credit memos', () => {
  it('drafts and posts; cancels a draft idempotently; refuses to cancel a posted memo', async () => {
    const memo = { ...doc(`cm-${run}-1`), reason: 'damaged in transit' };
    const posted = await erp.draftCreditMemo(memo, ctx('cm'));
    expect(posted.status).toBe('draft');
    expect((await erp.postCreditMemo(posted.erpId, ctx('cm-post'))).status).toBe('posted');
    const err = await failureOf(erp.cancelCreditMemo(posted.erpId, ctx('cm-cancel')));
    expect(err.type).toBe('ImportRejected');
    expect(err.nonRetryable).toBe(true);

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
    expect((await erp.postJournal(journal(ref, balanced), ctx('je'))).erpId).toBe(posted.erpId);
    expect(sim.state.journals.filter((j) => j.REFNO === ref)).toHaveLength(1);
    expect(sim.state.journals.find((j) => j.JOURNALNO === posted.erpId)!.lines[0].DESCRIP).toBe('[brand=VISA]');
    expect(await erp.findJournalByRef(ref)).toMatchObject({ erpId: posted.erpId, status: 'posted' });
    expect(await erp.findJournalByRef(`nope-${run}`)).toBeNull();
    expect((await erp.reverseJournal(posted.erpId, ctx('je-rev'))).status).toBe('reversed');
    expect((await erp.reverseJournal(posted.erpId, ctx('je-rev'))).status).toBe('reversed');
    expect(sim.state.journals.filter((j) => j.REVERSES === posted.erpId)).toHaveLength(1);
  });

  it('refuses an unbalanced entry before writing any file', async () => {
    const c = ctx('je');
    const err = await failureOf(erp.postJournal(journal(`batch-${run}-unbal`, [balanced[0], balanced[2]]), c));
    expect(err.type).toBe('JournalUnbalanced');
    expect(err.nonRetryable).toBe(true);
    const inbox = await readdir(path.join(dropDir, 'inbox'));
    expect(inbox.filter((f) => f.startsWith(erp.batchIdFor('GL', c.idempotencyKey)))).toEqual([]);
  });

  it('maps an unknown GL account to GlAccountNotFound naming the record and field', async () => {
    const c = ctx('je');
    const lines = [balanced[0], { account: '6199', debitMinor: 0, creditMinor: 10_000 }];
    const err = await failureOf(erp.postJournal(journal(`batch-${run}-gl`, lines), c));
    expect(err.type).toBe('GlAccountNotFound');
    expect(err.nonRetryable).toBe(true);
    expect(err.details?.[0]).toMatchObject({
      connector: 'sagepro',
      code: 'GL_ACCOUNT_NOT_FOUND',
      field: 'GLACCT',
      record: 2,
    });
    const errFile = await readFile(
      path.join(dropDir, 'error', `${erp.batchIdFor('GL', c.idempotencyKey)}.err`),
      'utf8',
    );
    expect(errFile).toMatch(/,2,GLACCT,GL_ACCOUNT_NOT_FOUND,GL account 6199 is not in the chart of accounts/);
    expect(await erp.findJournalByRef(`batch-${run}-gl`)).toBeNull();
  });
});

describe('importer validation', () => {
  it('rejects a bad date with the record and field named', async () => {
    const err = await failureOf(erp.createInvoice(doc(`inv-${run}-date`, '2024-02-30'), ctx('inv')));
    expect(err.type).toBe('ImportRejected');
    expect(err.nonRetryable).toBe(true);
    expect(err.message).toMatch(/record 1 INVDATE: invalid date '02\/30\/2024' in INVDATE: expected MM\/DD\/YYYY/);
    expect(err.details?.[0]).toMatchObject({ code: 'BAD_DATE', field: 'INVDATE', record: 1 });
  });

  it('rejects a batch whose control total or record count does not match', async () => {
    const inbox = path.join(dropDir, 'inbox');
    const data = [
      'ACTION,REFNO,RECEIPTNO,CUSTNO,INVNO,PAYDATE,AMOUNT,PAYCODE,CHECKNO',
      'A,manual-1,,C00001,I00001,06/01/2024,1.00,CASH,',
      'A,manual-2,,C00001,I00001,06/01/2024,2.00,CASH,',
    ].join('\r\n');
    const control = (id: string, count: number, total: string) =>
      `BATCHID,BATCHTYPE,DATAFILE,RECORDCOUNT,CONTROLTOTAL\r\n${id},CR,${id}.csv,${count},${total}\r\n`;
    const drop = async (id: string, count: number, total: string) => {
      await writeFile(path.join(inbox, `${id}.csv`), data);
      await writeFile(path.join(inbox, `${id}.ctl`), control(id, count, total));
      return waitFor(() => readOr(path.join(dropDir, 'error', `${id}.err`)), `${id}.err`);
    };
    const receiptsBefore = sim.state.receipts.length;
    expect(parse(await drop(`CRBADTOTAL${run}`, 2, '3.50'), { columns: true })).toEqual([
      {
        BATCHID: `CRBADTOTAL${run}`,
        RECNO: '0',
        FIELD: 'CONTROLTOTAL',
        CODE: 'CONTROL_TOTAL',
        MESSAGE: "control total '3.50' does not match the sum of AMOUNT (3.00)",
      },
    ]);
    expect(parse(await drop(`CRBADCOUNT${run}`, 3, '3.00'), { columns: true })).toEqual([
      {
        BATCHID: `CRBADCOUNT${run}`,
        RECNO: '0',
        FIELD: 'RECORDCOUNT',
        CODE: 'RECORD_COUNT',
        MESSAGE: 'control file says 3 records, the data file has 2',
      },
    ]);
    expect(sim.state.receipts.length).toBe(receiptsBefore);
  });

  it('surfaces an injected importer error as ImportRejected', async () => {
    sim.faults.set({ error: { status: 500, count: 1, body: { message: 'Sage Pro is locked by a month-end close' } } });
    const err = await failureOf(erp.createSalesOrder(doc(`order-${run}-inj`), ctx('so')));
    expect(err.type).toBe('ImportRejected');
    expect(err.message).toMatch(/month-end close/);
  });
});

describe('inventory and products', () => {
  it('reads on-hand and products from the exports', async () => {
    expect(await erp.readOnHand({ skus: ['SKU-1001'] })).toEqual([
      { sku: 'SKU-1001', location: 'MAIN', qty: onHand('SKU-1001') },
      { sku: 'SKU-1001', location: 'WEST', qty: 5 },
    ]);
    expect(await erp.readOnHand({ location: 'WEST' })).toEqual([{ sku: 'SKU-1001', location: 'WEST', qty: 5 }]);
    const products = await erp.listProducts();
    expect(products).toHaveLength(7);
    expect(products.find((p) => p.sku === 'SHIPPING')).toMatchObject({ name: 'Shipping', priceMinor: 0 });
    expect(products.find((p) => p.sku === 'SKU-1001')).toEqual({
      sku: 'SKU-1001',
      name: 'Trail Runner Shoe',
      priceMinor: 8999,
      currency: 'USD',
      uom: 'EA',
    });
  });

  it('adjusts inventory in one IC batch, once per key', async () => {
    const c = ctx('ic');
    const start = [onHand('SKU-1002'), onHand('SKU-1003')];
    const adjustments = [
      { sku: 'SKU-1002', location: 'MAIN', delta: -4 },
      { sku: 'SKU-1003', location: 'MAIN', delta: 2 },
    ];
    await erp.adjustInventory(adjustments, c);
    await erp.adjustInventory(adjustments, c);
    expect([onHand('SKU-1002'), onHand('SKU-1003')]).toEqual([start[0] - 4, start[1] + 2]);
    expect(batchesFor(erp.batchIdFor('IC', c.idempotencyKey))).toHaveLength(1);
  });
});

describe('service items', () => {
  const lines = [
    { sku: 'SKU-1002', qty: 2, unitPriceMinor: 1599, taxMinor: 264 },
    { sku: 'SHIPPING', description: 'Shipping', qty: 1, unitPriceMinor: 500, taxMinor: 0 },
  ];
  const shipped = (ref: string) => ({ ...doc(ref), lines, totalMinor: 2 * 1599 + 264 + 500 });

  it('accepts a SHIPPING line on an order and an invoice with matching totals, and never adjusts its stock', async () => {
    const so = await erp.createSalesOrder(shipped(`order-${run}-ship`), ctx('so'));
    const stored = sim.state.orders.find((o) => o.SONO === so.erpId)!;
    expect(stored.lines.map((l) => [l.ITEM, l.QTY, l.PRICE])).toEqual([
      ['SKU-1002', 2, 1599],
      ['SHIPPING', 1, 500],
    ]);
    expect(docTotal(stored.lines)).toBe(3962);

    const inv = await erp.createInvoice({ ...shipped(`inv-${run}-ship`), salesOrderErpId: so.erpId }, ctx('inv'));
    expect((await erp.postInvoice(inv.erpId, ctx('post'))).status).toBe('posted');
    expect(docTotal(sim.state.invoices.find((i) => i.INVNO === inv.erpId)!.lines)).toBe(3962);

    const c = ctx('ic');
    const start = onHand('SKU-1002');
    await erp.adjustInventory(
      lines.map((l) => ({ sku: l.sku, location: 'MAIN', delta: -l.qty })),
      c,
    );
    expect(onHand('SKU-1002')).toBe(start - 2);
    expect(sim.state.ictrans.filter((t) => t.REFNO === c.idempotencyKey).map((t) => t.ITEM)).toEqual(['SKU-1002']);
    const batches = sim.state.batches.length;
    await erp.adjustInventory([{ sku: 'SHIPPING', location: 'MAIN', delta: -1 }], ctx('ic'));
    expect(sim.state.batches.length).toBe(batches);
    expect(sim.state.onhand.some((o) => o.ITEM === 'SHIPPING')).toBe(false);
  });

  it('refuses a document whose total is not the sum of its lines before writing any file', async () => {
    const batches = sim.state.batches.length;
    const err = await failureOf(erp.createSalesOrder({ ...shipped(`order-${run}-bad`), totalMinor: 3462 }, ctx('so')));
    expect(err.type).toBe('ValidationError');
    expect(err.message).toMatch(/lines add up to 3962 minor units but totalMinor is 3462/);
    expect(sim.state.batches.length).toBe(batches);
  });
});

describe('crash between the drop and our record', () => {
  it('a retry finds the imported journal through its ack', async () => {
    const c = ctx('je-crash');
    const ref = `batch-${run}-crash`;
    const first = await erp.postJournal(journal(ref, balanced), c);
    await simulateCrashAfterRemoteWrite(c.idempotencyKey);
    expect((await erp.postJournal(journal(ref, balanced), c)).erpId).toBe(first.erpId);
    expect(sim.state.journals.filter((j) => j.REFNO === ref)).toHaveLength(1);
    expect(batchesFor(erp.batchIdFor('GL', c.idempotencyKey))).toHaveLength(1);
    expect(await db('external_writes').where({ idempotency_key: c.idempotencyKey }).first()).toMatchObject({
      status: 'done',
      attempts: 2,
    });
  });

  it('a retry finds an imported order through the export when the ack is gone', async () => {
    const c = ctx('so-crash');
    const ref = `order-${run}-crash`;
    const first = await erp.createSalesOrder(doc(ref), c);
    await simulateCrashAfterRemoteWrite(c.idempotencyKey);
    await rm(path.join(dropDir, 'ack', `${erp.batchIdFor('SO', c.idempotencyKey)}.ack`));
    expect((await erp.createSalesOrder(doc(ref), c)).erpId).toBe(first.erpId);
    expect(sim.state.orders.filter((o) => o.REFNO === ref)).toHaveLength(1);
  });

  it('a retry of inventory adjustments finds the lines in the IC export', async () => {
    const c = ctx('ic-crash');
    const start = onHand('SKU-1004');
    await erp.adjustInventory([{ sku: 'SKU-1004', location: 'MAIN', delta: -1 }], c);
    await simulateCrashAfterRemoteWrite(c.idempotencyKey);
    await rm(path.join(dropDir, 'ack', `${erp.batchIdFor('IC', c.idempotencyKey)}.ack`));
    await erp.adjustInventory([{ sku: 'SKU-1004', location: 'MAIN', delta: -1 }], c);
    expect(onHand('SKU-1004')).toBe(start - 1);
  });
});

describe('importer faults', () => {
  it('an ack that does not come in time is ImportPending; the retry waits for the same batch', async () => {
    const c = ctx('je-slow');
    const ref = `batch-${run}-slow`;
    sim.faults.set({ latencyMs: 800 });
    const err = await failureOf(connector(150).postJournal(journal(ref, balanced), c));
    expect(err.type).toBe('ImportPending');
    expect(err.nonRetryable).toBe(false);
    sim.faults.clear();
    const posted = await erp.postJournal(journal(ref, balanced), c);
    expect(posted.status).toBe('posted');
    expect(sim.state.journals.filter((j) => j.REFNO === ref)).toHaveLength(1);
    expect(batchesFor(erp.batchIdFor('GL', c.idempotencyKey))).toHaveLength(1);
  });

  it('a batch the importer holds forever stays pending and is never dropped twice', async () => {
    const c = ctx('so-hang');
    const slow = connector(200);
    sim.faults.set({ hang: { count: 1 } });
    expect((await failureOf(slow.createSalesOrder(doc(`order-${run}-hang`), c))).type).toBe('ImportPending');
    expect((await failureOf(slow.createSalesOrder(doc(`order-${run}-hang`), c))).type).toBe('ImportPending');
    const id = erp.batchIdFor('SO', c.idempotencyKey);
    await waitFor(async () => (batchesFor(id).length > 0 ? true : undefined), 'the importer to take the batch');
    expect(batchesFor(id).map((b) => b.outcome)).toEqual(['held']);
    expect((await readdir(path.join(dropDir, 'inbox'))).filter((f) => f.startsWith(id))).toEqual([]);
  });

  it('a garbled ack is confirmed through the export', async () => {
    const c = ctx('so-garbled');
    const ref = `order-${run}-garbled`;
    sim.faults.set({ malformed: { count: 1, mode: 'garbage' } });
    const so = await erp.createSalesOrder(doc(ref), c);
    const ack = await readFile(path.join(dropDir, 'ack', `${erp.batchIdFor('SO', c.idempotencyKey)}.ack`), 'utf8');
    expect(ack).toMatch(/GARBLED/);
    expect(so.erpId).toBe(sim.state.orders.find((o) => o.REFNO === ref)!.SONO);
  });

  it('a renamed export column is a SchemaMismatch naming it', async () => {
    sim.faults.set({ drift: { path: 'customers.EMAIL', renameTo: 'EMAILADDR' } });
    await waitFor(
      async () =>
        (await readOr(path.join(dropDir, 'export', 'customers.csv')))?.startsWith('CUSTNO,COMPANY,CONTACT,EMAILADDR')
          ? true
          : undefined,
      'the drifted export',
    );
    const err = await failureOf(erp.findCustomers({ email: 'ada.lovelace@example.com' }));
    expect(err.type).toBe('SchemaMismatch');
    expect(err.message).toMatch(/customers\.csv has no column EMAIL/);
    expect(err.details?.[0]).toMatchObject({ field: 'customers.EMAIL', version: '1.0.0' });
    sim.faults.clear();
    await waitFor(
      async () =>
        (await readOr(path.join(dropDir, 'export', 'customers.csv')))?.includes(',EMAIL,') ? true : undefined,
      'the restored export',
    );
  });
});
