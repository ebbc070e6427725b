import { z } from 'zod';
import { marked } from '../../domain/card-data-fields';
import { failure } from '../../domain/errors';
import { formatDecimal, money, MoneyError, parseDecimal } from '../../domain/money';

/**
 * Heartland Retail wire schemas and their mapping to Ledgerbridge's shapes. Retail sends amounts as JSON decimal
 * numbers (89.99) or decimal strings; they become integer minor units through parseDecimal on their string form,
 * never through float arithmetic. Ids are integers on the wire and strings here. Ids, references, amounts and contact
 * keys are `marked`, so the card-data scrubber keeps them as received (src/domain/card-data-fields.ts).
 */

export const RETAIL_WEBHOOK_EVENTS = [
  'sales_transaction_completed',
  'item_created',
  'item_updated',
  'customer_created',
  'customer_updated',
] as const;
export type RetailWebhookEvent = (typeof RETAIL_WEBHOOK_EVENTS)[number];

const wireId = marked(z.union([z.number().int(), z.string().min(1)]).transform((v) => String(v)));
const nullableId = marked(
  z
    .union([z.number().int(), z.string().min(1)])
    .nullable()
    .optional()
    .transform((v) => (v === null || v === undefined ? undefined : String(v))),
);
const publicId = () => marked(z.union([z.string(), z.number()]).transform(String));
const timestamp = z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'not an ISO timestamp');
const optionalText = () =>
  z
    .string()
    .nullable()
    .optional()
    .transform((v) => (v === null || v === undefined || v === '' ? undefined : v));
const optText = optionalText();
const optRef = marked(optionalText(), 'reference');
const optContact = marked(optionalText(), 'contact');
const quantity = marked(z.number(), 'amount');

/** A decimal amount on the wire (number or string) as integer minor units of `currency`. */
export function decimalMinor(currency: string) {
  return z.union([z.number(), z.string()]).transform((v, ctx) => {
    try {
      return parseDecimal(String(v), currency).amountMinor;
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: err instanceof MoneyError ? err.message : `not a decimal: ${v}` });
      return z.NEVER;
    }
  });
}

/** Minor units as the JSON decimal number Retail expects; throws if the number would not round-trip exactly. */
export function toWireDecimal(amountMinor: number, currency: string): number {
  const text = formatDecimal(money(amountMinor, currency));
  const n = Number(text);
  if (parseDecimal(String(n), currency).amountMinor !== amountMinor) {
    throw new MoneyError(`${text} cannot be sent as an exact JSON number`);
  }
  return n;
}

export interface RetailItem {
  id: string;
  publicId: string;
  sku?: string;
  description: string;
  priceMinor: number;
  costMinor?: number;
  currency: string;
  active: boolean;
  createdAt?: string;
  updatedAt: string;
}

export interface RetailCustomer {
  id: string;
  publicId?: string;
  firstName?: string;
  lastName?: string;
  email?: string;
  phone?: string;
  active: boolean;
  createdAt?: string;
  updatedAt: string;
}

export interface RetailInventoryValue {
  itemId: string;
  locationId: string;
  qtyOnHand: number;
  updatedAt?: string;
}

export interface RetailLocation {
  id: string;
  publicId: string;
  name: string;
  active: boolean;
}

export interface RetailTicketLine {
  id: string;
  itemId?: string;
  sku?: string;
  description?: string;
  /** Negative on a return. */
  qty: number;
  unitPriceMinor: number;
  /** Extended value (qty × unit price less discounts), negative on a return. */
  totalMinor: number;
  /** On a return line: the sale ticket the goods came from, when the POS recorded it. */
  originalTicketId?: string;
}

export interface RetailTicketTax {
  name: string;
  /** Rate in percent as Retail shows it ("8.25"); informational only. */
  rate?: string;
  amountMinor: number;
}

export interface RetailTicketPayment {
  id: string;
  type: string;
  amountMinor: number;
  cardBrand?: string;
  last4?: string;
  /** The processor transaction id (Heartland GP), used to match the ticket to settlement. */
  transactionId?: string;
}

export interface RetailTicket {
  id: string;
  publicId: string;
  status: 'complete' | 'void';
  /** `return` when the ticket takes goods back (negative lines / negative total); a refund is such a ticket. */
  kind: 'sale' | 'return';
  customerId?: string;
  customer?: { id: string; publicId?: string; firstName?: string; lastName?: string; email?: string };
  locationId?: string;
  currency: string;
  subtotalMinor: number;
  taxMinor: number;
  totalMinor: number;
  lines: RetailTicketLine[];
  taxes: RetailTicketTax[];
  payments: RetailTicketPayment[];
  completedAt?: string;
  createdAt?: string;
  updatedAt: string;
}

export interface RetailWebhookSubscription {
  id: string;
  url: string;
  events: RetailWebhookEvent[];
  active: boolean;
  /** Only in the response to the create call. */
  secret?: string;
  createdAt?: string;
}

export interface RetailPage<T> {
  total: number;
  pages: number;
  results: T[];
}

function build(currency: string) {
  const amount = marked(decimalMinor(currency), 'amount');

  const item = z
    .object({
      id: wireId,
      public_id: publicId(),
      description: z.string(),
      price: amount,
      cost: amount.nullable().optional(),
      active: z.boolean().optional().default(true),
      custom: z
        .object({ sku: marked(z.string(), 'reference').nullable().optional() })
        .passthrough()
        .nullable()
        .optional(),
      created_at: timestamp.optional(),
      updated_at: timestamp,
    })
    .transform((w): RetailItem => ({
      id: w.id,
      publicId: w.public_id,
      sku: w.custom?.sku ?? undefined,
      description: w.description,
      priceMinor: w.price,
      costMinor: w.cost ?? undefined,
      currency,
      active: w.active,
      createdAt: w.created_at,
      updatedAt: w.updated_at,
    }));

  // A ticket embeds these fields of its customer; the customers resource has them and more.
  const customerCore = { id: wireId, public_id: optRef, first_name: optText, last_name: optText, email: optContact };
  const customer = z
    .object({
      ...customerCore,
      phone: optContact,
      active: z.boolean().optional().default(true),
      created_at: timestamp.optional(),
      updated_at: timestamp,
    })
    .transform((w): RetailCustomer => ({
      id: w.id,
      publicId: w.public_id,
      firstName: w.first_name,
      lastName: w.last_name,
      email: w.email,
      phone: w.phone,
      active: w.active,
      createdAt: w.created_at,
      updatedAt: w.updated_at,
    }));

  const inventoryValue = z
    .object({
      item_id: wireId,
      location_id: wireId,
      qty_on_hand: quantity,
      updated_at: timestamp.optional(),
    })
    .transform((w): RetailInventoryValue => ({
      itemId: w.item_id,
      locationId: w.location_id,
      qtyOnHand: w.qty_on_hand,
      updatedAt: w.updated_at,
    }));

  const location = z
    .object({
      id: wireId,
      public_id: publicId(),
      name: z.string(),
      active: z.boolean().optional().default(true),
    })
    .transform((w): RetailLocation => ({ id: w.id, publicId: w.public_id, name: w.name, active: w.active }));

  const ticketLine = z
    .object({
      id: wireId,
      item_id: nullableId,
      sku: optRef,
      description: optText,
      qty: quantity,
      unit_price: amount,
      value: amount,
      original_ticket_id: nullableId,
    })
    .transform((w): RetailTicketLine => ({
      id: w.id,
      itemId: w.item_id,
      sku: w.sku,
      description: w.description,
      qty: w.qty,
      unitPriceMinor: w.unit_price,
      totalMinor: w.value,
      originalTicketId: w.original_ticket_id,
    }));

  const ticketTax = z
    .object({
      name: z.string(),
      rate: marked(z.union([z.number(), z.string()]), 'amount')
        .nullable()
        .optional(),
      amount,
    })
    .transform((w): RetailTicketTax => ({
      name: w.name,
      rate: w.rate === null || w.rate === undefined ? undefined : String(w.rate),
      amountMinor: w.amount,
    }));

  const ticketPayment = z
    .object({
      id: wireId,
      payment_type: z.string(),
      amount,
      card_brand: optText,
      card_last4: z
        .string()
        .regex(/^\d{4}$/)
        .nullable()
        .optional(),
      transaction_id: marked(optionalText()),
    })
    .transform((w): RetailTicketPayment => ({
      id: w.id,
      type: w.payment_type,
      amountMinor: w.amount,
      cardBrand: w.card_brand,
      last4: w.card_last4 ?? undefined,
      transactionId: w.transaction_id,
    }));

  const ticket = z
    .object({
      id: wireId,
      public_id: publicId(),
      status: z.enum(['complete', 'void']),
      customer_id: nullableId,
      customer: z.object(customerCore).nullable().optional(),
      location_id: nullableId,
      subtotal: amount,
      tax_total: amount,
      total: amount,
      lines: z.array(ticketLine),
      taxes: z.array(ticketTax),
      payments: z.array(ticketPayment),
      completed_at: timestamp.nullable().optional(),
      created_at: timestamp.optional(),
      updated_at: timestamp,
    })
    .transform((w): RetailTicket => ({
      id: w.id,
      publicId: w.public_id,
      status: w.status,
      kind: w.total < 0 || w.lines.some((l) => l.qty < 0) ? 'return' : 'sale',
      customerId: w.customer_id,
      customer: w.customer
        ? {
            id: w.customer.id,
            publicId: w.customer.public_id,
            firstName: w.customer.first_name,
            lastName: w.customer.last_name,
            email: w.customer.email,
          }
        : undefined,
      locationId: w.location_id,
      currency,
      subtotalMinor: w.subtotal,
      taxMinor: w.tax_total,
      totalMinor: w.total,
      lines: w.lines,
      taxes: w.taxes,
      payments: w.payments,
      completedAt: w.completed_at ?? undefined,
      createdAt: w.created_at,
      updatedAt: w.updated_at,
    }));

  const webhook = z
    .object({
      id: wireId,
      url: z.string(),
      events: z.array(z.enum(RETAIL_WEBHOOK_EVENTS)),
      active: z.boolean().optional().default(true),
      secret: z.string().optional(),
      created_at: timestamp.optional(),
    })
    .transform((w): RetailWebhookSubscription => ({
      id: w.id,
      url: w.url,
      events: w.events,
      active: w.active,
      secret: w.secret,
      createdAt: w.created_at,
    }));

  const page = <T extends z.ZodTypeAny>(result: T) =>
    z.object({ total: z.number().int().min(0), pages: z.number().int().min(0), results: z.array(result) });

  const envelope = z.object({
    id: marked(z.string().min(1)),
    event: z.enum(RETAIL_WEBHOOK_EVENTS),
    created_at: timestamp,
    data: z.unknown(),
  });

  return { item, customer, inventoryValue, location, ticket, webhook, page, envelope };
}

const cache = new Map<string, ReturnType<typeof build>>();

/** The zod schemas of every Retail response, for one account currency. */
export function retailSchemas(currency = 'USD'): ReturnType<typeof build> {
  let s = cache.get(currency);
  if (!s) {
    s = build(currency);
    cache.set(currency, s);
  }
  return s;
}

export type RetailWebhookPayload =
  | { id: string; event: 'sales_transaction_completed'; createdAt: string; data: RetailTicket }
  | { id: string; event: 'item_created' | 'item_updated'; createdAt: string; data: RetailItem }
  | { id: string; event: 'customer_created' | 'customer_updated'; createdAt: string; data: RetailCustomer };

/**
 * Parses a verified webhook body: envelope `{id, event, created_at, data}` where `data` is the resource as the REST
 * API returns it (a ticket, an item or a customer). Another shape is a non-retryable ValidationError naming the field.
 */
export function parseRetailWebhook(rawBody: Buffer | string, currency = 'USD'): RetailWebhookPayload {
  const s = retailSchemas(currency);
  let json: unknown;
  try {
    json = JSON.parse(typeof rawBody === 'string' ? rawBody : rawBody.toString('utf8'));
  } catch {
    throw failure('ValidationError', 'Heartland Retail webhook body is not JSON', { connector: 'heartland-retail' });
  }
  const env = check(s.envelope, json, '');
  const base = { id: env.id, createdAt: env.created_at };
  switch (env.event) {
    case 'sales_transaction_completed':
      return { ...base, event: env.event, data: check(s.ticket, env.data, 'data') };
    case 'item_created':
    case 'item_updated':
      return { ...base, event: env.event, data: check(s.item, env.data, 'data') };
    case 'customer_created':
    case 'customer_updated':
      return { ...base, event: env.event, data: check(s.customer, env.data, 'data') };
  }
}

function check<T>(schema: z.ZodType<T>, value: unknown, prefix: string): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const field = [prefix, ...issue.path.map(String)].filter(Boolean).join('.') || '(root)';
  throw failure('ValidationError', `Heartland Retail webhook: ${field}: ${issue.message}`, {
    connector: 'heartland-retail',
    field,
  });
}
