import { z } from 'zod';
import type { ErrorType } from '../../domain/errors';
import type { Logger } from '../../logger';
import { HttpClient, type TokenProvider } from '../http';
import {
  retailSchemas,
  toWireDecimal,
  type RetailCustomer,
  type RetailInventoryValue,
  type RetailItem,
  type RetailLocation,
  type RetailTicket,
  type RetailWebhookEvent,
  type RetailWebhookSubscription,
} from './retail-schemas';

/**
 * Heartland Retail (POS) REST connector. Every list is an async iterator that fetches one page at a time (bounded
 * memory); every response is validated by a zod schema (a mismatch is a non-retryable SchemaMismatch naming the
 * field); amounts come back as integer minor units. Wire behaviour and the choices made where the vendor docs are
 * silent are documented in src/sandbox/heartland-retail/index.ts.
 */

export const RETAIL_CONNECTOR = 'heartland-retail';
export const RETAIL_CONNECTOR_VERSION = '1.0.0';

export type RetailCondition = string | number | null | { $eq?: string | number | null; $gt?: string; $lt?: string };
/** A Retail `_filter`: field => value (equality) or operators; several fields AND together. */
export type RetailFilter = Record<string, RetailCondition>;

export interface HeartlandRetailOptions {
  /** `https://<subdomain>.retail.heartland.us` (with or without the trailing `/api`). */
  baseUrl: string;
  /** A static API token: a 401 is then AuthFailed at once. */
  token?: string;
  /** A token provider instead: a 401 invalidates it, fetches a new token and retries once. */
  auth?: TokenProvider;
  /** The account currency (Retail amounts carry none). Default USD. */
  currency?: string;
  /** Page size for lists (Retail caps it at 100). Default 100. */
  perPage?: number;
  timeoutMs?: number;
  breaker?: { failureThreshold?: number; resetTimeoutMs?: number } | false;
  logger?: Logger;
}

export interface UpdatedRange {
  /** Only records updated strictly after this ISO instant. */
  updatedAfter?: string;
  /** Only records updated strictly before this ISO instant. */
  updatedBefore?: string;
}

export interface RetailCustomerInput {
  /** Our reference, stored in the Retail `public_id` so a retry can find the record again. */
  publicId?: string;
  firstName?: string;
  lastName?: string;
  email?: string;
  phone?: string;
}

function defaultType(status: number): ErrorType {
  if (status === 429) return 'RateLimited';
  if (status >= 500) return 'UpstreamUnavailable';
  if (status === 403) return 'Forbidden';
  if (status === 404) return 'NotFound';
  if (status === 408) return 'Timeout';
  // Retail has no idempotency keys, so a 409 is a plain conflict (e.g. a concurrent edit): retryable.
  if (status === 409) return 'UpstreamConflict';
  return 'UpstreamRejected';
}

/** Retail error bodies are `{error: "..."}` (plus `details` on 422): keep the message, map the status. */
function classify(status: number, body: unknown): { type: ErrorType; message?: string } | undefined {
  if (!body || typeof body !== 'object') return undefined;
  const b = body as { error?: unknown; details?: unknown };
  if (typeof b.error !== 'string') return undefined;
  const details = b.details && typeof b.details === 'object' ? ` ${JSON.stringify(b.details)}` : '';
  return { type: defaultType(status), message: `${b.error}${details}`.slice(0, 500) };
}

function updatedFilter(r: UpdatedRange | undefined): RetailFilter {
  if (!r?.updatedAfter && !r?.updatedBefore) return {};
  const cond: { $gt?: string; $lt?: string } = {};
  if (r.updatedAfter) cond.$gt = r.updatedAfter;
  if (r.updatedBefore) cond.$lt = r.updatedBefore;
  return { updated_at: cond };
}

export class HeartlandRetailConnector {
  readonly http: HttpClient;
  readonly currency: string;
  private readonly perPage: number;
  private readonly s: ReturnType<typeof retailSchemas>;

  constructor(opts: HeartlandRetailOptions) {
    if (!opts.token && !opts.auth) throw new Error('HeartlandRetailConnector needs a token or a token provider');
    const base = opts.baseUrl.replace(/\/+$/, '');
    this.currency = opts.currency ?? 'USD';
    this.perPage = Math.min(100, Math.max(1, opts.perPage ?? 100));
    this.s = retailSchemas(this.currency);
    this.http = new HttpClient({
      connector: RETAIL_CONNECTOR,
      version: RETAIL_CONNECTOR_VERSION,
      baseUrl: base.endsWith('/api') ? base : `${base}/api`,
      timeoutMs: opts.timeoutMs,
      // A static token cannot be refreshed, so it goes in the default headers: a 401 fails at once.
      auth: opts.auth,
      headers: opts.auth ? undefined : { authorization: `Bearer ${opts.token}` },
      breaker: opts.breaker,
      logger: opts.logger,
      classify,
    });
  }

  /** Pages through a list with `page`/`per_page`, yielding one record at a time. */
  async *list<T>(path: string, schema: z.ZodType<T>, filter?: RetailFilter): AsyncGenerator<T> {
    const pageSchema = this.s.page(schema);
    const _filter = filter && Object.keys(filter).length > 0 ? JSON.stringify(filter) : undefined;
    for (let page = 1; ; page++) {
      const res = (await this.http.request({
        method: 'GET',
        path,
        query: { page, per_page: this.perPage, _filter },
        schema: pageSchema,
      })) as { pages: number; results: T[] };
      yield* res.results;
      if (page >= res.pages || res.results.length === 0) return;
    }
  }

  /** Sales tickets (sales and returns, complete or void), optionally only those updated in a range. */
  listTickets(
    q: UpdatedRange & { status?: 'complete' | 'void'; filter?: RetailFilter } = {},
  ): AsyncGenerator<RetailTicket> {
    return this.list('/sales/tickets', this.s.ticket, {
      ...updatedFilter(q),
      ...(q.status ? { status: q.status } : {}),
      ...q.filter,
    });
  }

  /** One sales ticket by id. */
  getTicket(id: string): Promise<RetailTicket> {
    return this.http.request({
      method: 'GET',
      path: `/sales/tickets/${encodeURIComponent(id)}`,
      schema: this.s.ticket,
    });
  }

  /** Items (the catalog), optionally by SKU or updated range. */
  listItems(q: UpdatedRange & { sku?: string; filter?: RetailFilter } = {}): AsyncGenerator<RetailItem> {
    return this.list('/items', this.s.item, {
      ...updatedFilter(q),
      ...(q.sku !== undefined ? { 'custom@sku': q.sku } : {}),
      ...q.filter,
    });
  }

  /** One item by id. */
  getItem(id: string): Promise<RetailItem> {
    return this.http.request({ method: 'GET', path: `/items/${encodeURIComponent(id)}`, schema: this.s.item });
  }

  /** The item with this custom SKU, or null. */
  async findItemBySku(sku: string): Promise<RetailItem | null> {
    for await (const item of this.listItems({ sku })) return item;
    return null;
  }

  /** Customers, optionally by exact email, public id or updated range. */
  listCustomers(
    q: UpdatedRange & { email?: string; publicId?: string; filter?: RetailFilter } = {},
  ): AsyncGenerator<RetailCustomer> {
    return this.list('/customers', this.s.customer, {
      ...updatedFilter(q),
      ...(q.email !== undefined ? { email: q.email } : {}),
      ...(q.publicId !== undefined ? { public_id: q.publicId } : {}),
      ...q.filter,
    });
  }

  /** One customer by id. */
  getCustomer(id: string): Promise<RetailCustomer> {
    return this.http.request({ method: 'GET', path: `/customers/${encodeURIComponent(id)}`, schema: this.s.customer });
  }

  /** On-hand quantities per item and location. */
  listInventoryValues(
    q: UpdatedRange & { itemId?: string; locationId?: string; filter?: RetailFilter } = {},
  ): AsyncGenerator<RetailInventoryValue> {
    return this.list('/inventory/values', this.s.inventoryValue, {
      ...updatedFilter(q),
      ...(q.itemId !== undefined ? { item_id: q.itemId } : {}),
      ...(q.locationId !== undefined ? { location_id: q.locationId } : {}),
      ...q.filter,
    });
  }

  /** Store locations. */
  listLocations(q: { publicId?: string; filter?: RetailFilter } = {}): AsyncGenerator<RetailLocation> {
    return this.list('/locations', this.s.location, {
      ...(q.publicId !== undefined ? { public_id: q.publicId } : {}),
      ...q.filter,
    });
  }

  /** The location with this public id (e.g. MAIN), or null. */
  async findLocation(publicId: string): Promise<RetailLocation | null> {
    for await (const l of this.listLocations({ publicId })) return l;
    return null;
  }

  /** Sets an item's selling price (how promotions and price changes reach the POS); idempotent. */
  updateItemPrice(itemId: string, priceMinor: number): Promise<RetailItem> {
    return this.updateItem(itemId, { priceMinor });
  }

  /** Updates an item's price, cost, description or active flag. */
  updateItem(
    itemId: string,
    patch: { priceMinor?: number; costMinor?: number | null; description?: string; active?: boolean },
  ): Promise<RetailItem> {
    const body: Record<string, unknown> = {};
    if (patch.priceMinor !== undefined) body.price = toWireDecimal(patch.priceMinor, this.currency);
    if (patch.costMinor !== undefined) {
      body.cost = patch.costMinor === null ? null : toWireDecimal(patch.costMinor, this.currency);
    }
    if (patch.description !== undefined) body.description = patch.description;
    if (patch.active !== undefined) body.active = patch.active;
    return this.http.request({
      method: 'PUT',
      path: `/items/${encodeURIComponent(itemId)}`,
      body,
      schema: this.s.item,
    });
  }

  /** Creates an item with a custom SKU. */
  createItem(input: {
    sku: string;
    description: string;
    priceMinor: number;
    costMinor?: number;
    publicId?: string;
  }): Promise<RetailItem> {
    return this.http.request({
      method: 'POST',
      path: '/items',
      body: {
        public_id: input.publicId,
        description: input.description,
        price: toWireDecimal(input.priceMinor, this.currency),
        cost: input.costMinor === undefined ? undefined : toWireDecimal(input.costMinor, this.currency),
        custom: { sku: input.sku },
      },
      schema: this.s.item,
    });
  }

  /** Sets the absolute on-hand quantity of an item at a location (idempotent: a retry sets the same value). */
  setInventoryValue(v: { itemId: string; locationId: string; qtyOnHand: number }): Promise<RetailInventoryValue> {
    if (!Number.isInteger(v.qtyOnHand)) throw new Error('qtyOnHand must be an integer');
    return this.http.request({
      method: 'POST',
      path: '/inventory/values',
      body: { item_id: Number(v.itemId), location_id: Number(v.locationId), qty_on_hand: v.qtyOnHand },
      schema: this.s.inventoryValue,
    });
  }

  /** Creates a customer; not idempotent by itself: callers go through idempotentWrite with findByPublicId. */
  createCustomer(c: RetailCustomerInput): Promise<RetailCustomer> {
    return this.http.request({ method: 'POST', path: '/customers', body: customerBody(c), schema: this.s.customer });
  }

  /** Updates the given fields of a customer. */
  updateCustomer(id: string, c: RetailCustomerInput): Promise<RetailCustomer> {
    return this.http.request({
      method: 'PUT',
      path: `/customers/${encodeURIComponent(id)}`,
      body: customerBody(c),
      schema: this.s.customer,
    });
  }

  /** The customer whose public id is our reference, or null. */
  async findCustomerByPublicId(publicId: string): Promise<RetailCustomer | null> {
    for await (const c of this.listCustomers({ publicId })) return c;
    return null;
  }

  /**
   * Creates or updates a customer: matched by our public id, else by exact email. Fuzzy dedup (email case, phone
   * formats, names) belongs to the customer-sync flow, which passes the id of the record it chose to updateCustomer.
   */
  async upsertCustomer(c: RetailCustomerInput): Promise<{ customer: RetailCustomer; created: boolean }> {
    let existing = c.publicId ? await this.findCustomerByPublicId(c.publicId) : null;
    if (!existing && c.email) {
      for await (const hit of this.listCustomers({ email: c.email })) {
        existing = hit;
        break;
      }
    }
    if (existing) {
      // Never overwrite another system's public id with ours.
      const patch = existing.publicId ? { ...c, publicId: undefined } : c;
      return { customer: await this.updateCustomer(existing.id, patch), created: false };
    }
    return { customer: await this.createCustomer(c), created: true };
  }

  /** Webhook subscriptions of the account. */
  listWebhooks(): AsyncGenerator<RetailWebhookSubscription> {
    return this.list('/webhooks', this.s.webhook);
  }

  /** Subscribes `url` to events; the response holds the signing secret (generated unless given). */
  createWebhook(w: { url: string; events: RetailWebhookEvent[]; secret?: string }): Promise<RetailWebhookSubscription> {
    return this.http.request({ method: 'POST', path: '/webhooks', body: w, schema: this.s.webhook });
  }

  /** Deletes a webhook subscription. */
  async deleteWebhook(id: string): Promise<void> {
    await this.http.request({
      method: 'DELETE',
      path: `/webhooks/${encodeURIComponent(id)}`,
      schema: z.unknown(),
    });
  }

  /** Closes the connections of the HTTP client. */
  close(): Promise<void> {
    return this.http.close();
  }
}

function customerBody(c: RetailCustomerInput): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  if (c.publicId !== undefined) body.public_id = c.publicId;
  if (c.firstName !== undefined) body.first_name = c.firstName;
  if (c.lastName !== undefined) body.last_name = c.lastName;
  if (c.email !== undefined) body.email = c.email;
  if (c.phone !== undefined) body.phone = c.phone;
  return body;
}
