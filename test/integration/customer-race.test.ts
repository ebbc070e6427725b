import type { ErpSystem } from '../../src/connectors/erp/types';
import { normalizeEmail } from '../../src/domain/dedup';
import { SANDBOX_WEBHOOK_SECRETS, signCommerceWebhook } from '../../src/gateway/webhooks';
import type { FaultSpec } from '../../src/sandbox/faults';
import { pollUntil, useWebhookHarness } from '../support/webhook-harness';

/**
 * Two orders of one new customer arrive together through the public webhook: one from the shop account, one a guest
 * checkout whose email differs only in case. They carry two external refs (`commerce:<customer id>` and
 * `commerce:<email>`), so a lock per external ref never makes them wait for each other. The ERP's customer look-up
 * is slowed (a simulator fault) so that both look-ups fall inside the first create's window, every run.
 */

jest.setTimeout(300_000);

const h = useWebhookHarness('race');
const ERPS: ErpSystem[] = ['odoo', 'm3', 'p21', 'sagepro'];

/** Slows each ERP's customer look-up and create (Sage Pro: each import batch; its look-up reads an export file). */
const SLOW_CUSTOMERS: Record<ErpSystem, FaultSpec> = {
  odoo: { latencyMs: 1500, paths: ['res.partner'] },
  m3: { latencyMs: 1500, paths: ['CRS610MI'] },
  p21: { latencyMs: 1500, paths: ['customer'] },
  sagepro: { latencyMs: 1500 },
};

describe.each(ERPS)('racing first orders of one customer (%s)', (erp) => {
  test('an account order and a guest order whose email differs only in case create one ERP customer', () =>
    h.withFlows(
      `race-${erp}`,
      async () => {
        const tag = `${erp}${Date.now().toString(36)}`;
        const email = `Ann.Race.${tag}@Example.COM`;
        const order = (id: number, over: Record<string, unknown>) => ({
          id,
          created_at: '2026-11-20T10:15:00-05:00',
          currency: 'USD',
          total_price: '15.99',
          line_items: [{ sku: 'SKU-1002', title: 'Wool Socks', quantity: 1, price: '15.99' }],
          shipping_address: { name: 'Ann Race', address1: '1 Main St', city: 'Springfield', country_code: 'US' },
          note_attributes: [{ name: 'payment_token', value: `PMT_race${id.toString(36)}` }],
          ...over,
        });
        const base = Date.now() * 10 + ERPS.indexOf(erp) * 2;
        const account = order(base, { email, customer: { id: base + 7, first_name: 'Ann', last_name: 'Race', email } });
        const guest = order(base + 1, { email: email.toLowerCase() });

        const faults = h.sb.sandbox[erp].faults;
        faults.set(SLOW_CUSTOMERS[erp]);
        try {
          const answers = await Promise.all(
            [account, guest].map((o) => {
              const raw = JSON.stringify(o);
              const headers = signCommerceWebhook(
                raw,
                SANDBOX_WEBHOOK_SECRETS.commerce,
                'orders/create',
                `race-${o.id}`,
              );
              return h.post('/webhooks/commerce', raw, headers);
            }),
          );
          expect(answers.map((a) => a.status)).toEqual([202, 202]);
          for (const o of [account, guest]) {
            await pollUntil(`order ${o.id} waiting for fulfilment`, async () => {
              try {
                const s = (await h.client.workflow.getHandle(`order:commerce:${o.id}`).query('status')) as {
                  stage: string;
                };
                return s.stage === 'awaiting-fulfilment';
              } catch {
                return false;
              }
            });
          }
        } finally {
          faults.clear();
        }

        const links = await h
          .db('id_links')
          .where({ entity: 'customer', source_system: 'commerce', target_system: erp })
          .whereIn('source_id', [`commerce:${base + 7}`, `commerce:${email.toLowerCase()}`])
          .select('source_id', 'target_id');
        expect(links).toHaveLength(2);
        expect(new Set(links.map((l) => l.target_id)).size).toBe(1);
        const inErp = await h.sb.connectors.erp(erp).findCustomers({ email });
        expect(inErp.filter((c) => normalizeEmail(c.email) === normalizeEmail(email)).map((c) => c.erpId)).toEqual([
          links[0].target_id,
        ]);
        for (const o of [account, guest])
          await h.client.workflow.getHandle(`order:commerce:${o.id}`).terminate('test done');
      },
      erp,
    ));
});
