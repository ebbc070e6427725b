import { failure } from '../src/domain/errors';
import { idempotencyKey, workflowIds } from '../src/domain/ids';
import { issueList, refundInputSchema, type Refund, type RefundInput } from '../src/domain/orders';
import { findWrite, idempotentWrite } from '../src/db/external-writes';
import type { Db } from '../src/db';
import type { ErpConnector, ErpDocRef, ErpSystem } from '../src/connectors/erp/types';
import { REFUND_SKU } from '../src/connectors/erp/common';
import { currentWorkflowId, undoCreated, writeContext } from './context';
import { need, type ActivityDeps } from './deps';

export interface RefundableCheck {
  transactionId: string;
  capturedMinor: number;
  refundedMinor: number;
  refundableMinor: number;
  invoiceErpId: string | null;
  customerErpId: string | null;
}

async function linked(db: Db, source: string, orderId: string, target: string): Promise<string | null> {
  const row = await db('id_links')
    .where({ entity: 'order', source_system: source, source_id: orderId, target_system: target })
    .first();
  return row?.target_id ?? null;
}

/** Side effects of the refund / credit memo saga. */
export function createRefundActivities(deps: ActivityDeps) {
  const db = deps.db;
  const erp = (system: ErpSystem): ErpConnector => need(deps.erp, 'erp')(system);
  const heartland = () => need(deps.heartland, 'heartland');

  /** The original order's capture, invoice and customer, found through id_links and external_writes. */
  async function original(r: Refund) {
    const orderWf = workflowIds.order(r.order.source, r.order.orderId);
    const capture = await findWrite(db, idempotencyKey(orderWf, 'capture'));
    const transactionId = await linked(db, r.order.source, r.order.orderId, 'heartland');
    const invoiceErpId = await linked(db, r.order.source, r.order.orderId, `${r.erp}:invoice`);
    const customerLink = await db('id_links')
      .where({
        entity: 'order-customer',
        source_system: r.order.source,
        source_id: r.order.orderId,
        target_system: r.erp,
      })
      .first();
    return {
      orderWf,
      capture,
      transactionId,
      invoiceErpId,
      customerErpId: (customerLink?.target_id as string) ?? null,
    };
  }

  return {
    /** Validates a refund request; bad input is a non-retryable ValidationError listing every field. */
    async validateRefund(input: RefundInput): Promise<Refund> {
      const parsed = refundInputSchema.safeParse(input);
      if (!parsed.success) {
        throw failure(
          'ValidationError',
          `refund ${input?.refundId ?? '?'} is invalid: ${issueList(parsed.error).join('; ')}`,
        );
      }
      return parsed.data;
    },

    /**
     * Checks that the amount is refundable: captured minus what was already refunded (partial refunds included).
     * Too large is a non-retryable NotRefundable, before anything is written anywhere.
     */
    async checkRefundable(a: { refund: Refund }): Promise<RefundableCheck> {
      const r = a.refund;
      const o = await original(r);
      if (!o.transactionId || !o.capture || o.capture.status !== 'done') {
        throw failure('NotRefundable', `order ${r.order.source}:${r.order.orderId} has no captured payment to refund`);
      }
      const captured = (o.capture.result as { amountMinor: number }).amountMinor;
      const [{ refunded }] = await db('external_writes')
        .where({ operation: 'refund', target: 'heartland', status: 'done' })
        .whereRaw(`result->>'parentTransactionId' = ?`, [o.transactionId])
        .whereNot({ workflow_id: currentWorkflowId() })
        .sum({ refunded: db.raw(`(result->>'amountMinor')::bigint`) });
      const refundedMinor = Number(refunded ?? 0);
      const refundableMinor = captured - refundedMinor;
      if (r.amountMinor > refundableMinor) {
        throw failure(
          'NotRefundable',
          `refund of ${r.amountMinor} exceeds the refundable amount ${refundableMinor} (captured ${captured}, already refunded ${refundedMinor}) ${r.currency}`,
          { code: 'AMOUNT_EXCEEDS_REFUNDABLE', capturedMinor: captured, refundedMinor, refundableMinor },
        );
      }
      return {
        transactionId: o.transactionId,
        capturedMinor: captured,
        refundedMinor,
        refundableMinor,
        invoiceErpId: o.invoiceErpId,
        customerErpId: o.customerErpId,
      };
    },

    /** The original order's invoice and customer (for a POS refund, whose money already moved). */
    async findOriginalOrder(a: {
      refund: Refund;
    }): Promise<{ invoiceErpId: string | null; customerErpId: string | null }> {
      const o = await original(a.refund);
      if (!o.customerErpId) {
        throw failure(
          'ValidationError',
          `order ${a.refund.order.source}:${a.refund.order.orderId} is unknown to Ledgerbridge`,
        );
      }
      return { invoiceErpId: o.invoiceErpId, customerErpId: o.customerErpId };
    },

    /** Drafts the ERP credit memo for the refund (undo: cancel the draft). */
    async draftCreditMemo(a: {
      refund: Refund;
      customerErpId: string;
      invoiceErpId: string | null;
    }): Promise<ErpDocRef> {
      const workflowId = currentWorkflowId();
      const r = a.refund;
      const lines = r.lines.length
        ? r.lines
        : [{ sku: REFUND_SKU, description: r.reason, qty: 1, unitPriceMinor: r.amountMinor, taxMinor: 0 }];
      return erp(r.erp).draftCreditMemo(
        {
          ref: workflowId,
          customerErpId: a.customerErpId,
          invoiceErpId: a.invoiceErpId ?? undefined,
          currency: r.currency,
          date: r.date,
          lines,
          totalMinor: r.amountMinor,
          reason: r.reason,
        },
        writeContext(workflowId, 'credit-memo'),
      );
    },

    /** Undo of draftCreditMemo: cancels the draft this run created, if any (idempotent). */
    async cancelCreditMemo(a: { erp: ErpSystem }): Promise<ErpDocRef | null> {
      const workflowId = currentWorkflowId();
      return undoCreated(db, workflowId, 'credit-memo', (erpId) =>
        erp(a.erp).cancelCreditMemo(erpId, writeContext(workflowId, 'credit-memo/cancel')),
      );
    },

    /** Refunds at Heartland once: the pivot of the refund saga. */
    async refundPayment(a: { transactionId: string; amountMinor: number }) {
      const workflowId = currentWorkflowId();
      const key = idempotencyKey(workflowId, 'refund');
      const gp = heartland();
      const res = await idempotentWrite(db, {
        key,
        target: 'heartland',
        operation: 'refund',
        workflowId,
        findRemote: async () => {
          const tx = (await gp.findTransactionsByReference(workflowId)).find((t) => t.type === 'REFUND');
          return tx
            ? {
                externalId: tx.id,
                result: {
                  transactionId: tx.id,
                  amountMinor: tx.amountMinor,
                  parentTransactionId: a.transactionId,
                  status: tx.status,
                },
              }
            : null;
        },
        write: async () => {
          const tx = await gp.refund(a.transactionId, {
            amountMinor: a.amountMinor,
            reference: workflowId,
            idempotencyKey: key,
          });
          return {
            externalId: tx.id,
            result: {
              transactionId: tx.id,
              amountMinor: tx.amountMinor,
              parentTransactionId: a.transactionId,
              status: tx.status,
            },
          };
        },
      });
      return res.result;
    },

    /** Posts the credit memo, which applies it against the original invoice. */
    async postCreditMemo(a: { erp: ErpSystem; creditMemoErpId: string }): Promise<ErpDocRef> {
      const workflowId = currentWorkflowId();
      return erp(a.erp).postCreditMemo(a.creditMemoErpId, writeContext(workflowId, 'credit-memo/post'));
    },

    /** Puts returned lines back on hand. */
    async restock(a: { refund: Refund }): Promise<void> {
      const workflowId = currentWorkflowId();
      const r = a.refund;
      const lines = r.lines.filter((l) => l.sku !== REFUND_SKU);
      if (lines.length === 0) return;
      await erp(r.erp).adjustInventory(
        lines.map((l) => ({ sku: l.sku, location: r.location, delta: l.qty })),
        writeContext(workflowId, 'restock'),
      );
    },
  };
}
