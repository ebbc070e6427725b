import { request } from 'undici';
import { signGpWebhook } from '../../connectors/heartland/webhook-signature';

/**
 * GP webhook deliveries: a minified JSON POST signed with `X-GP-Signature` (sha512 hex of raw body + app key).
 * A payment event is the transaction resource as the API returns it. A batch-close event keeps the same envelope
 * (`id`, `status`, `amount`, `currency`, `reference`, `payment_method{result, message, entry_mode}`,
 * `action{type, result_code}`) with `action.type` "BATCH_CLOSE", `status` "CLOSED", `id` and `reference` the batch
 * reference, and the close totals (`batch_id`, `transaction_count`, `sales`, `refunds`, `brand_breakdown`) added.
 */

export interface WebhookDelivery {
  status: number;
  body: string;
}

/** Posts the same signed event `times` times (a redelivery sends byte-identical bodies) and returns each answer. */
export async function sendGpWebhook(
  url: string,
  event: unknown,
  appKey: string,
  opts: { times?: number; headers?: Record<string, string> } = {},
): Promise<WebhookDelivery[]> {
  const { body, headers } = signGpWebhook(event, appKey);
  const out: WebhookDelivery[] = [];
  for (let i = 0; i < (opts.times ?? 1); i++) {
    const res = await request(url, {
      method: 'POST',
      headers: { ...headers, 'user-agent': 'GP-API-Webhooks/sandbox', ...opts.headers },
      body,
      headersTimeout: 10_000,
      bodyTimeout: 10_000,
    });
    out.push({ status: res.statusCode, body: await res.body.text() });
  }
  return out;
}

/** The batch-close event built from a close response (see the header comment for the envelope). */
export function batchCloseEvent(close: Record<string, unknown>): Record<string, unknown> {
  const action = (close.action ?? {}) as Record<string, unknown>;
  return {
    id: close.id,
    time_created: close.time_created,
    status: 'CLOSED',
    amount: close.amount,
    currency: close.currency,
    reference: close.id,
    payment_method: { result: '00', message: 'BATCH_CLOSED', entry_mode: null },
    action: { id: action.id, type: 'BATCH_CLOSE', time_created: action.time_created, result_code: 'SUCCESS' },
    batch_id: close.batch_id,
    transaction_count: close.transaction_count,
    sales: close.sales,
    refunds: close.refunds,
    brand_breakdown: close.brand_breakdown,
  };
}
