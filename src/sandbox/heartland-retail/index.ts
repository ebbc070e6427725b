/**
 * Heartland Retail (POS) simulator: a real HTTP server speaking the Retail REST wire format.
 *
 * Follows CONNECTORS.md: REST under `/api/`, `Authorization: Bearer <token>`, paging with `page` and `per_page` and
 * list bodies `{total, pages, results}`, filters in `_filter` as URL-encoded JSON, resources `sales/tickets`, `items`,
 * `customers`, `inventory/values`, `locations`, and webhook subscriptions at `/api/webhooks`.
 *
 * Choices made where the public docs are silent (the connector follows the same choices):
 * - Tokens: static API tokens. The one passed as `token` (default `retail-sandbox-token`) is valid; `issueToken()`
 *   mints another. A `POST /__faults {"expireTokens": true}` invalidates every token issued before it, as a revoked
 *   token would be. Missing or unknown token => 401 `{"error": "Unauthorized"}`.
 * - Errors are `{"error": "<message>"}` (plus `details` on 422): 400 for a bad `_filter`/`page`/`per_page` or JSON
 *   body, 404 `{"error": "Not found"}` for an unknown resource or id, 422 for an invalid write.
 * - Paging: `page` from 1, `per_page` default 30, capped at 100; records in ascending id order; a page past the end
 *   returns empty `results` with the real `total` and `pages`. Only `total`, `pages` and `results` are returned.
 * - `_filter`: `{field: value}` (equality) or `{field: {"$eq"|"$gt"|"$lt": value}}`; several fields AND together;
 *   anything else (bad JSON, unknown field or operator, a non-timestamp for a timestamp field) => 400. Filterable:
 *   tickets `updated_at`, `completed_at`, `status`, `customer_id`; items `updated_at`, `custom@sku` (alias `sku`),
 *   `public_id`; customers `updated_at`, `email`, `public_id`, `phone`; inventory values `updated_at`, `item_id`,
 *   `location_id`; locations `updated_at`, `public_id`. String equality is exact and case-sensitive (the near-duplicate
 *   customers are for Ledgerbridge's own normalised dedup to find).
 * - Amounts are JSON decimal numbers (89.99) in USD; writes accept a number or a decimal string, never more than 2
 *   decimals. Items carry the SKU in the custom field `custom.sku`; `public_id` is the item number.
 * - Writes: `POST /api/items`, `PUT /api/items/:id` (price, cost, description, active, custom.sku: promotions and
 *   price changes go through the item price), `POST /api/inventory/values` `{item_id, location_id, qty_on_hand}`
 *   sets the absolute on-hand quantity (idempotent by nature), `POST /api/customers` and `PUT /api/customers/:id`
 *   (a `public_id` already taken => 422, which lets a caller put its own reference there and find it again).
 * - Tickets: status `complete` or `void`. A return/refund is a ticket whose lines have negative `qty` and `value`
 *   (and negative totals and payments); a return line may name the sale in `original_ticket_id`. Completing a sale
 *   or a return both send `sales_transaction_completed`.
 * - Webhooks: `POST /api/webhooks {url, events[], secret?}` (secret generated when omitted, shown only in that
 *   response), `GET /api/webhooks`, `DELETE /api/webhooks/:id`. A delivery is a minified JSON POST of the envelope
 *   `{id, event, created_at, data}` where `data` is the resource as GET returns it, with headers `X-Heartland-Event`,
 *   `X-Heartland-Event-Id` (= envelope id, the same on every redelivery), `X-Heartland-Timestamp` (Unix seconds) and
 *   `X-Heartland-Signature` = hex HMAC-SHA256(secret, `${timestamp}.${rawBody}`); receivers accept 5 minutes of skew
 *   (src/connectors/heartland/retail-webhook-signature.ts). Writes through the API notify matching subscriptions
 *   (item_created/updated, customer_created/updated); `simulateSale` sends sales_transaction_completed.
 * - The shared fault middleware (src/sandbox/faults.ts) is mounted before everything else.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express, { type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import { FaultState } from '../faults';
import { parseDecimal } from '../../domain/money';
import { RETAIL_WEBHOOK_EVENTS, type RetailWebhookEvent } from '../../connectors/heartland/retail-schemas';
import { signRetailWebhook } from '../../connectors/heartland/retail-webhook-signature';
import { compileFilter, FilterError, type FieldSpec } from './filter';
import {
  inventoryKey,
  seedState,
  SIM_CURRENCY,
  SIM_TAX,
  ticketTotals,
  type RetailSimState,
  type SimCustomer,
  type SimInventoryValue,
  type SimItem,
  type SimLocation,
  type SimTicket,
  type SimTicketLine,
} from './state';
import {
  renderCustomer,
  renderInventoryValue,
  renderItem,
  renderLocation,
  renderTicket,
  renderWebhook,
} from './render';

export { seedState, SHARED_SKUS } from './state';
export type { RetailSimState } from './state';

export interface HeartlandRetailSimulatorOptions {
  port?: number;
  host?: string;
  /** The API token accepted from the start (default `retail-sandbox-token`). */
  token?: string;
  /** Notify webhook subscriptions on writes (default true). */
  autoWebhooks?: boolean;
}

export interface WebhookSendOptions {
  /** How many times to deliver the same event (same body and event id): 2+ simulates duplicate delivery. */
  times?: number;
  secret: string;
  /** Envelope id; generated when omitted. */
  eventId?: string;
  /** Signing time in Unix seconds (default now), e.g. to send a stale delivery. */
  timestampSeconds?: number;
}

export interface WebhookSendResult {
  eventId: string;
  rawBody: string;
  responses: { status: number; text: string; error?: string }[];
}

export interface SimulatedSale {
  customerId?: number | null;
  locationId?: number;
  /** Negative qty for a return. */
  lines: { sku: string; qty: number; unitPriceMinor?: number; originalTicketId?: number }[];
  payment?: { type: 'credit_card' | 'cash'; cardBrand?: string; last4?: string; transactionId?: string };
  status?: 'complete' | 'void';
}

export interface HeartlandRetailSimulator {
  /** Server root, e.g. http://127.0.0.1:4100 (the API is under `${url}/api`). */
  url: string;
  port: number;
  token: string;
  faults: FaultState;
  state: RetailSimState;
  close(): Promise<void>;
  /** Mints another valid API token (e.g. after `expireTokens`). */
  issueToken(): string;
  /** Delivers one signed event `times` times to `url`. */
  sendWebhook(
    url: string,
    event: RetailWebhookEvent,
    payload: unknown,
    opts: WebhookSendOptions,
  ): Promise<WebhookSendResult>;
  /** Delivers an event to every active subscription for it; resolves when all deliveries are done. */
  emit(event: RetailWebhookEvent, payload: unknown): Promise<WebhookSendResult[]>;
  /** Records a sale (or a return, with negative quantities) at the POS and notifies subscribers. */
  simulateSale(sale: SimulatedSale): Promise<ReturnType<typeof renderTicket>>;
  render: {
    ticket(id: number): ReturnType<typeof renderTicket>;
    item(id: number): ReturnType<typeof renderItem>;
    customer(id: number): ReturnType<typeof renderCustomer>;
  };
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

const now = () => new Date().toISOString();

const decimalInput = z.union([z.number(), z.string()]).transform((v, ctx) => {
  try {
    const m = parseDecimal(String(v), SIM_CURRENCY).amountMinor;
    if (m < 0) throw new Error('must not be negative');
    return m;
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
    return z.NEVER;
  }
});
const optionalText = z.string().max(200).nullable().optional();
const email = z
  .string()
  .regex(/^[^@\s]+@[^@\s]+\.[^@\s]+$/, 'is not an email address')
  .nullable()
  .optional();

const itemCreateBody = z.object({
  public_id: z.string().min(1).max(50).optional(),
  description: z.string().min(1).max(200),
  price: decimalInput,
  cost: decimalInput.nullable().optional(),
  active: z.boolean().optional(),
  custom: z.object({ sku: z.string().min(1).max(50).nullable().optional() }).optional(),
});
const itemUpdateBody = itemCreateBody.partial();
const inventoryBody = z.object({
  item_id: z.coerce.number().int().positive(),
  location_id: z.coerce.number().int().positive(),
  qty_on_hand: z.number().int(),
});
const customerBody = z.object({
  public_id: z.string().min(1).max(50).nullable().optional(),
  first_name: optionalText,
  last_name: optionalText,
  email,
  phone: z.string().max(40).nullable().optional(),
  active: z.boolean().optional(),
});
const webhookBody = z.object({
  url: z.url(),
  events: z.array(z.enum(RETAIL_WEBHOOK_EVENTS)).min(1),
  secret: z.string().min(16).optional(),
});

function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  const r = schema.safeParse(body ?? {});
  if (r.success) return r.data;
  const details: Record<string, string> = {};
  for (const issue of r.error.issues) details[issue.path.join('.') || 'body'] = issue.message;
  throw new HttpError(422, 'Validation failed', details);
}

function pageParam(raw: unknown, name: string, fallback: number): number {
  if (raw === undefined) return fallback;
  if (typeof raw !== 'string' || !/^\d+$/.test(raw) || Number(raw) < 1) {
    throw new HttpError(400, `${name} must be a positive integer`);
  }
  return Number(raw);
}

function paged<T>(req: Request, rows: Iterable<T>, fields: Record<string, FieldSpec<T>>, render: (r: T) => unknown) {
  const page = pageParam(req.query.page, 'page', 1);
  const perPage = Math.min(100, pageParam(req.query.per_page, 'per_page', 30));
  let predicate: (r: T) => boolean;
  try {
    predicate = compileFilter(req.query._filter, fields);
  } catch (err) {
    if (err instanceof FilterError) throw new HttpError(400, `Invalid _filter: ${err.message}`);
    throw err;
  }
  const all = [...rows].filter(predicate);
  const start = (page - 1) * perPage;
  return {
    total: all.length,
    pages: Math.ceil(all.length / perPage),
    results: all.slice(start, start + perPage).map(render),
  };
}

function idParam(req: Request): number {
  const raw = String(req.params.id);
  if (!/^\d+$/.test(raw)) throw new HttpError(404, 'Not found');
  return Number(raw);
}

function found<T>(v: T | undefined): T {
  if (v === undefined) throw new HttpError(404, 'Not found');
  return v;
}

const byId = <T extends { id: number }>(m: Map<number, T>) => [...m.values()].sort((a, b) => a.id - b.id);

/** Starts the simulator; see the header comment for the wire behaviour. */
export async function startHeartlandRetailSimulator(
  opts: HeartlandRetailSimulatorOptions = {},
): Promise<HeartlandRetailSimulator> {
  const host = opts.host ?? '127.0.0.1';
  const token = opts.token ?? 'retail-sandbox-token';
  const autoWebhooks = opts.autoWebhooks ?? true;
  const faults = new FaultState();
  const state = seedState();
  /** token => the fault epoch it was issued in; tokens from an older epoch are revoked. */
  const tokens = new Map<string, number>([[token, 0]]);
  const pending = new Set<Promise<unknown>>();

  const app = express();
  app.disable('x-powered-by');
  app.use(faults.middleware());
  app.use(express.json({ limit: '1mb' }));

  app.use('/api', (req: Request, res: Response, next: NextFunction) => {
    const m = /^Bearer\s+(\S+)$/i.exec(req.get('authorization') ?? '');
    const epoch = m ? tokens.get(m[1]) : undefined;
    if (epoch === undefined || epoch < faults.tokenEpoch) {
      res.status(401).json({ error: 'Unauthorized' });
      return;
    }
    next();
  });

  const api = express.Router();
  const wrap =
    (fn: (req: Request, res: Response) => unknown) =>
    (req: Request, res: Response, next: NextFunction): void => {
      try {
        const out = fn(req, res);
        if (out !== undefined && !res.headersSent) res.json(out);
      } catch (err) {
        next(err);
      }
    };

  const ticketFields: Record<string, FieldSpec<SimTicket>> = {
    updated_at: { kind: 'timestamp', get: (t) => t.updatedAt },
    completed_at: { kind: 'timestamp', get: (t) => t.completedAt },
    status: { kind: 'string', get: (t) => t.status },
    customer_id: { kind: 'id', get: (t) => t.customerId },
  };
  const itemFields: Record<string, FieldSpec<SimItem>> = {
    updated_at: { kind: 'timestamp', get: (i) => i.updatedAt },
    'custom@sku': { kind: 'string', get: (i) => i.sku },
    sku: { kind: 'string', get: (i) => i.sku },
    public_id: { kind: 'string', get: (i) => i.publicId },
  };
  const customerFields: Record<string, FieldSpec<SimCustomer>> = {
    updated_at: { kind: 'timestamp', get: (c) => c.updatedAt },
    email: { kind: 'string', get: (c) => c.email },
    public_id: { kind: 'string', get: (c) => c.publicId },
    phone: { kind: 'string', get: (c) => c.phone },
  };
  const inventoryFields: Record<string, FieldSpec<SimInventoryValue>> = {
    updated_at: { kind: 'timestamp', get: (v) => v.updatedAt },
    item_id: { kind: 'id', get: (v) => v.itemId },
    location_id: { kind: 'id', get: (v) => v.locationId },
  };
  const locationFields: Record<string, FieldSpec<SimLocation>> = {
    updated_at: { kind: 'timestamp', get: (l) => l.updatedAt },
    public_id: { kind: 'string', get: (l) => l.publicId },
  };

  const notify = (event: RetailWebhookEvent, payload: unknown) => {
    if (!autoWebhooks) return;
    const p = emit(event, payload).catch(() => undefined);
    pending.add(p);
    void p.finally(() => pending.delete(p));
  };

  // Sales tickets (read-only through the API; the POS creates them: see simulateSale).
  api.get(
    '/sales/tickets',
    wrap((req) => paged(req, byId(state.tickets), ticketFields, (t) => renderTicket(t, state))),
  );
  api.get(
    '/sales/tickets/:id',
    wrap((req) => renderTicket(found(state.tickets.get(idParam(req))), state)),
  );

  // Items.
  api.get(
    '/items',
    wrap((req) => paged(req, byId(state.items), itemFields, renderItem)),
  );
  api.get(
    '/items/:id',
    wrap((req) => renderItem(found(state.items.get(idParam(req))))),
  );
  api.post(
    '/items',
    wrap((req, res) => {
      const b = parseBody(itemCreateBody, req.body);
      const id = state.nextId.item++;
      const publicId = b.public_id ?? String(100000 + id);
      if ([...state.items.values()].some((i) => i.publicId === publicId)) {
        throw new HttpError(422, 'Validation failed', { public_id: 'has already been taken' });
      }
      const t = now();
      const item: SimItem = {
        id,
        publicId,
        sku: b.custom?.sku ?? null,
        description: b.description,
        priceMinor: b.price,
        costMinor: b.cost ?? null,
        active: b.active ?? true,
        createdAt: t,
        updatedAt: t,
      };
      state.items.set(id, item);
      notify('item_created', renderItem(item));
      res.status(201).json(renderItem(item));
    }),
  );
  api.put(
    '/items/:id',
    wrap((req) => {
      const item = found(state.items.get(idParam(req)));
      const b = parseBody(itemUpdateBody, req.body);
      if (b.public_id !== undefined && b.public_id !== item.publicId) {
        if ([...state.items.values()].some((i) => i.publicId === b.public_id)) {
          throw new HttpError(422, 'Validation failed', { public_id: 'has already been taken' });
        }
        item.publicId = b.public_id;
      }
      if (b.description !== undefined) item.description = b.description;
      if (b.price !== undefined) item.priceMinor = b.price;
      if (b.cost !== undefined) item.costMinor = b.cost;
      if (b.active !== undefined) item.active = b.active;
      if (b.custom?.sku !== undefined) item.sku = b.custom.sku;
      item.updatedAt = now();
      notify('item_updated', renderItem(item));
      return renderItem(item);
    }),
  );

  // Customers.
  api.get(
    '/customers',
    wrap((req) => paged(req, byId(state.customers), customerFields, renderCustomer)),
  );
  api.get(
    '/customers/:id',
    wrap((req) => renderCustomer(found(state.customers.get(idParam(req))))),
  );
  const checkPublicId = (publicId: string | null | undefined, self?: number) => {
    if (!publicId) return;
    if ([...state.customers.values()].some((c) => c.publicId === publicId && c.id !== self)) {
      throw new HttpError(422, 'Validation failed', { public_id: 'has already been taken' });
    }
  };
  api.post(
    '/customers',
    wrap((req, res) => {
      const b = parseBody(customerBody, req.body);
      if (!b.first_name && !b.last_name && !b.email) {
        throw new HttpError(422, 'Validation failed', { base: 'a customer needs a name or an email' });
      }
      checkPublicId(b.public_id);
      const id = state.nextId.customer++;
      const t = now();
      const c: SimCustomer = {
        id,
        publicId: b.public_id ?? null,
        firstName: b.first_name ?? null,
        lastName: b.last_name ?? null,
        email: b.email ?? null,
        phone: b.phone ?? null,
        active: b.active ?? true,
        createdAt: t,
        updatedAt: t,
      };
      state.customers.set(id, c);
      notify('customer_created', renderCustomer(c));
      res.status(201).json(renderCustomer(c));
    }),
  );
  api.put(
    '/customers/:id',
    wrap((req) => {
      const c = found(state.customers.get(idParam(req)));
      const b = parseBody(customerBody, req.body);
      checkPublicId(b.public_id, c.id);
      if (b.public_id !== undefined) c.publicId = b.public_id;
      if (b.first_name !== undefined) c.firstName = b.first_name;
      if (b.last_name !== undefined) c.lastName = b.last_name;
      if (b.email !== undefined) c.email = b.email;
      if (b.phone !== undefined) c.phone = b.phone;
      if (b.active !== undefined) c.active = b.active;
      c.updatedAt = now();
      notify('customer_updated', renderCustomer(c));
      return renderCustomer(c);
    }),
  );

  // Inventory values (on hand per item and location).
  api.get(
    '/inventory/values',
    wrap((req) =>
      paged(
        req,
        [...state.inventory.values()].sort((a, b) => a.itemId - b.itemId || a.locationId - b.locationId),
        inventoryFields,
        renderInventoryValue,
      ),
    ),
  );
  api.post(
    '/inventory/values',
    wrap((req) => {
      const b = parseBody(inventoryBody, req.body);
      if (!state.items.has(b.item_id)) throw new HttpError(422, 'Validation failed', { item_id: 'does not exist' });
      if (!state.locations.has(b.location_id)) {
        throw new HttpError(422, 'Validation failed', { location_id: 'does not exist' });
      }
      const v: SimInventoryValue = {
        itemId: b.item_id,
        locationId: b.location_id,
        qtyOnHand: b.qty_on_hand,
        updatedAt: now(),
      };
      state.inventory.set(inventoryKey(v.itemId, v.locationId), v);
      return renderInventoryValue(v);
    }),
  );

  // Locations.
  api.get(
    '/locations',
    wrap((req) => paged(req, byId(state.locations), locationFields, renderLocation)),
  );
  api.get(
    '/locations/:id',
    wrap((req) => renderLocation(found(state.locations.get(idParam(req))))),
  );

  // Webhook subscriptions.
  api.get(
    '/webhooks',
    wrap((req) => paged(req, byId(state.webhooks), {}, (w) => renderWebhook(w))),
  );
  api.post(
    '/webhooks',
    wrap((req, res) => {
      const b = parseBody(webhookBody, req.body);
      const id = state.nextId.webhook++;
      const w = {
        id,
        url: b.url,
        events: [...new Set(b.events)],
        secret: b.secret ?? randomBytes(24).toString('hex'),
        active: true,
        createdAt: now(),
      };
      state.webhooks.set(id, w);
      res.status(201).json(renderWebhook(w, true));
    }),
  );
  api.delete(
    '/webhooks/:id',
    wrap((req, res) => {
      const id = idParam(req);
      found(state.webhooks.get(id));
      state.webhooks.delete(id);
      res.status(204).end();
    }),
  );

  app.use('/api', api);
  app.use((_req: Request, res: Response) => {
    res.status(404).json({ error: 'Not found' });
  });
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    if (err instanceof HttpError) {
      res.status(err.status).json({ error: err.message, ...(err.details ? { details: err.details } : {}) });
      return;
    }
    const e = err as { type?: string; status?: number };
    if (e.type === 'entity.parse.failed') {
      res.status(400).json({ error: 'Request body is not valid JSON' });
      return;
    }
    if (e.type === 'entity.too.large') {
      res.status(413).json({ error: 'Request body too large' });
      return;
    }
    res.status(500).json({ error: 'Internal server error' });
  });

  async function sendWebhook(
    url: string,
    event: RetailWebhookEvent,
    payload: unknown,
    o: WebhookSendOptions,
  ): Promise<WebhookSendResult> {
    const eventId = o.eventId ?? `evt_${randomUUID()}`;
    const rawBody = JSON.stringify({ id: eventId, event, created_at: now(), data: payload });
    const responses: WebhookSendResult['responses'] = [];
    const times = Math.max(1, o.times ?? 1);
    for (let attempt = 1; attempt <= times; attempt++) {
      const headers = {
        'content-type': 'application/json',
        'user-agent': 'HeartlandRetail-Webhooks/1.0 (simulator)',
        'x-heartland-event': event,
        'x-heartland-event-id': eventId,
        ...signRetailWebhook(rawBody, o.secret, o.timestampSeconds),
      };
      try {
        const res = await fetch(url, { method: 'POST', headers, body: rawBody, signal: AbortSignal.timeout(10_000) });
        const text = await res.text();
        responses.push({ status: res.status, text });
        state.deliveries.push({ eventId, event, url, attempt, status: res.status });
      } catch (err) {
        const error = (err as Error).message;
        responses.push({ status: 0, text: '', error });
        state.deliveries.push({ eventId, event, url, attempt, status: 0, error });
      }
    }
    return { eventId, rawBody, responses };
  }

  async function emit(event: RetailWebhookEvent, payload: unknown): Promise<WebhookSendResult[]> {
    const subs = byId(state.webhooks).filter((w) => w.active && w.events.includes(event));
    return Promise.all(subs.map((w) => sendWebhook(w.url, event, payload, { secret: w.secret })));
  }

  async function simulateSale(sale: SimulatedSale) {
    if (sale.lines.length === 0) throw new Error('a sale needs at least one line');
    const locationId = sale.locationId ?? 1;
    if (!state.locations.has(locationId)) throw new Error(`unknown location ${locationId}`);
    const customerId = sale.customerId ?? null;
    if (customerId !== null && !state.customers.has(customerId)) throw new Error(`unknown customer ${customerId}`);
    const lines: SimTicketLine[] = sale.lines.map((l) => {
      const item = [...state.items.values()].find((i) => i.sku === l.sku);
      if (!item) throw new Error(`unknown SKU ${l.sku}`);
      if (!Number.isInteger(l.qty) || l.qty === 0) throw new Error('qty must be a non-zero integer');
      const unit = l.unitPriceMinor ?? item.priceMinor;
      return {
        id: state.nextId.line++,
        itemId: item.id,
        sku: item.sku,
        description: item.description,
        qty: l.qty,
        unitPriceMinor: unit,
        valueMinor: unit * l.qty,
        originalTicketId: l.originalTicketId ?? null,
      };
    });
    const totals = ticketTotals(lines);
    const id = state.nextId.ticket++;
    const t = now();
    const status = sale.status ?? 'complete';
    const pay = sale.payment ?? { type: 'credit_card', cardBrand: 'VISA', last4: '4242' };
    const ticket: SimTicket = {
      id,
      publicId: `T-${String(id).padStart(6, '0')}`,
      status,
      customerId,
      locationId,
      lines,
      taxes: [{ name: SIM_TAX.name, rate: SIM_TAX.rate, amountMinor: totals.taxMinor }],
      payments: [
        {
          id: state.nextId.payment++,
          paymentType: pay.type,
          amountMinor: totals.totalMinor,
          cardBrand: pay.type === 'credit_card' ? (pay.cardBrand ?? 'VISA') : null,
          cardLast4: pay.type === 'credit_card' ? (pay.last4 ?? '4242') : null,
          transactionId: pay.transactionId ?? (pay.type === 'credit_card' ? `TRN_${randomUUID().slice(0, 8)}` : null),
        },
      ],
      ...totals,
      completedAt: status === 'complete' ? t : null,
      createdAt: t,
      updatedAt: t,
    };
    state.tickets.set(id, ticket);
    if (status === 'complete') {
      for (const l of lines) {
        const key = inventoryKey(l.itemId!, locationId);
        const v = state.inventory.get(key) ?? { itemId: l.itemId!, locationId, qtyOnHand: 0, updatedAt: t };
        state.inventory.set(key, { ...v, qtyOnHand: v.qtyOnHand - l.qty, updatedAt: t });
      }
      await emit('sales_transaction_completed', renderTicket(ticket, state));
    }
    return renderTicket(ticket, state);
  }

  const server: Server = await new Promise((resolve, reject) => {
    const s = app.listen(opts.port ?? 0, host, () => resolve(s));
    s.once('error', reject);
  });
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://${host}:${port}`,
    port,
    token,
    faults,
    state,
    issueToken() {
      const t = `rt_${randomBytes(16).toString('hex')}`;
      tokens.set(t, faults.tokenEpoch);
      return t;
    },
    sendWebhook,
    emit,
    simulateSale,
    render: {
      ticket: (id) => renderTicket(found(state.tickets.get(id)), state),
      item: (id) => renderItem(found(state.items.get(id))),
      customer: (id) => renderCustomer(found(state.customers.get(id))),
    },
    async close() {
      await Promise.allSettled([...pending]);
      faults.clear();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
