import fc from 'fast-check';
import { defineModels } from '../../src/sandbox/odoo/models';
import { Store } from '../../src/sandbox/odoo/orm';
import { seed } from '../../src/sandbox/odoo/seed';

// The Odoo simulator rolls a failed call back from a copy-on-write journal: every record a call changed, created or
// removed must come back exactly as it was, however the call got there.

const MODELS = ['res.partner', 'sale.order', 'sale.order.line', 'account.move', 'account.move.line', 'account.payment'];

function newStore() {
  const store = new Store();
  defineModels(store);
  seed(store);
  return store;
}

function dump(store: Store) {
  // all() recomputes derived fields, which are not journaled (they are recomputed on every read anyway).
  return Object.fromEntries(MODELS.map((m) => [m, structuredClone(store.all(m))]));
}

function product(store: Store) {
  return store.search('product.product', [['default_code', '=', 'SKU-1004']])[0];
}

function order(store: Store, partner: number) {
  return store.create('sale.order', {
    partner_id: partner,
    order_line: [[0, 0, { product_id: product(store), product_uom_qty: 2, price_unit: 24.99 }]],
  });
}

function postedInvoice(store: Store, partner: number) {
  const id = store.create(
    'account.move',
    {
      move_type: 'out_invoice',
      partner_id: partner,
      invoice_line_ids: [[0, 0, { product_id: product(store), quantity: 1, price_unit: 24.99 }]],
    },
    {},
  );
  store.call('account.move', 'action_post', [id], {}, {});
  return id;
}

const boom = new Error('rolled back');

describe('Odoo simulator transactions', () => {
  test('a failed call leaves created, changed and removed records as they were, and ids are not used up', () => {
    const store = newStore();
    const partner = store.create('res.partner', { name: 'Ada' });
    const so = order(store, partner);
    const before = dump(store);
    expect(() =>
      store.transaction(() => {
        store.call('sale.order', 'action_confirm', [so], {}, {});
        store.write('res.partner', [partner], { name: 'Ada Lovelace', email: 'ada@example.com' });
        store.create('res.partner', { name: 'Babbage' });
        store.unlink('sale.order', [so]);
        throw boom;
      }),
    ).toThrow(boom);
    expect(dump(store)).toEqual(before);
    expect(store.get('sale.order', so).state).toBe('draft');
    const next = store.create('res.partner', { name: 'Next' });
    expect(next).toBe(partner + 1);
  });

  test('resetting a paid invoice to draft, then failing, keeps the payment matched to it', () => {
    const store = newStore();
    const partner = store.create('res.partner', { name: 'Grace' });
    const inv = postedInvoice(store, partner);
    const [wizard] = [
      store.create('account.payment.register', {}, { active_model: 'account.move', active_ids: [inv] }),
    ];
    store.call('account.payment.register', 'action_create_payments', [wizard], {}, {});
    expect(store.get('account.move', inv).payment_state).toBe('paid');
    const before = dump(store);
    expect(() =>
      store.transaction(() => {
        store.call('account.move', 'button_draft', [inv], {}, {});
        expect(store.get('account.move', inv).payment_state).toBe('not_paid');
        throw boom;
      }),
    ).toThrow(boom);
    expect(dump(store)).toEqual(before);
    expect(store.get('account.move', inv).payment_state).toBe('paid');
  });

  test('a search on a derived field sees its current value; one on stored fields returns recomputed records', () => {
    const store = newStore();
    const partner = store.create('res.partner', { name: 'Edsger' });
    const inv = postedInvoice(store, partner);
    expect(store.search('account.move', [['payment_state', '=', 'paid']])).not.toContain(inv);
    const wizard = store.create('account.payment.register', {}, { active_model: 'account.move', active_ids: [inv] });
    store.call('account.payment.register', 'action_create_payments', [wizard], {}, {});
    // Nothing has recomputed the invoice since it was paid: only the derived-field path can find it.
    expect(store.search('account.move', [['payment_state', '=', 'paid']])).toContain(inv);
    const [row] = store.read('account.move', store.search('account.move', [['partner_id', '=', partner]]), [
      'amount_residual',
      'payment_state',
    ]);
    expect(row).toMatchObject({ id: inv, amount_residual: 0, payment_state: 'paid' });
  });

  test('any sequence of calls that ends in an error changes nothing (property)', () => {
    const store = newStore();
    const partner = store.create('res.partner', { name: 'Base' });
    const ops: ((s: Store) => void)[] = [
      (s) => void s.create('res.partner', { name: 'New' }),
      (s) => s.write('res.partner', [partner], { name: `Renamed ${s.raw('res.partner').length}` }),
      (s) => void order(s, partner),
      (s) => {
        const draft = s.search('sale.order', [['state', '=', 'draft']]);
        if (draft.length) s.call('sale.order', 'action_confirm', [draft[0]], {}, {});
      },
      (s) => {
        const sale = s.search('sale.order', [['state', '=', 'sale']]);
        if (sale.length) s.call('sale.order', 'action_cancel', [sale[0]], {}, {});
      },
      (s) => void postedInvoice(s, partner),
      (s) => {
        const orders = s.search('sale.order', []);
        if (orders.length) s.unlink('sale.order', [orders[orders.length - 1]]);
      },
    ];
    fc.assert(
      fc.property(fc.array(fc.nat(ops.length - 1), { maxLength: 8 }), fc.boolean(), (seq, fail) => {
        const before = dump(store);
        const run = () =>
          store.transaction(() => {
            for (const i of seq) ops[i](store);
            if (fail) throw boom;
          });
        if (fail) {
          expect(run).toThrow(boom);
          expect(dump(store)).toEqual(before);
        } else {
          run();
        }
      }),
      { numRuns: 200 },
    );
  });
});
