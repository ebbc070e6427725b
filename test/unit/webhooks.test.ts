import { signRetailWebhook, verifyRetailSignature } from '../../src/connectors/heartland/retail-webhook-signature';
import { orderInputSchema, refundInputSchema } from '../../src/domain/orders';
import fc from 'fast-check';
import { scrub } from '../../src/domain/card-data';
import { scrubWebhook } from '../../src/gateway/webhooks/card-data';
import { mayBeUnstorable, mayHoldCardData, storableIssues } from '../../src/gateway/webhooks/inbox';
import {
  readEnvelope,
  RouteError,
  routeEvent,
  shopifyOrderToInput,
  type DispatchPlan,
  type RouteContext,
} from '../../src/gateway/webhooks/routing';
import { shopifyOrderSchema } from '../../src/gateway/webhooks/schemas';
import { SANDBOX_WEBHOOK_SECRETS, webhookSecrets } from '../../src/gateway/webhooks/secrets';
import {
  signCommerceWebhook,
  signErpWebhook,
  verifyCommerceSignature,
  verifyErpSignature,
} from '../../src/gateway/webhooks/signing';
import { SANDBOX_CREDENTIALS } from '../../src/sandbox';

const ctx: RouteContext = { erp: 'odoo', currency: 'USD' };
const S_COMMERCE = SANDBOX_WEBHOOK_SECRETS.commerce;

export function shopifyOrder(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: 5823453921329,
    name: '#1001',
    email: 'pat@example.com',
    created_at: '2026-11-20T10:15:00-05:00',
    currency: 'USD',
    total_price: '133.50',
    line_items: [
      {
        id: 1,
        sku: 'SKU-1001',
        title: 'Trail Runner Shoe',
        quantity: 1,
        price: '89.99',
        tax_lines: [{ price: '7.42', rate: 0.0825, title: 'State tax' }],
      },
      {
        id: 2,
        sku: 'SKU-1002',
        title: 'Wool Socks',
        quantity: 2,
        price: '15.99',
        tax_lines: [{ price: '2.64', rate: 0.0825, title: 'State tax' }],
      },
    ],
    shipping_lines: [{ title: 'Ground', price: '1.47', tax_lines: [] }],
    customer: { id: 207119551, email: 'pat@example.com', first_name: 'Pat', last_name: 'Buyer', phone: '+1 555 0100' },
    shipping_address: {
      address1: '1 Main St',
      city: 'Springfield',
      province_code: 'IL',
      zip: '62701',
      country_code: 'US',
    },
    note_attributes: [{ name: 'payment_token', value: 'PMT_abc123' }],
    payment_details: { credit_card_company: 'Visa', credit_card_number: '•••• •••• •••• 4242' },
    ...over,
  };
}

function plan<T extends DispatchPlan['action']>(p: DispatchPlan, action: T): Extract<DispatchPlan, { action: T }> {
  expect(p.action).toBe(action);
  return p as Extract<DispatchPlan, { action: T }>;
}

async function routeIssues(fn: () => unknown): Promise<string[]> {
  try {
    await fn();
  } catch (e) {
    expect(e).toBeInstanceOf(RouteError);
    return (e as RouteError).issues.map((i) => i.path);
  }
  throw new Error('expected a RouteError');
}

describe('ERP event signature (X-Ledgerbridge-Signature over `${timestamp}.${rawBody}`)', () => {
  const body = Buffer.from('{"id":"e1","type":"delivery.done"}');
  const now = 1_800_000_000_000;

  test('a signed delivery verifies; each failure has its own reason', () => {
    const headers = signErpWebhook(body, 'sekret', now / 1000);
    expect(verifyErpSignature(body, headers, 'sekret', now)).toEqual({ ok: true });
    expect(verifyErpSignature(body, headers, 'other', now)).toEqual({ ok: false, reason: 'bad_signature' });
    expect(verifyErpSignature(Buffer.from(`${body} `), headers, 'sekret', now)).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
    expect(verifyErpSignature(body, headers, 'sekret', now + 5 * 60_000 + 1000)).toEqual({
      ok: false,
      reason: 'stale_timestamp',
    });
    expect(verifyErpSignature(body, headers, 'sekret', now - 5 * 60_000 - 1000)).toEqual({
      ok: false,
      reason: 'stale_timestamp',
    });
    expect(verifyErpSignature(body, { 'x-ledgerbridge-signature': 'ab' }, 'sekret', now)).toEqual({
      ok: false,
      reason: 'missing_timestamp',
    });
    expect(verifyErpSignature(body, { ...headers, 'x-ledgerbridge-timestamp': '17e8' }, 'sekret', now)).toEqual({
      ok: false,
      reason: 'bad_timestamp',
    });
    expect(verifyErpSignature(body, { 'x-ledgerbridge-timestamp': '1' }, 'sekret', now)).toEqual({
      ok: false,
      reason: 'missing_signature',
    });
  });

  test('the signature is hex HMAC-SHA256 of timestamp, dot, raw body', () => {
    const { createHmac } = jest.requireActual<typeof import('node:crypto')>('node:crypto');
    const h = signErpWebhook(body, 'k', 1_700_000_000);
    expect(h['x-ledgerbridge-signature']).toBe(
      createHmac('sha256', 'k').update(`1700000000.${body.toString()}`).digest('hex'),
    );
  });
});

describe('commerce signature (X-Shopify-Hmac-Sha256)', () => {
  test('base64 HMAC-SHA256 of the raw body; a re-serialised body does not verify', () => {
    const raw = Buffer.from('{"id": 1,  "a":"b"}');
    const h = signCommerceWebhook(raw, 's3', 'orders/create', 'w1');
    expect(verifyCommerceSignature(raw, h, 's3')).toEqual({ ok: true });
    expect(verifyCommerceSignature(Buffer.from(JSON.stringify(JSON.parse(raw.toString()))), h, 's3')).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
    expect(verifyCommerceSignature(raw, {}, 's3')).toEqual({ ok: false, reason: 'missing_signature' });
    expect(verifyCommerceSignature(raw, { 'x-shopify-hmac-sha256': 'short' }, 's3')).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
  });

  test('the Heartland Retail verifier accepts the simulator signer', () => {
    const raw = Buffer.from('{"id":"evt_1"}');
    expect(verifyRetailSignature(raw, signRetailWebhook(raw, 'rs'), 'rs')).toEqual({
      ok: true,
      timestamp: expect.any(Number),
    });
  });
});

describe('webhook secrets', () => {
  test('sandbox mode falls back to the simulator keys; production has none unless configured', () => {
    const sandbox = webhookSecrets({ LB_MODE: 'sandbox' } as never);
    expect(sandbox.heartland).toBe(SANDBOX_CREDENTIALS.heartlandAppKey);
    expect(sandbox.commerce).toBe('commerce-sandbox-secret');
    expect(sandbox).toEqual(SANDBOX_WEBHOOK_SECRETS);
    const prod = webhookSecrets({ LB_MODE: 'production', ODOO_WEBHOOK_SECRET: 'o' } as never);
    expect(prod).toEqual({
      heartland: undefined,
      'heartland-retail': undefined,
      odoo: 'o',
      m3: undefined,
      p21: undefined,
      commerce: undefined,
    });
    expect(webhookSecrets({ LB_MODE: 'sandbox', COMMERCE_WEBHOOK_SECRET: 'c' } as never).commerce).toBe('c');
    // Production never takes a sandbox secret, even one configured.
    expect(
      webhookSecrets({ LB_MODE: 'production', COMMERCE_WEBHOOK_SECRET: S_COMMERCE, ODOO_WEBHOOK_SECRET: 'o' } as never),
    ).toMatchObject({ commerce: undefined, odoo: 'o' });
  });
});

describe('commerce order mapping', () => {
  test('line items, taxes, shipping, customer, address and payment token map to a valid OrderInput', () => {
    const input = shopifyOrderToInput(shopifyOrderSchema.parse(shopifyOrder()), ctx);
    expect(input).toEqual({
      source: 'commerce',
      orderId: '5823453921329',
      erp: 'odoo',
      currency: 'USD',
      orderDate: '2026-11-20',
      customer: {
        externalRef: 'commerce:207119551',
        name: 'Pat Buyer',
        email: 'pat@example.com',
        phone: '+1 555 0100',
        address: {
          line1: '1 Main St',
          line2: undefined,
          city: 'Springfield',
          region: 'IL',
          postalCode: '62701',
          country: 'US',
        },
      },
      lines: [
        { sku: 'SKU-1001', description: 'Trail Runner Shoe', qty: 1, unitPriceMinor: 8999, taxMinor: 742 },
        { sku: 'SKU-1002', description: 'Wool Socks', qty: 2, unitPriceMinor: 1599, taxMinor: 264 },
      ],
      shippingMinor: 147,
      totalMinor: 13350,
      payment: { token: 'PMT_abc123', brand: 'Visa', last4: '4242', method: 'card' },
    });
    expect(orderInputSchema.safeParse(input).success).toBe(true);
  });

  test('a discount that does not divide by the quantity splits the line so the total stays exact', () => {
    const o = shopifyOrder({
      total_price: '29.00',
      shipping_lines: [],
      line_items: [
        {
          sku: 'SKU-1004',
          title: 'Water Bottle',
          quantity: 3,
          price: '10.00',
          discount_allocations: [{ amount: '1.00' }],
        },
      ],
    });
    const input = shopifyOrderToInput(shopifyOrderSchema.parse(o), ctx);
    expect(input.lines).toEqual([
      { sku: 'SKU-1004', description: 'Water Bottle', qty: 2, unitPriceMinor: 967, taxMinor: 0 },
      { sku: 'SKU-1004', description: 'Water Bottle', qty: 1, unitPriceMinor: 966, taxMinor: 0 },
    ]);
    expect(input.lines.reduce((s, l) => s + l.qty * l.unitPriceMinor, 0)).toBe(2900);
  });

  test('the payment token comes from the note attribute first, then payment_token, then payment_details', () => {
    const parse = (o: Record<string, unknown>) => shopifyOrderToInput(shopifyOrderSchema.parse(shopifyOrder(o)), ctx);
    expect(parse({ note_attributes: [], payment_token: 'PMT_top' }).payment.token).toBe('PMT_top');
    expect(
      parse({ note_attributes: [], payment_details: { payment_token: 'PMT_pd', credit_card_company: 'Visa' } }).payment
        .token,
    ).toBe('PMT_pd');
    expect(parse({ payment_token: 'PMT_top' }).payment.token).toBe('PMT_abc123');
  });

  test('totals that do not add up, a missing token and a card number as token name their fields', async () => {
    expect(
      await routeIssues(() => routeEvent('commerce', 'orders/create', shopifyOrder({ total_price: '1.00' }), ctx)),
    ).toEqual(['total_price']);
    expect(
      await routeIssues(() => routeEvent('commerce', 'orders/create', shopifyOrder({ note_attributes: [] }), ctx)),
    ).toEqual(['note_attributes.payment_token']);
    expect(
      await routeIssues(() =>
        routeEvent(
          'commerce',
          'orders/create',
          shopifyOrder({ note_attributes: [{ name: 'payment_token', value: '4111 1111 1111 1111' }] }),
          ctx,
        ),
      ),
    ).toEqual(['order.payment.token']);
    expect(
      await routeIssues(() =>
        routeEvent(
          'commerce',
          'orders/create',
          shopifyOrder({ line_items: [{ sku: 'X', quantity: 0, price: 'abc' }] }),
          ctx,
        ),
      ),
    ).toEqual(expect.arrayContaining(['line_items.0.quantity', 'line_items.0.price']));
  });
});

describe('routing table', () => {
  test('commerce: create starts, fulfilled signals-with-start, cancelled signals, refunds start a request', async () => {
    const created = plan(await routeEvent('commerce', 'orders/create', shopifyOrder(), ctx), 'start');
    expect(created).toMatchObject({ workflowType: 'orderToCash', workflowId: 'order:commerce:5823453921329' });
    const fulfilled = plan(
      await routeEvent('commerce', 'orders/fulfilled', shopifyOrder({ fulfillments: [{ id: 55 }] }), ctx),
      'signalWithStart',
    );
    expect(fulfilled).toMatchObject({
      workflowType: 'orderToCash',
      workflowId: 'order:commerce:5823453921329',
      signal: 'fulfilled',
      signalArgs: [{ fulfilmentId: '55' }],
    });
    const cancelled = plan(
      await routeEvent('commerce', 'orders/cancelled', shopifyOrder({ cancel_reason: 'customer' }), ctx),
      'signal',
    );
    expect(cancelled).toEqual({
      action: 'signal',
      workflowId: 'order:commerce:5823453921329',
      signal: 'cancel',
      signalArgs: [{ reason: 'customer' }],
    });
    const refund = plan(
      await routeEvent(
        'commerce',
        'refunds/create',
        {
          id: 509562969,
          order_id: 5823453921329,
          created_at: '2026-11-21T09:00:00-05:00',
          note: 'wrong size',
          refund_line_items: [
            {
              quantity: 1,
              line_item: { sku: 'SKU-1002', title: 'Wool Socks', price: '15.99' },
              subtotal: '15.99',
              total_tax: '1.32',
            },
          ],
          transactions: [{ amount: '17.31', kind: 'refund', status: 'success', currency: 'USD' }],
        },
        { ...ctx, queues: { heartland: 'hq', erp: 'eq' } },
      ),
      'start',
    );
    expect(refund).toMatchObject({ workflowType: 'refund', workflowId: 'refund:commerce:509562969' });
    expect(refund.input).toEqual({
      source: 'commerce',
      refundId: '509562969',
      erp: 'odoo',
      kind: 'request',
      order: { source: 'commerce', orderId: '5823453921329' },
      currency: 'USD',
      amountMinor: 1731,
      date: '2026-11-21',
      reason: 'wrong size',
      lines: [{ sku: 'SKU-1002', description: 'Wool Socks', qty: 1, unitPriceMinor: 1599, taxMinor: 132 }],
      restock: true,
      queues: { heartland: 'hq', erp: 'eq' },
    });
    expect(refundInputSchema.safeParse(refund.input).success).toBe(true);
    expect(await routeEvent('commerce', 'products/update', {}, ctx)).toEqual({
      action: 'ignore',
      reason: 'no route for products/update',
    });
  });

  const gpRefund = (over: Record<string, unknown> = {}) => ({
    id: 'TRN_R1',
    time_created: '2026-11-22T15:00:00.000Z',
    type: 'REFUND',
    status: 'CAPTURED',
    channel: 'CP',
    amount: '1500',
    currency: 'USD',
    reference: null,
    parent_resource_id: 'TRN_S1',
    payment_method: { result: '00', message: 'SUCCESS', entry_mode: 'SWIPE' },
    action: { id: 'ACT_9', type: 'REFUND', result_code: 'SUCCESS' },
    ...over,
  });

  test('Heartland GP: batch close starts settlement; outside refunds start a POS refund; our own are ignored', async () => {
    const close = plan(
      await routeEvent(
        'heartland',
        'BATCH_CLOSE',
        {
          id: 'BAT_000042',
          batch_id: 'BAT_000042',
          status: 'CLOSED',
          amount: '12000',
          currency: 'USD',
          action: { id: 'ACT_1', type: 'BATCH_CLOSE', result_code: 'SUCCESS' },
        },
        ctx,
      ),
      'start',
    );
    expect(close).toEqual({
      action: 'start',
      workflowType: 'settlementReconciliation',
      workflowId: 'settlement:BAT_000042',
      input: { batchId: 'BAT_000042', erp: 'odoo', source: 'heartland', trigger: 'webhook' },
    });

    const lookups: string[] = [];
    const refund = plan(
      await routeEvent('heartland', 'REFUND', gpRefund(), {
        ...ctx,
        lookupOrderByTransaction: async (id) => (lookups.push(id), { source: 'pos', orderId: '301' }),
      }),
      'start',
    );
    expect(lookups).toEqual(['TRN_S1']);
    expect(refund).toMatchObject({
      workflowType: 'refund',
      workflowId: 'refund:pos:TRN_R1',
      input: {
        source: 'pos',
        refundId: 'TRN_R1',
        kind: 'pos',
        order: { source: 'pos', orderId: '301' },
        amountMinor: 1500,
        currency: 'USD',
        date: '2026-11-22',
        processorRefundId: 'TRN_R1',
        restock: false,
      },
    });
    const unlinked = plan(
      await routeEvent('heartland', 'REFUND', gpRefund({ order: { reference: 'A-9' } }), ctx),
      'start',
    );
    expect(unlinked.input).toMatchObject({ order: { source: 'pos', orderId: 'A-9' } });

    expect(await routeEvent('heartland', 'REFUND', gpRefund({ reference: 'refund:commerce:77' }), ctx)).toMatchObject({
      action: 'ignore',
    });
    expect(await routeEvent('heartland', 'REFUND', gpRefund({ status: 'DECLINED' }), ctx)).toMatchObject({
      action: 'ignore',
    });
    expect(await routeEvent('heartland', 'REFUND', gpRefund({ type: 'SALE' }), ctx)).toMatchObject({
      action: 'ignore',
    });
    expect(await routeEvent('heartland', 'CAPTURE', gpRefund(), ctx)).toMatchObject({ action: 'ignore' });
    expect(
      await routeIssues(() => routeEvent('heartland', 'REFUND', gpRefund({ amount: 'x', currency: 'usd' }), ctx)),
    ).toEqual(['amount', 'currency']);
  });

  const ticket = (over: Record<string, unknown> = {}) => ({
    id: 301,
    public_id: 'T-000301',
    status: 'complete',
    customer_id: 201,
    customer: { id: 201, public_id: 'C-201', first_name: 'Alex', last_name: 'Doe', email: 'alex@example.com' },
    location_id: 1,
    subtotal: 121.97,
    tax_total: 10.06,
    total: 132.03,
    lines: [
      {
        id: 1,
        item_id: 101,
        sku: 'SKU-1001',
        description: 'Trail Runner Shoe',
        qty: 1,
        unit_price: 89.99,
        value: 89.99,
      },
      { id: 2, item_id: 102, sku: 'SKU-1002', description: 'Wool Socks', qty: 2, unit_price: 15.99, value: 31.98 },
    ],
    taxes: [{ name: 'Sales tax', rate: 8.25, amount: 10.06 }],
    payments: [
      {
        id: 7,
        payment_type: 'credit_card',
        amount: 132.03,
        card_brand: 'VISA',
        card_last4: '4242',
        transaction_id: 'TRN_S1',
      },
    ],
    completed_at: '2026-11-20T18:00:00.000Z',
    updated_at: '2026-11-20T18:00:00.000Z',
    ...over,
  });
  const retail = (data: unknown, event = 'sales_transaction_completed') => ({
    id: 'evt_1',
    event,
    created_at: '2026-11-20T18:00:01.000Z',
    data,
  });

  test('Heartland Retail: a sale starts a captured POS order; a return starts a POS refund on the card txn id', async () => {
    const sale = plan(
      await routeEvent('heartland-retail', 'sales_transaction_completed', retail(ticket()), ctx),
      'start',
    );
    expect(sale).toMatchObject({ workflowType: 'orderToCash', workflowId: 'order:pos:301' });
    expect(sale.input).toMatchObject({
      source: 'pos',
      orderId: '301',
      orderDate: '2026-11-20',
      customer: { externalRef: 'heartland:201', name: 'Alex Doe', email: 'alex@example.com' },
      totalMinor: 13203,
      payment: { capturedTransactionId: 'TRN_S1', brand: 'VISA', last4: '4242', method: 'card' },
    });
    const lines = (sale.input as { lines: { taxMinor: number; qty: number; unitPriceMinor: number }[] }).lines;
    expect(lines.reduce((s, l) => s + l.taxMinor, 0)).toBe(1006);
    expect(lines.reduce((s, l) => s + l.qty * l.unitPriceMinor + l.taxMinor, 0)).toBe(13203);
    expect(orderInputSchema.safeParse(sale.input).success).toBe(true);

    const ret = ticket({
      id: 302,
      public_id: 'T-000302',
      subtotal: -15.99,
      tax_total: -1.32,
      total: -17.31,
      lines: [
        {
          id: 3,
          item_id: 102,
          sku: 'SKU-1002',
          description: 'Wool Socks',
          qty: -1,
          unit_price: 15.99,
          value: -15.99,
          original_ticket_id: 301,
        },
      ],
      payments: [
        {
          id: 8,
          payment_type: 'credit_card',
          amount: -17.31,
          card_brand: 'VISA',
          card_last4: '4242',
          transaction_id: 'TRN_R1',
        },
      ],
    });
    const refund = plan(await routeEvent('heartland-retail', 'sales_transaction_completed', retail(ret), ctx), 'start');
    expect(refund).toMatchObject({ workflowType: 'refund', workflowId: 'refund:pos:TRN_R1' });
    expect(refund.input).toMatchObject({
      kind: 'pos',
      order: { source: 'pos', orderId: '301' },
      amountMinor: 1731,
      lines: [{ sku: 'SKU-1002', qty: 1, unitPriceMinor: 1599, taxMinor: 132 }],
      processorRefundId: 'TRN_R1',
      restock: true,
    });
    expect(
      await routeEvent('heartland-retail', 'sales_transaction_completed', retail(ticket({ status: 'void' })), ctx),
    ).toMatchObject({
      action: 'ignore',
    });
    expect(
      await routeIssues(() =>
        routeEvent('heartland-retail', 'sales_transaction_completed', retail(ticket({ lines: 'none' })), ctx),
      ),
    ).toEqual(['data.lines']);
  });

  test('ERP events: delivery done signals the order; a credit memo request starts a refund request', async () => {
    const env = (type: string, data: unknown) => ({ id: 'e1', type, occurred_at: '2026-11-23T08:00:00Z', data });
    expect(
      await routeEvent(
        'm3',
        'delivery.done',
        env('delivery.done', { order: { source: 'commerce', orderId: '1001' }, fulfilmentId: 'DLV-1' }),
        ctx,
      ),
    ).toEqual({
      action: 'signal',
      workflowId: 'order:commerce:1001',
      signal: 'fulfilled',
      signalArgs: [{ fulfilmentId: 'DLV-1' }],
    });
    const cm = plan(
      await routeEvent(
        'p21',
        'credit_memo.requested',
        env('credit_memo.requested', {
          refundId: 'CM-77',
          order: { source: 'commerce', orderId: '1001' },
          currency: 'USD',
          amountMinor: 500,
          reason: 'price adjustment',
        }),
        ctx,
      ),
      'start',
    );
    expect(cm).toMatchObject({
      workflowType: 'refund',
      workflowId: 'refund:p21:CM-77',
      input: { source: 'p21', erp: 'odoo', kind: 'request', amountMinor: 500, date: '2026-11-23', restock: false },
    });
    expect(
      await routeIssues(() =>
        routeEvent(
          'odoo',
          'credit_memo.requested',
          env('credit_memo.requested', { refundId: 'x', amountMinor: 1.5 }),
          ctx,
        ),
      ),
    ).toEqual(expect.arrayContaining(['data.order', 'data.currency', 'data.amountMinor', 'data.reason']));
  });
});

describe('envelopes and storability', () => {
  test('event ids: GP action id, commerce webhook id header, Retail and ERP envelope ids', () => {
    expect(readEnvelope('heartland', { id: 'TRN_1', action: { id: 'ACT_1', type: 'CAPTURE' } }, {})).toEqual({
      eventId: 'ACT_1',
      eventType: 'CAPTURE',
    });
    expect(readEnvelope('heartland', { id: 'TRN_1', action: { type: 'CAPTURE' } }, {})).toEqual({
      eventId: 'TRN_1:CAPTURE',
      eventType: 'CAPTURE',
    });
    expect(readEnvelope('commerce', {}, { 'x-shopify-topic': 'orders/create', 'x-shopify-webhook-id': 'w-1' })).toEqual(
      { eventId: 'w-1', eventType: 'orders/create' },
    );
    expect(readEnvelope('commerce', [], {})).toEqual([
      { path: 'headers.x-shopify-topic', message: 'required' },
      { path: 'headers.x-shopify-webhook-id', message: 'required' },
      { path: '(root)', message: 'must be a JSON object' },
    ]);
    expect(readEnvelope('heartland-retail', { id: 'evt_1', event: 'item_created' }, {})).toEqual({
      eventId: 'evt_1',
      eventType: 'item_created',
    });
    expect(readEnvelope('odoo', { id: 'e', type: 't', occurred_at: 'nope', data: {} }, {})).toEqual([
      { path: 'occurred_at', message: 'not an ISO timestamp' },
    ]);
  });

  test('NUL characters, unpaired surrogates and deep nesting are refused with their path', () => {
    expect(storableIssues({ a: [{ b: 'x\u0000y' }] })).toEqual([
      { path: 'a.0.b', message: 'contains a NUL character or an unpaired surrogate' },
    ]);
    expect(storableIssues({ a: '\ud800' })).toHaveLength(1);
    expect(storableIssues({ a: '😀 ok' })).toEqual([]);
    let deep: unknown = 1;
    for (let i = 0; i < 40; i++) deep = [deep];
    expect(storableIssues(deep)[0].message).toMatch(/nested deeper/);
  });

  test('the raw-text pre-checks never skip a payload the scrubber or the storability check would change', () => {
    const cardish = fc.oneof(
      fc.constantFrom(
        '4111111111111111',
        '4111 1111 1111 1111',
        '5555-5555-5555-4444',
        '%B4111111111111111^DOE/J^2512?',
        '４１１１ １１１１ １１１１ １１１１',
        'card4111111111111111',
        '4111.1111.1111.1111',
        '4111\u00a01111\u00a01111\u00a01111',
        '4111/1111/1111/1111',
      ),
      fc.constantFrom(';4111111111111111=25121010000000000000?', '\u0000', '\ud800', 'x\udc00y'),
      fc.constantFrom('cvv', 'CVC2', 'cid', 'security_code', 'track2', 'number', 'pan', 'card_number', 'card'),
    );
    const value = fc.letrec((tie) => ({
      leaf: fc.oneof(
        fc.string(),
        cardish,
        fc.integer(),
        fc.constant(4111111111111111),
        fc.double({ noNaN: true }),
        fc.boolean(),
        fc.constant(null),
      ),
      node: fc.oneof(
        { depthSize: 'small' },
        tie('leaf'),
        fc.array(tie('node'), { maxLength: 4 }),
        fc.dictionary(fc.oneof(fc.string(), cardish), tie('node'), { maxKeys: 4 }),
      ),
    })).node;
    fc.assert(
      fc.property(value, (v) => {
        const text = JSON.stringify(v);
        if (JSON.stringify(scrub(v)) !== text) expect(mayHoldCardData(text)).toBe(true);
        if (JSON.stringify(scrubWebhook('commerce', 'orders/create', v)) !== text) {
          expect(mayHoldCardData(text)).toBe(true);
        }
        if (storableIssues(v).length > 0) expect(mayBeUnstorable(text)).toBe(true);
      }),
      { numRuns: 3000 },
    );
    let deep: unknown = 'x';
    for (let i = 0; i < 33; i++) deep = { a: deep };
    expect(mayBeUnstorable(JSON.stringify(deep))).toBe(true);
    expect(mayHoldCardData('{"id":"BAT_1","amount":"1000"}')).toBe(false);
  });
});
