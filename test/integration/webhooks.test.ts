import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import express from 'express';
import fc from 'fast-check';
import { Registry } from 'prom-client';
import { Agent, request } from 'undici';
import type { Client } from '@temporalio/client';
import { loadConfig, type Config } from '../../src/config';
import { signRetailWebhook } from '../../src/connectors/heartland/retail-webhook-signature';
import { gpSignature, signGpWebhook } from '../../src/connectors/heartland/webhook-signature';
import { createDb, migrate, type Db } from '../../src/db';
import { createApp } from '../../src/gateway/app';
import { Dispatcher } from '../../src/gateway/dispatcher';
import {
  SANDBOX_WEBHOOK_SECRETS,
  signCommerceWebhook,
  signErpWebhook,
  webhookRouter,
  WEBHOOK_SOURCES,
  type WebhookSource,
} from '../../src/gateway/webhooks';
import { createLogger } from '../../src/logger';
import { sendGpWebhook } from '../../src/sandbox/heartland-gp/webhooks';
import { testClient, ownTestDatabase, uniqueQueue } from '../support/env';
import { TEST_PAN } from '../support/pan-audit';

const quiet = createLogger({ level: 'silent' });
const config: Config = loadConfig({ LB_MODE: 'sandbox', LB_ERP: 'odoo', LOG_LEVEL: 'silent' });
const S = SANDBOX_WEBHOOK_SECRETS;
const PAN = TEST_PAN;

let db: Db;
let dbUrl: string;
let server: http.Server;
let base: string;
let registry: Registry;
let client: Client;
const agent = new Agent({ connections: 16, pipelining: 1 });

beforeAll(async () => {
  dbUrl = await ownTestDatabase('wh');
  db = createDb(dbUrl, { poolMax: 10 });
  await migrate(db);
  registry = new Registry();
  const app = express();
  app.use('/webhooks', webhookRouter({ db, config, registry, logger: quiet }));
  server = http.createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  client = await testClient();
});

afterAll(async () => {
  await new Promise<void>((r) => (server.close(() => r()), server.closeAllConnections()));
  await agent.close();
  await client?.connection.close();
  await db?.destroy();
});

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

async function post(path: string, body: string | Buffer, headers: Record<string, string>, url = base): Promise<Answer> {
  const res = await request(`${url}${path}`, { method: 'POST', headers, body, dispatcher: agent });
  const text = await res.body.text();
  let parsed: Record<string, unknown> = {};
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = { text };
  }
  return { status: res.statusCode, body: parsed };
}

const rows = async (source?: string): Promise<number> =>
  Number(
    (
      await db('webhook_inbox')
        .modify((q) => (source ? q.where({ source }) : q))
        .count({ n: '*' })
    )[0].n,
  );

let seq = 0;
const uid = (p: string) => `${p}${Date.now().toString(36)}${(seq++).toString(36)}`;

function shopifyOrder(id: number, over: Record<string, unknown> = {}) {
  return {
    id,
    email: 'pat@example.com',
    created_at: '2026-11-20T10:15:00-05:00',
    currency: 'USD',
    total_price: '89.99',
    line_items: [{ sku: 'SKU-1001', title: 'Trail Runner Shoe', quantity: 1, price: '89.99' }],
    customer: { id: 7, first_name: 'Pat', last_name: 'Buyer', email: 'pat@example.com' },
    note_attributes: [{ name: 'payment_token', value: 'PMT_hook' }],
    ...over,
  };
}

const gpClose = (batchId: string) => ({
  id: batchId,
  batch_id: batchId,
  status: 'CLOSED',
  amount: '1000',
  currency: 'USD',
  reference: batchId,
  payment_method: { result: '00', message: 'BATCH_CLOSED', entry_mode: null },
  action: { id: `ACT_${batchId}`, type: 'BATCH_CLOSE', result_code: 'SUCCESS' },
});

const erpEvent = (id: string, type = 'delivery.done') => ({
  id,
  type,
  occurred_at: new Date().toISOString(),
  data: { order: { source: 'commerce', orderId: '1001' }, fulfilmentId: 'DLV-1' },
});

const retailEnvelope = (id: string, event = 'sales_transaction_completed', data: unknown = retailTicket()) => ({
  id,
  event,
  created_at: new Date().toISOString(),
  data,
});

function retailTicket() {
  return {
    id: 301,
    public_id: 'T-000301',
    status: 'complete',
    customer_id: null,
    customer: null,
    location_id: 1,
    subtotal: 89.99,
    tax_total: 7.42,
    total: 97.41,
    lines: [{ id: 1, item_id: 101, sku: 'SKU-1001', description: 'Shoe', qty: 1, unit_price: 89.99, value: 89.99 }],
    taxes: [{ name: 'Sales tax', rate: 8.25, amount: 7.42 }],
    payments: [
      {
        id: 1,
        payment_type: 'credit_card',
        amount: 97.41,
        card_brand: 'VISA',
        card_last4: '1111',
        transaction_id: 'TRN_1',
      },
    ],
    completed_at: '2026-11-20T18:00:00.000Z',
    updated_at: '2026-11-20T18:00:00.000Z',
  };
}

/** Headers of a correctly signed delivery of `raw` from `source` (commerce: topic and webhook id too). */
function signed(source: WebhookSource, raw: string, extra: { topic?: string; webhookId?: string } = {}) {
  const json = { 'content-type': 'application/json' };
  switch (source) {
    case 'heartland':
      return { ...json, 'x-gp-signature': gpSignature(raw, S.heartland) };
    case 'heartland-retail':
      return { ...json, ...signRetailWebhook(raw, S['heartland-retail']) };
    case 'commerce':
      return signCommerceWebhook(raw, S.commerce, extra.topic ?? 'orders/create', extra.webhookId ?? uid('w'));
    default:
      return { ...json, ...signErpWebhook(raw, S[source]) };
  }
}

describe('webhook checks, each with its own answer', () => {
  test('a signed event from every source is accepted once; a redelivery is a duplicate', async () => {
    const cases: [WebhookSource, unknown, Record<string, string>?][] = [
      ['heartland', gpClose(uid('BAT_'))],
      ['heartland-retail', retailEnvelope(uid('evt_'))],
      ['commerce', shopifyOrder(Date.now())],
      ['odoo', erpEvent(uid('o'))],
      ['m3', erpEvent(uid('m'), 'credit_memo.requested')],
      ['p21', erpEvent(uid('p'))],
    ];
    // The M3 case carries a credit memo: give it a valid one.
    (cases[4][1] as { data: unknown }).data = {
      refundId: uid('CM'),
      order: { source: 'commerce', orderId: '1001' },
      currency: 'USD',
      amountMinor: 500,
      reason: 'damaged',
    };
    for (const [source, payload] of cases) {
      const raw = JSON.stringify(payload);
      const headers = signed(source, raw);
      const before = await rows(source);
      const first = await post(`/webhooks/${source}`, raw, headers);
      expect({ source, ...first }).toEqual({
        source,
        status: 202,
        body: { status: 'accepted', id: expect.any(String) },
      });
      const again = await post(
        `/webhooks/${source}`,
        raw,
        source === 'heartland-retail' ? signed(source, raw) : headers,
      );
      expect({ source, ...again }).toEqual({ source, status: 200, body: { status: 'duplicate' } });
      expect(await rows(source)).toBe(before + 1);
      const row = await db('webhook_inbox').where({ id: first.body.id }).first();
      expect(row).toMatchObject({ source, status: 'pending', attempts: 0, workflow_id: null });
    }
    const text = await registry.metrics();
    expect(text).toMatch(/ledgerbridge_webhooks_accepted_total\{source="commerce"\} [1-9]/);
    expect(text).toMatch(/ledgerbridge_webhooks_duplicate_total\{source="heartland"\} [1-9]/);
  });

  test('the GP simulator sender is accepted (sha512 of raw body + app key)', async () => {
    const [res] = await sendGpWebhook(`${base}/webhooks/heartland`, gpClose(uid('BAT_')), S.heartland);
    expect(res.status).toBe(202);
    expect(JSON.parse(res.body)).toEqual({ status: 'accepted', id: expect.any(String) });
  });

  test('415 for a body that is not JSON, before anything is read', async () => {
    const before = await rows();
    const raw = JSON.stringify(gpClose(uid('BAT_')));
    for (const ct of ['text/plain', 'application/x-www-form-urlencoded', 'application/jsonx', '']) {
      const res = await post('/webhooks/heartland', raw, { ...signed('heartland', raw), 'content-type': ct });
      expect(res).toEqual({
        status: 415,
        body: { error: 'unsupported_media_type', message: 'Content-Type must be application/json' },
      });
    }
    const gz = await post('/webhooks/heartland', raw, { ...signed('heartland', raw), 'content-encoding': 'gzip' });
    expect(gz.status).toBe(415);
    expect(await rows()).toBe(before);
  });

  test('413 above 1 MB, with and without a Content-Length', async () => {
    const before = await rows();
    const big = JSON.stringify({ ...gpClose(uid('BAT_')), filler: 'x'.repeat(1024 * 1024) });
    const res = await post('/webhooks/heartland', big, signed('heartland', big));
    expect(res).toEqual({ status: 413, body: { error: 'payload_too_large', limitBytes: 1048576 } });
    const chunked = await request(`${base}/webhooks/commerce`, {
      method: 'POST',
      headers: signed('commerce', big),
      body: Readable.from(
        (function* () {
          for (let i = 0; i < 20; i++) yield Buffer.from(big.slice(i * 60_000, (i + 1) * 60_000));
        })(),
      ),
      dispatcher: agent,
    });
    expect(chunked.statusCode).toBe(413);
    await chunked.body.text();
    // Just under the limit is read and judged on its merits (here: an event type with no route).
    const fits = JSON.stringify({ id: 'TRN_1', action: { id: uid('A'), type: 'CAPTURE' }, f: 'x'.repeat(1000_000) });
    expect((await post('/webhooks/heartland', fits, signed('heartland', fits))).body).toEqual({ status: 'ignored' });
    expect(await rows()).toBe(before);
  });

  test('401 with the reason: missing, wrong, re-serialised, stale or replayed signatures', async () => {
    const before = await rows();
    const raw = JSON.stringify(gpClose(uid('BAT_')));
    const gp = (h: Record<string, string>) =>
      post('/webhooks/heartland', raw, { 'content-type': 'application/json', ...h });
    expect(await gp({})).toEqual({ status: 401, body: { error: 'invalid_signature', reason: 'missing_signature' } });
    expect(await gp({ 'x-gp-signature': gpSignature(raw, 'not-the-app-key') })).toEqual({
      status: 401,
      body: { error: 'invalid_signature', reason: 'bad_signature' },
    });
    const spaced = JSON.stringify(JSON.parse(raw), null, 1);
    expect((await post('/webhooks/heartland', spaced, signed('heartland', raw))).body.reason).toBe('bad_signature');

    const retail = JSON.stringify(retailEnvelope(uid('evt_')));
    const stale = signRetailWebhook(retail, S['heartland-retail'], Math.floor(Date.now() / 1000) - 301);
    expect(await post('/webhooks/heartland-retail', retail, { 'content-type': 'application/json', ...stale })).toEqual({
      status: 401,
      body: { error: 'invalid_signature', reason: 'stale_timestamp' },
    });

    const erp = JSON.stringify(erpEvent(uid('o')));
    const old = signErpWebhook(erp, S.odoo, Math.floor(Date.now() / 1000) - 600);
    expect((await post('/webhooks/odoo', erp, { 'content-type': 'application/json', ...old })).body).toEqual({
      error: 'invalid_signature',
      reason: 'stale_timestamp',
    });
    // An Odoo-signed event is not valid for M3 (each ERP has its own key).
    expect((await post('/webhooks/m3', erp, signed('odoo', erp))).body.reason).toBe('bad_signature');
    const noTs = signed('p21', erp) as Record<string, string>;
    delete noTs['x-ledgerbridge-timestamp'];
    expect((await post('/webhooks/p21', erp, noTs)).body.reason).toBe('missing_timestamp');

    const order = JSON.stringify(shopifyOrder(Date.now()));
    const wrong = signCommerceWebhook(order, 'another-shop', 'orders/create', uid('w'));
    expect((await post('/webhooks/commerce', order, wrong)).body).toEqual({
      error: 'invalid_signature',
      reason: 'bad_signature',
    });
    expect(await rows()).toBe(before);
    expect(await registry.metrics()).toMatch(
      /ledgerbridge_webhooks_rejected_total\{source="heartland-retail",reason="stale_timestamp"\} [1-9]/,
    );
  });

  test('422 lists the field paths; invalid JSON and unstorable text are 422 too', async () => {
    const before = await rows();
    const bad = JSON.stringify(shopifyOrder(Date.now(), { currency: 'usd', line_items: [{ sku: '', quantity: 0 }] }));
    const res = await post('/webhooks/commerce', bad, signed('commerce', bad));
    expect(res.status).toBe(422);
    expect(res.body.error).toBe('invalid_body');
    const paths = (res.body.issues as { path: string }[]).map((i) => i.path);
    expect(paths).toEqual(
      expect.arrayContaining(['currency', 'line_items.0.sku', 'line_items.0.quantity', 'line_items.0.price']),
    );

    const mismatch = JSON.stringify(shopifyOrder(Date.now(), { total_price: '10.00' }));
    expect((await post('/webhooks/commerce', mismatch, signed('commerce', mismatch))).body.issues).toEqual([
      { path: 'total_price', message: expect.stringMatching(/does not equal/) },
    ]);

    const noTopic = JSON.stringify(shopifyOrder(Date.now()));
    const h = signed('commerce', noTopic) as Record<string, string>;
    delete h['x-shopify-topic'];
    delete h['x-shopify-webhook-id'];
    expect((await post('/webhooks/commerce', noTopic, h)).body.issues).toEqual([
      { path: 'headers.x-shopify-topic', message: 'required' },
      { path: 'headers.x-shopify-webhook-id', message: 'required' },
    ]);

    const notJson = '{"id": ';
    expect(await post('/webhooks/odoo', notJson, signed('odoo', notJson))).toEqual({
      status: 422,
      body: { error: 'invalid_body', issues: [{ path: '(root)', message: 'not valid JSON' }] },
    });
    const nul = JSON.stringify({ ...gpClose(uid('BAT_')), note: 'a\u0000b' });
    expect((await post('/webhooks/heartland', nul, signed('heartland', nul))).body.issues).toEqual([
      { path: 'note', message: 'contains a NUL character or an unpaired surrogate' },
    ]);
    const retailBad = JSON.stringify(retailEnvelope(uid('evt_'), 'sales_transaction_completed', { id: 1 }));
    const rb = await post('/webhooks/heartland-retail', retailBad, signed('heartland-retail', retailBad));
    expect(rb.status).toBe(422);
    expect((rb.body.issues as { path: string }[])[0].path).toMatch(/^data\./);
    expect(await rows()).toBe(before);
  });

  test('202 ignored (and nothing written) for an event type with no route', async () => {
    const before = await rows();
    const capture = JSON.stringify({ id: 'TRN_9', status: 'CAPTURED', action: { id: uid('ACT'), type: 'CAPTURE' } });
    expect(await post('/webhooks/heartland', capture, signed('heartland', capture))).toEqual({
      status: 202,
      body: { status: 'ignored' },
    });
    const product = JSON.stringify({ id: 1, title: 'Shoe' });
    expect(
      (await post('/webhooks/commerce', product, signed('commerce', product, { topic: 'products/update' }))).body,
    ).toEqual({ status: 'ignored' });
    const item = JSON.stringify(retailEnvelope(uid('evt_'), 'item_updated', { id: 1 }));
    expect((await post('/webhooks/heartland-retail', item, signed('heartland-retail', item))).body).toEqual({
      status: 'ignored',
    });
    const voided = JSON.stringify(
      retailEnvelope(uid('evt_'), 'sales_transaction_completed', { ...retailTicket(), status: 'void' }),
    );
    expect((await post('/webhooks/heartland-retail', voided, signed('heartland-retail', voided))).body).toEqual({
      status: 'ignored',
    });
    const ours = JSON.stringify({
      id: 'TRN_R',
      type: 'REFUND',
      status: 'CAPTURED',
      amount: '100',
      currency: 'USD',
      reference: 'refund:commerce:1',
      time_created: new Date().toISOString(),
      action: { id: uid('ACT'), type: 'REFUND' },
    });
    expect((await post('/webhooks/heartland', ours, signed('heartland', ours))).body).toEqual({ status: 'ignored' });
    const erp = JSON.stringify(erpEvent(uid('e'), 'invoice.posted'));
    expect((await post('/webhooks/p21', erp, signed('p21', erp))).body).toEqual({ status: 'ignored' });
    expect(await rows()).toBe(before);
  });

  test('the gateway app mounts the router at /webhooks (sandbox keys by default)', async () => {
    const app = createApp({ db, temporal: client, namespace: 'default', logger: quiet });
    const s = http.createServer(app);
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
      const { body, headers } = signGpWebhook(gpClose(uid('BAT_')), S.heartland);
      expect((await post('/webhooks/heartland', body, headers, url)).status).toBe(202);
      const metrics = await (await request(`${url}/metrics`, { dispatcher: agent })).body.text();
      expect(metrics).toMatch(/ledgerbridge_webhooks_accepted_total\{source="heartland"\} 1/);
    } finally {
      await new Promise<void>((r) => (s.close(() => r()), s.closeAllConnections()));
    }
  });
});

describe('production mode', () => {
  test('never accepts a sandbox webhook secret, whether defaulted, configured or given: 503 not_configured', async () => {
    // A deployment that slipped past loadConfig (which refuses them): the router itself must not take them.
    const app = express();
    const realOdoo = `odoo-${uid('k')}`;
    app.use(
      '/webhooks',
      webhookRouter({
        db,
        logger: quiet,
        config: {
          ...config,
          LB_MODE: 'production',
          COMMERCE_WEBHOOK_SECRET: S.commerce,
          ODOO_WEBHOOK_SECRET: realOdoo,
        },
        secrets: { m3: S.m3 },
      }),
    );
    const s = http.createServer(app);
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
      const before = await rows();
      for (const source of WEBHOOK_SOURCES) {
        const payload =
          source === 'commerce'
            ? shopifyOrder(Date.now())
            : source === 'heartland'
              ? gpClose(uid('BAT_'))
              : erpEvent(uid('x'));
        const raw = JSON.stringify(source === 'heartland-retail' ? retailEnvelope(uid('evt_')) : payload);
        const answer = await post(`/webhooks/${source}`, raw, signed(source, raw), url);
        // Odoo has a key of its own: the sandbox signature is simply wrong for it.
        const refused =
          source === 'odoo'
            ? { status: 401, body: { error: 'invalid_signature', reason: 'bad_signature' } }
            : { status: 503, body: { error: 'not_configured' } };
        expect({ source, ...answer }).toEqual({ source, ...refused });
      }
      expect(await rows()).toBe(before);
      // Its own key is accepted.
      const raw = JSON.stringify(erpEvent(uid('o')));
      const own = await post(
        '/webhooks/odoo',
        raw,
        { 'content-type': 'application/json', ...signErpWebhook(raw, realOdoo) },
        url,
      );
      expect(own.status).toBe(202);
    } finally {
      await new Promise<void>((r) => (s.close(() => r()), s.closeAllConnections()));
    }
  });
});

describe('card data', () => {
  test('a PAN in a free-text field is stored masked and reaches the workflow input masked', async () => {
    const orderId = Date.now();
    const payload = shopifyOrder(orderId, {
      note: `card ${PAN} please`,
      line_items: [{ sku: 'SKU-1001', title: `Gift for 4111-1111-1111-1111`, quantity: 1, price: '89.99' }],
      payment_details: { credit_card_number: PAN, credit_card_company: 'Visa', cvv: '123' },
    });
    const raw = JSON.stringify(payload);
    const res = await post('/webhooks/commerce', raw, signed('commerce', raw));
    expect(res.status).toBe(202);
    const row = await db('webhook_inbox').where({ id: res.body.id }).first();
    const stored = JSON.stringify(row.payload);
    expect(stored).not.toMatch(/4111[ -]?1111[ -]?1111[ -]?1111/);
    expect(row.payload.note).toBe('card ************1111 please');
    expect(row.payload.line_items[0].title).toBe('Gift for ************1111');
    expect(row.payload.payment_details).toEqual({
      credit_card_number: '************1111',
      credit_card_company: 'Visa',
      cvv: '[removed]',
    });

    const taskQueue = uniqueQueue('wh-mask');
    const dispatcher = new Dispatcher({ db, client, config, logger: quiet, taskQueue, idleMs: 50 });
    dispatcher.start();
    try {
      const workflowId = `order:commerce:${orderId}`;
      const deadline = Date.now() + 30_000;
      let status = 'pending';
      while (status === 'pending' && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
        status = (await db('webhook_inbox').where({ id: res.body.id }).first()).status;
      }
      expect(await db('webhook_inbox').where({ id: res.body.id }).first()).toMatchObject({
        status: 'dispatched',
        workflow_id: workflowId,
        dispatched_at: expect.any(Date),
      });
      const history = await client.workflow.getHandle(workflowId).fetchHistory();
      const started = history.events![0].workflowExecutionStartedEventAttributes!;
      expect(started.workflowType!.name).toBe('orderToCash');
      const input = Buffer.from(started.input!.payloads![0].data!).toString('utf8');
      expect(input).not.toContain(PAN);
      expect(input).not.toMatch(/4111-1111/);
      expect(JSON.parse(input)).toMatchObject({
        orderId: String(orderId),
        lines: [{ sku: 'SKU-1001', description: 'Gift for ************1111', unitPriceMinor: 8999 }],
        payment: { token: 'PMT_hook', last4: '1111', brand: 'Visa' },
      });
    } finally {
      await dispatcher.stop();
    }
  });

  test('a card number sent as the payment token is refused, not masked into a useless token', async () => {
    const before = await rows();
    const raw = JSON.stringify(shopifyOrder(Date.now(), { note_attributes: [{ name: 'payment_token', value: PAN }] }));
    const res = await post('/webhooks/commerce', raw, signed('commerce', raw));
    expect(res.status).toBe(422);
    expect(res.body.issues).toEqual([{ path: 'order.payment.token', message: expect.stringMatching(/card number/) }]);
    expect(JSON.stringify(res.body)).not.toContain(PAN);
    expect(await rows()).toBe(before);
  });
});

describe('fuzz', () => {
  /** Valid payloads per source, which the fuzzer mutates after signing correctly (so it reaches the body checks). */
  const templates: Record<WebhookSource, () => unknown> = {
    heartland: () => gpClose('BAT_FZ'),
    'heartland-retail': () => retailEnvelope('evt_fz'),
    commerce: () => shopifyOrder(42),
    odoo: () => erpEvent('fz'),
    m3: () => erpEvent('fz', 'credit_memo.requested'),
    p21: () => erpEvent('fz'),
  };

  function mutate(value: unknown, path: number[], replacement: unknown, remove: boolean): unknown {
    if (path.length === 0 || value === null || typeof value !== 'object') return replacement;
    const entries = Object.keys(value as object);
    if (entries.length === 0) return replacement;
    const key = entries[path[0] % entries.length];
    const copy: Record<string, unknown> | unknown[] = Array.isArray(value) ? [...value] : { ...(value as object) };
    if (remove && path.length === 1) {
      if (Array.isArray(copy)) copy.splice(Number(key), 1);
      else delete copy[key];
      return copy;
    }
    (copy as Record<string, unknown>)[key] = mutate(
      (value as Record<string, unknown>)[key],
      path.slice(1),
      replacement,
      remove,
    );
    return copy;
  }

  test('10,000 malformed bodies, headers and signatures: never a 5xx, and only accepted events are written', async () => {
    const before = await rows();
    let accepted = 0;
    const statuses = new Map<number, number>();
    const bodyFor = (source: WebhookSource) =>
      fc.oneof(
        { arbitrary: fc.string({ maxLength: 200 }), weight: 1 },
        { arbitrary: fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v) ?? 'null'), weight: 2 },
        { arbitrary: fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)), weight: 1 },
        {
          // A valid payload of this source with one field replaced or removed: reaches the schema and routing checks.
          arbitrary: fc
            .tuple(fc.array(fc.nat(), { minLength: 1, maxLength: 5 }), fc.jsonValue({ maxDepth: 2 }), fc.boolean())
            .map(([path, v, rm]) => JSON.stringify(mutate(templates[source](), path, v, rm))),
          weight: 6,
        },
      );
    const signing = fc.constantFrom('valid', 'valid', 'valid', 'valid', 'none', 'garbage', 'wrong-key', 'stale');
    const contentType = fc.constantFrom(
      'application/json',
      'application/json',
      'application/json',
      'application/json',
      'application/json; charset=utf-8',
      'Application/JSON',
      'text/plain',
      '',
    );
    const extra = fc.record(
      {
        'x-shopify-topic': fc.constantFrom(
          'orders/create',
          'orders/fulfilled',
          'orders/cancelled',
          'refunds/create',
          'x',
        ),
        'x-shopify-webhook-id': fc.oneof(fc.uuid(), fc.string({ maxLength: 30 })),
        'x-ledgerbridge-timestamp': fc.string({ maxLength: 14 }),
        'x-heartland-timestamp': fc.string({ maxLength: 14 }),
        'x-gp-signature': fc.string({ maxLength: 130 }),
      },
      { requiredKeys: ['x-shopify-topic', 'x-shopify-webhook-id'] },
    );
    const oneCase = fc
      .constantFrom(...WEBHOOK_SOURCES)
      .chain((source) => fc.tuple(fc.constant(source), bodyFor(source), signing, contentType, extra));
    const safeHeader = (v: string) => v.replace(/[^\x20-\x7e]/g, '');

    async function send([source, raw, sig, ct, more]: [
      WebhookSource,
      string | Buffer,
      string,
      string,
      Record<string, string>,
    ]) {
      let headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(more)) headers[k] = safeHeader(v);
      const key = sig === 'wrong-key' ? 'not-the-key' : S[source];
      if (sig === 'valid' || sig === 'wrong-key' || sig === 'stale') {
        const at = sig === 'stale' ? Math.floor(Date.now() / 1000) - 3600 : undefined;
        if (source === 'heartland') headers['x-gp-signature'] = gpSignature(raw, key);
        else if (source === 'heartland-retail') headers = { ...headers, ...signRetailWebhook(raw, key, at) };
        else if (source === 'commerce') {
          headers['x-shopify-hmac-sha256'] = signCommerceWebhook(raw, key, 't', 'i')['x-shopify-hmac-sha256'];
        } else headers = { ...headers, ...signErpWebhook(raw, key, at) };
      } else if (sig === 'garbage') {
        headers['x-gp-signature'] = 'abc';
        headers['x-shopify-hmac-sha256'] = 'abc=';
        headers['x-ledgerbridge-signature'] = 'abc';
        headers['x-heartland-signature'] = 'abc';
      }
      if (ct) headers['content-type'] = ct;
      const res = await post(`/webhooks/${source}`, raw, headers);
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      if (res.status >= 500) {
        throw new Error(
          `${res.status} for ${source}: ${(typeof raw === 'string' ? raw : raw.toString('latin1')).slice(0, 300)}`,
        );
      }
      expect([200, 202, 401, 413, 415, 422]).toContain(res.status);
      if (res.status === 202 && res.body.status === 'accepted') accepted++;
    }

    // 500 runs of 20 requests sent at once: 10,000 requests, concurrent like real deliveries, shrinkable on failure.
    await fc.assert(
      fc.asyncProperty(fc.array(oneCase, { minLength: 20, maxLength: 20 }), async (cases) => {
        await Promise.all(cases.map(send));
      }),
      { numRuns: 500 },
    );
    expect(await rows()).toBe(before + accepted);
    // The generators reach every check, not only the signature one.
    for (const s of [401, 415, 422, 202]) expect(statuses.get(s) ?? 0).toBeGreaterThan(50);
  });
});
