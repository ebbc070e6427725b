import { condition, patched, setHandler } from '@temporalio/workflow';
import type { Order, OrderInput } from '../src/domain/orders';
import { connectorProxies, inline, local } from './activity-proxies';
import { cancelSignal, fulfilledSignal } from './definitions';
import { Flow } from './flow';

type ErpActivities = ReturnType<typeof connectorProxies>['erpActs'];

/**
 * Runs started after this patch validate in a local activity and move LbStage only between business stages
 * (ordering, authorizing, awaiting-fulfilment, capturing, posting): each search-attribute change costs the server a
 * history event and a visibility write, and the status query still names the running step. Older runs keep their
 * per-step stages and their validate activity, so their histories replay unchanged.
 */
export const LEAN_STAGES_PATCH = 'order-to-cash-lean-stages';

/**
 * Runs started after this patch move LbStage only where a run can rest: `ordering` (customer, sales order,
 * authorization), `awaiting-fulfilment`, then `invoicing` (invoice draft, capture, posting, payment, inventory; the
 * status query's `step` and `pivotPassed` say how far), then the outcome; a POS sale captured at the terminal goes from
 * `ordering` to `posting`. On the dev server each change of a search attribute costs a visibility write of about
 * 10 ms CPU (measured with bench:sagas), for a stage that a quick step would hold for milliseconds.
 */
export const REST_STAGES_PATCH = 'order-to-cash-rest-stages';

/** One stage change, per generation of runs: per step (oldest), `lean` (LEAN_STAGES_PATCH), `rest` (newest). */
interface StagePoint {
  step: string;
  lean?: string;
  rest?: string;
}
type StageFn = (point: StagePoint) => void;

/** A POS sale captured at the terminal: the money has moved, so the ERP side is recovered forward. */
async function preCaptured(
  flow: Flow,
  stage: StageFn,
  erpActs: ErpActivities,
  order: Order,
  customerErpId: string,
  salesOrderErpId: string,
  transactionId: string,
): Promise<OrderResult> {
  flow.pivot();
  flow.setAmount('captured', order.totalMinor);
  const erp = order.erp;
  stage({ step: 'invoicing', lean: 'posting', rest: 'posting' });
  const invoice = await flow.step('createInvoice', { erp, order, customerErpId, salesOrderErpId }, (i) =>
    erpActs.createInvoice(i),
  );
  await posting(flow, stage, erpActs, order, customerErpId, invoice.erpId, transactionId, order.payment.brand ?? null);
  return {
    outcome: 'completed',
    salesOrderErpId,
    invoiceErpId: invoice.erpId,
    transactionId,
    capturedMinor: order.totalMinor,
    customerErpId,
  };
}

/** After the pivot: post the invoice, apply the payment, adjust inventory; each parks on failure, none compensates. */
async function posting(
  flow: Flow,
  stage: StageFn,
  erpActs: ErpActivities,
  order: Order,
  customerErpId: string,
  invoiceErpId: string,
  transactionId: string,
  brand: string | null,
): Promise<void> {
  const erp = order.erp;
  stage({ step: 'posting', lean: 'posting' });
  await flow.step('postInvoice', { erp, invoiceErpId }, (i) => erpActs.postInvoice(i));
  await flow.step(
    'applyPayment',
    { erp, order, invoiceErpId, customerErpId, transactionId, brand, mappingVersion: flow.mappingVersion },
    (i) => erpActs.applyPayment({ ...i, mappingVersion: flow.mappingVersion ?? i.mappingVersion }),
  );
  stage({ step: 'inventory' });
  await flow.step('adjustInventory', { erp, order }, (i) => erpActs.adjustInventory(i));
  flow.status.outcome = 'completed';
}

export interface OrderResult {
  outcome: 'completed' | 'declined' | 'cancelled' | 'expired';
  salesOrderErpId?: string;
  invoiceErpId?: string;
  transactionId?: string;
  capturedMinor?: number;
  customerErpId?: string;
}

/** Order-to-cash: customer, sales order, authorization, fulfilment, capture (pivot), invoice, payment, inventory. */
export async function orderToCash(input: OrderInput): Promise<OrderResult> {
  const lean = patched(LEAN_STAGES_PATCH);
  const rest = lean && patched(REST_STAGES_PATCH);
  const flow = new Flow({
    initialStage: lean ? 'ordering' : undefined,
    flow: 'order',
    businessKey: input.orderId,
    source: input.source,
    erp: input.erp,
    currency: input.currency,
    amountMinor: input.totalMinor,
    input,
    maxParkWait: input.maxParkWait ?? '7 days',
  });
  const { erpActs, gp } = connectorProxies(input.erp, input.queues);
  let fulfilled = false;
  let cancelled: string | undefined;
  setHandler(fulfilledSignal, () => void (fulfilled = true));
  setHandler(cancelSignal, (c) => void (cancelled = c?.reason ?? 'cancelled'));
  flow.setAmount('total', input.totalMinor);
  // A point that names no stage for the run's generation, or the stage it is in already, changes nothing.
  const stage: StageFn = (point) => {
    const next = rest ? point.rest : lean ? point.lean : point.step;
    if (next && next !== flow.status.stage) flow.stage(next);
  };

  return flow.run(async () => {
    stage({ step: 'validating' });
    const order: Order = await flow.step('validate', input, (i) =>
      lean ? inline.validateOrder(i) : local.validateOrder(i),
    );
    const erp = order.erp;

    stage({ step: 'customer' });
    const customer = await flow.step('upsertCustomer', { erp, source: order.source, customer: order.customer }, (i) =>
      erpActs.upsertCustomer(i),
    );

    stage({ step: 'sales-order' });
    const so = await flow.step(
      'createSalesOrder',
      { erp, order, customerErpId: customer.erpId },
      (i) => erpActs.createSalesOrder(i),
      () => erpActs.cancelSalesOrder({ erp }),
    );

    if (order.payment.capturedTransactionId) {
      return await preCaptured(
        flow,
        stage,
        erpActs,
        order,
        customer.erpId,
        so.erpId,
        order.payment.capturedTransactionId,
      );
    }

    stage({ step: 'authorizing', lean: 'authorizing' });
    const auth = await flow.step(
      'authorize',
      { order },
      (i) => gp.authorizePayment(i),
      () => gp.voidAuthorization(),
    );
    if (auth.declined) {
      await flow.end('declined', `payment declined: ${auth.message ?? 'no reason given'}`);
      return { outcome: 'declined', salesOrderErpId: so.erpId, transactionId: auth.transactionId };
    }
    flow.setAmount('authorized', auth.amountMinor);

    stage({ step: 'awaiting-fulfilment', lean: 'awaiting-fulfilment', rest: 'awaiting-fulfilment' });
    const decided = await condition(() => fulfilled || cancelled !== undefined, order.fulfilmentTimeout);
    if (!decided || cancelled !== undefined) {
      const outcome = decided ? 'cancelled' : 'expired';
      await flow.end(outcome, decided ? `cancelled: ${cancelled}` : 'no fulfilment before the timeout');
      return { outcome, salesOrderErpId: so.erpId, transactionId: auth.transactionId };
    }

    // The invoice is drafted before the capture, so an invoice the ERP rejects never leaves money captured.
    stage({ step: 'invoicing', lean: 'capturing', rest: 'invoicing' });
    const invoice = await flow.step(
      'createInvoice',
      { erp, order, customerErpId: customer.erpId, salesOrderErpId: so.erpId },
      (i) => erpActs.createInvoice(i),
      () => erpActs.reverseInvoice({ erp }),
    );

    stage({ step: 'capturing' });
    const capture = await flow.step(
      'capture',
      { transactionId: auth.transactionId, amountMinor: order.totalMinor },
      (i) => gp.capturePayment(i),
    );
    flow.pivot();
    flow.setAmount('captured', capture.amountMinor);

    await posting(flow, stage, erpActs, order, customer.erpId, invoice.erpId, auth.transactionId, auth.brand);
    return {
      outcome: 'completed',
      salesOrderErpId: so.erpId,
      invoiceErpId: invoice.erpId,
      transactionId: auth.transactionId,
      capturedMinor: capture.amountMinor,
      customerErpId: customer.erpId,
    };
  });
}
