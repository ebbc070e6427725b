import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { workflowIds } from '../../src/domain/ids';
import type { OrderInput, RefundInput } from '../../src/domain/orders';
import type { ErpSystem } from '../../src/connectors/erp/types';
import { orderToCash } from '../../workflows/order-to-cash';
import { refund } from '../../workflows/refund';
import type { FlowStatus } from '../../workflows/definitions';
import { flowWorkers, useFlowHarness, type FlowWorkers } from '../support/sandbox';

const t = useFlowHarness();

let seq = 0;
const TOTAL = 2 * 12900 + 2128;

/** Runs one order to completion and returns its id and captured transaction. */
async function completedOrder(w: FlowWorkers, erp: ErpSystem) {
  const orderId = `R${Date.now().toString(36)}${(seq++).toString(36)}`;
  const input: OrderInput = {
    source: 'commerce',
    orderId,
    erp,
    currency: 'USD',
    orderDate: '2026-11-20',
    customer: {
      externalRef: `cust-${orderId}`,
      name: `Robin Refund ${orderId}`,
      email: `robin.${orderId}@example.com`,
    },
    lines: [{ sku: 'SKU-1003', qty: 2, unitPriceMinor: 12900, taxMinor: 2128 }],
    totalMinor: TOTAL,
    payment: { token: `PMT_${orderId}`, brand: 'MC', last4: '5100' },
    queues: w.queues,
  };
  const h = await t.client.workflow.start(orderToCash, {
    taskQueue: w.taskQueue,
    workflowId: workflowIds.order('commerce', orderId),
    args: [input],
  });
  await h.signal('fulfilled', {});
  const r = await h.result();
  expect(r.outcome).toBe('completed');
  return { orderId, transactionId: r.transactionId! };
}

function refundInput(
  w: FlowWorkers,
  erp: ErpSystem,
  orderId: string,
  amountMinor: number,
  over: Partial<RefundInput> = {},
): RefundInput {
  return {
    source: 'ops',
    refundId: `RF${Date.now().toString(36)}${(seq++).toString(36)}`,
    erp,
    kind: 'request',
    order: { source: 'commerce', orderId },
    currency: 'USD',
    amountMinor,
    date: '2026-11-21',
    reason: 'damaged in transit',
    lines: [],
    queues: w.queues,
    ...over,
  };
}

const runRefund = (w: FlowWorkers, input: RefundInput) =>
  t.client.workflow.execute(refund, {
    taskQueue: w.taskQueue,
    workflowId: workflowIds.refund(input.source, input.refundId),
    args: [input],
  });

describe.each<ErpSystem>(['odoo', 'm3', 'p21', 'sagepro'])('refund against the %s simulator', (erp) => {
  test('two partial refunds succeed, then one over the refundable amount is rejected with nothing written anywhere', async () => {
    const w = await flowWorkers(t.connection, t.sb.deps, `refund-${erp}`);
    await w.run(async () => {
      const { orderId, transactionId } = await completedOrder(w, erp);
      const first = await runRefund(w, refundInput(w, erp, orderId, 10000));
      expect(first).toMatchObject({ outcome: 'completed', refundedMinor: 10000 });
      const second = await runRefund(w, refundInput(w, erp, orderId, 12000));
      expect(second.refundedMinor).toBe(12000);
      const sale = t.sb.sandbox.heartlandGp.state.transactions.get(transactionId)!;
      expect(sale.refunded).toBe(22000);

      // Other test files write in parallel: count only what this file's refunds could have written.
      const refundWrites = () => t.db('external_writes').where('workflow_id', 'like', 'refund:%').count('* as n');
      const writesBefore = await refundWrites();
      const gpWritesBefore = t.sb.sandbox.heartlandGp.state.stats.writes;
      const tooMuch = refundInput(w, erp, orderId, TOTAL - 22000 + 1);
      const err = await runRefund(w, tooMuch).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(WorkflowFailedError);
      const cause = (err as WorkflowFailedError).cause?.cause as { type?: string; message?: string };
      expect(cause.type).toBe('NotRefundable');
      expect(cause.message).toContain(`exceeds the refundable amount ${TOTAL - 22000}`);
      expect(await refundWrites()).toEqual(writesBefore);
      expect(t.sb.sandbox.heartlandGp.state.stats.writes).toBe(gpWritesBefore);
      expect(sale.refunded).toBe(22000);
      expect(
        await t.db('external_writes').where({ workflow_id: workflowIds.refund('ops', tooMuch.refundId) }),
      ).toHaveLength(0);
    });
  });
});

describe('refund compensation (odoo)', () => {
  test('Heartland refuses the refund: discard cancels the drafted credit memo and marks it undone; a rerun is refused', async () => {
    const w = await flowWorkers(t.connection, t.sb.deps, 'refund-comp');
    await w.run(async () => {
      const { orderId, transactionId } = await completedOrder(w, 'odoo');
      const input = refundInput(w, 'odoo', orderId, 5000);
      const workflowId = workflowIds.refund(input.source, input.refundId);
      t.sb.sandbox.heartlandGp.faults.set({
        error: {
          status: 400,
          count: 1,
          body: { error_code: 'INVALID_REQUEST_DATA', detailed_error_description: 'no' },
        },
        paths: [`/transactions/${transactionId}/refund`],
      });
      const parkedAt = async (h: WorkflowHandle) => {
        let st = (await h.query('status')) as FlowStatus;
        for (const deadline = Date.now() + 30_000; !st.parkedStep && Date.now() < deadline;) {
          await new Promise((r) => setTimeout(r, 100));
          st = (await h.query('status')) as FlowStatus;
        }
        return st;
      };
      const h = await t.client.workflow.start(refund, { taskQueue: w.taskQueue, workflowId, args: [input] });
      expect(await parkedAt(h)).toMatchObject({ parkedStep: 'refundPayment', pivotPassed: false });
      await h.executeUpdate('discard', { args: [{ actor: 'finance@test', reason: 'card closed; pay by cheque' }] });
      await expect(h.result()).rejects.toThrow();
      expect(await h.query('status')).toMatchObject({ stage: 'compensated', compensationsRun: ['draftCreditMemo'] });

      const cm = await t
        .db('external_writes')
        .where({ idempotency_key: `${workflowId}/credit-memo` })
        .first();
      expect(cm.status).toBe('undone');
      expect(t.sb.sandbox.odoo.state.records('account.move', [['id', '=', Number(cm.external_id)]])[0]).toMatchObject({
        move_type: 'out_refund',
        state: 'cancel',
      });
      expect(t.sb.sandbox.heartlandGp.state.transactions.get(transactionId)!.refunded).toBe(0);

      // A rerun under the same id stops at the cancelled credit memo instead of refunding against it.
      const again = await t.client.workflow.start(refund, { taskQueue: w.taskQueue, workflowId, args: [input] });
      const st = await parkedAt(again);
      expect(st.parkedStep).toBe('draftCreditMemo');
      expect(await t.db('dead_letters').where({ id: st.deadLetterId }).first()).toMatchObject({
        error_type: 'WriteUndone',
      });
      await again.terminate('test done');
      expect(t.sb.sandbox.heartlandGp.state.transactions.get(transactionId)!.refunded).toBe(0);
    });
  });
});

describe('POS refund (odoo)', () => {
  test('a refund made at the POS becomes a posted credit memo plus the restock, with no card refund from us', async () => {
    const w = await flowWorkers(t.connection, t.sb.deps, 'refund-pos');
    await w.run(async () => {
      const { orderId } = await completedOrder(w, 'odoo');
      const onHand = async () =>
        (await t.sb.connectors.erp('odoo').readOnHand({ skus: ['SKU-1003'], location: 'MAIN' })).reduce(
          (s, r) => s + r.qty,
          0,
        );
      const before = await onHand();
      const gpWrites = t.sb.sandbox.heartlandGp.state.stats.writes;
      const input = refundInput(w, 'odoo', orderId, 12900 + 1064, {
        source: 'pos',
        kind: 'pos',
        processorRefundId: 'TRN_POS_REFUND_1',
        lines: [{ sku: 'SKU-1003', qty: 1, unitPriceMinor: 12900, taxMinor: 1064 }],
      });
      const r = await runRefund(w, input);
      expect(r).toMatchObject({ outcome: 'completed', refundTransactionId: 'TRN_POS_REFUND_1', refundedMinor: 13964 });
      expect(await onHand()).toBe(before + 1);
      expect(t.sb.sandbox.heartlandGp.state.stats.writes).toBe(gpWrites);
      const h = t.client.workflow.getHandle(workflowIds.refund('pos', input.refundId));
      const status = (await h.query('status')) as { stepsDone: string[]; stage: string };
      expect(status.stepsDone).toEqual([
        'validate',
        'findOriginalOrder',
        'draftCreditMemo',
        'postCreditMemo',
        'restock',
      ]);
      expect(status.stage).toBe('completed');
    });
  });
});
