import { fork } from 'node:child_process';
import path from 'node:path';
import { WorkflowExecutionAlreadyStartedError, type WorkflowHandle } from '@temporalio/client';
import { workflowIds } from '../../src/domain/ids';
import type { OrderInput } from '../../src/domain/orders';
import type { ErpSystem } from '../../src/connectors/erp/types';
import { orderToCash } from '../../workflows/order-to-cash';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createOrderToCashActivities } from '../../activities/order-to-cash';
import { createConnectors } from '../../src/connectors/factory';
import { createDb } from '../../src/db';
import { createLogger } from '../../src/logger';
import { flowWorkers, useFlowHarness } from '../support/sandbox';

const t = useFlowHarness();

let seq = 0;
function order(erp: ErpSystem, queues: { heartland: string; erp: string }, over: Partial<OrderInput> = {}): OrderInput {
  const orderId = `T${Date.now().toString(36)}${(seq++).toString(36)}`;
  return {
    source: 'commerce',
    orderId,
    erp,
    currency: 'USD',
    orderDate: '2026-11-20',
    customer: {
      externalRef: `cust-${orderId}`,
      name: `Pat Buyer ${orderId}`,
      email: `pat.${orderId}@example.com`,
      phone: '+1 555 010 2000',
    },
    lines: [
      { sku: 'SKU-1001', qty: 1, unitPriceMinor: 8999, taxMinor: 742 },
      { sku: 'SKU-1002', qty: 2, unitPriceMinor: 1599, taxMinor: 264 },
    ],
    shippingMinor: 500, // travels as the SHIPPING service line on ERP documents
    totalMinor: 8999 + 742 + 2 * 1599 + 264 + 500,
    payment: { token: `PMT_${orderId}`, brand: 'VISA', last4: '4242' },
    fulfilmentTimeout: '1 minute',
    maxParkWait: '2 minutes',
    queues,
    ...over,
  };
}

const onHand = async (erp: ErpSystem, sku: string) =>
  (await t.sb.connectors.erp(erp).readOnHand({ skus: [sku], location: 'MAIN' })).reduce((s, r) => s + r.qty, 0);

async function waitForStage(handle: { query: (q: 'status') => Promise<unknown> }, stage: string, ms = 60_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const s = (await handle.query('status')) as { stage: string };
    if (s.stage === stage) return s;
    if (Date.now() > deadline) throw new Error(`stage ${stage} not reached; at ${s.stage}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The LbStage values the run's history set, in order. */
async function stagesSet(handle: Pick<WorkflowHandle, 'fetchHistory'>): Promise<string[]> {
  return ((await handle.fetchHistory()).events ?? []).flatMap((e) => {
    const stage = e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields?.LbStage?.data;
    return stage ? [JSON.parse(Buffer.from(stage).toString('utf8')) as string] : [];
  });
}

describe.each<ErpSystem>(['odoo', 'm3', 'p21', 'sagepro'])('orderToCash against the %s simulator', (erp) => {
  test('completes: customer, sales order, auth, fulfilment, invoice, capture, payment and inventory, each once', async () => {
    const w = await flowWorkers(t.connection, t.sb.deps, `o2c-${erp}`);
    const input = order(erp, w.queues);
    const workflowId = workflowIds.order(input.source, input.orderId);
    const before = await onHand(erp, 'SKU-1002');
    const result = await w.run(async () => {
      const handle = await t.client.workflow.start(orderToCash, { taskQueue: w.taskQueue, workflowId, args: [input] });
      await waitForStage(handle, 'awaiting-fulfilment');
      await handle.signal('fulfilled', {});
      const r = await handle.result();
      const status = (await handle.query('status')) as Record<string, unknown>;
      expect(status).toMatchObject({
        stage: 'completed',
        outcome: 'completed',
        pivotPassed: true,
        needsAttention: false,
      });
      expect(status.stepsDone).toEqual([
        'validate',
        'upsertCustomer',
        'createSalesOrder',
        'authorize',
        'createInvoice',
        'capture',
        'postInvoice',
        'applyPayment',
        'adjustInventory',
      ]);
      const desc = await handle.describe();
      expect(desc.searchAttributes).toMatchObject({
        LbFlow: ['order'],
        LbSource: ['commerce'],
        LbErp: [erp],
        LbBusinessKey: [input.orderId],
        LbStage: ['completed'],
        LbNeedsAttention: [false],
        LbAmountMinor: [input.totalMinor],
      });
      // LbStage moves only where a run can rest (each change costs the server a visibility write).
      expect(await stagesSet(handle)).toEqual(['ordering', 'awaiting-fulfilment', 'invoicing', 'completed']);
      return r;
    });
    expect(result.outcome).toBe('completed');
    expect(result.capturedMinor).toBe(input.totalMinor);
    const tx = t.sb.sandbox.heartlandGp.state.transactions.get(result.transactionId!)!;
    expect(tx).toMatchObject({ status: 'CAPTURED', captured: input.totalMinor, reference: workflowId });
    const so = await t.sb.connectors.erp(erp).getSalesOrder(result.salesOrderErpId!);
    expect(so.status).not.toBe('cancelled');
    expect(await onHand(erp, 'SKU-1002')).toBe(before - 2);
    const writes = await t.db('external_writes').where({ workflow_id: workflowId }).select('idempotency_key', 'status');
    const keys = writes.map((r) => r.idempotency_key);
    expect(new Set(keys).size).toBe(keys.length);
    expect(writes.every((r) => r.status === 'done')).toBe(true);
  });
});

describe('customer dedup under concurrency (p21: the ERP itself cannot refuse a duplicate)', () => {
  test('three orders of one new customer at once create exactly one ERP customer', async () => {
    const w = await flowWorkers(t.connection, t.sb.deps, 'o2c-dedup');
    const first = order('p21', w.queues);
    const ref = `cust-shared-${first.orderId}`;
    // A phone and a name no other test uses: the same phone with a similar name is itself a dedup match.
    const customer = {
      externalRef: ref,
      name: `Quinn Concurrent ${first.orderId}`,
      email: `quinn.${first.orderId}@example.net`,
      phone: `+1 666 ${first.orderId.slice(-7)}`,
    };
    const inputs = [0, 1, 2].map(() => ({ ...order('p21', w.queues), customer }));
    const results = await w.run(() =>
      Promise.all(
        inputs.map(async (input) => {
          const h = await t.client.workflow.start(orderToCash, {
            taskQueue: w.taskQueue,
            workflowId: workflowIds.order('commerce', input.orderId),
            args: [input],
          });
          await h.signal('fulfilled', {});
          return h.result();
        }),
      ),
    );
    expect(results.map((r) => r.outcome)).toEqual(['completed', 'completed', 'completed']);
    expect(new Set(results.map((r) => r.customerErpId)).size).toBe(1);
    const created = t.sb.sandbox.p21.state.customers.filter((c) => c.CustomerName === customer.name);
    expect(created.map((c) => c.CustomerID)).toEqual([results[0].customerErpId]);
  });
  test('many new customers at once on a small connection pool: no deadlock, one ERP customer each', async () => {
    // Lock waiters must not hold pooled connections: the holder needs one for its own writes, and with every pooled
    // connection held by a waiter the pool deadlocks until acquires time out.
    const small = createDb(t.db.client.config.connection as string, { poolMax: 2 });
    try {
      // The connectors' own bookkeeping (external_writes) shares the small pool too, as it does in a worker.
      const connectors = createConnectors(t.sb.deps.config!, small, createLogger({ level: 'silent' }));
      const acts = createOrderToCashActivities({ ...t.sb.deps, db: small, erp: (e) => connectors.erp(e) });
      const tag = Date.now().toString(36);
      const customers = Array.from({ length: 8 }, (_, i) => ({
        externalRef: `pool-${tag}-${i}`,
        name: `Pooled Customer ${tag} ${i}`,
        email: `pooled.${tag}.${i}@example.org`,
      }));
      const calls = customers.flatMap((customer, i) =>
        [0, 1].map(
          (k) =>
            new MockActivityEnvironment({
              workflowExecution: { workflowId: `order:pool:${tag}-${i}-${k}`, runId: 'mock-run' },
            } as never).run(acts.upsertCustomer, { erp: 'p21' as const, source: 'pool', customer }) as ReturnType<
              typeof acts.upsertCustomer
            >,
        ),
      );
      const results = await Promise.all(calls);
      for (let i = 0; i < customers.length; i++) {
        expect(results[2 * i].erpId).toBe(results[2 * i + 1].erpId);
        const created = t.sb.sandbox.p21.state.customers.filter((c) => c.CustomerName === customers[i].name);
        expect(created.map((c) => c.CustomerID)).toEqual([results[2 * i].erpId]);
      }
    } finally {
      await small.destroy();
    }
  });
});

describe('orderToCash outcomes and faults (odoo)', () => {
  test('a declined card cancels the sales order and ends as declined, not failed', async () => {
    const w = await flowWorkers(t.connection, t.sb.deps, 'o2c-decline');
    const input = order('odoo', w.queues);
    input.payment = { token: `PMT_${input.orderId}_DECLINE` };
    const r = await w.run(() =>
      t.client.workflow.execute(orderToCash, {
        taskQueue: w.taskQueue,
        workflowId: workflowIds.order('commerce', input.orderId),
        args: [input],
      }),
    );
    expect(r.outcome).toBe('declined');
    expect((await t.sb.connectors.erp('odoo').getSalesOrder(r.salesOrderErpId!)).status).toBe('cancelled');
  });

  test('a cancel signal voids the authorization and cancels the order', async () => {
    const w = await flowWorkers(t.connection, t.sb.deps, 'o2c-cancel');
    const input = order('odoo', w.queues);
    const r = await w.run(async () => {
      const h = await t.client.workflow.start(orderToCash, {
        taskQueue: w.taskQueue,
        workflowId: workflowIds.order('commerce', input.orderId),
        args: [input],
      });
      await waitForStage(h, 'awaiting-fulfilment');
      await h.signal('cancel', { reason: 'customer changed their mind' });
      return h.result();
    });
    expect(r.outcome).toBe('cancelled');
    expect(t.sb.sandbox.heartlandGp.state.transactions.get(r.transactionId!)!.status).toBe('REVERSED');
    expect((await t.sb.connectors.erp('odoo').getSalesOrder(r.salesOrderErpId!)).status).toBe('cancelled');
  });

  test('invoice rejected without retry before capture: parks with a dead letter; discard voids the auth, then cancels the order', async () => {
    const w = await flowWorkers(t.connection, t.sb.deps, 'o2c-invoice');
    const input = order('odoo', w.queues);
    const workflowId = workflowIds.order('commerce', input.orderId);
    await w.run(async () => {
      const h = await t.client.workflow.start(orderToCash, { taskQueue: w.taskQueue, workflowId, args: [input] });
      await waitForStage(h, 'awaiting-fulfilment');
      t.sb.sandbox.odoo.faults.set({
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
      await h.signal('fulfilled', {});
      const parked = (await waitForStage(h, 'invoicing')) as Record<string, unknown>;
      const deadline = Date.now() + 30_000;
      let status = parked;
      while (!status.needsAttention && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
        status = (await h.query('status')) as Record<string, unknown>;
      }
      expect(status).toMatchObject({ needsAttention: true, parkedStep: 'createInvoice', step: 'createInvoice' });
      const dl = await t.db('dead_letters').where({ id: status.deadLetterId }).first();
      expect(dl).toMatchObject({ flow: 'order', workflow_id: workflowId, step: 'createInvoice', status: 'open' });
      expect(JSON.stringify(dl.input)).not.toMatch(/\d{13,19}/);
      expect((await h.describe()).searchAttributes.LbNeedsAttention).toEqual([true]);
      await h.executeUpdate('discard', { args: [{ actor: 'finance@test', reason: 'customer will re-order' }] });
      await expect(h.result()).rejects.toThrow();
      const final = (await h.query('status')) as Record<string, unknown>;
      expect(final.compensationsRun).toEqual(['createInvoice', 'authorize', 'createSalesOrder']);
      expect(final.stage).toBe('compensated');
      expect((await t.db('dead_letters').where({ id: status.deadLetterId }).first()).status).toBe('discarded');
    });
    const undo = await t
      .db('external_writes')
      .where({ workflow_id: workflowId })
      .whereIn('idempotency_key', [`${workflowId}/authorize/void`, `${workflowId}/sales-order/cancel`])
      .orderBy('id');
    expect(undo.map((r) => r.idempotency_key)).toEqual([
      `${workflowId}/authorize/void`,
      `${workflowId}/sales-order/cancel`,
    ]);
    const auth = await t
      .db('external_writes')
      .where({ idempotency_key: `${workflowId}/authorize` })
      .first();
    expect(t.sb.sandbox.heartlandGp.state.transactions.get(auth.external_id)!.status).toBe('REVERSED');

    // The undone writes are marked so: a new run under the same id is stopped at its first undone step (and says so)
    // instead of being handed the cancelled sales order and the voided authorization as if they were live.
    const forward = await t
      .db('external_writes')
      .whereIn('idempotency_key', [`${workflowId}/authorize`, `${workflowId}/sales-order`])
      .orderBy('idempotency_key')
      .select('idempotency_key', 'status');
    expect(forward).toEqual([
      { idempotency_key: `${workflowId}/authorize`, status: 'undone' },
      { idempotency_key: `${workflowId}/sales-order`, status: 'undone' },
    ]);
    const transactionsBefore = t.sb.sandbox.heartlandGp.state.transactions.size;
    const w2 = await flowWorkers(t.connection, t.sb.deps, 'o2c-invoice-again');
    await w2.run(async () => {
      const again = await t.client.workflow.start(orderToCash, {
        taskQueue: w2.taskQueue,
        workflowId,
        args: [{ ...input, queues: w2.queues }],
      });
      let status = (await again.query('status')) as Record<string, unknown>;
      for (const deadline = Date.now() + 30_000; !status.parkedStep && Date.now() < deadline;) {
        await new Promise((r) => setTimeout(r, 100));
        status = (await again.query('status')) as Record<string, unknown>;
      }
      expect(status).toMatchObject({ parkedStep: 'createSalesOrder', stepsDone: ['validate', 'upsertCustomer'] });
      const dl = await t.db('dead_letters').where({ id: status.deadLetterId }).first();
      expect(dl).toMatchObject({ step: 'createSalesOrder', error_type: 'WriteUndone' });
      expect(dl.error_message).toContain('start the flow under a new id');
      await again.executeUpdate('discard', { args: [{ actor: 'finance@test', reason: 'compensated order' }] });
      await expect(again.result()).rejects.toThrow();
      // Its own compensation (cancel the sales order) finds the cancel done already: nothing is written twice.
      expect(((await again.query('status')) as Record<string, unknown>).compensationsRun).toEqual(['createSalesOrder']);
    });
    expect(t.sb.sandbox.heartlandGp.state.transactions.size).toBe(transactionsBefore);
    expect(
      await t
        .db('external_writes')
        .where({ idempotency_key: `${workflowId}/sales-order/cancel` })
        .count({ n: '*' }),
    ).toEqual([{ n: '1' }]);
  });

  test('the same start twice gives one run', async () => {
    const w = await flowWorkers(t.connection, t.sb.deps, 'o2c-dup');
    const input = order('odoo', w.queues, { fulfilmentTimeout: '2 seconds' });
    const workflowId = workflowIds.order('commerce', input.orderId);
    await w.run(async () => {
      const h1 = await t.client.workflow.start(orderToCash, { taskQueue: w.taskQueue, workflowId, args: [input] });
      await expect(
        t.client.workflow.start(orderToCash, { taskQueue: w.taskQueue, workflowId, args: [input] }),
      ).rejects.toBeInstanceOf(WorkflowExecutionAlreadyStartedError);
      const h2 = await t.client.workflow.start(orderToCash, {
        taskQueue: w.taskQueue,
        workflowId,
        args: [input],
        workflowIdConflictPolicy: 'USE_EXISTING',
      });
      expect(h2.firstExecutionRunId).toBe(h1.firstExecutionRunId);
      expect((await h1.result()).outcome).toBe('expired');
    });
    const runs = [];
    for await (const r of t.client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) runs.push(r);
    expect(runs).toHaveLength(1);
  });

  test('ERP answers 5xx for 30 seconds, then recovers: the run completes with no duplicate ERP record', async () => {
    const w = await flowWorkers(t.connection, t.sb.deps, 'o2c-5xx');
    const input = order('odoo', w.queues);
    const workflowId = workflowIds.order('commerce', input.orderId);
    t.sb.sandbox.odoo.faults.set({ error: { status: 503, forMs: 30_000, body: { message: 'Service Unavailable' } } });
    const started = Date.now();
    try {
      const r = await w.run(async () => {
        const h = await t.client.workflow.start(orderToCash, { taskQueue: w.taskQueue, workflowId, args: [input] });
        await h.signal('fulfilled', {});
        return h.result();
      });
      expect(r.outcome).toBe('completed');
      expect(Date.now() - started).toBeGreaterThanOrEqual(30_000);
    } finally {
      t.sb.sandbox.odoo.faults.clear();
    }
    const orders = t.sb.sandbox.odoo.state.records('sale.order', [['client_order_ref', '=', workflowId]]);
    expect(orders).toHaveLength(1);
    expect(await t.db('dead_letters').where({ workflow_id: workflowId })).toHaveLength(0);
  }, 180_000);

  test('SIGKILL of the worker during capture: exactly one capture at Heartland', async () => {
    const w = await flowWorkers(t.connection, t.sb.deps, 'o2c-kill');
    const input = order('odoo', w.queues);
    const workflowId = workflowIds.order('commerce', input.orderId);
    const child = fork(path.join(__dirname, '..', 'fixtures', 'flow-worker.ts'), [], {
      execArgv: ['--import', 'tsx'],
      env: {
        ...process.env,
        LB_TEST_SANDBOX_ENV: JSON.stringify(t.sb.sandbox.env),
        FLOW_QUEUES: [w.taskQueue, w.queues.heartland, w.queues.erp].join(','),
      },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    try {
      await new Promise<void>((resolve, reject) => {
        child.once('message', () => resolve());
        child.once('exit', (code) => reject(new Error(`flow worker exited early (${code})`)));
      });
      const h = await t.client.workflow.start(orderToCash, { taskQueue: w.taskQueue, workflowId, args: [input] });
      await h.signal('fulfilled', {});
      t.sb.sandbox.heartlandGp.faults.set({ latencyMs: 1500, paths: ['/capture'] });
      const deadline = Date.now() + 60_000;
      while (
        !(await t
          .db('external_writes')
          .where({ idempotency_key: `${workflowId}/capture` })
          .first())
      ) {
        if (Date.now() > deadline) throw new Error('capture never started');
        await new Promise((r) => setTimeout(r, 50));
      }
      await new Promise((r) => setTimeout(r, 300)); // the capture request is now inside the simulator
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      t.sb.sandbox.heartlandGp.faults.clear();
      const r = await w.run(() => h.result());
      expect(r.outcome).toBe('completed');
      const tx = t.sb.sandbox.heartlandGp.state.transactions.get(r.transactionId!)!;
      expect(tx.status).toBe('CAPTURED');
      expect(tx.captured).toBe(input.totalMinor);
      const capture = await t
        .db('external_writes')
        .where({ idempotency_key: `${workflowId}/capture` })
        .first();
      expect(capture.status).toBe('done');
      expect(capture.attempts).toBeGreaterThanOrEqual(2);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  }, 180_000);
});
