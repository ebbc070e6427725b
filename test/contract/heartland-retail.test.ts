import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApplicationFailure } from '@temporalio/common';
import { CachedTokenProvider, type TokenProvider } from '../../src/connectors/http';
import { HeartlandRetailConnector } from '../../src/connectors/heartland/retail-connector';
import { parseRetailWebhook, retailSchemas, toWireDecimal } from '../../src/connectors/heartland/retail-schemas';
import {
  RETAIL_SIGNATURE_TOLERANCE_MS,
  signRetailWebhook,
  verifyRetailSignature,
} from '../../src/connectors/heartland/retail-webhook-signature';
import { startHeartlandRetailSimulator, type HeartlandRetailSimulator } from '../../src/sandbox/heartland-retail';
import { seedTime } from '../../src/sandbox/heartland-retail/state';
import { z } from 'zod';

let sim: HeartlandRetailSimulator;
let retail: HeartlandRetailConnector;
const opened: HeartlandRetailConnector[] = [];

function connector(extra: Partial<ConstructorParameters<typeof HeartlandRetailConnector>[0]> = {}) {
  const c = new HeartlandRetailConnector({ baseUrl: sim.url, token: sim.token, perPage: 2, breaker: false, ...extra });
  opened.push(c);
  return c;
}

async function all<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

async function failureOf(p: Promise<unknown>): Promise<ApplicationFailure> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(ApplicationFailure);
    return err as ApplicationFailure;
  }
  throw new Error('expected the call to fail');
}

const details = (f: ApplicationFailure) => (f.details?.[0] ?? {}) as Record<string, unknown>;

/** A webhook receiver that keeps each delivery's raw bytes and headers. */
interface Receiver {
  url: string;
  got: { raw: Buffer; headers: IncomingHttpHeaders }[];
  close(): Promise<void>;
}
async function receiver(): Promise<Receiver> {
  const got: Receiver['got'] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      got.push({ raw: Buffer.concat(chunks), headers: req.headers });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks/retail`,
    got,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

async function waitFor(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

beforeEach(async () => {
  sim = await startHeartlandRetailSimulator({ port: 0 });
  retail = connector();
});

afterEach(async () => {
  await Promise.all(opened.splice(0).map((c) => c.close()));
  await sim.close();
});

describe('lists page through every page and honour _filter', () => {
  test('items: 5 shared SKUs over 3 pages, amounts in minor units', async () => {
    const before = sim.faults.stats.requests;
    const items = await all(retail.listItems());
    expect(sim.faults.stats.requests - before).toBe(3);
    expect(items.map((i) => [i.sku, i.description, i.priceMinor, i.costMinor])).toEqual([
      ['SKU-1001', 'Trail Runner Shoe', 8999, 4200],
      ['SKU-1002', 'Wool Socks', 1599, 520],
      ['SKU-1003', 'Rain Jacket', 12900, 6100],
      ['SKU-1004', 'Water Bottle', 2499, 900],
      ['SKU-1005', 'Headlamp', 3450, 1500],
    ]);
    expect(items.every((i) => i.currency === 'USD' && i.active)).toBe(true);
  });

  test('items by custom SKU and by updated_at range', async () => {
    const bySku = await all(retail.listItems({ sku: 'SKU-1003' }));
    expect(bySku.map((i) => i.description)).toEqual(['Rain Jacket']);
    expect(await retail.findItemBySku('SKU-9999')).toBeNull();
    const recent = await all(retail.listItems({ updatedAfter: seedTime(11) }));
    expect(recent.map((i) => i.sku)).toEqual(['SKU-1003', 'SKU-1004', 'SKU-1005']);
    const window = await all(retail.listItems({ updatedAfter: seedTime(10), updatedBefore: seedTime(13) }));
    expect(window.map((i) => i.sku)).toEqual(['SKU-1002', 'SKU-1003']);
  });

  test('customers: near-duplicates come back as separate records; email filter is exact', async () => {
    const customers = await all(retail.listCustomers());
    expect(customers).toHaveLength(7);
    expect(customers.filter((c) => c.email?.toLowerCase() === 'jane.doe@example.com')).toHaveLength(2);
    const exact = await all(retail.listCustomers({ email: 'jane.doe@example.com' }));
    expect(exact.map((c) => [c.id, c.firstName, c.phone])).toEqual([['201', 'Jane', '+1 555-010-1234']]);
    const early = await all(retail.listCustomers({ updatedBefore: seedTime(42) }));
    expect(early.map((c) => c.publicId)).toEqual(['C-0001', 'C-0002']);
  });

  test('tickets: sales, a void and a return with negative lines; status and updated_at filters', async () => {
    const tickets = await all(retail.listTickets());
    expect(tickets.map((t) => [t.status, t.kind, t.totalMinor])).toEqual([
      ['complete', 'sale', 13203],
      ['complete', 'sale', 13964],
      ['void', 'sale', 2705],
      ['complete', 'return', -1731],
    ]);
    const [sale, , , ret] = tickets;
    expect(sale).toMatchObject({
      subtotalMinor: 12197,
      taxMinor: 1006,
      customerId: '201',
      customer: { firstName: 'Jane', email: 'jane.doe@example.com' },
      taxes: [{ name: 'State Sales Tax', rate: '8.25', amountMinor: 1006 }],
      payments: [{ type: 'credit_card', amountMinor: 13203, cardBrand: 'VISA', last4: '4242' }],
    });
    expect(sale.lines.map((l) => [l.sku, l.qty, l.unitPriceMinor, l.totalMinor])).toEqual([
      ['SKU-1001', 1, 8999, 8999],
      ['SKU-1002', 2, 1599, 3198],
    ]);
    expect(ret.lines).toEqual([expect.objectContaining({ sku: 'SKU-1002', qty: -1, totalMinor: -1599 })]);
    expect(ret.lines[0].originalTicketId).toBe(sale.id);
    expect(ret).toMatchObject({ subtotalMinor: -1599, taxMinor: -132, payments: [{ amountMinor: -1731 }] });

    expect((await all(retail.listTickets({ status: 'complete' }))).map((t) => t.id)).toEqual([
      sale.id,
      tickets[1].id,
      ret.id,
    ]);
    expect((await all(retail.listTickets({ updatedAfter: seedTime(61) }))).map((t) => t.status)).toEqual([
      'void',
      'complete',
    ]);
    expect((await retail.getTicket(ret.id)).kind).toBe('return');
  });

  test('inventory values at MAIN and locations', async () => {
    const values = await all(retail.listInventoryValues());
    expect(values).toHaveLength(7);
    const main = await retail.findLocation('MAIN');
    expect(main).toMatchObject({ publicId: 'MAIN', name: 'Main Street Store' });
    const atMain = await all(retail.listInventoryValues({ locationId: main!.id }));
    expect(atMain.map((v) => v.qtyOnHand)).toEqual([24, 120, 15, 60, 33]);
    const locations = await all(connector({ perPage: 1 }).listLocations());
    expect(locations.map((l) => l.publicId)).toEqual(['MAIN', 'OUTLET']);
  });
});

describe('writes', () => {
  test('item price and cost changes are sent as exact decimals and read back', async () => {
    const item = (await retail.findItemBySku('SKU-1004'))!;
    const updated = await retail.updateItemPrice(item.id, 1999);
    expect(updated.priceMinor).toBe(1999);
    expect(sim.render.item(Number(item.id)).price).toBe(19.99);
    const again = await retail.updateItem(item.id, { priceMinor: 1, costMinor: 1000005 });
    expect([again.priceMinor, again.costMinor]).toEqual([1, 1000005]);
    expect((await retail.getItem(item.id)).priceMinor).toBe(1);
    const fresh = await all(retail.listItems({ updatedAfter: seedTime(100) }));
    expect(fresh.map((i) => i.sku)).toEqual(['SKU-1004']);
  });

  test('create an item with a custom SKU', async () => {
    const created = await retail.createItem({ sku: 'SKU-2001', description: 'Trail Map', priceMinor: 1250 });
    expect(created).toMatchObject({ sku: 'SKU-2001', priceMinor: 1250 });
    expect((await retail.findItemBySku('SKU-2001'))!.id).toBe(created.id);
  });

  test('set an inventory value (absolute, so a retry sets the same number)', async () => {
    const item = (await retail.findItemBySku('SKU-1005'))!;
    const main = (await retail.findLocation('MAIN'))!;
    for (let i = 0; i < 2; i++) {
      const v = await retail.setInventoryValue({ itemId: item.id, locationId: main.id, qtyOnHand: 41 });
      expect(v).toMatchObject({ itemId: item.id, locationId: main.id, qtyOnHand: 41 });
    }
    const [now] = await all(retail.listInventoryValues({ itemId: item.id, locationId: main.id }));
    expect(now.qtyOnHand).toBe(41);
    const bad = await failureOf(retail.setInventoryValue({ itemId: '999', locationId: main.id, qtyOnHand: 1 }));
    expect(bad.type).toBe('UpstreamRejected');
    expect(bad.nonRetryable).toBe(true);
    expect(bad.message).toContain('item_id');
  });

  test('create, update and upsert customers', async () => {
    const created = await retail.createCustomer({
      publicId: 'lb:commerce:8812',
      firstName: 'Ada',
      lastName: 'Lovelace',
      email: 'ada@example.com',
    });
    expect(created).toMatchObject({ publicId: 'lb:commerce:8812', email: 'ada@example.com' });
    expect((await retail.findCustomerByPublicId('lb:commerce:8812'))!.id).toBe(created.id);
    const dup = await failureOf(retail.createCustomer({ publicId: 'lb:commerce:8812', firstName: 'X' }));
    expect(dup.type).toBe('UpstreamRejected');
    expect(dup.message).toContain('public_id');

    const updated = await retail.updateCustomer(created.id, { phone: '+1 555 010 0000' });
    expect(updated).toMatchObject({ id: created.id, phone: '+1 555 010 0000', firstName: 'Ada' });

    const byEmail = await retail.upsertCustomer({ email: 'maria.garcia@example.org', lastName: 'García' });
    expect(byEmail).toMatchObject({ created: false, customer: { id: '205', lastName: 'García', publicId: 'C-0005' } });
    const fresh = await retail.upsertCustomer({ publicId: 'lb:x:1', firstName: 'New', email: 'new@example.com' });
    expect(fresh.created).toBe(true);
    const again = await retail.upsertCustomer({ publicId: 'lb:x:1', firstName: 'Newer' });
    expect(again).toMatchObject({ created: false, customer: { id: fresh.customer.id, firstName: 'Newer' } });
  });

  test('webhook subscriptions: create, deliver signed events on writes, list, delete', async () => {
    const hook = await receiver();
    try {
      const secret = 'whsec_0123456789abcdef';
      const sub = await retail.createWebhook({ url: hook.url, events: ['item_updated', 'customer_created'], secret });
      expect(sub).toMatchObject({ url: hook.url, events: ['item_updated', 'customer_created'], secret });
      expect((await all(retail.listWebhooks())).map((w) => [w.id, w.secret])).toEqual([[sub.id, undefined]]);

      const item = (await retail.findItemBySku('SKU-1002'))!;
      await retail.updateItemPrice(item.id, 1499);
      await waitFor(() => hook.got.length === 1, 'the item_updated delivery');
      const [delivery] = hook.got;
      expect(verifyRetailSignature(delivery.raw, delivery.headers, secret)).toMatchObject({ ok: true });
      const event = parseRetailWebhook(delivery.raw);
      expect(event).toMatchObject({ event: 'item_updated', data: { id: item.id, priceMinor: 1499 } });
      expect(delivery.headers['x-heartland-event-id']).toBe(event.id);

      const generated = await retail.createWebhook({ url: hook.url, events: ['customer_updated'] });
      expect(generated.secret).toMatch(/^[0-9a-f]{48}$/);
      await retail.deleteWebhook(sub.id);
      await retail.deleteWebhook(generated.id);
      expect(await all(retail.listWebhooks())).toEqual([]);
      await retail.updateItemPrice(item.id, 1399);
      await retail.createCustomer({ firstName: 'Quiet' });
      expect(sim.state.deliveries).toHaveLength(1);
      const gone = await failureOf(retail.deleteWebhook(sub.id));
      expect(gone.type).toBe('NotFound');
    } finally {
      await hook.close();
    }
  });
});

describe('error classes', () => {
  test('wrong token with a static token: AuthFailed at once, no retry', async () => {
    const bad = connector({ token: 'not-a-token' });
    const before = sim.faults.stats.requests;
    const f = await failureOf(all(bad.listItems()));
    expect(f.type).toBe('AuthFailed');
    expect(f.nonRetryable).toBe(true);
    expect(details(f)).toMatchObject({ connector: 'heartland-retail', status: 401 });
    expect(sim.faults.stats.requests - before).toBe(1);
    const raw = await fetch(`${sim.url}/api/items`);
    expect(raw.status).toBe(401);
    expect(await raw.json()).toEqual({ error: 'Unauthorized' });
  });

  test('expired token with a token provider: refreshed once, then the call succeeds', async () => {
    const provider = new CachedTokenProvider(async () => ({ token: sim.issueToken(), expiresInSeconds: 3600 }));
    const c = connector({ token: undefined, auth: provider });
    expect(await all(c.listLocations())).toHaveLength(2);
    expect(provider.fetchCount).toBe(1);
    await fetch(`${sim.url}/__faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ expireTokens: true }),
    });
    const items = await all(c.listItems({ sku: 'SKU-1001' }));
    expect(items).toHaveLength(1);
    expect(provider.fetchCount).toBe(2);
  });

  test('a token provider whose new token is also refused: one refresh, then AuthFailed', async () => {
    let handed = 0;
    const provider: TokenProvider = {
      getToken: async () => `revoked-${++handed}`,
      invalidate: () => undefined,
    };
    const c = connector({ token: undefined, auth: provider });
    const before = sim.faults.stats.requests;
    const f = await failureOf(c.getItem('101'));
    expect(f.type).toBe('AuthFailed');
    expect(handed).toBe(2);
    expect(sim.faults.stats.requests - before).toBe(2);
  });

  test('unknown resource and unknown id: NotFound', async () => {
    const f = await failureOf(all(retail.list('/purchasing/orders', z.unknown())));
    expect(f.type).toBe('NotFound');
    expect(f.nonRetryable).toBe(true);
    const g = await failureOf(retail.getCustomer('99999'));
    expect(g.type).toBe('NotFound');
    expect(details(g).status).toBe(404);
  });

  test('invalid _filter: 400 => UpstreamRejected with the Retail message', async () => {
    const f = await failureOf(all(retail.listItems({ filter: { colour: 'red' } })));
    expect(f.type).toBe('UpstreamRejected');
    expect(f.message).toContain('Invalid _filter: cannot filter on colour');
    const g = await failureOf(all(retail.listTickets({ updatedAfter: 'yesterday' })));
    expect(g.message).toContain('updated_at expects an ISO 8601 timestamp');
    const h = await failureOf(all(retail.listItems({ filter: { updated_at: { $gte: seedTime(0) } as never } })));
    expect(h.message).toContain('unsupported operator $gte');
  });

  test('429 with Retry-After: RateLimited, retryable, next retry delay from the header', async () => {
    sim.faults.set({ rateLimit: { count: 1, retryAfterSeconds: 7 } });
    const f = await failureOf(all(retail.listItems()));
    expect(f.type).toBe('RateLimited');
    expect(f.nonRetryable).toBe(false);
    expect(f.nextRetryDelay).toBe(7000);
    expect(details(f).retryAfterMs).toBe(7000);
    expect(await all(retail.listItems())).toHaveLength(5);
  });

  test('5xx: UpstreamUnavailable, retryable; a list that fails mid-way throws from the iterator', async () => {
    sim.faults.set({ error: { status: 503, count: 1, body: { error: 'Service Unavailable' } } });
    const f = await failureOf(retail.getItem('101'));
    expect(f.type).toBe('UpstreamUnavailable');
    expect(f.nonRetryable).toBe(false);
    expect(f.message).toContain('Service Unavailable');

    const it = retail.listItems()[Symbol.asyncIterator]();
    expect((await it.next()).value.sku).toBe('SKU-1001');
    expect((await it.next()).value.sku).toBe('SKU-1002');
    sim.faults.set({ error: { status: 502, count: 1 } });
    const g = await failureOf(it.next());
    expect(g.type).toBe('UpstreamUnavailable');
    expect(details(g).status).toBe(502);
  });

  test('timeout: Timeout, retryable', async () => {
    sim.faults.set({ hang: { count: 1 } });
    const c = connector({ timeoutMs: 300 });
    const f = await failureOf(c.getItem('101'));
    expect(f.type).toBe('Timeout');
    expect(f.nonRetryable).toBe(false);
  });

  test('connection refused: NetworkError', async () => {
    const url = sim.url;
    await sim.close();
    const c = new HeartlandRetailConnector({ baseUrl: `${url}/api`, token: 't', breaker: false });
    opened.push(c);
    const f = await failureOf(c.getItem('101'));
    expect(f.type).toBe('NetworkError');
    sim = await startHeartlandRetailSimulator({ port: 0 });
  });

  test('malformed bodies: SchemaMismatch (truncated JSON and an HTML error page)', async () => {
    sim.faults.set({ malformed: { count: 1, mode: 'truncated' } });
    const f = await failureOf(all(retail.listCustomers()));
    expect(f.type).toBe('SchemaMismatch');
    expect(f.nonRetryable).toBe(true);
    expect(f.message).toContain('not valid JSON');
    sim.faults.set({ malformed: { count: 1, mode: 'garbage' } });
    const g = await failureOf(retail.getTicket('301'));
    expect(g.type).toBe('SchemaMismatch');
  });

  test('schema drift: a renamed or removed field is a SchemaMismatch naming the field and version', async () => {
    sim.faults.set({ drift: { path: 'results.*.price', renameTo: 'unit_price' } });
    const f = await failureOf(all(retail.listItems()));
    expect(f.type).toBe('SchemaMismatch');
    expect(f.message).toContain('heartland-retail@1.0.0');
    expect(details(f).field).toBe('results[0].price');
    sim.faults.set({ drift: { path: 'results.*.qty_on_hand' } });
    const g = await failureOf(all(retail.listInventoryValues()));
    expect(details(g).field).toBe('results[0].qty_on_hand');
    sim.faults.set({ drift: { path: 'total' } });
    const h = await failureOf(all(retail.listLocations()));
    expect(details(h).field).toBe('total');
  });

  test('amounts are parsed from their decimal text, never rounded', () => {
    const s = retailSchemas('USD');
    const base = { id: 1, public_id: '1', description: 'x', updated_at: seedTime(0) };
    expect(s.item.parse({ ...base, price: 0.1 }).priceMinor).toBe(10);
    expect(s.item.parse({ ...base, price: '1200' }).priceMinor).toBe(120000);
    expect(s.item.parse({ ...base, price: -3.5 }).priceMinor).toBe(-350);
    expect(s.item.safeParse({ ...base, price: 12.345 }).success).toBe(false);
    expect(s.item.safeParse({ ...base, price: 0.1 + 0.2 }).success).toBe(false);
    expect(toWireDecimal(8999, 'USD')).toBe(89.99);
    expect(retailSchemas('JPY').item.parse({ ...base, price: 1500 }).priceMinor).toBe(1500);
  });
});

describe('webhooks', () => {
  const secret = 'retail-webhook-secret-123';
  const body = Buffer.from(JSON.stringify({ id: 'evt_1', event: 'item_updated', created_at: seedTime(0), data: {} }));
  const at = 1_710_000_000;

  test('signature: good, tampered body, stale timestamp, wrong secret, missing headers, rotation', () => {
    const headers = signRetailWebhook(body, secret, at);
    expect(verifyRetailSignature(body, headers, secret, at * 1000)).toEqual({ ok: true, timestamp: at });
    const tampered = Buffer.from(body.toString().replace('item_updated', 'item_created'));
    expect(verifyRetailSignature(tampered, headers, secret, at * 1000)).toEqual({ ok: false, reason: 'bad_signature' });
    const late = at * 1000 + RETAIL_SIGNATURE_TOLERANCE_MS + 1000;
    expect(verifyRetailSignature(body, headers, secret, late)).toEqual({ ok: false, reason: 'stale_timestamp' });
    const early = at * 1000 - RETAIL_SIGNATURE_TOLERANCE_MS - 1000;
    expect(verifyRetailSignature(body, headers, secret, early)).toEqual({ ok: false, reason: 'stale_timestamp' });
    expect(verifyRetailSignature(body, headers, secret, at * 1000 + 4 * 60_000).ok).toBe(true);
    expect(verifyRetailSignature(body, headers, 'another-secret', at * 1000)).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
    expect(verifyRetailSignature(body, headers, ['old-secret', secret], at * 1000).ok).toBe(true);
    expect(verifyRetailSignature(body, {}, secret, at * 1000)).toEqual({ ok: false, reason: 'missing_signature' });
    const noTs = { 'X-Heartland-Signature': headers['X-Heartland-Signature'] };
    expect(verifyRetailSignature(body, noTs, secret, at * 1000)).toEqual({ ok: false, reason: 'missing_timestamp' });
    // Moving the timestamp invalidates the signature: it is signed together with the body.
    const moved = { ...headers, 'X-Heartland-Timestamp': String(at + 60) };
    expect(verifyRetailSignature(body, moved, secret, at * 1000)).toEqual({ ok: false, reason: 'bad_signature' });
    expect(verifyRetailSignature(body, { ...headers, 'X-Heartland-Timestamp': '1e9' }, secret).ok).toBe(false);
  });

  test('the simulator delivers the same event twice with the same id, each signed over the raw body', async () => {
    const hook = await receiver();
    try {
      const ticket = sim.render.ticket(301);
      const sent = await sim.sendWebhook(hook.url, 'sales_transaction_completed', ticket, { times: 2, secret });
      expect(sent.responses.map((r) => r.status)).toEqual([204, 204]);
      expect(hook.got).toHaveLength(2);
      expect(hook.got[0].raw.equals(hook.got[1].raw)).toBe(true);
      for (const d of hook.got) {
        expect(verifyRetailSignature(d.raw, d.headers, secret)).toMatchObject({ ok: true });
        expect(verifyRetailSignature(d.raw, d.headers, 'wrong-secret-value').ok).toBe(false);
        expect(d.headers['x-heartland-event']).toBe('sales_transaction_completed');
      }
      const bad = JSON.parse(hook.got[0].raw.toString());
      bad.data.total = 'lots';
      expect(() => parseRetailWebhook(JSON.stringify(bad))).toThrow(/data\.total/);
      expect(() => parseRetailWebhook('{"id":')).toThrow(expect.objectContaining({ type: 'ValidationError' }));
      const event = parseRetailWebhook(hook.got[1].raw);
      expect(event).toMatchObject({ id: sent.eventId, event: 'sales_transaction_completed' });
      expect(event.data).toMatchObject({ id: '301', totalMinor: 13203, kind: 'sale' });

      const stale = await sim.sendWebhook(hook.url, 'item_updated', sim.render.item(101), {
        secret,
        timestampSeconds: Math.floor(Date.now() / 1000) - 600,
      });
      const d = hook.got[2];
      expect(JSON.parse(d.raw.toString()).id).toBe(stale.eventId);
      expect(verifyRetailSignature(d.raw, d.headers, secret)).toEqual({ ok: false, reason: 'stale_timestamp' });
    } finally {
      await hook.close();
    }
  });

  test('a POS sale and a refund (return ticket) reach subscribers as sales_transaction_completed', async () => {
    const hook = await receiver();
    try {
      const sub = await retail.createWebhook({ url: hook.url, events: ['sales_transaction_completed'] });
      const sale = await sim.simulateSale({ customerId: 203, lines: [{ sku: 'SKU-1005', qty: 2 }] });
      await sim.simulateSale({
        customerId: 203,
        lines: [{ sku: 'SKU-1005', qty: -1, originalTicketId: sale.id }],
        payment: { type: 'credit_card', cardBrand: 'MASTERCARD', last4: '5454' },
      });
      expect(hook.got).toHaveLength(2);
      const [s, r] = hook.got.map((d) => {
        expect(verifyRetailSignature(d.raw, d.headers, sub.secret!).ok).toBe(true);
        return parseRetailWebhook(d.raw);
      });
      expect(s.data).toMatchObject({ kind: 'sale', subtotalMinor: 6900, taxMinor: 569, totalMinor: 7469 });
      expect(r.data).toMatchObject({ kind: 'return', totalMinor: -3735, payments: [{ cardBrand: 'MASTERCARD' }] });
      const item = (await retail.findItemBySku('SKU-1005'))!;
      const [stock] = await all(retail.listInventoryValues({ itemId: item.id, locationId: '1' }));
      expect(stock.qtyOnHand).toBe(33 - 2 + 1);
    } finally {
      await hook.close();
    }
  });
});
