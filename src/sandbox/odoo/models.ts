import { Store, userError, validationError, type Rec } from './orm';

/**
 * The Odoo models the simulator knows, with the business methods Ledgerbridge calls. Behaviour follows Odoo 17-19
 * where it matters to an integration (states, who may transition where, numbering on post, reconciliation); the
 * simplifications are listed in the header of ./index.ts.
 */

const round = (x: number, digits = 2) => {
  const f = 10 ** digits;
  return Math.round((x + Number.EPSILON * Math.sign(x)) * f) / f;
};
const today = () => new Date().toISOString().slice(0, 10);
const ids = (v: unknown): number[] => (Array.isArray(v) ? (v as number[]) : []);

function digitsOf(store: Store, currencyId: unknown): number {
  if (typeof currencyId !== 'number') return 2;
  const c = store.table('res.currency').get(currencyId);
  return typeof c?.decimal_places === 'number' ? c.decimal_places : 2;
}

function moveLines(store: Store, moveId: number): Rec[] {
  return store.raw('account.move.line').filter((l) => l.move_id === moveId);
}

function invoiceTotal(store: Store, move: Rec): number {
  const d = digitsOf(store, move.currency_id);
  return round(
    moveLines(store, move.id).reduce((a, l) => a + round(Number(l.quantity) * Number(l.price_unit), d), 0),
    d,
  );
}

/** Sum of what was reconciled against an invoice: posted payments and posted reversal credit notes. */
function reconciledAmount(store: Store, inv: Rec): number {
  let paid = 0;
  for (const p of store.raw('account.payment')) {
    if ((p.state === 'paid' || p.state === 'in_process') && ids(p.reconciled_invoice_ids).includes(inv.id)) {
      paid += Number(p.amount);
    }
  }
  for (const m of store.raw('account.move')) {
    const reversal = m.reversed_entry_id === inv.id && m.move_type === 'out_refund';
    if (reversal && m.state === 'posted' && m.reconciled_reversal) paid += invoiceTotal(store, m);
  }
  return paid;
}

function nextName(store: Store, prefix: string, date: unknown, pad: number): string {
  const year = typeof date === 'string' ? date.slice(0, 4) : today().slice(0, 4);
  const code = `${prefix}/${year}`;
  return `${code}/${String(store.nextSequence(code)).padStart(pad, '0')}`;
}

/** Defines every model on the store. */
export function defineModels(store: Store): void {
  store.define({
    name: 'res.currency',
    description: 'Currency',
    fields: {
      name: { type: 'char', required: true },
      symbol: { type: 'char' },
      decimal_places: { type: 'integer', default: 2 },
      active: { type: 'boolean', default: true },
    },
  });
  store.define({
    name: 'res.country',
    description: 'Country',
    fields: { name: { type: 'char', required: true }, code: { type: 'char', required: true } },
  });
  store.define({
    name: 'res.country.state',
    description: 'Country state',
    fields: {
      name: { type: 'char', required: true },
      code: { type: 'char', required: true },
      country_id: { type: 'many2one', relation: 'res.country', required: true },
    },
  });
  store.define({
    name: 'res.partner',
    description: 'Contact',
    fields: {
      name: { type: 'char', required: true, string: 'Name' },
      email: { type: 'char' },
      phone: { type: 'char' },
      mobile: { type: 'char' },
      street: { type: 'char' },
      street2: { type: 'char' },
      city: { type: 'char' },
      zip: { type: 'char' },
      state_id: { type: 'many2one', relation: 'res.country.state' },
      country_id: { type: 'many2one', relation: 'res.country' },
      ref: { type: 'char', string: 'Reference' },
      is_company: { type: 'boolean', default: false },
      customer_rank: { type: 'integer', default: 0 },
      comment: { type: 'text' },
      active: { type: 'boolean', default: true },
    },
    check(rec) {
      if (typeof rec.email === 'string' && rec.email && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(rec.email)) {
        throw validationError(`Invalid email address "${rec.email}"`);
      }
    },
  });
  store.define({
    name: 'uom.uom',
    description: 'Unit of Measure',
    fields: { name: { type: 'char', required: true } },
  });
  store.define({
    name: 'account.account',
    description: 'Account',
    recName: 'code',
    order: 'code',
    fields: {
      code: { type: 'char', required: true },
      name: { type: 'char', required: true },
      account_type: {
        type: 'selection',
        selection: [
          'asset_cash',
          'asset_current',
          'asset_receivable',
          'liability_current',
          'liability_payable',
          'income',
          'expense',
        ],
        required: true,
      },
      reconcile: { type: 'boolean', default: false },
      deprecated: { type: 'boolean', default: false },
    },
  });
  store.define({
    name: 'account.journal',
    description: 'Journal',
    fields: {
      name: { type: 'char', required: true },
      code: { type: 'char', required: true },
      type: { type: 'selection', selection: ['sale', 'purchase', 'cash', 'bank', 'general'], required: true },
      default_account_id: { type: 'many2one', relation: 'account.account' },
      active: { type: 'boolean', default: true },
    },
  });
  store.define({
    name: 'product.pricelist',
    description: 'Pricelist',
    fields: {
      name: { type: 'char', required: true },
      currency_id: { type: 'many2one', relation: 'res.currency', required: true },
      active: { type: 'boolean', default: true },
    },
  });
  store.define({
    name: 'product.product',
    description: 'Product Variant',
    fields: {
      name: { type: 'char', required: true },
      default_code: { type: 'char', string: 'Internal Reference' },
      list_price: { type: 'float', default: 0 },
      currency_id: { type: 'many2one', relation: 'res.currency', default: 1 },
      uom_id: { type: 'many2one', relation: 'uom.uom', default: 1 },
      sale_ok: { type: 'boolean', default: true },
      type: { type: 'selection', selection: ['consu', 'service', 'combo'], default: 'consu' },
      is_storable: { type: 'boolean', default: false },
      property_account_income_id: { type: 'many2one', relation: 'account.account' },
      active: { type: 'boolean', default: true },
    },
  });
  store.define({
    name: 'stock.location',
    description: 'Inventory Locations',
    recName: 'complete_name',
    fields: {
      name: { type: 'char', required: true },
      complete_name: { type: 'char' },
      usage: { type: 'selection', selection: ['internal', 'inventory', 'customer', 'view'], default: 'internal' },
      warehouse_id: { type: 'many2one', relation: 'stock.warehouse' },
      active: { type: 'boolean', default: true },
    },
  });
  store.define({
    name: 'stock.warehouse',
    description: 'Warehouse',
    fields: {
      name: { type: 'char', required: true },
      code: { type: 'char', required: true },
      lot_stock_id: { type: 'many2one', relation: 'stock.location' },
      active: { type: 'boolean', default: true },
    },
  });
  store.define({
    name: 'stock.move',
    description: 'Stock Move',
    fields: {
      name: { type: 'char', required: true },
      reference: { type: 'char' },
      product_id: { type: 'many2one', relation: 'product.product', required: true },
      product_uom_qty: { type: 'float' },
      quantity: { type: 'float' },
      location_id: { type: 'many2one', relation: 'stock.location', required: true },
      location_dest_id: { type: 'many2one', relation: 'stock.location', required: true },
      state: { type: 'selection', selection: ['draft', 'done', 'cancel'], default: 'draft' },
      is_inventory: { type: 'boolean', default: false },
      date: { type: 'datetime' },
    },
  });
  store.define({
    name: 'stock.quant',
    description: 'Quants',
    fields: {
      product_id: { type: 'many2one', relation: 'product.product', required: true },
      location_id: { type: 'many2one', relation: 'stock.location', required: true },
      quantity: { type: 'float', default: 0, readonly: true },
      inventory_quantity: { type: 'float', default: 0 },
      inventory_quantity_set: { type: 'boolean', default: false },
      inventory_diff_quantity: { type: 'float', readonly: true },
    },
    computed: ['inventory_diff_quantity'],
    compute(rec) {
      rec.inventory_diff_quantity = rec.inventory_quantity_set
        ? round(Number(rec.inventory_quantity) - Number(rec.quantity), 4)
        : 0;
    },
    onCreate(rec, s) {
      const dup = s
        .all('stock.quant')
        .find((q) => q.product_id === rec.product_id && q.location_id === rec.location_id);
      if (dup) throw userError('A quant already exists for this product and location; update its counted quantity.');
      if (!s.table('product.product').get(rec.product_id as number)?.is_storable)
        throw userError('Quants cannot be created for consumables or services.');
      if (rec.inventory_quantity !== 0) rec.inventory_quantity_set = true;
    },
    onWrite(rec, vals) {
      // Writing the counted quantity marks the quant as counted, as Odoo's inverse does.
      if ('inventory_quantity' in vals) rec.inventory_quantity_set = true;
    },
    methods: {
      action_apply_inventory: {
        params: [],
        handler(s, quantIds, _args, ctx) {
          const adjust = s.all('stock.location').find((l) => l.usage === 'inventory');
          for (const q of s.browse('stock.quant', quantIds)) {
            if (!q.inventory_quantity_set) continue;
            const diff = round(Number(q.inventory_quantity) - Number(q.quantity), 4);
            if (diff !== 0) {
              const name =
                typeof ctx.inventory_name === 'string' && ctx.inventory_name
                  ? ctx.inventory_name
                  : 'Product Quantity Updated';
              s.create('stock.move', {
                name,
                reference: name,
                product_id: q.product_id,
                product_uom_qty: Math.abs(diff),
                quantity: Math.abs(diff),
                location_id: diff > 0 ? adjust!.id : q.location_id,
                location_dest_id: diff > 0 ? q.location_id : adjust!.id,
                state: 'done',
                is_inventory: true,
                date: new Date().toISOString().replace('T', ' ').slice(0, 19),
              });
            }
            s.touch('stock.quant', q);
            q.quantity = Number(q.inventory_quantity);
            q.inventory_quantity = 0;
            q.inventory_quantity_set = false;
          }
          return false;
        },
      },
    },
  });
  store.define({
    name: 'sale.order.line',
    description: 'Sales Order Line',
    fields: {
      order_id: { type: 'many2one', relation: 'sale.order', required: true },
      product_id: { type: 'many2one', relation: 'product.product', required: true, string: 'Product' },
      name: { type: 'text' },
      product_uom_qty: { type: 'float', default: 1 },
      price_unit: { type: 'float', default: 0 },
      price_subtotal: { type: 'float', readonly: true },
      sequence: { type: 'integer', default: 10 },
    },
    computed: ['price_subtotal'],
    compute(rec, s) {
      const order = s.table('sale.order').get(rec.order_id as number);
      const d = digitsOf(s, order?.currency_id);
      rec.price_subtotal = round(Number(rec.product_uom_qty) * Number(rec.price_unit), d);
    },
    onCreate(rec, s) {
      if (!rec.name && typeof rec.product_id === 'number') rec.name = s.displayName('product.product', rec.product_id);
    },
  });
  store.define({
    name: 'sale.order',
    description: 'Sales Order',
    order: 'id desc',
    fields: {
      name: { type: 'char' },
      partner_id: { type: 'many2one', relation: 'res.partner', required: true, string: 'Customer' },
      client_order_ref: { type: 'char', string: 'Customer Reference' },
      date_order: { type: 'datetime' },
      pricelist_id: { type: 'many2one', relation: 'product.pricelist', default: 1 },
      currency_id: { type: 'many2one', relation: 'res.currency', readonly: true },
      order_line: { type: 'one2many', relation: 'sale.order.line', inverse: 'order_id' },
      state: { type: 'selection', selection: ['draft', 'sent', 'sale', 'cancel'], default: 'draft' },
      amount_untaxed: { type: 'float', readonly: true },
      amount_tax: { type: 'float', readonly: true },
      amount_total: { type: 'float', readonly: true },
      invoice_status: { type: 'selection', selection: ['upselling', 'invoiced', 'to invoice', 'no'], readonly: true },
      invoice_ids: { type: 'many2many', relation: 'account.move', readonly: true },
    },
    computed: ['currency_id', 'amount_untaxed', 'amount_tax', 'amount_total', 'invoice_ids', 'invoice_status'],
    compute(rec, s) {
      const pl = s.table('product.pricelist').get(rec.pricelist_id as number);
      rec.currency_id = pl?.currency_id ?? 1;
      const d = digitsOf(s, rec.currency_id);
      const lines = s.raw('sale.order.line').filter((l) => l.order_id === rec.id);
      rec.amount_untaxed = round(
        lines.reduce((a, l) => a + round(Number(l.product_uom_qty) * Number(l.price_unit), d), 0),
        d,
      );
      rec.amount_tax = 0;
      rec.amount_total = rec.amount_untaxed;
      const invoices = s
        .raw('account.move')
        .filter((m) => m.invoice_origin === rec.name && m.move_type === 'out_invoice' && m.state !== 'cancel');
      rec.invoice_ids = invoices.map((m) => m.id);
      rec.invoice_status = rec.state !== 'sale' ? 'no' : invoices.length ? 'invoiced' : 'to invoice';
    },
    onCreate(rec, s) {
      rec.name = `S${String(s.nextSequence('sale.order')).padStart(5, '0')}`;
      if (!rec.date_order) rec.date_order = new Date().toISOString().replace('T', ' ').slice(0, 19);
    },
    methods: {
      action_confirm: {
        params: [],
        handler(s, orderIds) {
          const orders = s.browse('sale.order', orderIds);
          for (const o of orders) {
            if (o.state !== 'draft' && o.state !== 'sent') {
              throw userError('Some orders are not in a state requiring confirmation.');
            }
            if (s.all('sale.order.line').every((l) => l.order_id !== o.id)) {
              throw userError('There are no order lines to confirm.');
            }
          }
          for (const o of orders) s.touch('sale.order', o).state = 'sale';
          return true;
        },
      },
      action_cancel: {
        params: [],
        handler(s, orderIds) {
          const orders = s.browse('sale.order', orderIds);
          for (const o of orders) {
            const posted = s
              .all('account.move')
              .some((m) => m.invoice_origin === o.name && m.move_type === 'out_invoice' && m.state === 'posted');
            if (posted) throw userError(`You cannot cancel the sales order ${o.name}: it has posted invoices.`);
          }
          for (const o of orders) s.touch('sale.order', o).state = 'cancel';
          return true;
        },
      },
      action_draft: {
        params: [],
        handler(s, orderIds) {
          for (const o of s.browse('sale.order', orderIds)) {
            if (o.state !== 'cancel' && o.state !== 'sent')
              throw userError('Only cancelled or sent orders can be set to quotation.');
            s.touch('sale.order', o).state = 'draft';
          }
          return true;
        },
      },
    },
  });

  store.define({
    name: 'account.move.line',
    description: 'Journal Item',
    fields: {
      move_id: { type: 'many2one', relation: 'account.move', required: true },
      account_id: { type: 'many2one', relation: 'account.account', string: 'Account' },
      name: { type: 'char', string: 'Label' },
      product_id: { type: 'many2one', relation: 'product.product' },
      quantity: { type: 'float', default: 1 },
      price_unit: { type: 'float', default: 0 },
      price_subtotal: { type: 'float', readonly: true },
      debit: { type: 'float', default: 0 },
      credit: { type: 'float', default: 0 },
      balance: { type: 'float', readonly: true },
      display_type: {
        type: 'selection',
        selection: ['product', 'tax', 'payment_term', 'line_section', 'line_note'],
        default: 'product',
      },
    },
    computed: ['price_subtotal', 'balance'],
    compute(rec, s) {
      const move = s.table('account.move').get(rec.move_id as number);
      const d = digitsOf(s, move?.currency_id);
      rec.price_subtotal = round(Number(rec.quantity) * Number(rec.price_unit), d);
      rec.balance = round(Number(rec.debit) - Number(rec.credit), d);
    },
    onCreate(rec, s) {
      const move = s.table('account.move').get(rec.move_id as number);
      if (!rec.account_id && typeof rec.product_id === 'number') {
        const p = s.table('product.product').get(rec.product_id);
        rec.account_id = p?.property_account_income_id ?? false;
        if (!rec.name) rec.name = p?.name ?? false;
      }
      if (!rec.account_id && move && move.move_type !== 'entry') {
        rec.account_id = s.all('account.account').find((a) => a.code === '4000')?.id ?? false;
      }
      if (!rec.account_id) {
        throw validationError(
          'The operation cannot be completed:\n- Create/update: a mandatory field is not set.\n' +
            'Model: Journal Item (account.move.line), Field: Account (account_id)',
        );
      }
      if (Number(rec.debit) < 0 || Number(rec.credit) < 0)
        throw validationError('Wrong credit or debit value in accounting entry!');
    },
  });
  store.define({
    name: 'account.move',
    description: 'Journal Entry',
    order: 'id desc',
    fields: {
      name: { type: 'char', default: '/' },
      move_type: {
        type: 'selection',
        selection: ['entry', 'out_invoice', 'out_refund', 'in_invoice', 'in_refund'],
        default: 'entry',
        required: true,
      },
      state: { type: 'selection', selection: ['draft', 'posted', 'cancel'], default: 'draft', readonly: true },
      partner_id: { type: 'many2one', relation: 'res.partner', string: 'Partner' },
      ref: { type: 'char', string: 'Reference' },
      date: { type: 'date', default: () => today() },
      invoice_date: { type: 'date' },
      invoice_origin: { type: 'char' },
      narration: { type: 'text' },
      journal_id: { type: 'many2one', relation: 'account.journal', required: true, string: 'Journal' },
      currency_id: { type: 'many2one', relation: 'res.currency', default: 1 },
      line_ids: { type: 'one2many', relation: 'account.move.line', inverse: 'move_id' },
      invoice_line_ids: {
        type: 'one2many',
        relation: 'account.move.line',
        inverse: 'move_id',
        domain: [['display_type', 'in', ['product', 'line_section', 'line_note']]],
      },
      reversed_entry_id: { type: 'many2one', relation: 'account.move' },
      reversal_move_ids: { type: 'one2many', relation: 'account.move', inverse: 'reversed_entry_id' },
      reconciled_reversal: { type: 'boolean', default: false, readonly: true },
      amount_total: { type: 'float', readonly: true },
      amount_residual: { type: 'float', readonly: true },
      payment_state: {
        type: 'selection',
        selection: ['not_paid', 'in_payment', 'paid', 'partial', 'reversed'],
        readonly: true,
      },
    },
    onCreate(rec, s, ctx) {
      if (!rec.journal_id) {
        const type = rec.move_type === 'entry' ? 'general' : 'sale';
        const code = typeof ctx.default_journal_code === 'string' ? ctx.default_journal_code : undefined;
        rec.journal_id = s.all('account.journal').find((j) => (code ? j.code === code : j.type === type))?.id ?? false;
      }
      if (rec.move_type !== 'entry' && !rec.partner_id) {
        throw validationError('The operation cannot be completed: an invoice needs a customer (partner_id).');
      }
    },
    computed: ['amount_total', 'amount_residual', 'payment_state'],
    compute(rec, s) {
      const d = digitsOf(s, rec.currency_id);
      const lines = moveLines(s, rec.id);
      if (rec.move_type === 'entry') {
        rec.amount_total = round(
          lines.reduce((a, l) => a + Number(l.debit), 0),
          d,
        );
        rec.amount_residual = 0;
        rec.payment_state = 'not_paid';
        return;
      }
      rec.amount_total = round(
        lines.reduce((a, l) => a + round(Number(l.quantity) * Number(l.price_unit), d), 0),
        d,
      );
      if (rec.state !== 'posted') {
        rec.amount_residual = rec.amount_total;
        rec.payment_state = 'not_paid';
        return;
      }
      const settled = rec.move_type === 'out_invoice' ? reconciledAmount(s, rec) : 0;
      rec.amount_residual = round(Math.max(0, Number(rec.amount_total) - settled), d);
      const reversed = s
        .raw('account.move')
        .some((m) => m.reversed_entry_id === rec.id && m.state === 'posted' && m.reconciled_reversal);
      if (rec.move_type === 'out_refund' && rec.reconciled_reversal) rec.payment_state = 'paid';
      else if (rec.amount_residual === 0 && reversed) rec.payment_state = 'reversed';
      else if (rec.amount_residual === 0) rec.payment_state = 'paid';
      else if (settled > 0) rec.payment_state = 'partial';
      else rec.payment_state = 'not_paid';
    },
    methods: {
      action_post: {
        params: [],
        handler(s, moveIds) {
          for (const m of s.browse('account.move', moveIds)) postMove(s, m);
          return false;
        },
      },
      button_draft: {
        params: [],
        handler(s, moveIds) {
          for (const m of s.browse('account.move', moveIds)) {
            if (m.state !== 'posted' && m.state !== 'cancel')
              throw userError('Only posted/cancelled journal entries can be reset to draft.');
          }
          for (const m of s.browse('account.move', moveIds)) {
            s.touch('account.move', m).state = 'draft';
            // Resetting unreconciles: payments that were matched against this invoice become unmatched.
            for (const p of s.all('account.payment')) {
              if (ids(p.reconciled_invoice_ids).includes(m.id)) {
                s.touch('account.payment', p).reconciled_invoice_ids = ids(p.reconciled_invoice_ids).filter(
                  (i) => i !== m.id,
                );
                if (p.state === 'paid') p.state = 'in_process';
              }
            }
            m.reconciled_reversal = false;
          }
          return false;
        },
      },
      button_cancel: {
        params: [],
        handler(s, moveIds) {
          for (const m of s.browse('account.move', moveIds)) {
            if (m.state === 'posted')
              throw userError('You cannot cancel a posted journal entry; reset it to draft first.');
          }
          for (const m of s.browse('account.move', moveIds)) s.touch('account.move', m).state = 'cancel';
          return false;
        },
      },
    },
  });

  store.define({
    name: 'account.move.reversal',
    description: 'Account move reversal',
    transient: true,
    fields: {
      move_ids: { type: 'many2many', relation: 'account.move' },
      reason: { type: 'char' },
      date: { type: 'date', default: () => today() },
      journal_id: { type: 'many2one', relation: 'account.journal' },
    },
    onCreate(rec, _s, ctx) {
      if (!ids(rec.move_ids).length && ctx.active_model === 'account.move' && Array.isArray(ctx.active_ids)) {
        rec.move_ids = [...(ctx.active_ids as number[])];
      }
    },
    methods: {
      refund_moves: { params: [], handler: (s, wizardIds) => reverseMoves(s, wizardIds) },
      reverse_moves: { params: ['is_modify'], handler: (s, wizardIds) => reverseMoves(s, wizardIds) },
    },
  });

  store.define({
    name: 'account.payment',
    description: 'Payments',
    order: 'date desc, id desc',
    fields: {
      name: { type: 'char' },
      payment_type: { type: 'selection', selection: ['inbound', 'outbound'], required: true, default: 'inbound' },
      partner_type: { type: 'selection', selection: ['customer', 'supplier'], default: 'customer' },
      partner_id: { type: 'many2one', relation: 'res.partner' },
      amount: { type: 'float', default: 0 },
      currency_id: { type: 'many2one', relation: 'res.currency', default: 1 },
      date: { type: 'date', default: () => today() },
      journal_id: { type: 'many2one', relation: 'account.journal', required: true, string: 'Journal' },
      memo: { type: 'char' },
      payment_reference: { type: 'char' },
      state: {
        type: 'selection',
        selection: ['draft', 'in_process', 'paid', 'canceled', 'rejected'],
        default: 'draft',
        readonly: true,
      },
      reconciled_invoice_ids: { type: 'many2many', relation: 'account.move', readonly: true },
      is_reconciled: { type: 'boolean', readonly: true },
    },
    computed: ['is_reconciled'],
    compute(rec) {
      rec.is_reconciled = ids(rec.reconciled_invoice_ids).length > 0;
    },
    onCreate(rec) {
      if (!(Number(rec.amount) > 0)) throw validationError('The payment amount must be strictly positive.');
    },
    methods: {
      action_post: {
        params: [],
        handler(s, payIds) {
          for (const p of s.browse('account.payment', payIds)) {
            if (p.state !== 'draft') throw userError('Only a draft payment can be posted.');
            s.touch('account.payment', p);
            p.name = nextName(
              s,
              `P${s
                .displayName('account.journal', p.journal_id as number)
                .slice(0, 4)
                .toUpperCase()}`,
              p.date,
              5,
            );
            p.state = ids(p.reconciled_invoice_ids).length ? 'paid' : 'in_process';
          }
          return false;
        },
      },
      action_draft: {
        params: [],
        handler(s, payIds) {
          for (const p of s.browse('account.payment', payIds)) {
            s.touch('account.payment', p).state = 'draft';
            p.reconciled_invoice_ids = [];
          }
          return false;
        },
      },
      action_cancel: {
        params: [],
        handler(s, payIds) {
          for (const p of s.browse('account.payment', payIds)) {
            if (p.state !== 'draft' && p.state !== 'canceled')
              throw userError('Only a draft payment can be cancelled; reset it to draft first.');
          }
          for (const p of s.browse('account.payment', payIds)) s.touch('account.payment', p).state = 'canceled';
          return false;
        },
      },
    },
  });

  store.define({
    name: 'account.payment.register',
    description: 'Pay',
    transient: true,
    fields: {
      line_ids: { type: 'many2many', relation: 'account.move' },
      amount: { type: 'float' },
      payment_date: { type: 'date', default: () => today() },
      journal_id: { type: 'many2one', relation: 'account.journal' },
      currency_id: { type: 'many2one', relation: 'res.currency' },
      communication: { type: 'char', string: 'Memo' },
    },
    onCreate(rec, s, ctx) {
      if (ctx.active_model !== 'account.move' || !Array.isArray(ctx.active_ids) || ctx.active_ids.length === 0) {
        throw userError(
          'The register payment wizard should only be called on account.move records (context active_ids).',
        );
      }
      const invoices = s.browse('account.move', ctx.active_ids as number[]);
      for (const inv of invoices) {
        if (inv.state !== 'posted') throw userError('You can only register payment for posted journal entries.');
        if (inv.move_type !== 'out_invoice')
          throw userError('You can only register payments for customer invoices here.');
      }
      rec.line_ids = invoices.map((i) => i.id);
      if (!rec.currency_id) rec.currency_id = invoices[0].currency_id;
      if (rec.currency_id !== invoices[0].currency_id)
        throw userError('The payment currency must match the invoice currency.');
      if (rec.amount === undefined || rec.amount === false) {
        rec.amount = invoices.reduce((a, i) => a + Number(i.amount_residual), 0);
      }
      if (!rec.journal_id) rec.journal_id = s.all('account.journal').find((j) => j.type === 'bank')?.id ?? false;
    },
    methods: {
      action_create_payments: {
        params: [],
        handler(s, wizardIds) {
          const w = s.get('account.payment.register', wizardIds[0]);
          const invoices = s.browse('account.move', ids(w.line_ids));
          const payId = s.create('account.payment', {
            payment_type: 'inbound',
            partner_type: 'customer',
            partner_id: invoices[0].partner_id,
            amount: Number(w.amount),
            currency_id: w.currency_id,
            date: w.payment_date,
            journal_id: w.journal_id,
            memo: w.communication || invoices.map((i) => i.name).join(' '),
          });
          const pay = s.touch('account.payment', s.get('account.payment', payId));
          pay.reconciled_invoice_ids = invoices.map((i) => i.id);
          s.call('account.payment', 'action_post', [payId], {}, {});
          return { type: 'ir.actions.act_window', res_model: 'account.payment', res_id: payId, view_mode: 'form' };
        },
      },
    },
  });

  store.define({
    name: 'ir.model.data',
    description: 'Model Data',
    recName: 'name',
    fields: {
      module: { type: 'char', required: true },
      name: { type: 'char', required: true },
      model: { type: 'char', required: true },
      res_id: { type: 'integer' },
      noupdate: { type: 'boolean', default: false },
    },
    onCreate(rec, s) {
      if (!s.models.has(String(rec.model))) throw validationError(`Model ${String(rec.model)} does not exist`);
      const dup = s.all('ir.model.data').find((x) => x.module === rec.module && x.name === rec.name);
      if (dup) {
        throw validationError(
          `The operation cannot be completed: duplicate key value violates unique constraint "ir_model_data_module_name_uniq_index" (${String(rec.module)}.${String(rec.name)})`,
        );
      }
    },
  });
}

function postMove(s: Store, m: Rec): void {
  if (m.state !== 'draft') throw userError(`The entry ${String(m.name)} (id ${m.id}) is already posted or cancelled.`);
  const lines = moveLines(s, m.id);
  if (lines.length === 0) throw userError('You need to add a line before posting.');
  for (const l of lines) {
    const acc = s.table('account.account').get(l.account_id as number);
    if (!acc)
      throw validationError(
        `The account referenced by the journal item "${String(l.name)}" does not exist (account.account(${String(l.account_id)},)).`,
      );
    if (acc.deprecated) throw userError(`The account ${String(acc.code)} ${String(acc.name)} is deprecated.`);
  }
  const d = digitsOf(s, m.currency_id);
  if (m.move_type === 'entry') {
    const debit = round(
      lines.reduce((a, l) => a + Number(l.debit), 0),
      d,
    );
    const credit = round(
      lines.reduce((a, l) => a + Number(l.credit), 0),
      d,
    );
    if (debit !== credit) {
      throw userError(
        `The move (${String(m.ref || m.name)}) is not balanced.\nThe total of debits equals ${debit} and the total of credits equals ${credit}.`,
      );
    }
  }
  const journal = s.get('account.journal', m.journal_id as number);
  s.touch('account.move', m);
  const prefix = m.move_type === 'out_invoice' ? 'INV' : m.move_type === 'out_refund' ? 'RINV' : String(journal.code);
  if (!m.name || m.name === '/') m.name = nextName(s, prefix, m.date, m.move_type === 'entry' ? 4 : 5);
  if (m.move_type !== 'entry' && !m.invoice_date) m.invoice_date = m.date;
  m.state = 'posted';
}

/**
 * The reversal wizard: creates the reversing move for each selected posted move, posts it and reconciles it with the
 * original (Odoo's "Full refund" path, `_reverse_moves(cancel=True)`).
 */
function reverseMoves(s: Store, wizardIds: number[]): unknown {
  const w = s.get('account.move.reversal', wizardIds[0]);
  const moves = s.browse('account.move', ids(w.move_ids));
  if (!moves.length) throw userError('No journal entry selected for reversal.');
  for (const m of moves) if (m.state !== 'posted') throw userError('You can only reverse posted moves.');
  const created: number[] = [];
  for (const m of moves) {
    const lines = moveLines(s, m.id);
    const reversalType =
      m.move_type === 'out_invoice' ? 'out_refund' : m.move_type === 'out_refund' ? 'out_invoice' : 'entry';
    const reason = w.reason ? `, ${String(w.reason)}` : '';
    const vals: Record<string, unknown> = {
      move_type: reversalType,
      partner_id: m.partner_id || false,
      ref: `Reversal of: ${String(m.name)}${reason}`,
      date: w.date || today(),
      journal_id: w.journal_id || m.journal_id,
      currency_id: m.currency_id,
      reversed_entry_id: m.id,
    };
    const lineVals = lines.map((l) =>
      m.move_type === 'entry'
        ? { account_id: l.account_id, name: l.name, debit: Number(l.credit), credit: Number(l.debit) }
        : {
            account_id: l.account_id,
            name: l.name,
            product_id: l.product_id || false,
            quantity: Number(l.quantity),
            price_unit: Number(l.price_unit),
          },
    );
    vals[m.move_type === 'entry' ? 'line_ids' : 'invoice_line_ids'] = lineVals.map((v) => [0, 0, v]);
    const id = s.create('account.move', vals);
    postMove(s, s.get('account.move', id));
    s.touch('account.move', s.get('account.move', id)).reconciled_reversal = true;
    created.push(id);
  }
  return {
    name: 'Reverse Moves',
    type: 'ir.actions.act_window',
    res_model: 'account.move',
    ...(created.length === 1
      ? { res_id: created[0], view_mode: 'form' }
      : { domain: [['id', 'in', created]], view_mode: 'list,form' }),
  };
}
