import { z } from 'zod';
import { marked } from '../../domain/card-data-fields';
import { orderLineSchema } from '../../domain/orders';

/**
 * zod schemas of the webhook bodies Ledgerbridge routes. Unknown fields are allowed (vendors add fields) and are
 * stored with the event; only the fields the routing table reads are checked. The fields parsed as ids, references,
 * amounts and contact keys are `marked`: the card-data scrubber keeps them as received and scrubs every other field
 * (src/domain/card-data-fields.ts).
 */

/** One problem with a request body: the field path (dots) and what is wrong. */
export interface Issue {
  path: string;
  message: string;
}

/** zod issues as `{path, message}`, with an optional prefix on every path. */
export function zodIssues(error: z.ZodError, prefix = ''): Issue[] {
  return error.issues.map((i) => ({
    path: [prefix, ...i.path.map(String)].filter(Boolean).join('.') || '(root)',
    message: i.message,
  }));
}

const text = z.string().min(1);
const optText = z.string().nullish();
const timestamp = z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'not an ISO timestamp');
const isoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'must be YYYY-MM-DD');
const currency = z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code');
/** A decimal amount as Shopify sends it ("89.99"), or a JSON number. Converted to minor units by the mapping. */
const decimal = marked(
  z.union([z.string().regex(/^-?\d{1,15}(\.\d{1,6})?$/, 'not a decimal amount'), z.number()]),
  'amount',
);
const wireId = marked(z.union([z.number().int().nonnegative(), text]).transform(String));
/** Ids and references sent as text (fresh instances, so that marking one never marks a shared schema). */
const idText = () => marked(z.string().min(1));
const optId = () => marked(z.string().nullish());
const optRef = () => marked(z.string().nullish(), 'reference');
const optContact = () => marked(z.string().nullish(), 'contact');
const count = () => marked(z.number().int().positive(), 'amount');

// ---------------------------------------------------------------- Heartland GP API

/** Every GP event: a transaction resource (or the batch-close envelope of the GP simulator), see CONNECTORS.md. */
export const gpEnvelopeSchema = z.object({
  id: idText().max(200),
  action: z.object({ id: optId(), type: text.max(100) }),
});

/** Minor units as GP sends them: a string of digits (or an integer). */
const gpMinor = marked(
  z.union([z.string().regex(/^-?\d{1,15}$/, 'must be integer minor units'), z.number().int()]).transform(Number),
  'amount',
);

export const gpBatchCloseSchema = z.object({
  id: idText(),
  batch_id: optId(),
  status: text,
  currency: currency.nullish(),
  amount: gpMinor.nullish(),
  time_created: timestamp.nullish(),
  transaction_count: marked(z.number().int().nonnegative(), 'amount').nullish(),
  action: z.object({ id: optId(), type: z.literal('BATCH_CLOSE'), result_code: optText }),
});

export const gpTransactionSchema = z.object({
  id: idText(),
  type: z.enum(['SALE', 'REFUND']),
  status: text,
  channel: optText,
  amount: gpMinor,
  currency,
  reference: optRef(),
  order: z.object({ reference: optRef() }).nullish(),
  batch_id: optId(),
  parent_resource_id: optId(),
  time_created: timestamp,
  payment_method: z.object({ result: optText, message: optText, entry_mode: optText }).nullish(),
  action: z.object({ id: optId(), type: text, result_code: optText }),
});

export type GpTransactionEvent = z.infer<typeof gpTransactionSchema>;

// ---------------------------------------------------------------- eCommerce (Shopify-style)

const shopifyTaxLine = z.object({ price: decimal, title: optText, rate: marked(z.number(), 'amount').nullish() });
const shopifyDiscount = z.object({ amount: decimal });

export const shopifyLineItemSchema = z.object({
  id: wireId.optional(),
  sku: marked(z.string().min(1), 'reference'),
  title: optText,
  name: optText,
  quantity: count(),
  price: decimal,
  tax_lines: z.array(shopifyTaxLine).default([]),
  discount_allocations: z.array(shopifyDiscount).default([]),
});

export const shopifyAddressSchema = z
  .object({
    name: optText,
    first_name: optText,
    last_name: optText,
    address1: optText,
    address2: optText,
    city: optText,
    province_code: optText,
    zip: optText,
    country_code: optText,
    phone: optContact(),
  })
  .nullish();

/** A Shopify order (orders/create, orders/fulfilled, orders/cancelled all carry the order). */
export const shopifyOrderSchema = z.object({
  id: wireId,
  /** The order's name in the shop ("#1001"): a reference. */
  name: optRef(),
  email: optContact(),
  phone: optContact(),
  created_at: timestamp,
  currency,
  total_price: decimal,
  line_items: z.array(shopifyLineItemSchema).min(1),
  shipping_lines: z
    .array(
      z.object({
        title: optText,
        price: decimal,
        tax_lines: z.array(shopifyTaxLine).default([]),
        discount_allocations: z.array(shopifyDiscount).default([]),
      }),
    )
    .default([]),
  customer: z
    .object({ id: wireId.nullish(), email: optContact(), first_name: optText, last_name: optText, phone: optContact() })
    .nullish(),
  billing_address: shopifyAddressSchema,
  shipping_address: shopifyAddressSchema,
  note: optText,
  note_attributes: z
    .array(z.object({ name: z.string(), value: z.union([z.string(), z.number()]).nullish() }))
    .default([]),
  /** A payment token set by the storefront's payment app (when it is not in the note attributes). */
  payment_token: optRef(),
  payment_details: z
    .object({ payment_token: optRef(), credit_card_company: optText, credit_card_number: optText })
    .nullish(),
  cancel_reason: optText,
  fulfillments: z.array(z.object({ id: wireId.nullish() })).nullish(),
});

export type ShopifyOrder = z.infer<typeof shopifyOrderSchema>;

/** A Shopify refund (refunds/create). */
export const shopifyRefundSchema = z.object({
  id: wireId,
  order_id: wireId,
  created_at: timestamp,
  note: optText,
  restock: z.boolean().nullish(),
  refund_line_items: z
    .array(
      z.object({
        line_item_id: wireId.nullish(),
        quantity: count(),
        line_item: z.object({
          id: wireId.nullish(),
          sku: marked(z.string().min(1), 'reference'),
          title: optText,
          price: decimal,
        }),
        subtotal: decimal,
        total_tax: decimal.default(0),
      }),
    )
    .default([]),
  transactions: z
    .array(z.object({ amount: decimal, kind: text, status: optText, currency: currency.nullish() }))
    .default([]),
});

export type ShopifyRefund = z.infer<typeof shopifyRefundSchema>;

// ---------------------------------------------------------------- ERP events (Odoo, M3, P21)

/** Ledgerbridge's ERP event envelope (the ERP automation posts it; see signing.ts for the signature). */
export const erpEnvelopeSchema = z.object({
  id: idText().max(200),
  type: text.max(100),
  occurred_at: timestamp,
  data: z.record(z.string(), z.unknown()),
});

const orderRef = z.object({ source: idText(), orderId: idText() });

/** `delivery.done`: the goods of a Ledgerbridge order left the warehouse. */
export const erpDeliveryDoneSchema = z.object({
  order: orderRef,
  fulfilmentId: optId(),
  lines: z.array(z.object({ sku: marked(z.string().min(1), 'reference'), qty: count() })).nullish(),
});

/** `credit_memo.requested`: the ERP asks for a refund of a Ledgerbridge order (amounts in minor units). */
export const erpCreditMemoSchema = z.object({
  refundId: idText(),
  order: orderRef,
  currency,
  amountMinor: marked(z.number().int().positive(), 'amount'),
  date: isoDate.nullish(),
  reason: text,
  lines: z.array(orderLineSchema).nullish(),
  restock: z.boolean().nullish(),
});
