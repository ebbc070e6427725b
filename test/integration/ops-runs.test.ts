import type { AddressInfo } from 'node:net';
import http from 'node:http';
import express from 'express';
import type { Client, WorkflowFailedError, WorkflowHandle } from '@temporalio/client';
import type { NativeConnection, Worker } from '@temporalio/worker';
import { decodeArrayFromPayloads } from '@temporalio/common/lib/internal-non-workflow';
import type { Db } from '../../src/db';
import { workflowIds } from '../../src/domain/ids';
import type { OrderInput } from '../../src/domain/orders';
import { createLogger } from '../../src/logger';
import { createApiKey } from '../../src/gateway/ops/auth';
import { opsRouter } from '../../src/gateway/ops/routes';
import * as s from '../../src/gateway/ops/schemas';
import { getGlRules } from '../../src/mapping/gl-rules';
import type { FlowStatus } from '../../workflows/definitions';
import { orderToCash } from '../../workflows/order-to-cash';
import { testClient, testDb, testNativeConnection, uniqueQueue } from '../support/env';
import { flowWorkers, testSandbox, type FlowWorkers, type TestSandbox } from '../support/sandbox';

let db: Db;
let client: Client;
let connection: NativeConnection;
let sb: TestSandbox;
let w: FlowWorkers;
let running: Promise<void>[] = [];
let server: http.Server;
let base: string;
const suffix = `${process.pid}-${Math.random().toString(36).slice(2, 7)}`;
const keys = {} as Record<s.Role, string>;
const reconQueue = uniqueQueue('ops-recon');
const UI = 'http://temporal-ui.test:8233';

beforeAll(async () => {
  db = testDb(10);
  client = await testClient();
  connection = await testNativeConnection();
  sb = await testSandbox(db);
  w = await flowWorkers(connection, sb.deps, 'ops-runs');
  running = w.workers.map((wk: Worker) => wk.run());
  for (const role of s.ROLES)
    keys[role] = (await createApiKey(db, { name: `runs-${role}-${suffix}`, role, createdBy: 'test' })).key;
  const app = express();
  app.use(
    '/api/v1',
    opsRouter({
      db,
      temporal: client,
      namespace: 'default',
      logger: createLogger({ level: 'silent' }),
      config: { TEMPORAL_UI_URL: UI, LB_ERP: 'odoo' },
      ops: { rateLimit: false, taskQueue: reconQueue, queryTimeoutMs: 20_000 },
    }),
  );
  server = http.createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r));
  for (const wk of w?.workers ?? []) wk.shutdown();
  await Promise.allSettled(running);
  await sb?.close();
  await connection?.close();
  await client?.connection.close();
  await db?.destroy();
});

async function api(method: string, path: string, role: s.Role, body?: unknown) {
  const res = await fetch(`${base}/api/v1${path}`, {
    method,
    headers: { 'x-api-key': keys[role], ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  const type = res.headers.get('content-type') ?? '';
  // Bodies are checked by shape assertions (and the response schemas), so they stay loosely typed here.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return { status: res.status, type, text, json: (type.includes('json') ? JSON.parse(text) : undefined) as any };
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false | null>, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

let seq = 0;
const TOTAL = 8999 + 742 + 2 * 1599 + 264 + 500;
function order(source: string, over: Partial<OrderInput> = {}): OrderInput {
  const orderId = `OPS${Date.now().toString(36)}${(seq++).toString(36)}`.toUpperCase();
  return {
    source,
    orderId,
    erp: 'odoo',
    currency: 'USD',
    orderDate: '2026-11-20',
    customer: { externalRef: `cust-${orderId}`, name: `Ops Buyer ${orderId}`, email: `ops.${orderId}@example.com` },
    lines: [
      { sku: 'SKU-1001', qty: 1, unitPriceMinor: 8999, taxMinor: 742 },
      { sku: 'SKU-1002', qty: 2, unitPriceMinor: 1599, taxMinor: 264 },
    ],
    shippingMinor: 500,
    totalMinor: TOTAL,
    payment: { token: `PMT_${orderId}`, brand: 'VISA', last4: '4242' },
    fulfilmentTimeout: '1 minute',
    maxParkWait: '5 minutes',
    queues: w.queues,
    ...over,
  };
}

async function start(input: OrderInput): Promise<WorkflowHandle<typeof orderToCash>> {
  return client.workflow.start(orderToCash, {
    taskQueue: w.taskQueue,
    workflowId: workflowIds.order(input.source, input.orderId),
    args: [input],
  });
}

/** An order whose total does not add up: `validate` fails without retry and the run parks. */
async function parkedOrder(source: string, over: Partial<OrderInput> = {}) {
  const input = order(source, { totalMinor: TOTAL + 1, ...over });
  const handle = await start(input);
  const status = await waitFor('the run to park', async () => {
    const st = (await handle.query('status')) as FlowStatus;
    return st.parkedStep === 'validate' ? st : undefined;
  });
  return { input, handle, workflowId: handle.workflowId, status };
}

/** Waits until visibility lists `n` runs for the query parameters. */
async function listed(params: Record<string, string>, n: number) {
  return waitFor(`visibility to list ${n} runs for ${JSON.stringify(params)}`, async () => {
    const r = await api('GET', `/runs?${new URLSearchParams({ ...params, pageSize: '100' })}`, 'viewer');
    return r.json.runs.length === n ? r.json : undefined;
  });
}

const uniqueSource = (p: string) => `${p}-${Math.random().toString(36).slice(2, 8)}`;

describe('runs', () => {
  test('list filters on the search attributes, pages with nextPageToken, and show adds status, dead letters and a UI link', async () => {
    const source = uniqueSource('ops-list');
    const runs = await Promise.all([parkedOrder(source), parkedOrder(source), parkedOrder(source)]);
    const all = await listed({ source, needsAttention: 'true' }, 3);
    s.runListSchema.parse(all);
    expect(all.query).toBe(`LbSource = '${source}' AND LbNeedsAttention = true`);
    expect(all.runs.map((r: s.RunSummary) => r.workflowId).sort()).toEqual(runs.map((r) => r.workflowId).sort());
    expect(all.runs[0]).toMatchObject({
      flow: 'order',
      source,
      erp: 'odoo',
      stage: 'ordering',
      needsAttention: true,
      status: 'Running',
    });

    const p1 = await api('GET', `/runs?source=${source}&pageSize=2`, 'viewer');
    expect(p1.json.runs).toHaveLength(2);
    expect(p1.json.nextPageToken).toEqual(expect.any(String));
    const p2 = await api(
      'GET',
      `/runs?source=${source}&pageSize=2&pageToken=${encodeURIComponent(p1.json.nextPageToken)}`,
      'viewer',
    );
    expect(p2.json.runs).toHaveLength(1);
    expect(p2.json.nextPageToken).toBeNull();
    expect(new Set([...p1.json.runs, ...p2.json.runs].map((r: s.RunSummary) => r.workflowId)).size).toBe(3);

    expect(
      (await api('GET', `/runs?source=${source}&businessKey=${runs[1].input.orderId}`, 'viewer')).json.runs,
    ).toHaveLength(1);
    expect((await api('GET', `/runs?source=${source}&needsAttention=false`, 'viewer')).json.runs).toHaveLength(0);
    expect((await api('GET', `/runs?source=${source}&status=Completed`, 'viewer')).json.runs).toHaveLength(0);

    const injection = await api('GET', `/runs?source=${encodeURIComponent(`${source}' OR LbFlow = 'order`)}`, 'viewer');
    expect(injection.status).toBe(400);
    expect((await api('GET', '/runs?needsAttention=maybe', 'viewer')).status).toBe(400);

    const one = runs[0];
    const shown = await api('GET', `/runs/${encodeURIComponent(one.workflowId)}`, 'viewer');
    expect(shown.status).toBe(200);
    s.runDetailSchema.parse(shown.json);
    const runId = (await one.handle.describe()).runId;
    expect(shown.json).toMatchObject({
      workflowId: one.workflowId,
      runId,
      type: 'orderToCash',
      uiUrl: `${UI}/namespaces/default/workflows/${encodeURIComponent(one.workflowId)}/${runId}`,
      flowStatus: { parkedStep: 'validate', needsAttention: true, deadLetterId: one.status.deadLetterId },
      flowStatusError: null,
    });
    expect(shown.json.openDeadLetters.map((d: s.DeadLetter) => d.id)).toEqual([one.status.deadLetterId]);
    expect((await api('GET', `/runs/${encodeURIComponent('order:nobody:nothing')}`, 'viewer')).status).toBe(404);
  });

  test('retrigger of a parked run sends `retry`: only the failed step runs again and the run completes', async () => {
    const input = order(uniqueSource('ops-parked'), {
      payment: { capturedTransactionId: `TRN_${Date.now()}`, brand: 'VISA', last4: '4242' },
    });
    const workflowId = workflowIds.order(input.source, input.orderId);
    sb.sandbox.odoo.faults.set({
      error: {
        status: 422,
        count: 1,
        body: {
          name: 'odoo.exceptions.ValidationError',
          message: 'Invoice lines need an income account',
          arguments: [],
          context: {},
          debug: '',
        },
      },
      paths: ['account.move/create'],
    });
    const handle = await start(input);
    const parked = await waitFor('createInvoice to park', async () => {
      const st = (await handle.query('status')) as FlowStatus;
      return st.parkedStep === 'createInvoice' ? st : undefined;
    });
    expect((await api('POST', `/runs/${encodeURIComponent(workflowId)}/retrigger`, 'operator', {})).status).toBe(403);
    const r = await api('POST', `/runs/${encodeURIComponent(workflowId)}/retrigger`, 'finance', {
      reason: 'income account fixed',
    });
    expect(r.status).toBe(200);
    s.retriggerResultSchema.parse(r.json);
    const runId = (await handle.describe()).runId;
    expect(r.json).toMatchObject({
      workflowId,
      action: 'retry-update',
      previousRunId: runId,
      runId,
      step: 'createInvoice',
    });
    const result = await handle.result();
    expect(result.outcome).toBe('completed');
    const final = (await handle.query('status')) as FlowStatus;
    expect(final.stepsDone.filter((x) => x === 'createSalesOrder')).toHaveLength(1);
    const dl = await db('dead_letters').where({ id: parked.deadLetterId }).first();
    expect(dl).toMatchObject({ status: 'replayed', acted_by: `runs-finance-${suffix}`, step: 'createInvoice' });
    const audit = await db('audit_log').where({ action: 'run.retrigger', target: workflowId });
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ actor: `runs-finance-${suffix}` });
    expect(audit[0].before).toMatchObject({ runId, status: 'Running', step: 'createInvoice' });
    expect(audit[0].after).toMatchObject({ action: 'retry-update', reason: 'income account fixed' });

    const again = await api('POST', `/runs/${encodeURIComponent(workflowId)}/retrigger`, 'finance', {});
    expect(again.status).toBe(409);
    expect(again.json.error).toBe('nothing_to_retrigger');
  });

  test('a failed run whose writes were undone by compensation is not retriggered: 409 says why', async () => {
    const x = await parkedOrder(uniqueSource('ops-compensated'), { maxParkWait: '1 second' });
    await expect(x.handle.result()).rejects.toThrow();
    const failedRun = (await x.handle.describe()).runId;
    // What a compensation leaves (order-to-cash.test.ts checks the saga writes it): the sales order cancelled.
    await db('external_writes').insert({
      idempotency_key: `${x.workflowId}/sales-order`,
      target: 'odoo',
      operation: 'createSalesOrder',
      workflow_id: x.workflowId,
      status: 'undone',
    });
    const r = await api('POST', `/runs/${encodeURIComponent(x.workflowId)}/retrigger`, 'finance', {});
    expect(r.status).toBe(409);
    expect(r.json.error).toBe('compensated');
    expect(r.json.message).toContain(`undone: ${x.workflowId}/sales-order`);
    expect((await client.workflow.getHandle(x.workflowId).describe()).runId).toBe(failedRun);
    expect(await db('audit_log').where({ action: 'run.retrigger', target: x.workflowId })).toHaveLength(0);
    // Its dead letter is not replayed into a new run either.
    const dl = await api('POST', `/dead-letters/${x.status.deadLetterId}/replay`, 'finance', {});
    expect(dl.status).toBe(409);
    expect(dl.json.error).toBe('compensated');
    expect((await client.workflow.getHandle(x.workflowId).describe()).runId).toBe(failedRun);
  });

  test('retrigger of a failed run starts it again with the same id and input; steps done before are no-ops', async () => {
    const input = order(uniqueSource('ops-failed'), {
      payment: { capturedTransactionId: `TRN_${Date.now()}`, brand: 'VISA', last4: '4242' },
      maxParkWait: '1 second',
    });
    const workflowId = workflowIds.order(input.source, input.orderId);
    sb.sandbox.odoo.faults.set({
      error: {
        status: 422,
        count: 1,
        body: { name: 'odoo.exceptions.UserError', message: 'Journal locked', arguments: [], context: {}, debug: '' },
      },
      paths: ['account.move/create'],
    });
    const handle = await start(input);
    await expect(handle.result()).rejects.toThrow();
    const first = await handle.describe();
    expect(first.status.name).toBe('FAILED');
    const soBefore = await db('external_writes')
      .where({ idempotency_key: `${workflowId}/sales-order` })
      .first();
    expect(soBefore).toMatchObject({ status: 'done' });
    const openBefore = await db('dead_letters').where({ workflow_id: workflowId, status: 'open' });
    expect(openBefore).toHaveLength(1);

    const r = await api('POST', `/runs/${encodeURIComponent(workflowId)}/retrigger`, 'finance', {});
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ workflowId, action: 'new-run', previousRunId: first.runId, step: null });
    expect(r.json.runId).not.toBe(first.runId);
    expect(r.json.uiUrl).toContain(r.json.runId);

    const next = client.workflow.getHandle<typeof orderToCash>(workflowId, r.json.runId);
    const result = await next.result();
    expect(result.outcome).toBe('completed');
    expect(result.salesOrderErpId).toBe(soBefore.external_id);
    expect(sb.sandbox.odoo.state.records('sale.order', [['client_order_ref', '=', workflowId]])).toHaveLength(1);
    const soAfter = await db('external_writes')
      .where({ idempotency_key: `${workflowId}/sales-order` })
      .first();
    expect(soAfter.id).toBe(soBefore.id);

    const hist = await client.workflowService.getWorkflowExecutionHistory({
      namespace: 'default',
      execution: { workflowId, runId: r.json.runId },
      maximumPageSize: 1,
    });
    const started = hist.history!.events![0].workflowExecutionStartedEventAttributes!;
    const [args] = await decodeArrayFromPayloads(client.options.loadedDataConverter, started.input?.payloads);
    expect(args).toEqual(input);
    expect(started.taskQueue?.name).toBe(w.taskQueue);

    const closed = await db('dead_letters').where({ id: openBefore[0].id }).first();
    expect(closed).toMatchObject({
      status: 'replayed',
      acted_by: `runs-finance-${suffix}`,
      reason: `retriggered as run ${r.json.runId}`,
    });
  });

  test('bulk retrigger: dry run lists what would be retriggered and changes nothing; then it retriggers each', async () => {
    const source = uniqueSource('ops-bulk');
    const runs = await Promise.all([parkedOrder(source), parkedOrder(source), parkedOrder(source)]);
    await listed({ source, needsAttention: 'true' }, 3);

    const dry = await api('POST', '/runs/retrigger', 'finance', { filter: { source }, dryRun: true });
    expect(dry.status).toBe(200);
    s.bulkRetriggerResultSchema.parse(dry.json);
    expect(dry.json).toMatchObject({ dryRun: true, matched: 3, truncated: false, results: [], skipped: [] });
    expect(dry.json.query).toContain(`LbSource = '${source}'`);
    expect(dry.json.candidates.map((c: { workflowId: string }) => c.workflowId).sort()).toEqual(
      runs.map((r) => r.workflowId).sort(),
    );
    expect(
      dry.json.candidates.every(
        (c: { action: string; step: string }) => c.action === 'retry-update' && c.step === 'validate',
      ),
    ).toBe(true);
    const stillOpen = await db('dead_letters')
      .whereIn(
        'workflow_id',
        runs.map((r) => r.workflowId),
      )
      .where({ status: 'open' });
    expect(stillOpen).toHaveLength(3);
    expect(
      await db('audit_log').whereIn(
        'target',
        runs.map((r) => r.workflowId),
      ),
    ).toHaveLength(0);

    const limited = await api('POST', '/runs/retrigger', 'finance', { filter: { source }, dryRun: true, limit: 2 });
    expect(limited.json).toMatchObject({ matched: 2, truncated: true });
    expect(limited.json.candidates).toHaveLength(2);
    expect((await api('POST', '/runs/retrigger', 'finance', { filter: { source }, limit: 5001 })).status).toBe(400);
    expect((await api('POST', '/runs/retrigger', 'operator', { filter: { source }, dryRun: true })).status).toBe(403);

    const done = await api('POST', '/runs/retrigger', 'finance', {
      filter: { source },
      patch: { totalMinor: TOTAL },
      reason: 'totals fixed',
    });
    expect(done.status).toBe(200);
    expect(done.json.results).toHaveLength(3);
    expect(done.json.results.every((x: { ok: boolean; action: string }) => x.ok && x.action === 'retry-update')).toBe(
      true,
    );
    for (const r of runs) {
      await waitFor('the run to pass validate', async () => {
        const st = (await r.handle.query('status')) as FlowStatus;
        return st.stepsDone.includes('validate') && !st.needsAttention;
      });
    }
    const replayed = await db('dead_letters').whereIn(
      'workflow_id',
      runs.map((r) => r.workflowId),
    );
    expect(replayed.map((d) => [d.status, d.acted_by])).toEqual(Array(3).fill(['replayed', `runs-finance-${suffix}`]));
    const audit = await db('audit_log')
      .whereIn(
        'target',
        runs.map((r) => r.workflowId),
      )
      .where({ action: 'run.retrigger' });
    expect(audit).toHaveLength(3);
    expect(audit.every((a) => a.after.bulk === true && a.after.reason === 'totals fixed')).toBe(true);
    const summary = await db('audit_log')
      .where({ action: 'runs.retrigger-bulk', actor: `runs-finance-${suffix}` })
      .orderBy('id', 'desc')
      .first();
    expect(summary.after).toEqual({ matched: 3, succeeded: 3, failed: 0, skipped: 0 });

    const byId = await api('POST', '/runs/retrigger', 'finance', {
      workflowIds: [runs[0].workflowId, 'order:nobody:none'],
      dryRun: true,
    });
    expect(byId.json.candidates).toHaveLength(0);
    expect(byId.json.skipped.map((x: { workflowId: string }) => x.workflowId).sort()).toEqual(
      ['order:nobody:none', runs[0].workflowId].sort(),
    );
  });
});

describe('dead letters', () => {
  test('list and show; replay sends `retry` to the parked run; discard tells it to discard; closed ones conflict', async () => {
    const source = uniqueSource('ops-dlq');
    const a = await parkedOrder(source);
    const b = await parkedOrder(source);
    const list = await api('GET', `/dead-letters?workflowId=${encodeURIComponent(a.workflowId)}`, 'viewer');
    s.deadLetterListSchema.parse(list.json);
    expect(list.json.deadLetters).toHaveLength(1);
    const dlA = list.json.deadLetters[0];
    expect(dlA).toMatchObject({
      id: a.status.deadLetterId,
      flow: 'order',
      step: 'validate',
      errorType: 'ValidationError',
      status: 'open',
    });

    const shown = await api('GET', `/dead-letters/${dlA.id}`, 'viewer');
    s.deadLetterDetailSchema.parse(shown.json);
    expect(shown.json.run).toMatchObject({ status: 'Running', parkedHere: true });
    expect((await api('GET', '/dead-letters/999999999', 'viewer')).status).toBe(404);

    expect((await api('POST', `/dead-letters/${dlA.id}/replay`, 'viewer', {})).status).toBe(403);
    const replay = await api('POST', `/dead-letters/${dlA.id}/replay`, 'finance', { patch: { totalMinor: TOTAL } });
    expect(replay.status).toBe(200);
    expect(replay.json).toMatchObject({ deadLetterId: dlA.id, workflowId: a.workflowId, action: 'retry-update' });
    await waitFor(
      'the dead letter to be replayed',
      async () => (await db('dead_letters').where({ id: dlA.id }).first()).status === 'replayed',
    );
    await waitFor('the run to pass validate', async () =>
      ((await a.handle.query('status')) as FlowStatus).stepsDone.includes('validate'),
    );
    const again = await api('POST', `/dead-letters/${dlA.id}/replay`, 'finance', {});
    expect(again.status).toBe(409);
    expect(again.json.error).toBe('closed');

    const dlB = b.status.deadLetterId!;
    expect((await api('POST', `/dead-letters/${dlB}/discard`, 'finance', {})).status).toBe(400);
    const discard = await api('POST', `/dead-letters/${dlB}/discard`, 'finance', {
      reason: 'duplicate order, customer re-ordered',
    });
    expect(discard.status).toBe(200);
    expect(discard.json).toMatchObject({ deadLetterId: dlB, action: 'discard-update' });
    await expect(b.handle.result()).rejects.toThrow();
    const dlRow = await db('dead_letters').where({ id: dlB }).first();
    expect(dlRow).toMatchObject({
      status: 'discarded',
      acted_by: `runs-finance-${suffix}`,
      reason: 'duplicate order, customer re-ordered',
    });
    expect(((await b.handle.query('status')) as FlowStatus).outcome).toBe('discarded');
    expect((await api('POST', `/dead-letters/${dlB}/discard`, 'finance', { reason: 'again' })).status).toBe(409);

    const audit = await db('audit_log').whereIn('target', [dlA.id, dlB]).orderBy('id');
    expect(audit.map((x) => [x.action, x.target, x.actor])).toEqual([
      ['dead-letter.replay', dlA.id, `runs-finance-${suffix}`],
      ['dead-letter.discard', dlB, `runs-finance-${suffix}`],
    ]);
    expect(audit[0].before).toMatchObject({ status: 'open' });
    expect(audit[0].after).toMatchObject({ status: 'replayed', action: 'retry-update', patch: { totalMinor: TOTAL } });
    expect(audit[1].after).toMatchObject({ status: 'discarded', reason: 'duplicate order, customer re-ordered' });
  });

  test('a dead letter whose run ended: replay starts a new run (with the patch); discard just closes it', async () => {
    const source = uniqueSource('ops-dlq-ended');
    const ended = async () => {
      const input = order(source, { totalMinor: TOTAL + 1, maxParkWait: '1 second' });
      const handle = await start(input);
      const failure = await handle.result().then(
        () => undefined,
        (e: WorkflowFailedError) => e,
      );
      expect(failure?.cause?.message).toMatch(/without a retry or discard/);
      const [dl] = await db('dead_letters').where({ workflow_id: handle.workflowId, status: 'open' });
      return { handle, dl, runId: (await handle.describe()).runId };
    };
    const x = await ended();
    const y = await ended();

    const replay = await api('POST', `/dead-letters/${x.dl.id}/replay`, 'finance', { patch: { totalMinor: TOTAL } });
    expect(replay.status).toBe(200);
    expect(replay.json).toMatchObject({ action: 'new-run', workflowId: x.handle.workflowId });
    expect(replay.json.runId).not.toBe(x.runId);
    const next = client.workflow.getHandle(x.handle.workflowId, replay.json.runId);
    await waitFor('the new run to pass validate', async () =>
      ((await next.query('status')) as FlowStatus).stepsDone.includes('validate'),
    );
    expect((await db('dead_letters').where({ id: x.dl.id }).first()).status).toBe('replayed');

    const discard = await api('POST', `/dead-letters/${y.dl.id}/discard`, 'finance', { reason: 'written off' });
    expect(discard.json).toMatchObject({ action: 'closed' });
    expect(await db('dead_letters').where({ id: y.dl.id }).first()).toMatchObject({
      status: 'discarded',
      reason: 'written off',
    });
    expect((await y.handle.describe()).runId).toBe(y.runId);
  });
});

describe('reconciliations, reports, audit, mappings', () => {
  test('start is idempotent: 201 for a new run, 200 with the same run after; a closed one is not started again', async () => {
    const batchId = `BAT_OPS_${suffix.replace(/-/g, '_')}`;
    expect((await api('POST', '/reconciliations', 'viewer', { batchId })).status).toBe(403);
    const first = await api('POST', '/reconciliations', 'operator', { batchId });
    expect(first.status).toBe(201);
    s.reconciliationStartedSchema.parse(first.json);
    expect(first.json).toMatchObject({ workflowId: `settlement:${batchId}`, created: true, status: 'Running' });
    const second = await api('POST', '/reconciliations', 'finance', { batchId });
    expect(second.status).toBe(200);
    expect(second.json).toMatchObject({ workflowId: `settlement:${batchId}`, runId: first.json.runId, created: false });

    const desc = await client.workflow.getHandle(`settlement:${batchId}`).describe();
    expect(desc.type).toBe('settlementReconciliation');
    expect(desc.taskQueue).toBe(reconQueue);
    const hist = await client.workflow.getHandle(`settlement:${batchId}`).fetchHistory();
    const [input] = await decodeArrayFromPayloads(
      client.options.loadedDataConverter,
      hist.events![0].workflowExecutionStartedEventAttributes!.input!.payloads,
    );
    expect(input).toEqual({ batchId, erp: 'odoo', trigger: 'on-demand' });

    await client.workflow.getHandle(`settlement:${batchId}`).terminate('test: closed run');
    const third = await api('POST', '/reconciliations', 'operator', { batchId });
    expect(third.status).toBe(200);
    expect(third.json).toMatchObject({ runId: first.json.runId, created: false, status: 'Terminated' });

    const range = { from: '2031-03-01', to: '2031-03-07', erp: 'p21' };
    const r1 = await api('POST', '/reconciliations', 'operator', range);
    const r2 = await api('POST', '/reconciliations', 'operator', range);
    expect([r1.status, r2.status]).toEqual([201, 200]);
    expect(r1.json.workflowId).toBe('settlement:range-2031-03-01-2031-03-07');
    expect(r2.json.runId).toBe(r1.json.runId);
    await client.workflow.getHandle(r1.json.workflowId).terminate('test cleanup');

    for (const bad of [
      {},
      { batchId, from: '2031-01-01', to: '2031-01-02' },
      { from: '2031-01-05', to: '2031-01-01' },
      { from: '2031-01-01' },
      { from: '2031-01-01', to: '2031-02-01' },
      { batchId: "x' OR 1=1" },
    ]) {
      expect([bad, (await api('POST', '/reconciliations', 'operator', bad)).status]).toEqual([bad, 400]);
    }
    const audit = await db('audit_log')
      .where({ action: 'reconciliation.start' })
      .whereIn('target', [`settlement:${batchId}`, r1.json.workflowId]);
    expect(audit.map((a) => a.target).sort()).toEqual([r1.json.workflowId, `settlement:${batchId}`].sort());
    expect(audit.find((a) => a.target === `settlement:${batchId}`).after).toMatchObject({
      created: true,
      runId: first.json.runId,
    });
  });

  test('reports come as JSON or CSV with the right content type', async () => {
    const batchId = `BAT_REP_${suffix.replace(/-/g, '_')}`;
    const report = { batchId, currency: 'USD', varianceMinor: 0, counts: { matched: 2 }, exceptions: [] };
    const csv = 'kind,txn_id\nmatched,T1\nmatched,T2\n';
    await db('recon_reports').insert([
      { batch_id: batchId, format: 'json', content_type: 'application/json', body: JSON.stringify(report) },
      { batch_id: batchId, format: 'csv', content_type: 'text/csv', body: csv },
    ]);
    const j = await api('GET', `/reports/reconciliations/${batchId}`, 'viewer');
    expect(j.type).toMatch(/^application\/json/);
    expect(j.json).toEqual(report);
    const c = await api('GET', `/reports/reconciliations/${batchId}?format=csv`, 'viewer');
    expect(c.status).toBe(200);
    expect(c.type).toMatch(/^text\/csv/);
    expect(c.text).toBe(csv);
    expect((await api('GET', `/reports/reconciliations/${batchId}?format=xml`, 'viewer')).status).toBe(400);
    expect((await api('GET', '/reports/reconciliations/NO_SUCH', 'viewer')).status).toBe(404);
  });

  test('the audit log lists changes newest first, with filters and a cursor', async () => {
    const actor = `runs-finance-${suffix}`;
    const p1 = await api('GET', `/audit?actor=${actor}&limit=2`, 'viewer');
    s.auditListSchema.parse(p1.json);
    expect(p1.json.entries).toHaveLength(2);
    expect(Number(p1.json.entries[0].id)).toBeGreaterThan(Number(p1.json.entries[1].id));
    expect(p1.json.entries.every((e: { actor: string }) => e.actor === actor)).toBe(true);
    const p2 = await api('GET', `/audit?actor=${actor}&limit=2&before=${p1.json.nextCursor}`, 'viewer');
    expect(Number(p2.json.entries[0].id)).toBeLessThan(Number(p1.json.entries[1].id));
    const replays = await api('GET', `/audit?action=dead-letter.replay&actor=${actor}`, 'viewer');
    expect(replays.json.entries.length).toBeGreaterThanOrEqual(1);
    expect(replays.json.entries.every((e: { action: string }) => e.action === 'dead-letter.replay')).toBe(true);
  });

  test('mappings: anyone reads GL rules versions, only admin publishes one (audited)', async () => {
    const current = await getGlRules(db);
    const list = await api('GET', '/mappings/gl-rules', 'viewer');
    expect(list.json.versions.find((v: { status: string }) => v.status === 'published')).toBeDefined();
    const one = await api('GET', `/mappings/gl-rules/${current.version}`, 'viewer');
    expect(one.json).toMatchObject({ version: current.version, rules: current.rules });
    expect((await api('POST', '/mappings/gl-rules', 'finance', { rules: current.rules })).status).toBe(403);
    const published = await api('POST', '/mappings/gl-rules', 'admin', {
      rules: current.rules,
      note: 'ops API test: same rules',
    });
    expect(published.status).toBe(201);
    expect((await getGlRules(db)).version).toBe(published.json.version);
    const audit = await db('audit_log')
      .where({ action: 'mapping.gl-rules.publish', target: `gl-rules/${published.json.version}` })
      .first();
    expect(audit).toMatchObject({ actor: `runs-admin-${suffix}` });
    expect(audit.after).toMatchObject({ publishedVersion: published.json.version });
  });
});
