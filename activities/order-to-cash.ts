import { failure } from '../src/domain/errors';
import { idempotencyKey } from '../src/domain/ids';
import { customerLockKeys, findDuplicate } from '../src/domain/dedup';
import { issueList, orderInputSchema, type Order, type OrderInput } from '../src/domain/orders';
import { idempotentWrite } from '../src/db/external-writes';
import { withAdvisoryLocks } from '../src/db/locks';
import type { Knex } from 'knex';
import type { Db } from '../src/db';
import type { ErpConnector, ErpDocRef, ErpSystem } from '../src/connectors/erp/types';
import { SHIPPING_SKU } from '../src/connectors/erp/common';
import type { GpTransaction } from '../src/connectors/heartland/gp-types';
import { getGlRules, journalFor } from '../src/mapping/gl-rules';
import { currentWorkflowId, undoCreated, writeContext } from './context';
import { need, type ActivityDeps } from './deps';

export interface PaymentResult {
  transactionId: string;
  status: string;
  declined: boolean;
  message: string | null;
  amountMinor: number;
  brand: string | null;
  last4: string | null;
}

function paymentResult(tx: GpTransaction): PaymentResult {
  return {
    transactionId: tx.id,
    status: tx.status,
    declined: tx.declined,
    message: tx.message,
    amountMinor: tx.amountMinor,
    brand: tx.cardBrand,
    last4: tx.cardLast4,
  };
}

/** A cross-reference between a business key and an external document (the external_id pattern). */
export interface Link {
  entity: string;
  source: string;
  sourceId: string;
  target: string;
  targetId: string;
}

/** Records cross-references, all in one statement; a link that exists is pointed at the new target id. */
export async function link(db: Db | Knex.Transaction, ...links: Link[]) {
  await db('id_links')
    .insert(
      links.map((l) => ({
        entity: l.entity,
        source_system: l.source,
        source_id: l.sourceId,
        target_system: l.target,
        target_id: l.targetId,
      })),
    )
    .onConflict(['entity', 'source_system', 'source_id', 'target_system'])
    .merge({ target_id: db.raw('excluded.target_id'), updated_at: db.fn.now() });
}

/** ERP document lines: the order lines plus shipping as a service line, so the document total is the order total. */
export function erpLines(order: Order) {
  return order.shippingMinor > 0
    ? [
        ...order.lines,
        { sku: SHIPPING_SKU, description: 'Shipping', qty: 1, unitPriceMinor: order.shippingMinor, taxMinor: 0 },
      ]
    : order.lines;
}

/** Side effects of the order-to-cash saga. */
export function createOrderToCashActivities(deps: ActivityDeps) {
  const db = deps.db;
  const erp = (system: ErpSystem): ErpConnector => need(deps.erp, 'erp')(system);
  const heartland = () => need(deps.heartland, 'heartland');

  return {
    /** Validates and normalises an order; bad input is a non-retryable ValidationError listing every field. */
    async validateOrder(input: OrderInput): Promise<Order> {
      const parsed = orderInputSchema.safeParse(input);
      if (!parsed.success) {
        throw failure(
          'ValidationError',
          `order ${input?.orderId ?? '?'} is invalid: ${issueList(parsed.error).join('; ')}`,
        );
      }
      return parsed.data;
    },

    /** Finds the ERP customer (link, external ref, email, phone + fuzzy name) or creates it; returns its ERP id. */
    async upsertCustomer(a: {
      erp: ErpSystem;
      source: string;
      customer: Order['customer'];
    }): Promise<{ erpId: string; matchedBy: string }> {
      const c = a.customer;
      const linkedTo = async () =>
        (await db('id_links')
          .where({ entity: 'customer', source_system: a.source, source_id: c.externalRef, target_system: a.erp })
          .first()) as { target_id: string } | undefined;
      const known = await linkedTo();
      if (known) return { erpId: known.target_id, matchedBy: 'link' };
      // Two orders of one new customer can arrive together, even under two external refs (an account and a guest
      // checkout): serialise find-or-create on every identity the dedup matches on, so the ERP never gets two
      // records for one person (P21 and Sage Pro cannot refuse the second one themselves).
      return withAdvisoryLocks(db, customerLockKeys(a.erp, a.source, c), async () => {
        const linked = await linkedTo();
        if (linked) return { erpId: linked.target_id, matchedBy: 'link' };
        const conn = erp(a.erp);
        const queries = [
          { externalRef: c.externalRef },
          ...(c.email ? [{ email: c.email }] : []),
          ...(c.phone ? [{ phone: c.phone }] : []),
        ];
        const candidates = (await Promise.all(queries.map((q) => conn.findCustomers(q)))).flat();
        const dup = findDuplicate(c, candidates);
        const { erpId, matchedBy } = dup
          ? { erpId: dup.candidate.erpId, matchedBy: dup.reason as string }
          : {
              erpId: (await conn.upsertCustomer(c, writeContext(currentWorkflowId(), 'customer'))).erpId,
              matchedBy: 'created',
            };
        await link(db, {
          entity: 'customer',
          source: a.source,
          sourceId: c.externalRef,
          target: a.erp,
          targetId: erpId,
        });
        return { erpId, matchedBy };
      });
    },

    /** Creates the ERP sales order once (our order id is its reference). */
    async createSalesOrder(a: { erp: ErpSystem; order: Order; customerErpId: string }): Promise<ErpDocRef> {
      const workflowId = currentWorkflowId();
      const o = a.order;
      const doc = await erp(a.erp).createSalesOrder(
        {
          ref: workflowId,
          poNumber: o.orderId,
          customerErpId: a.customerErpId,
          currency: o.currency,
          date: o.orderDate,
          lines: erpLines(o),
          totalMinor: o.totalMinor,
        },
        writeContext(workflowId, 'sales-order'),
      );
      await link(
        db,
        { entity: 'order', source: o.source, sourceId: o.orderId, target: `${a.erp}:sales-order`, targetId: doc.erpId },
        { entity: 'order-customer', source: o.source, sourceId: o.orderId, target: a.erp, targetId: a.customerErpId },
      );
      return doc;
    },

    /** Undo of createSalesOrder: cancels the order this run created, if it created one (idempotent). */
    async cancelSalesOrder(a: { erp: ErpSystem }): Promise<ErpDocRef | null> {
      const workflowId = currentWorkflowId();
      return undoCreated(db, workflowId, 'sales-order', (erpId) =>
        erp(a.erp).cancelSalesOrder(erpId, writeContext(workflowId, 'sales-order/cancel')),
      );
    },

    /** Authorizes the payment at Heartland once (capture later); a decline is returned, not thrown. */
    async authorizePayment(a: { order: Order }): Promise<PaymentResult> {
      const workflowId = currentWorkflowId();
      const key = idempotencyKey(workflowId, 'authorize');
      const gp = heartland();
      const res = await idempotentWrite(db, {
        key,
        target: 'heartland',
        operation: 'authorize',
        workflowId,
        findRemote: async () => {
          const found = (await gp.findTransactionsByReference(workflowId)).find((t) => t.type === 'SALE');
          return found ? { externalId: found.id, result: paymentResult(found) } : null;
        },
        write: async () => {
          const tx = await gp.sale({
            amountMinor: a.order.totalMinor,
            currency: a.order.currency,
            paymentToken: a.order.payment.token!,
            reference: workflowId,
            orderReference: a.order.orderId,
            captureMode: 'LATER',
            channel: a.order.source === 'pos' ? 'CP' : 'CNP',
            idempotencyKey: key,
          });
          return { externalId: tx.id, result: paymentResult(tx) };
        },
      });
      if (!res.result.declined) {
        const o = a.order;
        await link(db, {
          entity: 'order',
          source: o.source,
          sourceId: o.orderId,
          target: 'heartland',
          targetId: res.result.transactionId,
        });
      }
      return res.result;
    },

    /** Undo of authorizePayment: voids the authorization this run made, if any (idempotent). */
    async voidAuthorization(): Promise<PaymentResult | null> {
      const workflowId = currentWorkflowId();
      return undoCreated(db, workflowId, 'authorize', async (txnId) => {
        const gp = heartland();
        const current = await gp.getTransaction(txnId);
        if (current.status === 'REVERSED' || current.status === 'DECLINED') return paymentResult(current);
        const key = idempotencyKey(workflowId, 'authorize/void');
        const res = await idempotentWrite(db, {
          key,
          target: 'heartland',
          operation: 'reversal',
          workflowId,
          write: async () => {
            const tx = await gp.reversal(txnId, { idempotencyKey: key });
            return { externalId: tx.id, result: paymentResult(tx) };
          },
        });
        return res.result;
      });
    },

    /** Captures the authorization once: the pivot of the saga (money moves). */
    async capturePayment(a: { transactionId: string; amountMinor: number }): Promise<PaymentResult> {
      const workflowId = currentWorkflowId();
      const key = idempotencyKey(workflowId, 'capture');
      const gp = heartland();
      const res = await idempotentWrite(db, {
        key,
        target: 'heartland',
        operation: 'capture',
        workflowId,
        findRemote: async () => {
          const tx = await gp.getTransaction(a.transactionId);
          return tx.status === 'CAPTURED' || tx.status === 'BATCHED' || tx.status === 'FUNDED'
            ? { externalId: tx.id, result: paymentResult(tx) }
            : null;
        },
        write: async () => {
          const tx = await gp.capture(a.transactionId, { amountMinor: a.amountMinor, idempotencyKey: key });
          return { externalId: tx.id, result: paymentResult(tx) };
        },
      });
      return res.result;
    },

    /** Creates the ERP invoice (draft) for the order; posted only after the capture. */
    async createInvoice(a: { erp: ErpSystem; order: Order; customerErpId: string; salesOrderErpId: string }) {
      const workflowId = currentWorkflowId();
      const o = a.order;
      const doc = await erp(a.erp).createInvoice(
        {
          ref: workflowId,
          customerErpId: a.customerErpId,
          salesOrderErpId: a.salesOrderErpId,
          currency: o.currency,
          date: o.orderDate,
          lines: erpLines(o),
          totalMinor: o.totalMinor,
        },
        writeContext(workflowId, 'invoice'),
      );
      const orderLink = { entity: 'order', source: o.source, sourceId: o.orderId };
      await link(
        db,
        { ...orderLink, target: `${a.erp}:invoice`, targetId: doc.erpId },
        ...(o.payment.capturedTransactionId
          ? [{ ...orderLink, target: 'heartland', targetId: o.payment.capturedTransactionId }]
          : []),
      );
      return doc;
    },

    /** Undo of createInvoice: reverses the invoice this run created, if any (idempotent). */
    async reverseInvoice(a: { erp: ErpSystem }): Promise<ErpDocRef | null> {
      const workflowId = currentWorkflowId();
      return undoCreated(db, workflowId, 'invoice', (erpId) =>
        erp(a.erp).reverseInvoice(erpId, writeContext(workflowId, 'invoice/reverse')),
      );
    },

    /** Posts the invoice in the ERP. */
    async postInvoice(a: { erp: ErpSystem; invoiceErpId: string }): Promise<ErpDocRef> {
      const workflowId = currentWorkflowId();
      return erp(a.erp).postInvoice(a.invoiceErpId, writeContext(workflowId, 'invoice/post'));
    },

    /** Applies the captured payment to the invoice, in the journal that GL rules give for the payment method. */
    async applyPayment(a: {
      erp: ErpSystem;
      order: Order;
      invoiceErpId: string;
      customerErpId: string;
      transactionId: string;
      brand: string | null;
      mappingVersion?: number | null;
    }): Promise<ErpDocRef> {
      const workflowId = currentWorkflowId();
      const rules = await getGlRules(db, a.mappingVersion);
      const method = a.brand ? `${a.order.payment.method}:${a.brand}` : a.order.payment.method;
      return erp(a.erp).applyPayment(
        {
          ref: workflowId,
          invoiceErpId: a.invoiceErpId,
          customerErpId: a.customerErpId,
          amountMinor: a.order.totalMinor,
          currency: a.order.currency,
          date: a.order.orderDate,
          method,
          journal: journalFor(rules.rules, method),
          processorRef: a.transactionId,
        },
        writeContext(workflowId, 'payment'),
      );
    },

    /** Takes the sold quantities off ERP inventory at the order's location. */
    async adjustInventory(a: { erp: ErpSystem; order: Order }): Promise<void> {
      const workflowId = currentWorkflowId();
      await erp(a.erp).adjustInventory(
        a.order.lines.map((l) => ({ sku: l.sku, location: a.order.location, delta: -l.qty })),
        writeContext(workflowId, 'inventory'),
      );
    },
  };
}
