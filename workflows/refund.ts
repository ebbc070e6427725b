import type { Refund, RefundInput } from '../src/domain/orders';
import { connectorProxies, local } from './activity-proxies';
import { Flow } from './flow';

export interface RefundResult {
  outcome: 'completed';
  creditMemoErpId: string;
  refundTransactionId?: string;
  refundedMinor: number;
}

/**
 * Refund / credit memo. A POS refund (money already moved) becomes a posted credit memo plus the restock, all
 * recovered forward. A requested refund checks the refundable amount, drafts the credit memo (undo: cancel),
 * refunds at Heartland (the pivot), then posts the credit memo and restocks.
 */
export async function refund(input: RefundInput): Promise<RefundResult> {
  const flow = new Flow({
    flow: 'refund',
    businessKey: input.refundId,
    source: input.source,
    erp: input.erp,
    currency: input.currency,
    amountMinor: input.amountMinor,
    input,
    maxParkWait: input.maxParkWait ?? '7 days',
  });
  const { erpActs, gp } = connectorProxies(input.erp, input.queues);
  flow.setAmount('requested', input.amountMinor);

  return flow.run(async () => {
    flow.stage('validating');
    const r: Refund = await flow.step('validate', input, (i) => local.validateRefund(i));
    const erp = r.erp;

    if (r.kind === 'pos') {
      flow.pivot(); // the POS already refunded the card: everything here recovers forward
      const orig = await flow.step('findOriginalOrder', { refund: r }, (i) => local.findOriginalOrder(i));
      flow.stage('credit-memo');
      const cm = await flow.step(
        'draftCreditMemo',
        { refund: r, customerErpId: orig.customerErpId!, invoiceErpId: orig.invoiceErpId },
        (i) => erpActs.draftCreditMemo(i),
      );
      await flow.step('postCreditMemo', { erp, creditMemoErpId: cm.erpId }, (i) => erpActs.postCreditMemo(i));
      if (r.restock) {
        flow.stage('restock');
        await flow.step('restock', { refund: r }, (i) => erpActs.restock(i));
      }
      flow.status.outcome = 'completed';
      flow.setAmount('refunded', r.amountMinor);
      return {
        outcome: 'completed',
        creditMemoErpId: cm.erpId,
        refundTransactionId: r.processorRefundId,
        refundedMinor: r.amountMinor,
      };
    }

    // Not parked: a refund larger than what is refundable is rejected outright, before anything is written.
    flow.stage('checking');
    const check = await local.checkRefundable({ refund: r });
    flow.setAmount('refundable', check.refundableMinor);

    flow.stage('credit-memo');
    const cm = await flow.step(
      'draftCreditMemo',
      { refund: r, customerErpId: check.customerErpId!, invoiceErpId: check.invoiceErpId },
      (i) => erpActs.draftCreditMemo(i),
      () => erpActs.cancelCreditMemo({ erp }),
    );

    flow.stage('refunding');
    const refunded = await flow.step(
      'refundPayment',
      { transactionId: check.transactionId, amountMinor: r.amountMinor },
      (i) => gp.refundPayment(i),
    );
    flow.pivot();
    flow.setAmount('refunded', refunded.amountMinor);

    flow.stage('posting');
    await flow.step('postCreditMemo', { erp, creditMemoErpId: cm.erpId }, (i) => erpActs.postCreditMemo(i));
    if (r.restock) {
      flow.stage('restock');
      await flow.step('restock', { refund: r }, (i) => erpActs.restock(i));
    }
    flow.status.outcome = 'completed';
    return {
      outcome: 'completed',
      creditMemoErpId: cm.erpId,
      refundTransactionId: refunded.transactionId,
      refundedMinor: refunded.amountMinor,
    };
  });
}
