import { z } from 'zod';
import { retailSchemas } from '../../connectors/heartland/retail-schemas';
import { keptValues, scrubPlan, scrubWith, type ScrubPlan } from '../../domain/card-data-fields';
import {
  erpCreditMemoSchema,
  erpDeliveryDoneSchema,
  erpEnvelopeSchema,
  gpBatchCloseSchema,
  gpEnvelopeSchema,
  gpTransactionSchema,
  shopifyOrderSchema,
  shopifyRefundSchema,
} from './schemas';
import type { WebhookSource } from './secrets';

/**
 * The schema of a webhook body as the routing table parses it, per source and event type: the fields it parses as
 * ids, references, amounts and contact keys are kept by the card-data scrubber, every other field is free text.
 */
export function webhookBodySchema(source: WebhookSource, eventType: string): z.ZodType {
  switch (source) {
    case 'heartland':
      return eventType === 'BATCH_CLOSE'
        ? gpBatchCloseSchema
        : eventType === 'REFUND'
          ? gpTransactionSchema
          : gpEnvelopeSchema;
    case 'heartland-retail': {
      const s = retailSchemas();
      return eventType === 'sales_transaction_completed' ? s.envelope.extend({ data: s.ticket }) : s.envelope;
    }
    case 'commerce':
      return eventType.startsWith('refunds/') ? shopifyRefundSchema : shopifyOrderSchema;
    case 'odoo':
    case 'm3':
    case 'p21':
      return eventType === 'delivery.done'
        ? erpEnvelopeSchema.extend({ data: erpDeliveryDoneSchema })
        : eventType === 'credit_memo.requested'
          ? erpEnvelopeSchema.extend({ data: erpCreditMemoSchema })
          : erpEnvelopeSchema;
  }
}

const plans = new Map<string, ScrubPlan>();

function planFor(source: WebhookSource, eventType: string): ScrubPlan {
  const key = `${source}\u0000${eventType}`;
  let plan = plans.get(key);
  if (!plan) {
    plan = scrubPlan(webhookBodySchema(source, eventType));
    if (plans.size < 100) plans.set(key, plan);
  }
  return plan;
}

/** A webhook body with card data scrubbed from its free text; its ids, references and amounts exactly as received. */
export function scrubWebhook(source: WebhookSource, eventType: string, body: unknown): unknown {
  return scrubWith(body, planFor(source, eventType));
}

/** The ids, references, amounts and contact keys of a stored webhook body (what it legitimately carries unscrubbed). */
export function webhookKeptValues(source: WebhookSource, eventType: string, body: unknown) {
  return keptValues(body, planFor(source, eventType));
}
