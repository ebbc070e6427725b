import type { WorkflowHandle } from '@temporalio/client';
import { SANDBOX_WEBHOOK_SECRETS, signCommerceWebhook, signErpWebhook } from '../../src/gateway/webhooks';
import { batchCloseEvent } from '../../src/sandbox/heartland-gp';
import { sendGpWebhook } from '../../src/sandbox/heartland-gp/webhooks';
import { pollUntil as waitFor, useWebhookHarness, workflowResult } from '../support/webhook-harness';

/**
 * Every webhook delivered three times at once, through the real gateway, inbox, dispatcher, Temporal, workers and
 * simulators: one inbox row, one workflow run, one write on the external system.
 */

jest.setTimeout(240_000);

const S = SANDBOX_WEBHOOK_SECRETS;
const h = useWebhookHarness('whf');
const withFlows = (prefix: string, fn: () => Promise<void>) => h.withFlows(prefix, fn);
const post = (path: string, body: string, headers: Record<string, string>) => h.post(path, body, headers);

/** Three concurrent deliveries of the same signed bytes: one is accepted, two are duplicates. */
async function thrice(path: string, body: string, headers: Record<string, string>) {
  const answers = await Promise.all([1, 2, 3].map(() => post(path, body, headers)));
  expect(answers.map((a) => `${a.status} ${a.body.status}`).sort()).toEqual([
    '200 duplicate',
    '200 duplicate',
    '202 accepted',
  ]);
  return answers.find((a) => a.status === 202)!.body.id!;
}

const dispatched = (id: string) =>
  waitFor(`inbox row ${id} dispatched`, async () => {
    const row = await h.db('webhook_inbox').where({ id }).first();
    return row?.status === 'dispatched' ? row : undefined;
  });

async function runs(workflowId: string): Promise<number> {
  let n = 0;
  for await (const _ of h.client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) n++;
  return n;
}

async function stage(handle: WorkflowHandle, want: string) {
  return waitFor(`stage ${want}`, async () => {
    try {
      const s = (await handle.query('status')) as { stage: string };
      return s.stage === want ? s : undefined;
    } catch {
      return undefined; // not started by the dispatcher yet
    }
  });
}

const result = (workflowId: string) => workflowResult(h.client, workflowId, 60_000);

function gpRefundEvent(id: string, parent: string, amountMinor: number) {
  return {
    id,
    time_created: new Date().toISOString(),
    type: 'REFUND',
    status: 'CAPTURED',
    channel: 'CP',
    amount: String(amountMinor),
    currency: 'USD',
    reference: null,
    parent_resource_id: parent,
    payment_method: { result: '00', message: 'SUCCESS', entry_mode: 'SWIPE' },
    action: { id: `ACT_${id}`, type: 'REFUND', result_code: 'SUCCESS' },
  };
}

const odooMoves = (ref: string, moveType: string) =>
  h.sb.sandbox.odoo.state.store.all('account.move').filter((m) => m.ref === ref && m.move_type === moveType);
const gpByReference = (reference: string) =>
  [...h.sb.sandbox.heartlandGp.state.transactions.values()].filter((t) => t.reference === reference);
const writes = (workflowId: string, operation: string) =>
  h.db('external_writes').where({ workflow_id: workflowId, operation }).select('idempotency_key', 'status');

function order(id: number, token: string) {
  return {
    id,
    email: `buyer${id}@example.com`,
    created_at: '2026-11-20T10:15:00-05:00',
    currency: 'USD',
    total_price: '112.42',
    line_items: [
      { sku: 'SKU-1001', title: 'Trail Runner Shoe', quantity: 1, price: '89.99', tax_lines: [{ price: '7.42' }] },
      { sku: 'SKU-1002', title: 'Wool Socks', quantity: 1, price: '15.01' },
    ],
    customer: { id: id + 1, first_name: 'Robin', last_name: `Hook${id}`, email: `buyer${id}@example.com` },
    note_attributes: [{ name: 'payment_token', value: token }],
    payment_details: { credit_card_company: 'Visa', credit_card_number: '•••• 4242' },
  };
}

describe('three concurrent deliveries: one row, one run, one external write', () => {
  test('commerce orders/create (start) then Odoo delivery.done (signal): authorized once, captured once', () =>
    withFlows('wh-o2c', async () => {
      const id = Date.now();
      const workflowId = `order:commerce:${id}`;
      const raw = JSON.stringify(order(id, `PMT_wh${id.toString(36)}`));
      const createRow = await thrice(
        '/webhooks/commerce',
        raw,
        signCommerceWebhook(raw, S.commerce, 'orders/create', `wc-${id}`),
      );
      expect(await dispatched(createRow)).toMatchObject({ workflow_id: workflowId, source: 'commerce' });
      const handle = h.client.workflow.getHandle(workflowId);
      await stage(handle, 'awaiting-fulfilment');

      // The shop sends orders/create again under another webhook id: a new row, the same run.
      const again = await post(
        '/webhooks/commerce',
        raw,
        signCommerceWebhook(raw, S.commerce, 'orders/create', `wc2-${id}`),
      );
      expect(again.status).toBe(202);
      expect(await dispatched(again.body.id!)).toMatchObject({ workflow_id: workflowId });

      const delivery = JSON.stringify({
        id: `dlv-${id}`,
        type: 'delivery.done',
        occurred_at: new Date().toISOString(),
        data: { order: { source: 'commerce', orderId: String(id) }, fulfilmentId: `WH/OUT/${id}` },
      });
      const deliveryRow = await thrice('/webhooks/odoo', delivery, {
        'content-type': 'application/json',
        ...signErpWebhook(delivery, S.odoo),
      });
      expect(await dispatched(deliveryRow)).toMatchObject({ workflow_id: workflowId });
      const result = await handle.result();
      expect(result).toMatchObject({ outcome: 'completed', capturedMinor: 11242 });

      expect(
        await h
          .db('webhook_inbox')
          .where({ source: 'commerce', event_id: `wc-${id}` })
          .count({ n: '*' }),
      ).toEqual([{ n: '1' }]);
      expect(await runs(workflowId)).toBe(1);
      const txns = gpByReference(workflowId);
      expect(txns).toHaveLength(1);
      expect(txns[0]).toMatchObject({ status: 'CAPTURED', captured: 11242 });
      expect(await writes(workflowId, 'authorize')).toHaveLength(1);
      expect(await writes(workflowId, 'capture')).toHaveLength(1);
      expect(odooMoves(workflowId, 'out_invoice')).toHaveLength(1);

      // After the run closed, another create is recorded as dispatched to the closed run; no second run starts.
      const late = await post(
        '/webhooks/commerce',
        raw,
        signCommerceWebhook(raw, S.commerce, 'orders/create', `wc3-${id}`),
      );
      expect(await dispatched(late.body.id!)).toMatchObject({
        workflow_id: workflowId,
        last_error: 'the workflow had already closed',
      });
      expect(await runs(workflowId)).toBe(1);
      expect(gpByReference(workflowId)).toHaveLength(1);
    }));

  test('commerce orders/fulfilled alone signals-with-start: the order runs and completes once', () =>
    withFlows('wh-ff', async () => {
      const id = Date.now() + 7;
      const workflowId = `order:commerce:${id}`;
      const raw = JSON.stringify({ ...order(id, `PMT_ff${id.toString(36)}`), fulfillments: [{ id: 991 }] });
      const row = await thrice(
        '/webhooks/commerce',
        raw,
        signCommerceWebhook(raw, S.commerce, 'orders/fulfilled', `wf-${id}`),
      );
      expect(await dispatched(row)).toMatchObject({ workflow_id: workflowId });
      const result = await h.client.workflow.getHandle(workflowId).result();
      expect(result.outcome).toBe('completed');
      expect(await runs(workflowId)).toBe(1);
      expect(gpByReference(workflowId)).toHaveLength(1);
      expect(await writes(workflowId, 'capture')).toHaveLength(1);
    }));

  test('Heartland Retail sale and return (simulator sender), then the GP refund event: one order, one credit memo', () =>
    withFlows('wh-pos', async () => {
      const retail = h.sb.sandbox.heartlandRetail;
      const url = `${h.base}/webhooks/heartland-retail`;
      const secret = S['heartland-retail'];
      const saleTxn = `TRN_WHS${Date.now().toString(36)}`;
      const ticket = await retail.simulateSale({
        lines: [{ sku: 'SKU-1003', qty: 1 }],
        payment: { type: 'credit_card', cardBrand: 'VISA', last4: '4242', transactionId: saleTxn },
      });
      const eventId = `evt_sale_${ticket.id}`;
      const sent = await Promise.all(
        [1, 2, 3].map(() => retail.sendWebhook(url, 'sales_transaction_completed', ticket, { secret, eventId })),
      );
      expect(sent.flatMap((s) => s.responses.map((r) => r.status)).sort()).toEqual([200, 200, 202]);
      const orderWf = `order:pos:${ticket.id}`;
      expect(await result(orderWf)).toMatchObject({ outcome: 'completed', transactionId: saleTxn });
      expect(await runs(orderWf)).toBe(1);
      expect(odooMoves(orderWf, 'out_invoice')).toHaveLength(1);
      expect(await h.db('webhook_inbox').where({ source: 'heartland-retail', event_id: eventId })).toHaveLength(1);

      // The customer brings the jacket back: a return ticket refunded on the card (GP refund transaction id).
      const refundTxn = `TRN_WHR${Date.now().toString(36)}`;
      const ret = await retail.simulateSale({
        lines: [{ sku: 'SKU-1003', qty: -1, originalTicketId: ticket.id }],
        payment: { type: 'credit_card', cardBrand: 'VISA', last4: '4242', transactionId: refundTxn },
      });
      const retEvent = `evt_ret_${ret.id}`;
      const retSent = await Promise.all(
        [1, 2, 3].map(() => retail.sendWebhook(url, 'sales_transaction_completed', ret, { secret, eventId: retEvent })),
      );
      expect(retSent.flatMap((s) => s.responses.map((r) => r.status)).sort()).toEqual([200, 200, 202]);
      const refundWf = `refund:pos:${refundTxn}`;
      expect(await result(refundWf)).toMatchObject({
        outcome: 'completed',
        refundedMinor: Math.round(-ret.total * 100),
      });
      expect(odooMoves(refundWf, 'out_refund')).toHaveLength(1);

      // GP reports the same refund (three times, byte-identical, at once): it lands on the same, closed, run.
      const refundEvent = gpRefundEvent(refundTxn, saleTxn, Math.round(-ret.total * 100));
      const answers = (
        await Promise.all([1, 2, 3].map(() => sendGpWebhook(`${h.base}/webhooks/heartland`, refundEvent, S.heartland)))
      ).flat();
      expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 202]);
      const gpRow = await h
        .db('webhook_inbox')
        .where({ source: 'heartland', event_id: `ACT_${refundTxn}` })
        .first();
      expect(await dispatched(gpRow.id)).toMatchObject({ workflow_id: refundWf });
      expect(await runs(refundWf)).toBe(1);
      expect(odooMoves(refundWf, 'out_refund')).toHaveLength(1);
    }));

  test('a GP refund event that comes first finds its POS order through id_links: one credit memo', () =>
    withFlows('wh-gp-refund', async () => {
      const retail = h.sb.sandbox.heartlandRetail;
      const saleTxn = `TRN_WHT${Date.now().toString(36)}`;
      const ticket = await retail.simulateSale({
        lines: [{ sku: 'SKU-1004', qty: 2 }],
        payment: { type: 'credit_card', cardBrand: 'MC', last4: '5454', transactionId: saleTxn },
      });
      const sale = await retail.sendWebhook(
        `${h.base}/webhooks/heartland-retail`,
        'sales_transaction_completed',
        ticket,
        {
          secret: S['heartland-retail'],
        },
      );
      expect(sale.responses[0].status).toBe(202);
      expect(await result(`order:pos:${ticket.id}`)).toMatchObject({ outcome: 'completed' });

      const refundTxn = `TRN_WHU${Date.now().toString(36)}`;
      const answers = (
        await Promise.all(
          [1, 2, 3].map(() =>
            sendGpWebhook(`${h.base}/webhooks/heartland`, gpRefundEvent(refundTxn, saleTxn, 2499), S.heartland),
          ),
        )
      ).flat();
      expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 202]);
      const refundWf = `refund:pos:${refundTxn}`;
      const row = await h
        .db('webhook_inbox')
        .where({ source: 'heartland', event_id: `ACT_${refundTxn}` })
        .first();
      expect(await dispatched(row.id)).toMatchObject({ workflow_id: refundWf });
      const history = await h.client.workflow.getHandle(refundWf).fetchHistory();
      const input = JSON.parse(
        Buffer.from(history.events![0].workflowExecutionStartedEventAttributes!.input!.payloads![0].data!).toString(
          'utf8',
        ),
      );
      expect(input).toMatchObject({
        source: 'pos',
        kind: 'pos',
        refundId: refundTxn,
        order: { source: 'pos', orderId: String(ticket.id) },
        amountMinor: 2499,
        processorRefundId: refundTxn,
      });
      expect(await result(refundWf)).toMatchObject({ outcome: 'completed', refundedMinor: 2499 });
      expect(await runs(refundWf)).toBe(1);
      expect(odooMoves(refundWf, 'out_refund')).toHaveLength(1);
    }));

  test('GP batch close (simulator sender): one row and one settlement run', () =>
    withFlows('wh-batch', async () => {
      const batchId = `BAT_WH${Date.now().toString(36).toUpperCase()}`;
      const event = batchCloseEvent({
        id: batchId,
        batch_id: batchId,
        amount: '0',
        currency: 'USD',
        time_created: new Date().toISOString(),
        action: { id: `ACT_${batchId}`, time_created: new Date().toISOString() },
        transaction_count: 0,
      });
      const answers = (
        await Promise.all(
          [1, 2, 3].map(() => h.sb.sandbox.heartlandGp.sendWebhook(`${h.base}/webhooks/heartland`, event)),
        )
      ).flat();
      expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 202]);
      const row = await h
        .db('webhook_inbox')
        .where({ source: 'heartland', event_id: `ACT_${batchId}` })
        .first();
      expect(await dispatched(row.id)).toMatchObject({ workflow_id: `settlement:${batchId}` });
      const handle = h.client.workflow.getHandle(`settlement:${batchId}`);
      const desc = await handle.describe();
      expect(desc.type).toBe('settlementReconciliation');
      expect(await runs(`settlement:${batchId}`)).toBe(1);
      await handle.terminate('test done');
    }));
});
