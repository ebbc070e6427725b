import type { ErpSystem } from '../../src/connectors/erp/types';
import { SANDBOX_WEBHOOK_SECRETS, signCommerceWebhook } from '../../src/gateway/webhooks';
import { insertDeadLetter } from '../../src/db/dead-letters';
import { luhnId, typedForms } from '../support/card-numbers';
import { addStockedItem, erpRecordsText } from '../support/erp-records';
import { texts } from '../support/pan-audit';
import { detectCardData } from '../support/pan-detector';
import { pollUntil, useWebhookHarness, workflowResult } from '../support/webhook-harness';

/**
 * Card data and ids through the public webhooks to each ERP simulator's records. Order, customer and line ids are
 * Luhn-valid 13- to 19-digit numbers (a scrubber that guesses from digits masks them, and the order is refused or its
 * customer merged with another); card numbers are typed into free-text fields in every form people use. The ids
 * reach the ERP unchanged; no card number reaches the ERP, the inbox, the write log or the workflow history.
 */

jest.setTimeout(300_000);

const h = useWebhookHarness('cdf');
const forms = typedForms();
const ERPS: ErpSystem[] = ['odoo', 'm3', 'p21', 'sagepro'];

/** Per ERP: id lengths (order, customer, line, SKU) that together cover 13 to 19 digits. */
const LENGTHS: Record<ErpSystem, { order: number; customer: number; line: number; sku: number }> = {
  odoo: { order: 13, customer: 17, line: 19, sku: 13 },
  m3: { order: 16, customer: 13, line: 14, sku: 15 },
  p21: { order: 19, customer: 15, line: 16, sku: 14 },
  sagepro: { order: 14, customer: 18, line: 17, sku: 13 },
};

/** As the shop sends it: an integer id as a JSON number when it is one exactly, else as a string. */
const wire = (id: string) => (Number.isSafeInteger(Number(id)) ? Number(id) : id);

describe.each(ERPS)('card data and Luhn-valid ids through the public webhooks (%s)', (erp) => {
  test('ids reach the ERP unchanged; card numbers typed in free text are masked everywhere', () =>
    h.withFlows(
      `cdf-${erp}`,
      async () => {
        const n = ERPS.indexOf(erp);
        const len = LENGTHS[erp];
        const ids = {
          order: luhnId(len.order, 10 + n),
          customer: luhnId(len.customer, 20 + n),
          line: luhnId(len.line, 30 + n),
          sku: luhnId(len.sku, 40 + n),
        };
        addStockedItem(h.sb.sandbox, erp, ids.sku, 'Gift box');
        // Four free-text fields per ERP, a different typed form in each, so the four ERPs cover every form.
        const typed = (k: number) => forms[(4 * n + k) % forms.length];
        const planted = [0, 1, 2, 3].map(typed);
        const body = {
          id: wire(ids.order),
          email: `ada.${ids.customer}@example.com`,
          created_at: '2026-11-20T10:15:00-05:00',
          currency: 'USD',
          total_price: '20.00',
          line_items: [
            { id: wire(ids.line), sku: ids.sku, title: `Gift box ${planted[0].text}`, quantity: 2, price: '10.00' },
          ],
          customer: { id: wire(ids.customer), first_name: 'Ada', last_name: 'Lovelace' },
          shipping_address: {
            address1: `1 Main St ${planted[1].text}`,
            city: 'Springfield',
            zip: '62701',
            country_code: 'US',
          },
          note: `please call, card ${planted[2].text}`,
          note_attributes: [
            { name: 'payment_token', value: `PMT_cdf${erp}${Date.now().toString(36)}` },
            { name: 'gift_message', value: `for you ${planted[3].text}` },
          ],
          fulfillments: [{ id: wire(ids.line) }],
        };
        const raw = JSON.stringify(body);
        const send = async (topic: string, eventId: string) => {
          const a = await h.post(
            '/webhooks/commerce',
            raw,
            signCommerceWebhook(raw, SANDBOX_WEBHOOK_SECRETS.commerce, topic, eventId),
          );
          expect({ topic, status: a.status, body: a.body }).toEqual({ topic, status: 202, body: expect.anything() });
          return a.body.id!;
        };
        const rows = [await send('orders/create', `cdf-c-${ids.order}`)];
        const workflowId = `order:commerce:${ids.order}`;
        await pollUntil('the sales order', async () => {
          try {
            const s = (await h.client.workflow.getHandle(workflowId).query('status')) as { stage: string };
            return s.stage === 'awaiting-fulfilment';
          } catch {
            return false;
          }
        });
        rows.push(await send('orders/fulfilled', `cdf-f-${ids.order}`));
        const result = await workflowResult(h.client, workflowId);
        expect(result).toMatchObject({ outcome: 'completed', capturedMinor: 2000 });

        // The ids reach the ERP unchanged.
        const records = erpRecordsText(h.sb.sandbox, erp);
        for (const [what, id] of Object.entries({ order: ids.order, customer: ids.customer, sku: ids.sku })) {
          expect({ what, id, inErp: records.includes(id) }).toEqual({ what, id, inErp: true });
        }
        expect(records).toContain(`commerce:${ids.customer}`);
        // No card number reaches the ERP in any form: only the masked last four.
        const exempt = new Set(Object.values(ids));
        expect(detectCardData(records, { exempt })).toEqual([]);
        expect(records).toMatch(/\*{12}1111/);

        // The inbox keeps every id as received and no card number.
        for (const id of rows) {
          const row = await h.db('webhook_inbox').where({ id }).first();
          expect(row.payload).toMatchObject({
            id: body.id,
            customer: { id: body.customer.id },
            line_items: [{ id: body.line_items[0].id, sku: ids.sku }],
            email: body.email,
          });
          expect(detectCardData(JSON.stringify(row.payload), { exempt })).toEqual([]);
          expect(row.status).toBe('dispatched');
        }
        // Nor does the write log or the run's history hold one.
        const writes = await h.db('external_writes').where({ workflow_id: workflowId });
        expect(writes.length).toBeGreaterThan(3);
        expect(detectCardData(JSON.stringify(writes), { exempt })).toEqual([]);
        const history = texts(await h.client.workflow.getHandle(workflowId).fetchHistory(), []).join('\n');
        expect(history).toContain(ids.order);
        expect(detectCardData(history, { exempt })).toEqual([]);
        expect(await h.db('dead_letters').where({ workflow_id: workflowId })).toEqual([]);
      },
      erp,
    ));
});

describe('dead letters', () => {
  test('a dead letter keeps the ids of its input and context and masks card numbers in their free text', async () => {
    const orderId = luhnId(13, 51);
    const ref = luhnId(18, 52);
    const id = await insertDeadLetter(h.db, {
      flow: 'order',
      workflowId: `order:commerce:${orderId}`,
      step: 'createSalesOrder',
      input: {
        erp: 'odoo',
        order: { orderId, customer: { externalRef: `commerce:${ref}`, name: `Ada ${forms[6].text}` } },
      },
      context: { flowInput: { orderId, lines: [{ sku: ref, description: `box ${forms[9].text}` }] } },
      errorType: 'ValidationError',
      errorMessage: `refused: ${forms[2].text}`,
    });
    const row = await h.db('dead_letters').where({ id }).first();
    expect(row.input).toMatchObject({ order: { orderId, customer: { externalRef: `commerce:${ref}` } } });
    expect(row.context).toMatchObject({ flowInput: { orderId, lines: [{ sku: ref }] } });
    expect(row.input.order.customer.name).toMatch(/^Ada \*{12}1111$/);
    expect(row.error_message).toMatch(/^refused: \*{12}1111$/);
    expect(detectCardData(JSON.stringify(row), { exempt: new Set([orderId, ref]) })).toEqual([]);
  });
});
