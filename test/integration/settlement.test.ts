import { readFile } from 'node:fs/promises';
import path from 'node:path';
import {
  WorkflowExecutionAlreadyStartedError,
  type Client,
  type WorkflowHandle,
  type WorkflowHandleWithFirstExecutionRunId,
} from '@temporalio/client';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { NativeConnection } from '@temporalio/worker';
import { createActivities } from '../../activities';
import { createSettlementActivities } from '../../activities/settlement';
import type { Db } from '../../src/db';
import type { ErpConnector, ErpSystem } from '../../src/connectors/erp/types';
import { M3Connector } from '../../src/connectors/erp/m3';
import { OdooConnector } from '../../src/connectors/erp/odoo';
import { P21Connector } from '../../src/connectors/erp/p21';
import { SageProConnector } from '../../src/connectors/erp/sagepro';
import { GpApiConnector } from '../../src/connectors/heartland/gp-api';
import type { HeartlandGateway, SettlementQuery } from '../../src/connectors/heartland/gp-types';
import { DEFAULT_GL_RULES } from '../../src/mapping/gl-rules';
import { startHeartlandGpSimulator, type HeartlandGpSimulator } from '../../src/sandbox/heartland-gp';
import { feeFor, materialSegment, type SettlementRecordWire } from '../../src/sandbox/heartland-gp/synthetic';
import { startM3Simulator } from '../../src/sandbox/m3';
import { startOdooSimulator } from '../../src/sandbox/odoo';
import { startP21Simulator } from '../../src/sandbox/p21';
import { startSageProSimulator } from '../../src/sandbox/sagepro';
import { aggregateLines, loadJournalGroups, type AggregatedLine } from '../../src/settlement/journal';
import { getReconReport } from '../../src/settlement/report';
import { ensureDailySettlementSchedule, startSettlementReconciliation } from '../../src/settlement/schedule';
import type { SettlementInput, SettlementResult } from '../../src/settlement/types';
import type { StageCursor } from '../../src/settlement/staging';
import { approveUpdate, retryUpdate, SA, workflowIds } from '../../workflows/definitions';
import type { SettlementStatus } from '../../workflows/settlement-reconciliation';
import { createTestWorker, testClient, testDb, testNativeConnection, testTmpDir, uniqueQueue } from '../support/env';

let db: Db;
let client: Client;
let connection: NativeConnection;
let gp: HeartlandGpSimulator;
let gateway: GpApiConnector;

beforeAll(async () => {
  db = testDb();
  client = await testClient();
  connection = await testNativeConnection();
  gp = await startHeartlandGpSimulator({ port: 0 });
  gateway = new GpApiConnector({ baseUrl: gp.baseUrl, appId: gp.appId, appKey: gp.appKey });
});

afterAll(async () => {
  await gateway?.close();
  await gp?.close();
  await connection?.close();
  await client?.connection.close();
  await db?.destroy();
});

const rand = () => Math.random().toString(36).slice(2, 8).toUpperCase();
let dayCounter = 0;
/** A settlement date of its own per batch (2031 onwards), so ERP payments of one test never fall into another's period. */
function nextSettlementDate(): string {
  dayCounter++;
  return new Date(Date.UTC(2031, 0, 1) + (dayCounter * 3 + (process.pid % 50) * 200) * 86_400_000)
    .toISOString()
    .slice(0, 10);
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

// ---------------------------------------------------------------- Heartland batches

interface Txn {
  id: string;
  type: 'SALE' | 'REFUND';
  amount: number;
  brand: string;
  reference: string;
  date: string;
}

/** Seeds a synthetic batch through the simulator's HTTP seed endpoint; returns its records. */
async function seedSyntheticBatch(
  count: number,
  settlementDate = nextSettlementDate(),
): Promise<{ batchId: string; txns: Txn[] }> {
  const batchId = `BAT_S${rand()}`;
  const res = await fetch(`${gp.url}/__seed/settlement`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ batchId, count, settlementDate, salt: dayCounter }),
  });
  expect(res.status).toBe(200);
  const seg = gp.state.segments.find((s) => s.batchId === batchId)!;
  const txns = Array.from({ length: count }, (_, i) => toTxn(seg.at(i)));
  return { batchId, txns };
}

function toTxn(r: SettlementRecordWire): Txn {
  return {
    id: r.id,
    type: r.type,
    amount: Number(r.amount),
    brand: r.payment_method.card.brand,
    reference: r.reference,
    date: r.time_created.slice(0, 10),
  };
}

/** Seeds an explicit batch (duplicates, refunds, other currencies) as a closed, settled batch of the simulator. */
function seedExplicitBatch(
  rows: { id?: string; type: 'SALE' | 'REFUND'; amount: number; brand?: string; reference?: string }[],
  opts: { currency?: string; settlementDate?: string } = {},
): { batchId: string; txns: Txn[] } {
  const batchId = `BAT_X${rand()}`;
  const date = opts.settlementDate ?? nextSettlementDate();
  const day = Date.parse(`${date}T00:00:00Z`) - 86_400_000;
  const records: SettlementRecordWire[] = rows.map((r, i) => ({
    id: r.id ?? `TRN_${batchId}_${String(i).padStart(4, '0')}`,
    time_created: new Date(day + 60_000 * (i + 1)).toISOString(),
    status: 'FUNDED',
    type: r.type,
    channel: 'CP',
    amount: String(r.amount),
    currency: opts.currency ?? 'USD',
    reference: r.reference ?? `${batchId}-${i}`,
    batch_id: batchId,
    batch_time_created: new Date(day + 86_399_000).toISOString(),
    deposit_id: `DEP_${batchId}`,
    deposit_status: 'FUNDED',
    deposit_time_created: `${date}T06:00:00.000Z`,
    fees: { amount: String(feeFor(r.type, r.amount)) },
    payment_method: { card: { brand: r.brand ?? 'VISA', masked_number_first6last4: '424242XXXXXX4242' } },
  }));
  const seg = materialSegment(batchId, `DEP_${batchId}`, opts.currency ?? 'USD', date, records);
  gp.state.segments.push(seg);
  gp.state.batches.set(batchId, { id: batchId, status: 'CLOSED', transactionIds: [], segment: seg });
  return { batchId, txns: records.map(toTxn) };
}

// ---------------------------------------------------------------- ERP simulators

interface ErpPayment {
  ref: string;
  processorRef: string;
  amountMinor: number;
  currency: string;
  date: string;
  brand: string;
}

interface ErpFixture {
  system: ErpSystem;
  connector: ErpConnector;
  seedPayments(p: ErpPayment[]): Promise<void>;
  addAccount(code: string): void;
  /** Journals at the simulator carrying this reference (reversals excluded). */
  journals(ref: string): number;
  close(): Promise<void>;
}

const paymentsFor = (txns: Txn[], currency = 'USD'): ErpPayment[] =>
  txns
    .filter((t) => t.type === 'SALE')
    .map((t) => ({
      ref: `pay:${t.reference}`,
      processorRef: t.id,
      amountMinor: t.amount,
      currency,
      date: t.date,
      brand: t.brand,
    }));

async function odooFixture(): Promise<ErpFixture> {
  const sim = await startOdooSimulator({ port: 0 });
  const connector = new OdooConnector({ baseUrl: sim.url, db, database: 'ledgerbridge', apiKey: 'odoo-sim-api-key' });
  const one = (model: string, domain: unknown[]) => sim.state.records(model, domain)[0].id;
  return {
    system: 'odoo',
    connector,
    async seedPayments(ps) {
      const card = one('account.journal', [['code', '=', 'CARD']]);
      const partner = one('res.partner', [['email', '=', 'jane.doe@example.com']]);
      for (const p of ps) {
        sim.state.store.transaction(() => {
          const id = sim.state.store.create('account.payment', {
            payment_type: 'inbound',
            partner_type: 'customer',
            partner_id: partner,
            amount: p.amountMinor / (p.currency === 'JPY' ? 1 : 100),
            currency_id: one('res.currency', [['name', '=', p.currency]]),
            date: p.date,
            journal_id: card,
            memo: p.ref,
            payment_reference: p.processorRef,
          });
          sim.state.store.call('account.payment', 'action_post', [id], {}, {});
        });
      }
    },
    addAccount(code) {
      sim.state.create('account.account', { code, name: `Account ${code}`, account_type: 'expense' });
    },
    journals: (ref) =>
      sim.state.records('account.move', [
        ['move_type', '=', 'entry'],
        ['ref', '=', ref],
        ['state', '=', 'posted'],
      ]).length,
    async close() {
      await connector.close();
      await sim.close();
    },
  };
}

async function p21Fixture(): Promise<ErpFixture> {
  const sim = await startP21Simulator({ port: 0 });
  const connector = new P21Connector({
    baseUrl: sim.url,
    db,
    username: 'ledgerbridge',
    password: 'p21-sandbox',
    pageSize: 1000,
  });
  let seq = 3_900_000;
  return {
    system: 'p21',
    connector,
    async seedPayments(ps) {
      for (const p of ps) {
        sim.state.receipts.push({
          ReceiptNo: String(seq++),
          CustomerID: '10001',
          InvoiceNo: '2000001',
          AmountMinor: p.amountMinor,
          PaymentDate: `${p.date}T00:00:00`,
          PaymentTypeID: p.brand,
          CheckNo: p.processorRef,
          WebReferenceNo: p.ref,
          CurrencyID: p.currency,
          Voided: 'N',
        });
      }
    },
    addAccount(code) {
      sim.state.glAccounts.push({ AccountNo: code, AccountDesc: `Account ${code}`, AccountType: 'Expense' });
    },
    journals: (ref) => sim.state.journals.filter((j) => j.JournalRef === ref && !j.ReversalOf).length,
    async close() {
      await connector.close();
      await sim.close();
    },
  };
}

async function sageFixture(): Promise<ErpFixture> {
  const dropDir = path.join(testTmpDir(), `sagepro-settlement-${rand()}`);
  const sim = await startSageProSimulator({ dropDir, pollMs: 50 });
  const connector = new SageProConnector({ dropDir, db, ackTimeoutMs: 20_000, pollMs: 50 });
  let seq = 900;
  let refreshes = 0;
  const mdy = (d: string) => `${d.slice(5, 7)}/${d.slice(8, 10)}/${d.slice(0, 4)}`;
  return {
    system: 'sagepro',
    connector,
    async seedPayments(ps) {
      for (const p of ps) {
        sim.state.receipts.push({
          RECEIPTNO: `R${String(seq++).padStart(5, '0')}`,
          REFNO: p.ref,
          CUSTNO: 'C00001',
          INVNO: 'I00001',
          PAYDATE: mdy(p.date),
          AMOUNT: p.amountMinor,
          PAYCODE: p.brand,
          CHECKNO: p.processorRef,
          STATUS: 'APPLIED',
        });
      }
      // The importer rewrites its exports after a batch or when the drift fault changes; a drift on a column that
      // does not exist changes nothing but the refresh.
      sim.faults.spec.drift = { path: `receipts.__refresh_${++refreshes}` };
      const last = ps[ps.length - 1]?.processorRef;
      await waitFor('the Sage Pro receipts export', async () =>
        (await readFile(path.join(dropDir, 'export', 'receipts.csv'), 'utf8')).includes(last ?? ''),
      );
    },
    addAccount(code) {
      sim.state.glAccounts.push({ GLACCT: code, DESCRIP: `Account ${code}` });
    },
    journals: (ref) => sim.state.journals.filter((j) => j.REFNO === ref && !j.REVERSES).length,
    async close() {
      await sim.close();
    },
  };
}

let lastM3Sim: Awaited<ReturnType<typeof startM3Simulator>> | undefined;

async function m3Fixture(): Promise<ErpFixture> {
  const sim = await startM3Simulator({ port: 0 });
  lastM3Sim = sim;
  const connector = new M3Connector({ db, ionapi: sim.ionapi });
  let seq = 790_000;
  return {
    system: 'm3',
    connector,
    async seedPayments(ps) {
      for (const p of ps) {
        const PYNO = String(seq++);
        sim.state.data.payments.set(PYNO, {
          PYNO,
          CUNO: 'C0001',
          CINO: '0',
          CUAM: p.amountMinor,
          CUCD: p.currency,
          PYDT: p.date.replace(/-/g, ''),
          PYME: 'CRD',
          VTXT: p.ref,
          PYRF: p.processorRef,
          STAT: '20',
        });
      }
    },
    addAccount(code) {
      sim.state.data.accounts.add(code);
    },
    journals: (ref) => [...sim.state.data.batches.values()].filter((b) => b.BTXT === ref && b.STAT === '90').length,
    async close() {
      await connector.close();
      await sim.close();
    },
  };
}

const FIXTURES: Record<ErpSystem, () => Promise<ErpFixture>> = {
  odoo: odooFixture,
  p21: p21Fixture,
  sagepro: sageFixture,
  m3: m3Fixture,
};

// ---------------------------------------------------------------- workers

interface Queues {
  workflow: string;
  heartland: string;
  erp: string;
}

/** Runs `fn` with one worker per task queue (workflow, connector-heartland, connector-<erp>), each with every activity. */
async function withWorkers<T>(erp: ErpFixture, fn: (q: Queues) => Promise<T>, heartland: HeartlandGateway = gateway) {
  const q: Queues = {
    workflow: uniqueQueue('settle-wf'),
    heartland: uniqueQueue('settle-gp'),
    erp: uniqueQueue(`settle-${erp.system}`),
  };
  const activities = createActivities({
    db,
    heartland,
    erp: (system) => {
      if (system !== erp.system) throw new Error(`this worker serves ${erp.system}, not ${system}`);
      return erp.connector;
    },
  });
  const workers = await Promise.all([
    createTestWorker(connection, { taskQueue: q.workflow, activities }),
    createTestWorker(connection, { taskQueue: q.heartland, activities, workflows: false }),
    createTestWorker(connection, { taskQueue: q.erp, activities, workflows: false }),
  ]);
  const done = fn(q);
  const results = await Promise.allSettled(workers.map((w) => w.runUntil(done)));
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) throw (failed as PromiseRejectedResult).reason;
  return done;
}

function start(q: Queues, input: Omit<SettlementInput, 'queues'>): Promise<WorkflowHandleWithFirstExecutionRunId> {
  return client.workflow.start('settlementReconciliation', {
    taskQueue: q.workflow,
    workflowId: workflowIds.settlement(input.batchId),
    args: [{ ...input, queues: { heartland: q.heartland, erp: q.erp } }],
  });
}

const status = (h: WorkflowHandle) => h.query<SettlementStatus>('status');

async function searchAttrs(h: WorkflowHandle) {
  const d = await h.describe();
  return {
    stage: d.typedSearchAttributes.get(SA.stage),
    needsAttention: d.typedSearchAttributes.get(SA.needsAttention),
    amount: d.typedSearchAttributes.get(SA.amountMinor),
    flow: d.typedSearchAttributes.get(SA.flow),
    erp: d.typedSearchAttributes.get(SA.erp),
    businessKey: d.typedSearchAttributes.get(SA.businessKey),
  };
}

async function storedJournal(batchId: string) {
  const entry = await db('journal_entries').where({ ref: batchId }).first();
  const lines = entry ? await db('journal_lines').where({ entry_id: entry.id }).orderBy('line_no') : [];
  const debit = lines.reduce((a: number, l: { debit_minor: string }) => a + Number(l.debit_minor), 0);
  const credit = lines.reduce((a: number, l: { credit_minor: string }) => a + Number(l.credit_minor), 0);
  return { entry, lines, debit, credit };
}

const netOf = (txns: Txn[]) => txns.reduce((a, t) => a + (t.type === 'SALE' ? t.amount : -t.amount), 0);
const feesOf = (txns: Txn[]) => txns.reduce((a, t) => a + feeFor(t.type, t.amount), 0);

// ---------------------------------------------------------------- tests

describe.each(['odoo', 'p21', 'sagepro', 'm3'] as ErpSystem[])('settlement happy path against %s', (system) => {
  test('stages, matches, posts one balanced journal and stores the report', async () => {
    const erp = await FIXTURES[system]();
    try {
      const { batchId, txns } = await seedSyntheticBatch(25);
      await erp.seedPayments(paymentsFor(txns));
      const sales = txns.filter((t) => t.type === 'SALE');
      const refunds = txns.filter((t) => t.type === 'REFUND');
      expect(refunds.length).toBeGreaterThan(0);

      const result = await withWorkers(erp, async (q) => {
        const h = await start(q, { batchId, erp: system, pageSize: 10, trigger: 'webhook' });
        const r = (await h.result()) as SettlementResult;
        expect(await searchAttrs(h)).toEqual({
          stage: 'completed',
          needsAttention: false,
          amount: netOf(txns),
          flow: 'settlement',
          erp: system,
          businessKey: batchId,
        });
        const s = await status(h);
        expect(s).toMatchObject({ stage: 'completed', outcome: 'completed', pivotPassed: true, currency: 'USD' });
        expect(s.settlement.counts).toMatchObject({ matched: sales.length });
        expect(s.amounts).toMatchObject({ net: netOf(txns), variance: 0, fees: feesOf(txns) });
        return r;
      });

      expect(result.outcome).toBe('completed');
      expect(result.heartland).toMatchObject({
        lines: 25,
        pages: 3,
        salesCount: sales.length,
        refundsCount: refunds.length,
        netMinor: netOf(txns),
        feesMinor: feesOf(txns),
        depositMinor: netOf(txns) - feesOf(txns),
      });
      expect(result.counts).toEqual({
        matched: sales.length,
        missing_in_erp: 0,
        missing_at_heartland: 0,
        amount_mismatch: 0,
        duplicate: 0,
        unlisted_refund: refunds.length,
      });
      expect(result.varianceMinor).toBe(0);
      expect(result.approval).toBeNull();

      expect(erp.journals(batchId)).toBe(1);
      const j = await storedJournal(batchId);
      expect(j.entry).toMatchObject({ status: 'posted', erp: system, currency: 'USD' });
      expect(j.entry.erp_journal_id).toBe(result.journal!.erpJournalId);
      expect(j.debit).toBe(j.credit);
      expect(j.debit).toBe(result.journal!.debitMinor);
      const sum = (purpose: string) =>
        j.lines
          .filter((l: { purpose: string }) => l.purpose === purpose)
          .reduce(
            (a: number, l: { debit_minor: string; credit_minor: string }) =>
              a + Number(l.debit_minor) - Number(l.credit_minor),
            0,
          );
      expect(sum('cash')).toBe(netOf(txns) - feesOf(txns));
      expect(sum('fees')).toBe(feesOf(txns));
      expect(sum('clearing')).toBe(-sales.reduce((a, t) => a + t.amount, 0));
      expect(sum('ar')).toBe(refunds.reduce((a, t) => a + t.amount, 0));
      for (const l of j.lines) expect(Object.keys(l.dimensions).sort()).toEqual(['brand', 'method']);

      const json = await getReconReport(db, batchId, 'json');
      expect(json?.contentType).toBe('application/json');
      const report = JSON.parse(json!.body);
      expect(report).toMatchObject({
        batchId,
        erp: system,
        currency: 'USD',
        varianceMinor: 0,
        counts: { matched: sales.length, unlisted_refund: refunds.length },
        heartland: { lines: 25, salesMinor: sales.reduce((a, t) => a + t.amount, 0) },
        journal: { ref: batchId, status: 'posted', debitMinor: j.debit },
      });
      expect(report.exceptions).toHaveLength(refunds.length);
      const csv = await getReconReport(db, batchId, 'csv');
      const rows = csv!.body.trim().split('\n');
      expect(rows[0]).toBe(
        'kind,txn_id,type,brand,reference,erp_id,heartland_amount,erp_amount,difference,matched_by,detail',
      );
      expect(rows).toHaveLength(26);
      const first = sales[0];
      const dec = (n: number) => `${Math.trunc(n / 100)}.${String(n % 100).padStart(2, '0')}`;
      expect(rows.find((r) => r.includes(first.id))).toMatch(
        new RegExp(
          `^matched,${first.id},SALE,${first.brand},${first.reference},[^,]+,${dec(first.amount)},${dec(first.amount)},0\\.00,txn,$`,
        ),
      );
    } finally {
      await erp.close();
    }
  });
});

describe('settlement exceptions', () => {
  test('a variance waits in needs-review; retry reloads the ERP side; approve posts the variance to suspense', async () => {
    const erp = await p21Fixture();
    try {
      const { batchId, txns } = await seedSyntheticBatch(12);
      const sales = txns.filter((t) => t.type === 'SALE');
      const [short, absent, ...rest] = sales;
      const pays = paymentsFor(rest);
      pays.push({ ...paymentsFor([short])[0], amountMinor: short.amount - 150 });
      pays.push({
        ref: 'pay:ghost',
        processorRef: 'TRN_NOT_AT_HEARTLAND',
        amountMinor: 4_200,
        currency: 'USD',
        date: short.date,
        brand: 'VISA',
      });
      await erp.seedPayments(pays);

      await withWorkers(erp, async (q) => {
        const h = await start(q, { batchId, erp: 'p21', maxReviewWait: '1 hour' });
        const review = await waitFor('needs-review', async () => {
          const s = await status(h);
          return s.stage === 'needs-review' && s;
        });
        expect(review.outcome).toBe('needs-review');
        expect(review.needsAttention).toBe(true);
        expect(review.settlement.counts).toMatchObject({
          matched: rest.length,
          amount_mismatch: 1,
          missing_in_erp: 1,
          missing_at_heartland: 1,
        });
        // The absent sale is booked as a POS sale; the variance is the short payment and the ghost payment.
        expect(review.settlement.varianceMinor).toBe(150 - 4_200);
        expect(review.amounts.variance).toBe(150 - 4_200);
        expect(await searchAttrs(h)).toMatchObject({ stage: 'needs-review', needsAttention: true });

        // The same start again is the same run.
        await expect(start(q, { batchId, erp: 'p21' })).rejects.toBeInstanceOf(WorkflowExecutionAlreadyStartedError);
        const again = await startSettlementReconciliation(
          client,
          { batchId, erp: 'p21', queues: { heartland: q.heartland, erp: q.erp } },
          { taskQueue: q.workflow },
        );
        expect(again.firstExecutionRunId).toBe(h.firstExecutionRunId);

        // Finance records the missing payment in the ERP, then asks for a retry.
        await erp.seedPayments(paymentsFor([absent]));
        await h.executeUpdate(retryUpdate, { args: [{ actor: 'finance@example.com' }] });
        const second = await waitFor('the second review', async () => {
          const s = await status(h);
          return s.stage === 'needs-review' && s.settlement.reviewRounds === 1 && s;
        });
        expect(second.settlement.counts).toMatchObject({ missing_in_erp: 0, matched: rest.length + 1 });
        expect(second.settlement.varianceMinor).toBe(150 - 4_200);

        await h.executeUpdate(approveUpdate, {
          args: [{ actor: 'controller@example.com', note: 'short pay + ghost' }],
        });
        const r = (await h.result()) as SettlementResult;
        expect(r.approval).toEqual({
          actor: 'controller@example.com',
          note: 'short pay + ghost',
          varianceMinor: -4_050,
        });
        expect(await searchAttrs(h)).toMatchObject({ stage: 'completed', needsAttention: false });
        await expect(h.executeUpdate(approveUpdate, { args: [{ actor: 'late@example.com' }] })).rejects.toThrow();
      });

      const j = await storedJournal(batchId);
      expect(j.debit).toBe(j.credit);
      const suspense = j.lines.filter((l: { purpose: string }) => l.purpose === 'suspense');
      expect(suspense).toEqual([expect.objectContaining({ account: '1999', debit_minor: '4050', credit_minor: '0' })]);
      expect(Number(j.entry.suspense_minor)).toBe(-4_050);
      expect(erp.journals(batchId)).toBe(1);
      const batch = await db('settlement_batches').where({ batch_id: batchId }).first();
      expect(batch).toMatchObject({
        status: 'reported',
        approved_by: 'controller@example.com',
        variance_minor: '-4050',
      });
      const audits = await db('audit_log').where({ target: batchId }).orderBy('id');
      expect(audits.map((a) => [a.action, a.actor])).toEqual([
        ['settlement.retry', 'finance@example.com'],
        ['settlement.approve', 'controller@example.com'],
      ]);
      const report = JSON.parse((await getReconReport(db, batchId, 'json'))!.body);
      expect(report.approval).toMatchObject({ by: 'controller@example.com', note: 'short pay + ghost' });
      expect(report.exceptions.map((e: { kind: string }) => e.kind).sort()).toEqual(
        expect.arrayContaining(['amount_mismatch', 'missing_at_heartland']),
      );
    } finally {
      await erp.close();
    }
  });

  test('GL account not found parks postJournal; adding the account and a retry posts exactly one journal', async () => {
    const erp = await p21Fixture();
    try {
      const { batchId, txns } = await seedSyntheticBatch(8);
      await erp.seedPayments(paymentsFor(txns));
      // A GL rules version that books card fees to 6199, which the ERP's chart lacks.
      const [{ version }] = await db('gl_rule_versions')
        .insert({
          rules: JSON.stringify({
            ...DEFAULT_GL_RULES,
            rules: [{ purpose: 'fees', transactionType: '*', cardBrand: '*', account: '6199' }],
          }),
          status: 'draft',
          created_by: 'settlement-test',
        })
        .returning(['version']);

      await withWorkers(erp, async (q) => {
        const h = await start(q, { batchId, erp: 'p21', glRulesVersion: version });
        const parked = await waitFor('the parked postJournal', async () => {
          const s = await status(h);
          return s.parkedStep === 'postJournal' && s;
        });
        expect(parked.needsAttention).toBe(true);
        expect(await searchAttrs(h)).toMatchObject({ stage: 'posting', needsAttention: true });
        const [dl] = await db('dead_letters').where({ workflow_id: workflowIds.settlement(batchId) });
        expect(dl).toMatchObject({
          flow: 'settlement',
          step: 'postJournal',
          error_type: 'GlAccountNotFound',
          status: 'open',
        });
        expect(dl.error_message).toContain('6199');
        expect(erp.journals(batchId)).toBe(0);
        // Not in review: an approval is refused.
        await expect(h.executeUpdate(approveUpdate, { args: [{ actor: 'x' }] })).rejects.toThrow();

        erp.addAccount('6199');
        const ack = await h.executeUpdate(retryUpdate, { args: [{ actor: 'ops@example.com' }] });
        expect(ack).toEqual({ accepted: true, step: 'postJournal' });
        const r = (await h.result()) as SettlementResult;
        expect(r.journal?.glRulesVersion).toBe(version);
        expect(await searchAttrs(h)).toMatchObject({ stage: 'completed', needsAttention: false });
        expect((await db('dead_letters').where({ id: dl.id }).first()).status).toBe('replayed');
      });
      expect(erp.journals(batchId)).toBe(1);
      const j = await storedJournal(batchId);
      expect(
        j.lines.filter((l: { purpose: string }) => l.purpose === 'fees').map((l: { account: string }) => l.account),
      ).toEqual(expect.arrayContaining(['6199']));
      const writes = await db('external_writes').where({
        idempotency_key: `${workflowIds.settlement(batchId)}/postJournal`,
      });
      expect(writes).toHaveLength(1);
      expect(writes[0].status).toBe('done');
    } finally {
      await erp.close();
    }
  });

  test('refunds larger than sales: the deposit is negative and the journal still balances', async () => {
    const erp = await p21Fixture();
    try {
      const { batchId, txns } = seedExplicitBatch([
        { type: 'SALE', amount: 1_999, brand: 'VISA' },
        { type: 'REFUND', amount: 25_000, brand: 'VISA' },
        { type: 'SALE', amount: 455, brand: 'AMEX' },
        { type: 'REFUND', amount: 8_000, brand: 'MC' },
      ]);
      await erp.seedPayments(paymentsFor(txns));
      const r = await withWorkers(erp, async (q) => {
        const h = await start(q, { batchId, erp: 'p21' });
        return (await h.result()) as SettlementResult;
      });
      expect(r.heartland?.netMinor).toBe(1_999 + 455 - 25_000 - 8_000);
      expect(r.heartland?.depositMinor).toBe(netOf(txns) - feesOf(txns));
      const j = await storedJournal(batchId);
      expect(j.debit).toBe(j.credit);
      const cashVisa = j.lines.find(
        (l: { purpose: string; dimensions: { brand: string } }) =>
          l.purpose === 'cash' && l.dimensions.brand === 'VISA',
      );
      expect(cashVisa).toMatchObject({
        debit_minor: '0',
        credit_minor: String(25_000 - 1_999 + feeFor('SALE', 1_999)),
      });
      expect(erp.journals(batchId)).toBe(1);
    } finally {
      await erp.close();
    }
  });

  test('a JPY batch balances with per-line tax; SQL aggregation equals the in-memory one', async () => {
    const erp = await odooFixture();
    try {
      const { batchId, txns } = seedExplicitBatch(
        [
          { type: 'SALE', amount: 1_082, brand: 'VISA' },
          { type: 'SALE', amount: 1_082, brand: 'VISA' },
          { type: 'SALE', amount: 1_082, brand: 'VISA' },
          { type: 'SALE', amount: 99_999, brand: 'MC' },
          { type: 'SALE', amount: 5_400, brand: 'MC' },
          { type: 'REFUND', amount: 150_000, brand: 'MC' },
        ],
        { currency: 'JPY' },
      );
      // The ERP holds the 5,400 sale only: the others are POS sales (revenue and tax), the refund settles AR.
      await erp.seedPayments(paymentsFor(txns.slice(4, 5), 'JPY'));
      const r = await withWorkers(erp, async (q) => {
        const h = await start(q, { batchId, erp: 'odoo' });
        await waitFor('needs-review', async () => (await status(h)).stage === 'needs-review');
        const s = await status(h);
        expect(s.settlement.counts).toMatchObject({ missing_in_erp: 4, matched: 1, unlisted_refund: 1 });
        expect(s.settlement.varianceMinor).toBe(0);
        await h.executeUpdate(approveUpdate, { args: [{ actor: 'controller@example.com' }] });
        return (await h.result()) as SettlementResult;
      });
      expect(r.currency).toBe('JPY');
      const j = await storedJournal(batchId);
      expect(j.debit).toBe(j.credit);
      expect(j.lines.filter((l: { purpose: string }) => l.purpose === 'suspense')).toHaveLength(0);
      const tax = j.lines
        .filter((l: { purpose: string }) => l.purpose === 'salesTax')
        .reduce((a: number, l: { credit_minor: string }) => a + Number(l.credit_minor), 0);
      expect(tax).toBe(82 * 3 + 7_621);
      expect(erp.journals(batchId)).toBe(1);

      const rows = await db('settlement_lines as l')
        .leftJoin('recon_results as r', function () {
          this.on('r.batch_id', 'l.batch_id')
            .andOn('r.txn_id', 'l.txn_id')
            .andOnIn('r.kind', ['matched', 'amount_mismatch']);
        })
        .where('l.batch_id', batchId)
        .select('l.type', 'l.brand', 'l.method', 'l.amount_minor', 'l.fee_minor', 'r.erp_minor');
      const mem: AggregatedLine[] = rows.map((x: Record<string, string | null>) => ({
        type: x.type as 'SALE' | 'REFUND',
        brand: x.brand!,
        method: x.method!,
        amountMinor: Number(x.amount_minor),
        feeMinor: Number(x.fee_minor),
        erpMinor: x.erp_minor === null ? null : Number(x.erp_minor),
      }));
      const key = (g: { type: string; brand: string; paired: boolean }) => `${g.type}${g.brand}${g.paired}`;
      const sql = (await loadJournalGroups(db, batchId, DEFAULT_GL_RULES.taxRate)).groups;
      expect([...sql].sort((a, b) => key(a).localeCompare(key(b)))).toEqual(
        aggregateLines(mem, DEFAULT_GL_RULES.taxRate).sort((a, b) => key(a).localeCompare(key(b))),
      );
    } finally {
      await erp.close();
    }
  });
});

describe('staging', () => {
  /** The real GP connector, recording where each paging starts and optionally dying after N pages. */
  function recordingGateway(opts: { dieAfterPages?: number } = {}) {
    const starts: number[] = [];
    const gw: HeartlandGateway = Object.create(gateway);
    gw.settlementTransactions = (q?: SettlementQuery) => {
      starts.push(q?.startPage ?? 1);
      const inner = gateway.settlementTransactions(q);
      return (async function* () {
        let n = 0;
        for await (const page of inner) {
          if (opts.dieAfterPages !== undefined && n >= opts.dieAfterPages) throw new Error('worker crashed');
          n++;
          yield page;
        }
      })();
    };
    return { gw, starts };
  }

  test('a crashed staging resumes from its heartbeat cursor without duplicate lines; true duplicates are recorded', async () => {
    const dupId = 'TRN_DUPLICATE_IN_FEED';
    const rows = Array.from({ length: 23 }, (_, i) => ({
      type: (i % 7 === 6 ? 'REFUND' : 'SALE') as 'SALE' | 'REFUND',
      amount: 1_000 + i * 37,
      brand: ['VISA', 'MC', 'AMEX', 'DISC'][i % 4],
    }));
    const { batchId } = seedExplicitBatch([
      ...rows.slice(0, 2),
      { id: dupId, type: 'SALE', amount: 777, reference: 'dup-ref' }, // page 1, position 2
      ...rows.slice(2, 12),
      { id: dupId, type: 'SALE', amount: 777, reference: 'dup-ref' }, // page 3, position 3: the feed repeats it
      ...rows.slice(12, 18),
      { type: 'SALE', amount: 5_000, reference: 'same-ref' },
      { type: 'SALE', amount: 5_000, reference: 'same-ref' }, // another transaction id, same reference and amount
      ...rows.slice(18),
    ]);
    const total = 23 + 4;
    const unique = total - 1;
    const workflowExecution = { workflowId: workflowIds.settlement(batchId), runId: 'mock-run' };

    // First attempt: pages of 5; the worker dies while fetching page 4.
    const crashing = recordingGateway({ dieAfterPages: 3 });
    const beats: StageCursor[] = [];
    const env1 = new MockActivityEnvironment({ workflowExecution } as never);
    env1.on('heartbeat', (d: StageCursor) => beats.push(d));
    const acts1 = createSettlementActivities({ db, heartland: crashing.gw });
    await expect(env1.run(acts1.stageSettlementLines, { batchId, erp: 'p21' as const, pageSize: 5 })).rejects.toThrow(
      'worker crashed',
    );
    expect(beats.map((b) => b.nextPage)).toEqual([2, 3, 4]);
    expect(Number((await db('settlement_lines').where({ batch_id: batchId }).count({ n: '*' }))[0].n)).toBe(15 - 1);

    // Temporal hands the retry the last heartbeat it received; take an older one, as if page 3 was written but its
    // heartbeat never arrived, so the retry fetches and writes page 3 again.
    const resumed = recordingGateway();
    const env2 = new MockActivityEnvironment({ workflowExecution, heartbeatDetails: beats[1] } as never);
    const acts2 = createSettlementActivities({ db, heartland: resumed.gw });
    const result = await env2.run(acts2.stageSettlementLines, { batchId, erp: 'p21' as const, pageSize: 5 });
    expect(resumed.starts).toEqual([3]);
    expect(result).toMatchObject({ startedAtPage: 3, pages: 6, lines: unique, duplicates: 1 });

    const lines = await db('settlement_lines').where({ batch_id: batchId });
    expect(lines).toHaveLength(unique);
    expect(new Set(lines.map((l) => l.txn_id)).size).toBe(unique);
    const dups = await db('settlement_line_duplicates').where({ batch_id: batchId });
    expect(dups).toEqual([expect.objectContaining({ txn_id: dupId, src_page: 3, src_pos: 3 })]);

    // Matching reports both kinds of duplicate.
    const match = await acts2.matchSettlement({ batchId });
    expect(match.counts.duplicate).toBe(2);
    const dupRows = await db('recon_results').where({ batch_id: batchId, kind: 'duplicate' }).orderBy('id');
    expect(dupRows.map((d) => d.reference)).toEqual(['dup-ref', 'same-ref']);
    expect(match.needsReview).toBe(true);
  });
});

describe('staging inside the workflow', () => {
  test('a GP outage mid-paging fails the attempt; Temporal retries it from the heartbeat cursor', async () => {
    const erp = await p21Fixture();
    try {
      const { batchId, txns } = await seedSyntheticBatch(47);
      await erp.seedPayments(paymentsFor(txns));
      // The simulator answers 503 to the request after page 2, once: the attempt fails as UpstreamUnavailable.
      let outage = false;
      const starts: number[] = [];
      const flaky: HeartlandGateway = Object.create(gateway);
      flaky.settlementTransactions = (q?: SettlementQuery) => {
        starts.push(q?.startPage ?? 1);
        const inner = gateway.settlementTransactions(q);
        return (async function* () {
          for await (const page of inner) {
            if (page.page === 2 && !outage) {
              outage = true;
              const res = await fetch(`${gp.url}/__faults`, {
                method: 'POST',
                headers: { 'content-type': 'application/json' },
                body: JSON.stringify({ error: { status: 503, count: 1 }, paths: ['/settlement/transactions'] }),
              });
              expect(res.status).toBe(200);
            }
            yield page;
          }
        })();
      };
      const r = await withWorkers(
        erp,
        async (q) => (await (await start(q, { batchId, erp: 'p21', pageSize: 10 })).result()) as SettlementResult,
        flaky,
      );
      expect(outage).toBe(true);
      expect(starts).toEqual([1, 3]);
      expect(r.heartland).toMatchObject({ lines: 47, pages: 5, resumedFromPage: 3, duplicatesInFeed: 0 });
      expect(r.counts?.matched).toBe(txns.filter((t) => t.type === 'SALE').length);
      const n = await db('settlement_lines').where({ batch_id: batchId }).count({ n: '*' });
      expect(Number(n[0].n)).toBe(47);
      expect(await db('settlement_line_duplicates').where({ batch_id: batchId })).toHaveLength(0);
    } finally {
      gp.faults.clear();
      await erp.close();
    }
  });
});

describe('daily schedule', () => {
  test('ensureDailySettlementSchedule is idempotent, and a triggered run reconciles the day once', async () => {
    const erp = await p21Fixture();
    const today = new Date().toISOString().slice(0, 10);
    const { batchId, txns } = await seedSyntheticBatch(4, today);
    await erp.seedPayments(paymentsFor(txns));
    const scheduleId = `settlement-daily-test-${rand()}`;
    try {
      await withWorkers(erp, async (q) => {
        const opts = {
          scheduleId,
          erp: 'p21' as const,
          taskQueue: q.workflow,
          lagDays: 0,
          queues: { heartland: q.heartland, erp: q.erp },
          paused: true,
        };
        const handle = await ensureDailySettlementSchedule(client, opts);
        await ensureDailySettlementSchedule(client, { ...opts, hour: 7, minute: 30 });
        const d = await handle.describe();
        expect(d.spec.calendars).toEqual([expect.objectContaining({ hour: [{ start: 7, end: 7, step: 1 }] })]);
        expect(d.action).toMatchObject({
          type: 'startWorkflow',
          workflowType: 'settlementDaily',
          taskQueue: q.workflow,
        });

        await handle.trigger();
        const child = client.workflow.getHandle(workflowIds.settlement(batchId));
        const r = (await waitFor('the scheduled reconciliation', async () =>
          child.result().catch(() => undefined),
        )) as SettlementResult;
        expect(r).toMatchObject({ outcome: 'completed', trigger: 'schedule', batchId });

        await handle.trigger();
        const daily = await waitFor('two scheduled runs', async () => {
          const actions = (await handle.describe()).info.recentActions;
          return actions.length >= 2 && actions;
        });
        const second = await client.workflow.getHandle(daily[1].action.workflow.workflowId).result();
        expect(second.batches).toContain(batchId);
        expect(second.skipped).toContain(batchId);
        expect(second.started).not.toContain(batchId);
      });
      expect(erp.journals(batchId)).toBe(1);
    } finally {
      await client.schedule
        .getHandle(scheduleId)
        .delete()
        .catch(() => undefined);
      await erp.close();
    }
  });
});

describe('partial batch failure at the ERP (M3)', () => {
  test('nrOfFailedTransactions > 0 on the journal lines: only the failed lines are retried, each line lands once', async () => {
    const erp = await m3Fixture();
    const sim = lastM3Sim!;
    try {
      const { batchId, txns } = await seedSyntheticBatch(12);
      await erp.seedPayments(paymentsFor(txns));
      sim.faults.set({ partialFailure: { count: 1, failRecords: 2 }, paths: ['/M3/m3api-rest/v2/execute'] });
      const result = await withWorkers(erp, async (q) => {
        const h = await start(q, { batchId, erp: 'm3', pageSize: 50, trigger: 'on-demand' });
        return (await h.result()) as SettlementResult;
      });
      expect(result.outcome).toBe('completed');
      expect(erp.journals(batchId)).toBe(1);
      const batch = [...sim.state.data.batches.values()].find((b) => b.BTXT === batchId)!;
      const attempts = sim.state.data.log.filter(
        (e) => e.transaction === 'AddBatchLine' && e.record.BCHN === batch.BCHN,
      );
      const failedLines = attempts.filter((e) => !e.ok).map((e) => e.record.VTXT);
      const okLines = attempts.filter((e) => e.ok).map((e) => e.record.VTXT);
      expect(failedLines).toHaveLength(2);
      // Every line succeeded exactly once; the retry re-sent only the two that failed.
      expect(new Set(okLines).size).toBe(okLines.length);
      expect(okLines).toHaveLength(batch.lines.length);
      expect(attempts).toHaveLength(batch.lines.length + 2);
      for (const f of failedLines) expect(okLines).toContain(f);
      const j = await storedJournal(batchId);
      expect(j.debit).toBe(j.credit);
    } finally {
      await erp.close();
    }
  });
});
