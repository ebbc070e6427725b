import { scrubPlan } from '../../src/domain/card-data-fields';
import { orderInputSchema } from '../../src/domain/orders';
import { scrubOwnRecord } from '../../src/domain/own-records';
import { scrubWebhook, webhookKeptValues } from '../../src/gateway/webhooks/card-data';
import { routeEvent, type RouteContext } from '../../src/gateway/webhooks/routing';
import type { WebhookSource } from '../../src/gateway/webhooks/secrets';
import { luhnId, typedForms } from '../support/card-numbers';
import { TEST_PAN } from '../support/pan-audit';
import { detectCardData } from '../support/pan-detector';
import { collectingLogger } from '../support/log-lines';

const ctx: RouteContext = { erp: 'odoo', currency: 'USD' };

/** Luhn-valid ids of every length from 13 to 19 (a naive scrubber masks each of them). */
const ids = Object.fromEntries(Array.from({ length: 7 }, (_, i) => [13 + i, luhnId(13 + i, 100 + i)])) as Record<
  number,
  string
>;
/** Each typed form of the test card number, one per free-text field. */
const forms = typedForms();
const note = (i: number) => `call me back, card ${forms[i % forms.length].text} thanks`;

function commerceOrder() {
  return {
    id: Number(ids[15]) > Number.MAX_SAFE_INTEGER ? ids[15] : Number(ids[15]),
    name: `#${ids[13]}`,
    email: `buyer${ids[14]}@example.com`,
    created_at: '2026-11-20T10:15:00-05:00',
    currency: 'USD',
    total_price: '105.00',
    line_items: [{ id: ids[16], sku: ids[17], title: note(0), quantity: 1, price: '105.00' }],
    customer: { id: ids[13], first_name: note(1), last_name: 'Buyer', email: `buyer${ids[14]}@example.com` },
    shipping_address: { address1: note(2), city: 'Springfield', zip: '62701', country_code: 'US', name: note(3) },
    note: note(4),
    note_attributes: [
      { name: 'payment_token', value: 'PMT_abc123' },
      { name: 'gift message', value: note(5) },
    ],
    payment_details: { credit_card_company: 'Visa', credit_card_number: forms[6].text },
    some_new_field: { memo: note(7), count: Number(TEST_PAN) },
  };
}

function retailSale() {
  return {
    id: `evt_${ids[13]}`,
    event: 'sales_transaction_completed',
    created_at: '2026-11-20T18:00:01.000Z',
    data: {
      id: ids[14],
      public_id: ids[15],
      status: 'complete',
      customer_id: ids[16],
      customer: { id: ids[16], first_name: note(8), last_name: 'Doe', email: 'alex@example.com' },
      location_id: 1,
      subtotal: 10,
      tax_total: 0,
      total: 10,
      lines: [{ id: ids[17], item_id: ids[18], description: note(9), qty: 1, unit_price: 10, value: 10 }],
      taxes: [],
      payments: [
        {
          id: ids[19],
          payment_type: 'credit_card',
          amount: 10,
          card_brand: 'VISA',
          card_last4: '1111',
          transaction_id: ids[13],
        },
      ],
      completed_at: '2026-11-20T18:00:00.000Z',
      updated_at: '2026-11-20T18:00:00.000Z',
    },
  };
}

const erp = (type: string, data: unknown) => ({ id: ids[19], type, occurred_at: '2026-11-23T08:00:00Z', data });

const bodies: { source: WebhookSource; eventType: string; body: unknown }[] = [
  { source: 'commerce', eventType: 'orders/create', body: commerceOrder() },
  {
    source: 'commerce',
    eventType: 'refunds/create',
    body: {
      id: ids[13],
      order_id: ids[15],
      created_at: '2026-11-21T10:00:00Z',
      note: note(10),
      refund_line_items: [
        {
          line_item_id: ids[16],
          quantity: 1,
          line_item: { id: ids[16], sku: ids[17], price: '5.00' },
          subtotal: '5.00',
        },
      ],
      transactions: [{ amount: '5.00', kind: 'refund', status: 'success', currency: 'USD' }],
    },
  },
  { source: 'heartland-retail', eventType: 'sales_transaction_completed', body: retailSale() },
  {
    source: 'heartland',
    eventType: 'REFUND',
    body: {
      id: `TRN_${ids[14]}`,
      type: 'REFUND',
      status: 'CAPTURED',
      amount: '500',
      currency: 'USD',
      reference: ids[15],
      order: { reference: ids[16] },
      parent_resource_id: ids[17],
      batch_id: ids[18],
      time_created: '2026-11-21T10:00:00Z',
      payment_method: { result: '00', message: note(0), entry_mode: 'SWIPE' },
      action: { id: ids[19], type: 'REFUND', result_code: 'SUCCESS' },
    },
  },
  {
    source: 'p21',
    eventType: 'credit_memo.requested',
    body: erp('credit_memo.requested', {
      refundId: ids[13],
      order: { source: 'commerce', orderId: ids[14] },
      currency: 'USD',
      amountMinor: 500,
      reason: note(1),
      lines: [{ sku: ids[15], description: note(2), qty: 1, unitPriceMinor: 500 }],
    }),
  },
  {
    source: 'm3',
    eventType: 'delivery.done',
    body: erp('delivery.done', {
      order: { source: 'commerce', orderId: ids[16] },
      fulfilmentId: ids[17],
      picker_comment: note(3),
    }),
  },
];

/** Every (path, value) of a JSON value's scalars. */
function leaves(v: unknown, path = '', out = new Map<string, unknown>()): Map<string, unknown> {
  if (v !== null && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) leaves(x, path ? `${path}.${k}` : k, out);
  } else out.set(path, v);
  return out;
}

describe('card-data scrubbing follows each webhook schema', () => {
  test.each(bodies.map((b) => [`${b.source} ${b.eventType}`, b] as const))(
    '%s: ids, references and amounts are stored as received; every typed card number in free text is masked',
    (_name, { source, eventType, body }) => {
      const scrubbed = scrubWebhook(source, eventType, body);
      const kept = webhookKeptValues(source, eventType, body);
      // The schema keeps the fields that carry the planted ids; each is unchanged.
      const before = leaves(body);
      const after = leaves(scrubbed);
      const planted = [...before].filter(([, v]) => Object.values(ids).some((id) => String(v).includes(id)));
      expect(planted.length).toBeGreaterThan(2);
      for (const [path, value] of planted) expect({ path, value: after.get(path) }).toEqual({ path, value });
      expect(kept.map((k) => k.path)).toEqual(expect.arrayContaining(planted.map(([p]) => p)));
      // Nothing card-like is left, by the audit's own detector; known ids exempt as the audit exempts them.
      const exempt = new Set(Object.values(ids));
      expect(detectCardData(JSON.stringify(body), { exempt }).length).toBeGreaterThan(0);
      expect(detectCardData(JSON.stringify(scrubbed), { exempt })).toEqual([]);
      // Free text keeps its words; only the number is masked.
      for (const [path, value] of before) {
        if (typeof value === 'string' && value.startsWith('call me back')) {
          expect({ path, text: after.get(path) }).toEqual({
            path,
            text: expect.stringMatching(/^call me back, card [^\d]*\*+1111[^\d]* thanks$/),
          });
        }
      }
    },
  );

  test('a scrubbed body still routes, with the ids unchanged in the workflow input', async () => {
    const order = (await routeEvent(
      'commerce',
      'orders/create',
      scrubWebhook('commerce', 'orders/create', commerceOrder()),
      ctx,
    )) as { workflowId: string; input: { orderId: string; customer: { externalRef: string; name: string } } };
    expect(order.workflowId).toBe(`order:commerce:${ids[15]}`);
    expect(order.input.orderId).toBe(ids[15]);
    expect(order.input.customer.externalRef).toBe(`commerce:${ids[13]}`);
    expect(order.input).toMatchObject({ lines: [{ sku: ids[17] }] });
    expect(detectCardData(order.input.customer.name)).toEqual([]);

    const sale = (await routeEvent(
      'heartland-retail',
      'sales_transaction_completed',
      scrubWebhook('heartland-retail', 'sales_transaction_completed', retailSale()),
      ctx,
    )) as { workflowId: string; input: unknown };
    expect(sale.workflowId).toBe(`order:pos:${ids[14]}`);
    expect(sale.input).toMatchObject({
      orderId: ids[14],
      customer: { externalRef: `heartland:${ids[16]}` },
      lines: [{ sku: `ITEM-${ids[18]}` }],
      payment: { capturedTransactionId: ids[13] },
    });
  });

  test('fields named like card data are scrubbed even where the schema does not know them', () => {
    const out = scrubWebhook('commerce', 'orders/create', {
      ...commerceOrder(),
      card: { number: '4111 1111 1111 1112', cvv: '123', last4: '1112' },
      pan: '41111111 1111', // Luhn-invalid, but named as a card number: masked all the same
      track2: ';4111111111111111=25121010000000000000?',
    }) as Record<string, unknown>;
    expect(out.card).toEqual({ number: '************1112', cvv: '[removed]', last4: '1112' });
    expect(out.pan).toBe('********1111');
    expect(out.track2).toBe('[removed]');
  });

  test('the flow input plan keeps ids, references, amounts and contacts and nothing else', () => {
    const plan = scrubPlan(orderInputSchema) as { fields: Record<string, { keep?: string; fields?: unknown }> };
    expect(plan.fields.orderId).toEqual({ keep: 'id' });
    expect(plan.fields.totalMinor).toEqual({ keep: 'amount' });
    expect(plan.fields.customer).toEqual({
      fields: expect.objectContaining({
        externalRef: { keep: 'id' },
        name: { text: true },
        email: { keep: 'contact' },
        address: { fields: expect.objectContaining({ line1: { text: true } }) },
      }),
    });
  });
});

describe("Ledgerbridge's own records: dead letters and log lines", () => {
  test('id fields are kept, free text is scrubbed', () => {
    const rec = scrubOwnRecord({
      workflowId: `order:commerce:${ids[13]}`,
      input: { orderId: ids[14], customer: { externalRef: `commerce:${ids[15]}`, name: note(3) } },
      customerErpId: ids[16],
      message: `declined: ${forms[4].text}`,
    });
    expect(rec).toEqual({
      workflowId: `order:commerce:${ids[13]}`,
      input: { orderId: ids[14], customer: { externalRef: `commerce:${ids[15]}`, name: expect.any(String) } },
      customerErpId: ids[16],
      message: expect.stringMatching(/^declined: \*+1111$/),
    });
    expect(detectCardData(JSON.stringify(rec), { exempt: new Set(Object.values(ids)) })).toEqual([]);
  });

  test('the logger writes id fields as they are and masks card numbers in every other field and the message', () => {
    const { log, lines } = collectingLogger();
    log.info({ orderId: ids[13], workflowId: `order:pos:${ids[14]}`, memo: note(6) }, `paid with ${forms[8].text}`);
    const line = JSON.parse(lines[0]) as Record<string, string>;
    expect(line.orderId).toBe(ids[13]);
    expect(line.workflowId).toBe(`order:pos:${ids[14]}`);
    expect(detectCardData(lines[0], { exempt: new Set(Object.values(ids)) })).toEqual([]);
    expect(line.msg).toMatch(/^paid with \*+1111$/);
  });
});
