import { condition, setHandler } from '@temporalio/workflow';
import type { Order, OrderInput } from '../src/domain/orders';
import { connectorProxies, local } from './activity-proxies';
import { cancelSignal, fulfilledSignal } from './definitions';
import { Flow } from './flow';

type ErpActivities = ReturnType<typeof connectorProxies>['erpActs'];

/** A POS sale captured at the terminal: the money has moved, so the ERP side is recovered forward. */
async function preCaptured(
  flow: Flow,
  erpActs: ErpActivities,
  order: Order,
  customerErpId: string,
  salesOrderErpId: string,
  transactionId: string,
): Promise<OrderResult> {
  flow.pivot();
  flow.setAmount('captured', order.totalMinor);
  const erp = order.erp;
  flow.stage('invoicing');
  const invoice = await flow.step('createInvoice', { erp, order, customerErpId, salesOrderErpId }, (i) =>
    erpActs.createInvoice(i),
  );
  await posting(flow, erpActs, order, customerErpId, invoice.erpId, transactionId, order.payment.brand ?? null);
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
  erpActs: ErpActivities,
  order: Order,
  customerErpId: string,
  invoiceErpId: string,
  transactionId: string,
  brand: string | null,
): Promise<void> {
  const erp = order.erp;
  flow.stage('posting');
  await flow.step('postInvoice', { erp, invoiceErpId }, (i) => erpActs.postInvoice(i));
  await flow.step(
    'applyPayment',
    { erp, order, invoiceErpId, customerErpId, transactionId, brand, mappingVersion: flow.mappingVersion },
    (i) => erpActs.applyPayment({ ...i, mappingVersion: flow.mappingVersion ?? i.mappingVersion }),
  );
  flow.stage('inventory');
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
  const flow = new Flow({
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

  return flow.run(async () => {
    flow.stage('validating');
    const order: Order = await flow.step('validate', input, (i) => local.validateOrder(i));
    const erp = order.erp;

    flow.stage('customer');
    const customer = await flow.step('upsertCustomer', { erp, source: order.source, customer: order.customer }, (i) =>
      erpActs.upsertCustomer(i),
    );

    flow.stage('sales-order');
    const so = await flow.step(
      'createSalesOrder',
      { erp, order, customerErpId: customer.erpId },
      (i) => erpActs.createSalesOrder(i),
      () => erpActs.cancelSalesOrder({ erp }),
    );

    if (order.payment.capturedTransactionId) {
      return await preCaptured(flow, erpActs, order, customer.erpId, so.erpId, order.payment.capturedTransactionId);
    }

    flow.stage('authorizing');
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

    flow.stage('awaiting-fulfilment');
    const decided = await condition(() => fulfilled || cancelled !== undefined, order.fulfilmentTimeout);
    if (!decided || cancelled !== undefined) {
      const outcome = decided ? 'cancelled' : 'expired';
      await flow.end(outcome, decided ? `cancelled: ${cancelled}` : 'no fulfilment before the timeout');
      return { outcome, salesOrderErpId: so.erpId, transactionId: auth.transactionId };
    }

    // The invoice is drafted before the capture, so an invoice the ERP rejects never leaves money captured.
    flow.stage('invoicing');
    const invoice = await flow.step(
      'createInvoice',
      { erp, order, customerErpId: customer.erpId, salesOrderErpId: so.erpId },
      (i) => erpActs.createInvoice(i),
      () => erpActs.reverseInvoice({ erp }),
    );

    flow.stage('capturing');
    const capture = await flow.step(
      'capture',
      { transactionId: auth.transactionId, amountMinor: order.totalMinor },
      (i) => gp.capturePayment(i),
    );
    flow.pivot();
    flow.setAmount('captured', capture.amountMinor);

    await posting(flow, erpActs, order, customer.erpId, invoice.erpId, auth.transactionId, auth.brand);
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
