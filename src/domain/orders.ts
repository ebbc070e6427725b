import { z } from 'zod';
import { isCurrency } from './money';
import { containsPan } from './card-data';
import { marked } from './card-data-fields';

// Ids, references, amounts and contact keys are marked: the card-data scrubber keeps them (card-data-fields.ts).
const minor = marked(z.number().int(), 'amount');
const id = () => marked(z.string().min(1));
const nonNegMinor = minor.min(0);
const isoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'must be YYYY-MM-DD');
const currency = z.string().refine(isCurrency, 'must be an ISO 4217 currency code');
const erp = z.enum(['odoo', 'm3', 'p21', 'sagepro']);

export const addressSchema = z.object({
  line1: z.string().min(1),
  line2: z.string().optional(),
  city: z.string().min(1),
  region: z.string().optional(),
  postalCode: z.string().optional(),
  country: z.string().length(2),
});

export const orderLineSchema = z.object({
  sku: marked(z.string().min(1), 'reference'),
  description: z.string().optional(),
  qty: minor.positive(),
  unitPriceMinor: nonNegMinor,
  taxMinor: nonNegMinor.default(0),
});

/** Connector task queues a flow uses; tests and multi-tenant setups override the defaults. */
export const queuesSchema = z
  .object({ heartland: z.string().min(1).optional(), erp: z.string().min(1).optional() })
  .optional();

/** An eCommerce or POS order as the order-to-cash saga receives it. Card data is a token plus brand and last 4. */
export const orderInputSchema = z
  .object({
    source: id().regex(/^[a-z0-9-]+$/),
    orderId: id().regex(/^[A-Za-z0-9._~@+=-]{1,200}$/),
    erp,
    currency,
    orderDate: isoDate,
    customer: z.object({
      externalRef: id(),
      name: z.string().min(1),
      email: marked(z.string(), 'contact').optional(),
      phone: marked(z.string(), 'contact').optional(),
      address: addressSchema.optional(),
    }),
    lines: z.array(orderLineSchema).min(1),
    shippingMinor: nonNegMinor.default(0),
    totalMinor: nonNegMinor,
    payment: z.object({
      token: marked(z.string(), 'reference')
        .min(4)
        .refine((t) => !containsPan(t), 'looks like a card number; send the payment token instead')
        .optional(),
      /** A POS sale already captured at the terminal: no authorization or capture, the money has moved. */
      capturedTransactionId: id().optional(),
      brand: z.string().optional(),
      last4: z
        .string()
        .regex(/^\d{4}$/)
        .optional(),
      method: z.string().default('card'),
    }),
    location: marked(z.string(), 'reference').default('MAIN'),
    /** How long to wait for the `fulfilled` signal (ms or a duration string such as '7 days'). */
    fulfilmentTimeout: z.union([z.string(), z.number()]).default('7 days'),
    maxParkWait: z.union([z.string(), z.number()]).default('7 days'),
    queues: queuesSchema,
  })
  .superRefine((o, ctx) => {
    if (!o.payment.token && !o.payment.capturedTransactionId) {
      ctx.addIssue({
        code: 'custom',
        path: ['payment', 'token'],
        message: 'a payment token or a captured transaction id is required',
      });
    }
    const lines = o.lines.reduce((s, l) => s + l.qty * l.unitPriceMinor + l.taxMinor, 0);
    if (lines + o.shippingMinor !== o.totalMinor) {
      ctx.addIssue({
        code: 'custom',
        path: ['totalMinor'],
        message: `total ${o.totalMinor} does not equal lines + tax + shipping (${lines + o.shippingMinor})`,
      });
    }
  });

export type OrderInput = z.input<typeof orderInputSchema>;
export type Order = z.output<typeof orderInputSchema>;

/** A refund: made at the POS (money already moved) or requested from the ERP or by ops. */
export const refundInputSchema = z.object({
  source: id().regex(/^[a-z0-9-]+$/),
  refundId: id().regex(/^[A-Za-z0-9._~@+=-]{1,200}$/),
  erp,
  /** pos: already refunded at the POS; request: Ledgerbridge refunds at Heartland. */
  kind: z.enum(['pos', 'request']),
  /** The original order (its workflow id finds the captured payment and the invoice). */
  order: z.object({ source: id(), orderId: id() }),
  currency,
  amountMinor: minor.positive(),
  date: isoDate,
  reason: z.string().min(1),
  lines: z.array(orderLineSchema).default([]),
  /** Restock returned lines at this location. */
  restock: z.boolean().default(true),
  location: marked(z.string(), 'reference').default('MAIN'),
  /** For a POS refund: the Heartland refund transaction id. */
  processorRefundId: id().optional(),
  maxParkWait: z.union([z.string(), z.number()]).default('7 days'),
  queues: queuesSchema,
});

export type RefundInput = z.input<typeof refundInputSchema>;
export type Refund = z.output<typeof refundInputSchema>;

/** zod issues as `path: message` strings (for ValidationError messages and 422 bodies). */
export function issueList(error: z.ZodError): string[] {
  return error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
}
