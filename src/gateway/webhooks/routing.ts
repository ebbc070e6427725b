import type { z } from 'zod';
import type { ErpSystem } from '../../connectors/erp/types';
import { parseRetailWebhook, type RetailTicket } from '../../connectors/heartland/retail-schemas';
import { workflowIds } from '../../domain/ids';
import { allocate, money, MoneyError, parseDecimal } from '../../domain/money';
import { orderInputSchema, refundInputSchema, type OrderInput, type RefundInput } from '../../domain/orders';
import type { SettlementInput } from '../../settlement/types';
import {
  erpCreditMemoSchema,
  erpDeliveryDoneSchema,
  erpEnvelopeSchema,
  gpBatchCloseSchema,
  gpEnvelopeSchema,
  gpTransactionSchema,
  shopifyOrderSchema,
  shopifyRefundSchema,
  zodIssues,
  type GpTransactionEvent,
  type Issue,
  type ShopifyOrder,
  type ShopifyRefund,
} from './schemas';
import type { WebhookSource } from './secrets';

/**
 * The routing table: which workflow each accepted webhook event starts or signals, and with which id. Ids are
 * deterministic, starts use workflowIdConflictPolicy USE_EXISTING (and REJECT_DUPLICATE once a run has closed), so
 * a duplicate or a re-dispatch after a crash lands on the same run.
 *
 * | source           | event type                        | action            | workflow                 | workflow id                        |
 * | ---------------- | --------------------------------- | ----------------- | ------------------------ | ---------------------------------- |
 * | commerce         | orders/create                     | start             | orderToCash              | order:commerce:<order id>          |
 * | commerce         | orders/fulfilled                  | signalWithStart   | orderToCash + fulfilled  | order:commerce:<order id>          |
 * | commerce         | orders/cancelled                  | signal            | cancel                   | order:commerce:<order id>          |
 * | commerce         | refunds/create                    | start             | refund (request)         | refund:commerce:<refund id>        |
 * | heartland        | BATCH_CLOSE                       | start             | settlementReconciliation | settlement:<batch id>              |
 * | heartland        | REFUND (not made by Ledgerbridge) | start             | refund (pos)             | refund:pos:<GP refund txn id>      |
 * | heartland-retail | sales_transaction_completed sale  | start             | orderToCash (captured)   | order:pos:<ticket id>              |
 * | heartland-retail | sales_transaction_completed return| start             | refund (pos)             | refund:pos:<card txn id or ticket> |
 * | odoo, m3, p21    | delivery.done                     | signal            | fulfilled                | order:<source>:<order id>          |
 * | odoo, m3, p21    | credit_memo.requested             | start             | refund (request)         | refund:<erp>:<refund id>           |
 *
 * Choices where the vendors are silent:
 * - Commerce payment token: the note attribute `payment_token`, else the order's `payment_token`, else
 *   `payment_details.payment_token`; brand and last 4 from `payment_details`. A discounted line whose net amount does
 *   not divide by its quantity is split into two lines (unit prices differing by one minor unit) so totals stay exact.
 *   Shipping tax has no field of its own in OrderInput and is added to the first line's tax (tax stays tax).
 * - A POS refund is keyed by the Heartland refund transaction id whichever event comes first (the GP REFUND event
 *   or the Retail return ticket carrying that transaction id), so the two land on one run.
 * - GP REFUND events whose `reference` is a Ledgerbridge workflow id are Ledgerbridge's own refunds: ignored. The
 *   original order of a POS refund is found through id_links (the parent transaction), else `order.reference`.
 * - A Retail ticket's tax is allocated over its lines by value (largest remainder); a return line names its sale in
 *   `original_ticket_id`; a return without one gets order id `unknown-<ticket id>` and parks for ops to correct.
 * - Retail customers are `heartland:<customer id>` (walk-in sales: `heartland:walk-in`), commerce customers
 *   `commerce:<customer id>` (guests: `commerce:<email>`).
 */

export type WorkflowType = 'orderToCash' | 'refund' | 'settlementReconciliation';

export type DispatchPlan =
  | { action: 'start'; workflowType: WorkflowType; workflowId: string; input: unknown }
  | {
      action: 'signalWithStart';
      workflowType: WorkflowType;
      workflowId: string;
      input: unknown;
      signal: 'fulfilled' | 'cancel';
      signalArgs: unknown[];
    }
  | { action: 'signal'; workflowId: string; signal: 'fulfilled' | 'cancel'; signalArgs: unknown[] }
  | { action: 'ignore'; reason: string };

export interface RouteContext {
  /** The ERP the flows use (LB_ERP). */
  erp: ErpSystem;
  /** The ledger currency (LB_CURRENCY): Heartland Retail amounts are in it. */
  currency: string;
  /** Connector task queue overrides put into every workflow input (tests). */
  queues?: { heartland?: string; erp?: string };
  /** Finds the order a Heartland transaction belongs to (id_links); only the dispatcher passes it. */
  lookupOrderByTransaction?: (transactionId: string) => Promise<{ source: string; orderId: string } | null>;
}

/** A body that passed the schema but cannot be routed (totals that do not add up, a card number as token, …). */
export class RouteError extends Error {
  constructor(readonly issues: Issue[]) {
    super(issues.map((i) => `${i.path}: ${i.message}`).join('; '));
  }
}

/** Event types that have a route, per source; any other type is answered 202 ignored. */
export const ROUTED_EVENT_TYPES: Readonly<Record<WebhookSource, readonly string[]>> = {
  heartland: ['BATCH_CLOSE', 'REFUND'],
  'heartland-retail': ['sales_transaction_completed'],
  commerce: ['orders/create', 'orders/fulfilled', 'orders/cancelled', 'refunds/create'],
  odoo: ['delivery.done', 'credit_memo.requested'],
  m3: ['delivery.done', 'credit_memo.requested'],
  p21: ['delivery.done', 'credit_memo.requested'],
};

export type Envelope = { eventId: string; eventType: string };

type HeaderBag = Record<string, string | string[] | undefined>;
const header = (h: HeaderBag, name: string) => (Array.isArray(h[name]) ? h[name]![0] : (h[name] as string | undefined));

/** The event id (dedup key) and event type of a parsed body; issues when they cannot be read. */
export function readEnvelope(source: WebhookSource, json: unknown, headers: HeaderBag): Envelope | Issue[] {
  switch (source) {
    case 'heartland': {
      const r = gpEnvelopeSchema.safeParse(json);
      if (!r.success) return zodIssues(r.error);
      const type = r.data.action.type;
      return { eventId: r.data.action.id || `${r.data.id}:${type}`, eventType: type };
    }
    case 'heartland-retail':
      return envelopeOf(json, 'id', 'event');
    case 'commerce': {
      const issues: Issue[] = [];
      const topic = header(headers, 'x-shopify-topic')?.trim();
      const id = header(headers, 'x-shopify-webhook-id')?.trim();
      if (!topic) issues.push({ path: 'headers.x-shopify-topic', message: 'required' });
      if (!id) issues.push({ path: 'headers.x-shopify-webhook-id', message: 'required' });
      else if (id.length > 200) issues.push({ path: 'headers.x-shopify-webhook-id', message: 'longer than 200' });
      if (!json || typeof json !== 'object' || Array.isArray(json)) {
        issues.push({ path: '(root)', message: 'must be a JSON object' });
      }
      return issues.length ? issues : { eventId: id!, eventType: topic! };
    }
    case 'odoo':
    case 'm3':
    case 'p21': {
      const r = erpEnvelopeSchema.safeParse(json);
      if (!r.success) return zodIssues(r.error);
      return { eventId: r.data.id, eventType: r.data.type };
    }
  }
}

function envelopeOf(json: unknown, idKey: string, typeKey: string): Envelope | Issue[] {
  if (!json || typeof json !== 'object' || Array.isArray(json))
    return [{ path: '(root)', message: 'must be an object' }];
  const o = json as Record<string, unknown>;
  const issues: Issue[] = [];
  const id = typeof o[idKey] === 'number' ? String(o[idKey]) : o[idKey];
  if (typeof id !== 'string' || id.length === 0 || id.length > 200) {
    issues.push({ path: idKey, message: 'must be a non-empty string of at most 200 characters' });
  }
  if (typeof o[typeKey] !== 'string' || (o[typeKey] as string).length === 0) {
    issues.push({ path: typeKey, message: 'must be a non-empty string' });
  }
  return issues.length ? issues : { eventId: id as string, eventType: o[typeKey] as string };
}

/** Routes one event (already verified and deduplicated) to its dispatch plan; RouteError when it cannot be. */
export async function routeEvent(
  source: WebhookSource,
  eventType: string,
  payload: unknown,
  ctx: RouteContext,
): Promise<DispatchPlan> {
  if (!ROUTED_EVENT_TYPES[source].includes(eventType)) return { action: 'ignore', reason: `no route for ${eventType}` };
  switch (source) {
    case 'commerce':
      return routeCommerce(eventType, payload, ctx);
    case 'heartland':
      return routeGp(eventType, payload, ctx);
    case 'heartland-retail':
      return routeRetail(payload, ctx);
    case 'odoo':
    case 'm3':
    case 'p21':
      return routeErp(source, eventType, payload, ctx);
  }
}

function parse<S extends z.ZodType>(schema: S, value: unknown, prefix = ''): z.output<S> {
  const r = schema.safeParse(value);
  if (!r.success) throw new RouteError(zodIssues(r.error, prefix));
  return r.data;
}

/** Checks a mapped workflow input against the flow's own schema, so a bad one is a 422 and not a parked run. */
function checked<T>(schema: z.ZodType, input: T, what: string): T {
  const r = schema.safeParse(input);
  if (!r.success) throw new RouteError(zodIssues(r.error, what));
  return input;
}

function withQueues<T extends object>(input: T, ctx: RouteContext): T {
  return ctx.queues ? { ...input, queues: { ...ctx.queues } } : input;
}

const dateOf = (ts: string) => new Date(Date.parse(ts)).toISOString().slice(0, 10);
/** The date as written in the timestamp (the merchant's local date), falling back to UTC. */
const localDate = (ts: string) => (/^\d{4}-\d{2}-\d{2}/.test(ts) ? ts.slice(0, 10) : dateOf(ts));

// ---------------------------------------------------------------- commerce

class Amounts {
  readonly issues: Issue[] = [];
  constructor(readonly currency: string) {}
  minor(value: string | number, path: string): number {
    try {
      return parseDecimal(String(value), this.currency).amountMinor;
    } catch (e) {
      this.issues.push({ path, message: e instanceof MoneyError ? e.message : 'not an amount' });
      return 0;
    }
  }
  fail(path: string, message: string): void {
    this.issues.push({ path, message });
  }
  throwIfAny(): void {
    if (this.issues.length) throw new RouteError(this.issues);
  }
}

type Line = OrderInput['lines'][number];

/** qty units worth `netMinor` in total as at most two lines with whole unit prices (they differ by one unit). */
function exactLines(sku: string, description: string | undefined, qty: number, netMinor: number, taxMinor: number) {
  const base = Math.floor(netMinor / qty);
  const extra = netMinor - base * qty;
  const out: Line[] = [];
  if (extra > 0) out.push({ sku, description, qty: extra, unitPriceMinor: base + 1, taxMinor });
  if (qty - extra > 0) out.push({ sku, description, qty: qty - extra, unitPriceMinor: base, taxMinor: 0 });
  if (extra === 0) out[0].taxMinor = taxMinor;
  return out;
}

const clean = (s: string | null | undefined) =>
  s === null || s === undefined || s.trim() === '' ? undefined : s.trim();

/** A Shopify-style order as the order-to-cash input (see the header comment for the choices made). */
export function shopifyOrderToInput(o: ShopifyOrder, ctx: RouteContext): OrderInput {
  const a = new Amounts(o.currency);
  const lines: Line[] = [];
  o.line_items.forEach((li, i) => {
    const price = a.minor(li.price, `line_items.${i}.price`);
    const tax = li.tax_lines.reduce((s, t, j) => s + a.minor(t.price, `line_items.${i}.tax_lines.${j}.price`), 0);
    const discount = li.discount_allocations.reduce(
      (s, d, j) => s + a.minor(d.amount, `line_items.${i}.discount_allocations.${j}.amount`),
      0,
    );
    const net = li.quantity * price - discount;
    if (price < 0 || tax < 0 || discount < 0 || net < 0) {
      a.fail(`line_items.${i}`, 'price, tax and discount must not be negative, nor the discount exceed the line');
      return;
    }
    lines.push(...exactLines(li.sku, clean(li.title) ?? clean(li.name), li.quantity, net, tax));
  });
  let shipping = 0;
  let shippingTax = 0;
  o.shipping_lines.forEach((s, i) => {
    shipping += a.minor(s.price, `shipping_lines.${i}.price`);
    shipping -= s.discount_allocations.reduce(
      (t, d, j) => t + a.minor(d.amount, `shipping_lines.${i}.discount_allocations.${j}.amount`),
      0,
    );
    shippingTax += s.tax_lines.reduce((t, x, j) => t + a.minor(x.price, `shipping_lines.${i}.tax_lines.${j}.price`), 0);
  });
  if (shipping < 0 || shippingTax < 0) a.fail('shipping_lines', 'shipping and its tax must not be negative');
  if (lines.length && shippingTax > 0) lines[0] = { ...lines[0], taxMinor: (lines[0].taxMinor ?? 0) + shippingTax };
  const total = a.minor(o.total_price, 'total_price');
  const computed = lines.reduce((s, l) => s + l.qty * l.unitPriceMinor + (l.taxMinor ?? 0), 0) + shipping;
  if (a.issues.length === 0 && computed !== total) {
    a.fail('total_price', `${total} minor units does not equal lines + tax + shipping - discounts (${computed})`);
  }

  const attr = o.note_attributes.find((n) => n.name === 'payment_token')?.value;
  const token =
    clean(attr === null || attr === undefined ? undefined : String(attr)) ??
    clean(o.payment_token) ??
    clean(o.payment_details?.payment_token);
  if (!token) {
    a.fail(
      'note_attributes.payment_token',
      'a payment token is required (note attribute payment_token or payment_token)',
    );
  }
  a.throwIfAny();

  const c = o.customer;
  const addr = o.shipping_address ?? o.billing_address;
  const email = clean(o.email) ?? clean(c?.email);
  const name =
    [clean(c?.first_name), clean(c?.last_name)].filter(Boolean).join(' ') ||
    clean(addr?.name) ||
    [clean(addr?.first_name), clean(addr?.last_name)].filter(Boolean).join(' ') ||
    email ||
    `Customer of order ${o.id}`;
  const digits = (o.payment_details?.credit_card_number ?? '').replace(/\D/g, '');
  const address =
    clean(addr?.address1) && clean(addr?.city) && /^[A-Za-z]{2}$/.test(addr?.country_code ?? '')
      ? {
          line1: clean(addr!.address1)!,
          line2: clean(addr!.address2),
          city: clean(addr!.city)!,
          region: clean(addr!.province_code),
          postalCode: clean(addr!.zip),
          country: addr!.country_code!.toUpperCase(),
        }
      : undefined;
  const input: OrderInput = withQueues(
    {
      source: 'commerce',
      orderId: o.id,
      erp: ctx.erp,
      currency: o.currency,
      orderDate: localDate(o.created_at),
      customer: {
        externalRef: c?.id ? `commerce:${c.id}` : `commerce:${email?.toLowerCase() ?? `guest-${o.id}`}`,
        name,
        email,
        phone: clean(c?.phone) ?? clean(o.phone) ?? clean(addr?.phone),
        address,
      },
      lines,
      shippingMinor: shipping,
      totalMinor: total,
      payment: {
        token,
        brand: clean(o.payment_details?.credit_card_company),
        last4: digits.length >= 4 ? digits.slice(-4) : undefined,
        method: 'card',
      },
    },
    ctx,
  );
  return checked(orderInputSchema, input, 'order');
}

/** A Shopify-style refund as a refund request (Ledgerbridge refunds at Heartland). */
export function shopifyRefundToInput(r: ShopifyRefund, ctx: RouteContext): RefundInput {
  const currency = r.transactions.find((t) => t.currency)?.currency ?? ctx.currency;
  const a = new Amounts(currency);
  const lines: Line[] = [];
  r.refund_line_items.forEach((rl, i) => {
    const subtotal = a.minor(rl.subtotal, `refund_line_items.${i}.subtotal`);
    const tax = a.minor(rl.total_tax, `refund_line_items.${i}.total_tax`);
    if (subtotal < 0 || tax < 0) return a.fail(`refund_line_items.${i}`, 'amounts must not be negative');
    lines.push(...exactLines(rl.line_item.sku, clean(rl.line_item.title), rl.quantity, subtotal, tax));
  });
  const refunds = r.transactions.filter((t) => t.kind === 'refund' && !['failure', 'error'].includes(t.status ?? ''));
  const amount = refunds.length
    ? refunds.reduce((s, t, i) => s + a.minor(t.amount, `transactions.${i}.amount`), 0)
    : lines.reduce((s, l) => s + l.qty * l.unitPriceMinor + (l.taxMinor ?? 0), 0);
  if (amount <= 0) a.fail('transactions', 'the refund amount must be greater than zero');
  a.throwIfAny();
  const input: RefundInput = withQueues(
    {
      source: 'commerce',
      refundId: r.id,
      erp: ctx.erp,
      kind: 'request' as const,
      order: { source: 'commerce', orderId: r.order_id },
      currency,
      amountMinor: amount,
      date: localDate(r.created_at),
      reason: clean(r.note) ?? 'refund requested in the store',
      lines,
      restock: r.restock ?? lines.length > 0,
    },
    ctx,
  );
  return checked(refundInputSchema, input, 'refund');
}

function routeCommerce(topic: string, payload: unknown, ctx: RouteContext): DispatchPlan {
  if (topic === 'refunds/create') {
    const input = shopifyRefundToInput(parse(shopifyRefundSchema, payload), ctx);
    return { action: 'start', workflowType: 'refund', workflowId: refundId(input), input };
  }
  const order = parse(shopifyOrderSchema, payload);
  const workflowId = orderId('commerce', order.id);
  if (topic === 'orders/cancelled') {
    return {
      action: 'signal',
      workflowId,
      signal: 'cancel',
      signalArgs: [{ reason: clean(order.cancel_reason) ?? 'cancelled in the store' }],
    };
  }
  const input = shopifyOrderToInput(order, ctx);
  if (topic === 'orders/fulfilled') {
    const fulfilmentId = order.fulfillments?.find((f) => f.id)?.id ?? undefined;
    return {
      action: 'signalWithStart',
      workflowType: 'orderToCash',
      workflowId,
      input,
      signal: 'fulfilled',
      signalArgs: [fulfilmentId ? { fulfilmentId } : {}],
    };
  }
  return { action: 'start', workflowType: 'orderToCash', workflowId, input };
}

function ids<T>(fn: () => T, path: string): T {
  try {
    return fn();
  } catch (e) {
    throw new RouteError([{ path, message: (e as Error).message }]);
  }
}
const orderId = (source: string, id: string) => ids(() => workflowIds.order(source, id), 'id');
const refundId = (r: RefundInput) => ids(() => workflowIds.refund(r.source, r.refundId), 'id');

// ---------------------------------------------------------------- Heartland GP

/** Workflow-id prefixes: a GP transaction whose reference starts with one was written by Ledgerbridge itself. */
const OWN_REFERENCE = /^(order|refund|settlement|sync):/;

/** A GP refund made outside Ledgerbridge (at the terminal or in the GP portal): money already moved. */
export async function gpRefundToInput(tx: GpTransactionEvent, ctx: RouteContext): Promise<RefundInput> {
  const parent = tx.parent_resource_id ?? undefined;
  const found = parent && ctx.lookupOrderByTransaction ? await ctx.lookupOrderByTransaction(parent) : null;
  const order = found ?? { source: 'pos', orderId: tx.order?.reference || parent || `unknown-${tx.id}` };
  const input: RefundInput = withQueues(
    {
      source: 'pos',
      refundId: tx.id,
      erp: ctx.erp,
      kind: 'pos' as const,
      order,
      currency: tx.currency,
      amountMinor: Math.abs(tx.amount),
      date: dateOf(tx.time_created),
      reason: `refunded at Heartland (${tx.id})`,
      lines: [],
      restock: false,
      processorRefundId: tx.id,
    },
    ctx,
  );
  return checked(refundInputSchema, input, 'refund');
}

async function routeGp(type: string, payload: unknown, ctx: RouteContext): Promise<DispatchPlan> {
  if (type === 'BATCH_CLOSE') {
    const b = parse(gpBatchCloseSchema, payload);
    const batchId = b.batch_id ?? b.id;
    const workflowId = ids(() => workflowIds.settlement(batchId), 'batch_id');
    const input: SettlementInput = withQueues(
      { batchId, erp: ctx.erp, source: 'heartland', trigger: 'webhook' as const },
      ctx,
    );
    return { action: 'start', workflowType: 'settlementReconciliation', workflowId, input };
  }
  const tx = parse(gpTransactionSchema, payload);
  if (tx.type !== 'REFUND') return { action: 'ignore', reason: `a ${tx.type} transaction, not a refund` };
  if (!['CAPTURED', 'BATCHED'].includes(tx.status)) return { action: 'ignore', reason: `refund status ${tx.status}` };
  if (tx.reference && OWN_REFERENCE.test(tx.reference)) {
    return { action: 'ignore', reason: 'a refund Ledgerbridge made itself' };
  }
  if (tx.amount === 0) throw new RouteError([{ path: 'amount', message: 'a refund of zero' }]);
  const input = await gpRefundToInput(tx, ctx);
  return { action: 'start', workflowType: 'refund', workflowId: refundId(input), input };
}

// ---------------------------------------------------------------- Heartland Retail

function ticketLines(t: RetailTicket, sign: 1 | -1): Line[] {
  const issues: Issue[] = [];
  const rows = t.lines.map((l, i) => {
    const qty = l.qty * sign;
    const value = l.totalMinor * sign;
    const sku = l.sku ?? (l.itemId ? `ITEM-${l.itemId}` : undefined);
    if (!sku) issues.push({ path: `data.lines.${i}.sku`, message: 'a line needs a SKU or an item id' });
    if (!Number.isInteger(qty) || qty <= 0)
      issues.push({ path: `data.lines.${i}.qty`, message: 'must be a whole quantity of the ticket kind' });
    if (value < 0) issues.push({ path: `data.lines.${i}.value`, message: 'must have the sign of the ticket kind' });
    return { sku: sku ?? '', description: l.description, qty, value };
  });
  const tax = t.taxMinor * sign;
  if (tax < 0) issues.push({ path: 'data.tax_total', message: 'must have the sign of the ticket kind' });
  if (rows.length === 0) issues.push({ path: 'data.lines', message: 'a ticket needs at least one line' });
  if (issues.length) throw new RouteError(issues);
  const weights = rows.map((r) => r.value);
  const taxes = weights.some((w) => w > 0)
    ? allocate(money(tax, t.currency), weights).map((m) => m.amountMinor)
    : rows.map((_, i) => (i === 0 ? tax : 0));
  return rows.flatMap((r, i) => exactLines(r.sku, r.description, r.qty, r.value, taxes[i]));
}

function retailCustomer(t: RetailTicket): OrderInput['customer'] {
  const c = t.customer;
  if (!c && !t.customerId) return { externalRef: 'heartland:walk-in', name: 'Walk-in customer' };
  const id = c?.id ?? t.customerId!;
  const name = [clean(c?.firstName), clean(c?.lastName)].filter(Boolean).join(' ');
  return {
    externalRef: `heartland:${id}`,
    name: name || clean(c?.email) || `Heartland Retail customer ${id}`,
    email: clean(c?.email),
  };
}

async function routeRetail(payload: unknown, ctx: RouteContext): Promise<DispatchPlan> {
  let event;
  try {
    event = parseRetailWebhook(JSON.stringify(payload), ctx.currency);
  } catch (e) {
    const d = (e as { details?: { field?: string }[] }).details?.[0];
    const message = (e as Error).message.replace(/^Heartland Retail webhook: (?:[^:]+: )?/, '');
    throw new RouteError([{ path: d?.field ?? '(root)', message }]);
  }
  if (event.event !== 'sales_transaction_completed') return { action: 'ignore', reason: `no route for ${event.event}` };
  const t = event.data;
  if (t.status !== 'complete') return { action: 'ignore', reason: `ticket status ${t.status}` };
  const date = dateOf(t.completedAt ?? t.updatedAt);
  const card = t.payments.find((p) => p.transactionId);
  if (t.kind === 'sale') {
    const pay = card ?? t.payments[0];
    if (!pay) throw new RouteError([{ path: 'data.payments', message: 'a completed sale needs a payment' }]);
    const input = withQueues(
      {
        source: 'pos',
        orderId: t.id,
        erp: ctx.erp,
        currency: t.currency,
        orderDate: date,
        customer: retailCustomer(t),
        lines: ticketLines(t, 1),
        shippingMinor: 0,
        totalMinor: t.totalMinor,
        payment: {
          capturedTransactionId: pay.transactionId ?? `retail-payment-${pay.id}`,
          brand: pay.cardBrand,
          last4: pay.last4,
          method: pay.transactionId ? 'card' : pay.type,
        },
      } satisfies OrderInput,
      ctx,
    );
    checked(orderInputSchema, input, 'order');
    return { action: 'start', workflowType: 'orderToCash', workflowId: orderId('pos', t.id), input };
  }
  const original = t.lines.find((l) => l.originalTicketId)?.originalTicketId;
  const input: RefundInput = withQueues(
    {
      source: 'pos',
      refundId: card?.transactionId ?? t.id,
      erp: ctx.erp,
      kind: 'pos' as const,
      order: { source: 'pos', orderId: original ?? `unknown-${t.id}` },
      currency: t.currency,
      amountMinor: -t.totalMinor,
      date,
      reason: `returned at the POS (ticket ${t.publicId})`,
      lines: ticketLines(t, -1),
      restock: true,
      processorRefundId: card?.transactionId,
    },
    ctx,
  );
  checked(refundInputSchema, input, 'refund');
  return { action: 'start', workflowType: 'refund', workflowId: refundId(input), input };
}

// ---------------------------------------------------------------- ERP events

function routeErp(source: 'odoo' | 'm3' | 'p21', type: string, payload: unknown, ctx: RouteContext): DispatchPlan {
  const env = parse(erpEnvelopeSchema, payload);
  if (type === 'delivery.done') {
    const d = parse(erpDeliveryDoneSchema, env.data, 'data');
    const workflowId = ids(() => workflowIds.order(d.order.source, d.order.orderId), 'data.order');
    const args = {
      ...(d.fulfilmentId ? { fulfilmentId: d.fulfilmentId } : {}),
      ...(d.lines ? { lines: d.lines } : {}),
    };
    return { action: 'signal', workflowId, signal: 'fulfilled', signalArgs: [args] };
  }
  const c = parse(erpCreditMemoSchema, env.data, 'data');
  const input: RefundInput = withQueues(
    {
      source,
      refundId: c.refundId,
      erp: ctx.erp,
      kind: 'request' as const,
      order: c.order,
      currency: c.currency,
      amountMinor: c.amountMinor,
      date: c.date ?? dateOf(env.occurred_at),
      reason: c.reason,
      lines: c.lines ?? [],
      restock: c.restock ?? (c.lines?.length ?? 0) > 0,
    },
    ctx,
  );
  checked(refundInputSchema, input, 'data');
  return { action: 'start', workflowType: 'refund', workflowId: ids(() => refundId(input), 'data.refundId'), input };
}
