import { z } from 'zod';
import type { Db } from '../../../db';
import { idempotentWrite } from '../../../db/external-writes';
import { failure } from '../../../domain/errors';
import { exponentOf, formatDecimal, money, parseDecimal } from '../../../domain/money';
import type { Logger } from '../../../logger';
import type { HttpClientOptions } from '../../http';
import {
  changeOnce,
  checkDocument,
  checkJournal,
  checkPayment,
  createOnce,
  customerKeys,
  customerName,
  describeLine,
  docRef,
  invalid as refused,
  matchesCustomer,
  methodCode,
  methodsByCode,
  sha256Hex,
  stockAdjustments,
  writeOnce,
  writesOf,
} from '../common';
import type {
  ErpConnector,
  ErpCreditMemoInput,
  ErpCustomer,
  ErpCustomerInput,
  ErpDocRef,
  ErpDocumentInput,
  ErpInvoiceInput,
  ErpJournalInput,
  ErpPaymentInput,
  ErpPaymentRecord,
  ErpProduct,
  ErpSalesOrderInput,
  InventoryAdjustment,
  OnHand,
  WriteContext,
} from '../types';
import { CONNECTOR, createTransport, type ApiKeySource, type OdooProtocol, type OdooTransport } from './transport';

/**
 * The Odoo adapter of `ErpConnector`, over JSON-2 (default) or legacy JSON-RPC. Every write runs through
 * `idempotentWrite` (target `odoo`) and finds its record on the Odoo side before creating: first by external id
 * (`ir.model.data`, module `ledgerbridge`, name derived from our ref), then by the reference field that the create
 * itself wrote (`client_order_ref`, `ref`, `memo`), repairing the external id if a crash fell between the two.
 *
 * Mapping choices:
 * - Sales orders are created and confirmed (`action_confirm`); currency comes from the pricelist of that currency.
 * - Externally computed tax (`taxMinor`) is one line of the service product `LB-TAX` (income account 2200), since
 *   Odoo would otherwise recompute tax from its own tax tables.
 * - Invoices and credit memos are `account.move` (`out_invoice` / `out_refund`); a credit memo points at its invoice
 *   with `reversed_entry_id`. Reversal of a posted move uses the `account.move.reversal` wizard (`refund_moves`):
 *   `_reverse_moves` is private and cannot be called over RPC.
 * - Payments use the `account.payment.register` wizard on the invoice (create, post and reconcile in one call);
 *   `memo` holds our ref and `payment_reference` the processor's transaction id.
 * - Journal dimensions have no analytic plan mapping yet: they are appended to the line label as `[k=v …]`.
 * - Service items (SHIPPING, see ../common.ts) are document lines like any product; inventory adjustments skip them.
 * - A journal whose ref exists already is returned as it is (a draft one is posted), never posted a second time.
 * - Inventory deltas set the counted quantity (on hand + delta) and apply it with `inventory_name` = a name derived
 *   from the idempotency key, so an applied adjustment is found again by its `stock.move`.
 */

export interface OdooConnectorOptions {
  baseUrl: string;
  /** Ledgerbridge's own database (knex), for `external_writes`. */
  db: Db;
  /** The Odoo database name (`X-Odoo-Database`, and the first `execute_kw` argument). */
  database: string;
  /** API key, or a function that reads it (called again after a 401, e.g. to pick up a rotated key). */
  apiKey: ApiKeySource;
  /** Login, needed by JSON-RPC `common.authenticate`. */
  login?: string;
  protocol?: OdooProtocol;
  logger?: Logger;
  timeoutMs?: number;
  breaker?: HttpClientOptions['breaker'];
  /** Payment method → journal code; keys are exact methods (`card:VISA`) or their prefix (`card`). */
  journals?: Record<string, string>;
  /** Journal of GL entries when the input names none (default MISC). */
  defaultJournal?: string;
  /** Product carrying externally computed tax (default LB-TAX). */
  taxProductSku?: string;
  /** Module of our external ids (default ledgerbridge). */
  xmlidModule?: string;
  /** Company currency, used when Odoo returns no currency (default USD). */
  companyCurrency?: string;
}

const DEFAULT_JOURNALS: Record<string, string> = {
  card: 'CARD',
  cash: 'CASH',
  bank: 'BANK',
  ach: 'BANK',
  check: 'BANK',
};
const PAGE = 200;

const m2o = z.union([z.tuple([z.number(), z.string()]), z.literal(false)]);
const text = z.union([z.string(), z.literal(false)]);
const idList = z.array(z.number().int());
const createdIds = z
  .union([z.array(z.number().int()), z.number().int()])
  .transform((v) => (Array.isArray(v) ? v : [v]));

const partnerRow = z.object({ id: z.number(), name: z.string(), email: text, phone: text, mobile: text, ref: text });
const saleRow = z.object({ id: z.number(), name: z.string(), state: z.string(), client_order_ref: text });
const moveRow = z.object({
  id: z.number(),
  name: text,
  state: z.string(),
  move_type: z.string(),
  ref: text,
  payment_state: text,
  reversal_move_ids: idList,
});
const paymentRow = z.object({
  id: z.number(),
  name: text,
  state: z.string(),
  memo: text,
  payment_reference: text,
  amount: z.number(),
  currency_id: m2o,
  date: z.string(),
  journal_id: m2o,
});
const xmlidRow = z.object({ id: z.number(), model: z.string(), res_id: z.number() });

type MoveRow = z.infer<typeof moveRow>;
type PaymentRow = z.infer<typeof paymentRow>;

const PARTNER_FIELDS = ['name', 'email', 'phone', 'mobile', 'ref'];
const SALE_FIELDS = ['name', 'state', 'client_order_ref'];
const MOVE_FIELDS = ['name', 'state', 'move_type', 'ref', 'payment_state', 'reversal_move_ids'];
const PAYMENT_FIELDS = ['name', 'state', 'memo', 'payment_reference', 'amount', 'currency_id', 'date', 'journal_id'];

const SALE_STATUS: Record<string, string> = {
  draft: 'draft',
  sent: 'draft',
  sale: 'confirmed',
  done: 'confirmed',
  cancel: 'cancelled',
};
const MOVE_STATUS: Record<string, string> = { draft: 'draft', posted: 'posted', cancel: 'cancelled' };
const PAYMENT_STATUS: Record<string, string> = {
  draft: 'draft',
  in_process: 'applied',
  paid: 'applied',
  posted: 'applied',
  canceled: 'cancelled',
  cancel: 'cancelled',
  rejected: 'cancelled',
};

const invalid = (message: string, field?: string) => refused(CONNECTOR, message, field);

function parseId(erpId: string, what: string): number {
  if (!/^[1-9]\d*$/.test(erpId))
    throw invalid(`${what} id must be a positive integer, got ${JSON.stringify(erpId)}`, what);
  return Number(erpId);
}

function opt(v: string | false): string | undefined {
  return v === false || v === '' ? undefined : v;
}

/** The `ir.model.data` name for one of our refs: readable prefix plus a hash, within Odoo's identifier charset. */
export function xmlidName(kind: string, ref: string): string {
  const slug = ref
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .slice(0, 60);
  return `${kind}_${slug}_${sha256Hex(ref, 10)}`;
}

/** The Odoo `ErpConnector` (see the file header for the mapping choices). */
export class OdooConnector implements ErpConnector {
  readonly system = 'odoo' as const;
  private readonly t: OdooTransport;
  private readonly db: Db;
  private readonly ops: ReturnType<typeof writesOf>;
  private readonly module: string;
  private readonly journals: Record<string, string>;
  private readonly defaultJournal: string;
  private readonly taxSku: string;
  private readonly companyCurrency: string;
  private readonly cache = new Map<string, Promise<number>>();
  private readonly products = new Map<string, number>();
  private readonly journalCodes = new Map<number, Promise<string>>();

  constructor(opts: OdooConnectorOptions) {
    this.db = opts.db;
    this.ops = writesOf(opts.db, CONNECTOR);
    this.module = opts.xmlidModule ?? 'ledgerbridge';
    this.journals = { ...DEFAULT_JOURNALS, ...opts.journals };
    this.defaultJournal = opts.defaultJournal ?? 'MISC';
    this.taxSku = opts.taxProductSku ?? 'LB-TAX';
    this.companyCurrency = opts.companyCurrency ?? 'USD';
    this.t = createTransport(opts.protocol ?? 'json2', {
      baseUrl: opts.baseUrl,
      database: opts.database,
      apiKey: opts.apiKey,
      login: opts.login,
      timeoutMs: opts.timeoutMs,
      breaker: opts.breaker,
      logger: opts.logger,
    });
  }

  get protocol(): OdooProtocol {
    return this.t.protocol;
  }

  get breakerState() {
    return this.t.breakerState;
  }

  /** Closes the HTTP connections. */
  close(): Promise<void> {
    return this.t.close();
  }

  // ---------------------------------------------------------------- customers

  async findCustomers(q: { email?: string; phone?: string; externalRef?: string }): Promise<ErpCustomer[]> {
    if (!q.email && !q.phone && !q.externalRef)
      throw invalid('findCustomers needs an email, a phone or an externalRef');
    const keys = customerKeys(q);
    const found = new Map<number, ErpCustomer>();
    const byRef = keys.externalRef ? await this.findPartnerByRef(keys.externalRef) : null;
    const add = (rows: z.infer<typeof partnerRow>[]) => {
      for (const r of rows) {
        const hit = r.id === byRef || matchesCustomer(keys, { email: r.email, phones: [r.phone, r.mobile] });
        if (hit) found.set(r.id, this.toCustomer(r));
      }
    };
    if (byRef) add(await this.readPartners([byRef]));
    if (keys.email) {
      // =ilike is a case-insensitive equality, but `_` and `%` are wildcards in it: compare exactly afterwards.
      add(await this.searchRead('res.partner', [['email', '=ilike', keys.email]], PARTNER_FIELDS, partnerRow));
    }
    if (keys.phone) {
      // Odoo stores phones as typed: narrow by the last four digits, then compare normalised numbers.
      const tail = keys.phone.slice(-4);
      add(
        await this.searchRead(
          'res.partner',
          ['|', ['phone', 'ilike', tail], ['mobile', 'ilike', tail]],
          PARTNER_FIELDS,
          partnerRow,
        ),
      );
    }
    return [...found.values()].sort((a, b) => Number(a.erpId) - Number(b.erpId));
  }

  async upsertCustomer(c: ErpCustomerInput, ctx: WriteContext): Promise<ErpCustomer> {
    const name = customerName(CONNECTOR, c);
    const apply = async (id: number | null): Promise<ErpCustomer> => {
      const vals = await this.partnerVals(c, name);
      if (id) {
        await this.t.call('res.partner', 'write', { ids: [id], vals }, z.boolean());
      } else {
        [id] = await this.t.call(
          'res.partner',
          'create',
          { vals_list: [{ ...vals, ref: c.externalRef, customer_rank: 1 }] },
          createdIds,
        );
        await this.bindXmlid('res.partner', 'partner', c.externalRef, id);
      }
      return this.toCustomer((await this.readPartners([id]))[0]);
    };
    return createOnce({
      ...this.ops.write(ctx, 'upsertCustomer', c),
      find: async () => {
        const id = await this.findPartnerByRef(c.externalRef);
        return id ? apply(id) : null;
      },
      create: () => apply(null),
    });
  }

  private async partnerVals(c: ErpCustomerInput, name: string): Promise<Record<string, unknown>> {
    const vals: Record<string, unknown> = { name };
    if (c.email !== undefined) vals.email = c.email.trim() || false;
    if (c.phone !== undefined) vals.phone = c.phone.trim() || false;
    if (c.address) {
      const a = c.address;
      const countryId = await this.lookupId(
        'res.country',
        [['code', '=', a.country.toUpperCase()]],
        `country ${a.country}`,
      );
      Object.assign(vals, {
        street: a.line1,
        street2: a.line2 ?? false,
        city: a.city,
        zip: a.postalCode ?? false,
        country_id: countryId,
      });
      if (a.region) {
        const states = await this.t.call(
          'res.country.state',
          'search',
          {
            domain: [
              ['country_id', '=', countryId],
              ['code', '=', a.region.toUpperCase()],
            ],
            limit: 1,
          },
          idList,
        );
        vals.state_id = states[0] ?? false;
      }
    }
    return vals;
  }

  private async findPartnerByRef(ref: string): Promise<number | null> {
    return this.findByRef('res.partner', 'partner', ref, [['ref', '=', ref]]);
  }

  private readPartners(ids: number[]) {
    return this.t.call('res.partner', 'read', { ids, fields: PARTNER_FIELDS }, z.array(partnerRow));
  }

  private toCustomer(r: z.infer<typeof partnerRow>): ErpCustomer {
    return {
      erpId: String(r.id),
      name: r.name,
      email: opt(r.email),
      phone: opt(r.phone) ?? opt(r.mobile),
      externalRef: opt(r.ref),
    };
  }

  // ---------------------------------------------------------------- sales orders

  async createSalesOrder(o: ErpSalesOrderInput, ctx: WriteContext): Promise<ErpDocRef> {
    checkDocument(CONNECTOR, o);
    const partnerId = parseId(o.customerErpId, 'customerErpId');
    /** Confirms the order unless it is confirmed already (`state` undefined: just created, so a draft). */
    const complete = async (id: number, state?: string) => {
      const current = state ?? (await this.readSales([id]))[0].state;
      if (current === 'draft' || current === 'sent')
        await this.t.call('sale.order', 'action_confirm', { ids: [id] }, z.unknown());
      return this.saleRef((await this.readSales([id]))[0]);
    };
    return createOnce({
      ...this.ops.write(ctx, 'createSalesOrder', o),
      ...this.refLookups('sale.order', 'so', o.ref, [['client_order_ref', '=', o.ref]], (id) => complete(id)),
      create: async () => {
        const [pricelistId, lines] = await Promise.all([
          this.lookupId('product.pricelist', [['currency_id.name', '=', o.currency]], `pricelist in ${o.currency}`),
          this.documentLines(o, 'sale'),
        ]);
        const vals = {
          partner_id: partnerId,
          client_order_ref: o.ref,
          date_order: `${o.date} 00:00:00`,
          pricelist_id: pricelistId,
          order_line: lines.map((l) => [0, 0, l]),
        };
        const [id] = await this.t.call('sale.order', 'create', { vals_list: [vals] }, createdIds);
        await this.bindXmlid('sale.order', 'so', o.ref, id);
        return complete(id, 'draft');
      },
    });
  }

  async cancelSalesOrder(erpId: string, ctx: WriteContext): Promise<ErpDocRef> {
    const id = parseId(erpId, 'sales order');
    return changeOnce({
      ...this.ops.change(ctx, 'cancelSalesOrder', erpId),
      get: async () => this.saleRef((await this.readSales([id]))[0]),
      done: (d) => d.status === 'cancelled',
      send: () => this.t.call('sale.order', 'action_cancel', { ids: [id] }, z.unknown()),
    });
  }

  async getSalesOrder(erpId: string): Promise<ErpDocRef> {
    return this.saleRef((await this.readSales([parseId(erpId, 'sales order')]))[0]);
  }

  private readSales(ids: number[]) {
    return this.t.call('sale.order', 'read', { ids, fields: SALE_FIELDS }, z.array(saleRow));
  }

  private saleRef(r: z.infer<typeof saleRow>): ErpDocRef {
    return docRef(String(r.id), r.name, r.state, SALE_STATUS);
  }

  // ---------------------------------------------------------------- invoices and credit memos

  async createInvoice(i: ErpInvoiceInput, ctx: WriteContext): Promise<ErpDocRef> {
    checkDocument(CONNECTOR, i);
    return this.draftMove(i, ctx, 'createInvoice', 'out_invoice', 'inv', async () => {
      if (!i.salesOrderErpId) return {};
      const [so] = await this.readSales([parseId(i.salesOrderErpId, 'salesOrderErpId')]);
      return { invoice_origin: so.name };
    });
  }

  async postInvoice(erpId: string, ctx: WriteContext): Promise<ErpDocRef> {
    return this.postMove(erpId, ctx, 'postInvoice');
  }

  async reverseInvoice(erpId: string, ctx: WriteContext): Promise<ErpDocRef> {
    return this.reverseMove(erpId, ctx, 'reverseInvoice');
  }

  async draftCreditMemo(c: ErpCreditMemoInput, ctx: WriteContext): Promise<ErpDocRef> {
    checkDocument(CONNECTOR, c);
    return this.draftMove(c, ctx, 'draftCreditMemo', 'out_refund', 'cm', async () => ({
      narration: c.reason,
      ...(c.invoiceErpId ? { reversed_entry_id: parseId(c.invoiceErpId, 'invoiceErpId') } : {}),
    }));
  }

  async postCreditMemo(erpId: string, ctx: WriteContext): Promise<ErpDocRef> {
    return this.postMove(erpId, ctx, 'postCreditMemo');
  }

  async cancelCreditMemo(erpId: string, ctx: WriteContext): Promise<ErpDocRef> {
    const id = parseId(erpId, 'credit memo');
    return changeOnce({
      ...this.ops.change(ctx, 'cancelCreditMemo', erpId),
      get: () => this.moveRef(id),
      done: (d) => d.status === 'cancelled',
      send: async (d) => {
        if (d.rawStatus?.startsWith('posted'))
          await this.t.call('account.move', 'button_draft', { ids: [id] }, z.unknown());
        await this.t.call('account.move', 'button_cancel', { ids: [id] }, z.unknown());
      },
    });
  }

  private async draftMove(
    d: ErpDocumentInput,
    ctx: WriteContext,
    operation: string,
    moveType: 'out_invoice' | 'out_refund',
    kind: string,
    extra: () => Promise<Record<string, unknown>>,
  ): Promise<ErpDocRef> {
    const partnerId = parseId(d.customerErpId, 'customerErpId');
    return createOnce({
      ...this.ops.write(ctx, operation, d),
      ...this.refLookups(
        'account.move',
        kind,
        d.ref,
        [
          ['move_type', '=', moveType],
          ['ref', '=', d.ref],
        ],
        (id) => this.moveRef(id),
      ),
      create: async () => {
        const [currencyId, lines, more] = await Promise.all([
          this.currencyId(d.currency),
          this.documentLines(d, 'invoice'),
          extra(),
        ]);
        const vals = {
          move_type: moveType,
          partner_id: partnerId,
          ref: d.ref,
          date: d.date,
          invoice_date: d.date,
          currency_id: currencyId,
          invoice_line_ids: lines.map((l) => [0, 0, l]),
          ...more,
        };
        const [id] = await this.t.call('account.move', 'create', { vals_list: [vals] }, createdIds);
        await this.bindXmlid('account.move', kind, d.ref, id);
        return this.moveRef(id);
      },
    });
  }

  private async postMove(erpId: string, ctx: WriteContext, operation: string): Promise<ErpDocRef> {
    const id = parseId(erpId, 'move');
    return changeOnce({
      ...this.ops.change(ctx, operation, erpId),
      get: () => this.moveRef(id),
      done: (d) => !!d.rawStatus?.startsWith('posted'),
      // Only a draft is posted: a cancelled move is reported as it is.
      send: async (d) => {
        if (d.status === 'draft') await this.t.call('account.move', 'action_post', { ids: [id] }, z.unknown());
      },
    });
  }

  /** Cancels a draft move, or reverses a posted one with the reversal wizard; a cancelled or reversed move is left as is. */
  private async reverseMove(erpId: string, ctx: WriteContext, operation: string): Promise<ErpDocRef> {
    const id = parseId(erpId, 'move');
    return changeOnce({
      ...this.ops.change(ctx, operation, erpId),
      get: () => this.moveRef(id),
      done: (d) => d.status === 'cancelled' || d.status === 'reversed',
      send: async (d) => {
        if (d.status === 'draft') {
          await this.t.call('account.move', 'button_cancel', { ids: [id] }, z.unknown());
          return;
        }
        const context = { active_model: 'account.move', active_ids: [id] };
        const [wizard] = await this.t.call(
          'account.move.reversal',
          'create',
          { vals_list: [{ move_ids: [[6, 0, [id]]], reason: 'Ledgerbridge compensation' }], context },
          createdIds,
        );
        await this.t.call('account.move.reversal', 'refund_moves', { ids: [wizard], context }, z.unknown());
      },
    });
  }

  private readMoves(ids: number[]) {
    return this.t.call('account.move', 'read', { ids, fields: MOVE_FIELDS }, z.array(moveRow));
  }

  private async moveRef(id: number): Promise<ErpDocRef> {
    return this.toMoveRef((await this.readMoves([id]))[0]);
  }

  private toMoveRef(r: MoveRow): ErpDocRef {
    const reversed = r.payment_state === 'reversed' || (r.move_type === 'entry' && r.reversal_move_ids.length > 0);
    const status = r.state === 'posted' && reversed ? 'reversed' : (MOVE_STATUS[r.state] ?? r.state);
    const raw = r.move_type === 'entry' || r.payment_state === false ? r.state : `${r.state}/${r.payment_state}`;
    return { erpId: String(r.id), number: opt(r.name) === '/' ? undefined : opt(r.name), status, rawStatus: raw };
  }

  /** Order or invoice lines (Odoo vals) including the tax line; resolves every SKU first. */
  private async documentLines(d: ErpDocumentInput, kind: 'sale' | 'invoice'): Promise<Record<string, unknown>[]> {
    const tax = d.lines.reduce((a, l) => a + (l.taxMinor ?? 0), 0);
    const skus = [...new Set([...d.lines.map((l) => l.sku), ...(tax > 0 ? [this.taxSku] : [])])];
    const products = await this.productIds(skus);
    const toFloat = (minor: number) => Number(formatDecimal(money(minor, d.currency)));
    const lines = d.lines.map((l) => ({
      productId: products.get(l.sku)!,
      name: l.description,
      qty: l.qty,
      price: toFloat(l.unitPriceMinor),
    }));
    if (tax > 0) lines.push({ productId: products.get(this.taxSku)!, name: 'Sales tax', qty: 1, price: toFloat(tax) });
    return lines.map((l) =>
      kind === 'sale'
        ? { product_id: l.productId, product_uom_qty: l.qty, price_unit: l.price, ...(l.name ? { name: l.name } : {}) }
        : { product_id: l.productId, quantity: l.qty, price_unit: l.price, ...(l.name ? { name: l.name } : {}) },
    );
  }

  /** Product ids by SKU, cached per process like every other lookup (a product's id never changes). */
  private async productIds(skus: string[]): Promise<Map<string, number>> {
    const uncached = skus.filter((s) => !this.products.has(s));
    if (uncached.length) {
      const rows = await this.searchRead(
        'product.product',
        [['default_code', 'in', uncached]],
        ['default_code'],
        z.object({ id: z.number(), default_code: text }),
      );
      for (const r of rows) if (r.default_code) this.products.set(r.default_code, r.id);
    }
    const missing = skus.filter((s) => !this.products.has(s));
    if (missing.length) throw invalid(`unknown product SKU(s) in Odoo: ${missing.join(', ')}`, 'sku');
    return new Map(skus.map((s) => [s, this.products.get(s)!]));
  }

  // ---------------------------------------------------------------- payments

  async applyPayment(p: ErpPaymentInput, ctx: WriteContext): Promise<ErpDocRef> {
    checkPayment(CONNECTOR, p);
    const invoiceId = parseId(p.invoiceErpId, 'invoiceErpId');
    /** Sets the processor reference on the payment unless it carries it already (`reference`: as just created). */
    const complete = async (id: number, reference?: string | null) => {
      const current = reference !== undefined ? reference : (await this.readPayments([id]))[0].payment_reference;
      if (p.processorRef && current !== p.processorRef) {
        await this.t.call(
          'account.payment',
          'write',
          { ids: [id], vals: { payment_reference: p.processorRef } },
          z.boolean(),
        );
      }
      return this.paymentRef((await this.readPayments([id]))[0]);
    };
    return createOnce({
      ...this.ops.write(ctx, 'applyPayment', p),
      ...this.refLookups('account.payment', 'pay', p.ref, [['memo', '=', p.ref]], (id) => complete(id)),
      create: async () => {
        const [journalId, currencyId] = await Promise.all([
          this.journalId(methodCode(this.journals, p.method, 'BANK')),
          this.currencyId(p.currency),
        ]);
        const context = { active_model: 'account.move', active_ids: [invoiceId] };
        const vals = {
          amount: Number(formatDecimal(money(p.amountMinor, p.currency))),
          payment_date: p.date,
          journal_id: journalId,
          currency_id: currencyId,
          communication: p.ref,
        };
        const [wizard] = await this.t.call(
          'account.payment.register',
          'create',
          { vals_list: [vals], context },
          createdIds,
        );
        const action = await this.t.call(
          'account.payment.register',
          'action_create_payments',
          { ids: [wizard], context },
          z.object({ res_id: z.number().int() }).loose(),
        );
        await this.bindXmlid('account.payment', 'pay', p.ref, action.res_id);
        return complete(action.res_id, null);
      },
    });
  }

  async unapplyPayment(paymentErpId: string, ctx: WriteContext): Promise<ErpDocRef> {
    const id = parseId(paymentErpId, 'payment');
    return changeOnce({
      ...this.ops.change(ctx, 'unapplyPayment', paymentErpId),
      get: async () => this.paymentRef((await this.readPayments([id]))[0]),
      done: (d) => d.status === 'cancelled',
      send: async (d) => {
        if (d.rawStatus !== 'draft') await this.t.call('account.payment', 'action_draft', { ids: [id] }, z.unknown());
        await this.t.call('account.payment', 'action_cancel', { ids: [id] }, z.unknown());
      },
    });
  }

  async *listPayments(q: { from: string; to: string }): AsyncIterable<ErpPaymentRecord> {
    const domain = [
      ['payment_type', '=', 'inbound'],
      ['state', 'in', ['in_process', 'paid']],
      ['date', '>=', q.from],
      ['date', '<=', q.to],
    ];
    const byJournal = methodsByCode(this.journals);
    for (let offset = 0; ; offset += PAGE) {
      const rows = await this.t.call(
        'account.payment',
        'search_read',
        { domain, fields: PAYMENT_FIELDS, offset, limit: PAGE, order: 'date asc, id asc' },
        z.array(paymentRow),
      );
      for (const r of rows) {
        const currency = r.currency_id === false ? this.companyCurrency : r.currency_id[1];
        const journalCode = r.journal_id === false ? undefined : await this.journalCode(r.journal_id[0]);
        yield {
          erpId: String(r.id),
          ref: opt(r.memo) ?? String(r.id),
          processorRef: opt(r.payment_reference),
          amountMinor: this.toMinor(r.amount, currency),
          currency,
          date: r.date,
          method: journalCode ? (byJournal.get(journalCode) ?? journalCode.toLowerCase()) : undefined,
        };
      }
      if (rows.length < PAGE) return;
    }
  }

  private readPayments(ids: number[]) {
    return this.t.call('account.payment', 'read', { ids, fields: PAYMENT_FIELDS }, z.array(paymentRow));
  }

  private paymentRef(r: PaymentRow): ErpDocRef {
    return docRef(String(r.id), opt(r.name), r.state, PAYMENT_STATUS);
  }

  private journalCode(journalId: number): Promise<string> {
    let hit = this.journalCodes.get(journalId);
    if (!hit) {
      hit = this.t
        .call(
          'account.journal',
          'read',
          { ids: [journalId], fields: ['code'] },
          z.array(z.object({ id: z.number(), code: z.string() })),
        )
        .then((rows) => rows[0].code);
      hit.catch(() => this.journalCodes.delete(journalId));
      this.journalCodes.set(journalId, hit);
    }
    return hit;
  }

  // ---------------------------------------------------------------- journals

  async postJournal(j: ErpJournalInput, ctx: WriteContext): Promise<ErpDocRef> {
    checkJournal(CONNECTOR, j);
    const complete = async (doc: ErpDocRef) => {
      if (doc.status !== 'draft') return doc;
      await this.t.call('account.move', 'action_post', { ids: [Number(doc.erpId)] }, z.unknown());
      return this.moveRef(Number(doc.erpId));
    };
    return createOnce({
      ...this.ops.write(ctx, 'postJournal', j),
      find: async () => {
        const doc = await this.findJournalByRef(j.ref);
        return doc ? complete(doc) : null;
      },
      create: async () => {
        const codes = [...new Set(j.lines.map((l) => l.account))];
        const rows = await this.searchRead(
          'account.account',
          [['code', 'in', codes]],
          ['code', 'deprecated'],
          z.object({ id: z.number(), code: z.string(), deprecated: z.boolean().optional() }),
        );
        const accounts = new Map(rows.filter((r) => !r.deprecated).map((r) => [r.code, r.id]));
        const missing = codes.filter((c) => !accounts.has(c));
        if (missing.length) {
          throw failure(
            'GlAccountNotFound',
            `odoo: GL account(s) ${missing.join(', ')} do not exist in the chart of accounts`,
            {
              connector: CONNECTOR,
              code: 'account.account',
              accounts: missing,
            },
          );
        }
        const [journalId, currencyId] = await Promise.all([
          this.journalId(j.journal ?? this.defaultJournal),
          this.currencyId(j.currency),
        ]);
        const toFloat = (minor: number) => Number(formatDecimal(money(minor, j.currency)));
        const lines = j.lines.map((l) => [
          0,
          0,
          {
            account_id: accounts.get(l.account),
            name: describeLine(l.description ?? j.memo, l.dimensions),
            debit: toFloat(l.debitMinor),
            credit: toFloat(l.creditMinor),
          },
        ]);
        const vals = {
          move_type: 'entry',
          ref: j.ref,
          date: j.date,
          journal_id: journalId,
          currency_id: currencyId,
          narration: j.memo,
          line_ids: lines,
        };
        const [id] = await this.t.call('account.move', 'create', { vals_list: [vals] }, createdIds);
        await this.bindXmlid('account.move', 'je', j.ref, id);
        await this.t.call('account.move', 'action_post', { ids: [id] }, z.unknown());
        return this.moveRef(id);
      },
    });
  }

  async reverseJournal(erpId: string, ctx: WriteContext): Promise<ErpDocRef> {
    return this.reverseMove(erpId, ctx, 'reverseJournal');
  }

  async findJournalByRef(ref: string): Promise<ErpDocRef | null> {
    const id = await this.findByRef('account.move', 'je', ref, [
      ['move_type', '=', 'entry'],
      ['ref', '=', ref],
    ]);
    return id ? this.moveRef(id) : null;
  }

  // ---------------------------------------------------------------- inventory and products

  async readOnHand(q: { skus?: string[]; location?: string } = {}): Promise<OnHand[]> {
    const whDomain = q.location ? [['code', '=', q.location]] : [];
    const warehouses = await this.searchRead(
      'stock.warehouse',
      whDomain,
      ['code', 'lot_stock_id'],
      z.object({ id: z.number(), code: z.string(), lot_stock_id: m2o }),
    );
    if (q.location && warehouses.length === 0)
      throw failure('NotFound', `odoo: no warehouse with code ${q.location}`, { connector: CONNECTOR });
    const out: OnHand[] = [];
    for (const wh of warehouses) {
      if (wh.lot_stock_id === false) continue;
      const [loc] = await this.t.call(
        'stock.location',
        'read',
        { ids: [wh.lot_stock_id[0]], fields: ['complete_name'] },
        z.array(z.object({ id: z.number(), complete_name: z.string() })),
      );
      const domain: unknown[] = [['location_id.complete_name', '=like', `${loc.complete_name}%`]];
      if (q.skus?.length) domain.push(['product_id.default_code', 'in', q.skus]);
      const quants = await this.searchRead(
        'stock.quant',
        domain,
        ['product_id', 'quantity'],
        z.object({ id: z.number(), product_id: m2o, quantity: z.number() }),
      );
      const productIds = [...new Set(quants.flatMap((x) => (x.product_id === false ? [] : [x.product_id[0]])))];
      const codes = new Map<number, string>();
      if (productIds.length) {
        const rows = await this.t.call(
          'product.product',
          'read',
          { ids: productIds, fields: ['default_code'] },
          z.array(z.object({ id: z.number(), default_code: text })),
        );
        for (const r of rows) if (r.default_code) codes.set(r.id, r.default_code);
      }
      const totals = new Map<string, number>();
      for (const qt of quants) {
        const sku = qt.product_id === false ? undefined : codes.get(qt.product_id[0]);
        if (sku) totals.set(sku, (totals.get(sku) ?? 0) + qt.quantity);
      }
      for (const sku of q.skus ?? []) if (!totals.has(sku)) totals.set(sku, 0);
      for (const [sku, qty] of totals) out.push({ sku, location: wh.code, qty });
    }
    return out.sort((a, b) => a.location.localeCompare(b.location) || a.sku.localeCompare(b.sku));
  }

  async adjustInventory(adjustments: InventoryAdjustment[], ctx: WriteContext): Promise<void> {
    const moves = stockAdjustments(CONNECTOR, adjustments);
    await writeOnce({
      ...this.ops.write(ctx, 'adjustInventory', adjustments),
      write: async () => {
        for (const { index, adj } of moves) await this.adjustLine(adj, `${ctx.idempotencyKey}/line-${index}`, ctx);
        return { lines: moves.length };
      },
    });
  }

  /** One adjustment line under its own key; the `stock.move` named after the key tells whether it was applied. */
  private async adjustLine(a: InventoryAdjustment, key: string, ctx: WriteContext): Promise<void> {
    const moveName = `Ledgerbridge ${key}`;
    const findMove = async (): Promise<{ externalId: string | null; result: { moveId: number | null } } | null> => {
      const ids = await this.t.call('stock.move', 'search', { domain: [['name', '=', moveName]], limit: 1 }, idList);
      return ids.length ? { externalId: String(ids[0]), result: { moveId: ids[0] } } : null;
    };
    await idempotentWrite(this.db, {
      key,
      target: CONNECTOR,
      operation: 'adjustInventory.line',
      workflowId: ctx.workflowId,
      request: a,
      findRemote: findMove,
      write: async () => {
        await this.applyDelta(a, moveName);
        return (await findMove()) ?? { externalId: null, result: { moveId: null } };
      },
    });
  }

  private async applyDelta(a: InventoryAdjustment, moveName: string): Promise<void> {
    const [[productId], locationId] = await Promise.all([
      this.productIds([a.sku]).then((m) => [...m.values()]),
      this.cached(`stock-location:${a.location}`, async () => {
        const [wh] = await this.searchRead(
          'stock.warehouse',
          [['code', '=', a.location]],
          ['lot_stock_id'],
          z.object({ id: z.number(), lot_stock_id: m2o }),
        );
        if (!wh || wh.lot_stock_id === false)
          throw failure('NotFound', `odoo: no warehouse with code ${a.location}`, { connector: CONNECTOR });
        return wh.lot_stock_id[0];
      }),
    ]);
    const quants = await this.searchRead(
      'stock.quant',
      [
        ['product_id', '=', productId],
        ['location_id', '=', locationId],
      ],
      ['quantity'],
      z.object({ id: z.number(), quantity: z.number() }),
    );
    let quantId: number;
    if (quants.length) {
      quantId = quants[0].id;
      await this.t.call(
        'stock.quant',
        'write',
        { ids: [quantId], vals: { inventory_quantity: quants[0].quantity + a.delta } },
        z.boolean(),
      );
    } else {
      [quantId] = await this.t.call(
        'stock.quant',
        'create',
        { vals_list: [{ product_id: productId, location_id: locationId, inventory_quantity: a.delta }] },
        createdIds,
      );
    }
    await this.t.call(
      'stock.quant',
      'action_apply_inventory',
      { ids: [quantId], context: { inventory_name: moveName } },
      z.unknown(),
    );
  }

  async listProducts(): Promise<ErpProduct[]> {
    const row = z.object({
      id: z.number(),
      default_code: text,
      name: z.string(),
      list_price: z.number(),
      currency_id: m2o,
      uom_id: m2o,
    });
    const out: ErpProduct[] = [];
    for (let offset = 0; ; offset += PAGE) {
      const rows = await this.t.call(
        'product.product',
        'search_read',
        {
          domain: [['sale_ok', '=', true]],
          fields: ['default_code', 'name', 'list_price', 'currency_id', 'uom_id'],
          offset,
          limit: PAGE,
          order: 'default_code asc, id asc',
        },
        z.array(row),
      );
      for (const r of rows) {
        if (!r.default_code) continue;
        const currency = r.currency_id === false ? this.companyCurrency : r.currency_id[1];
        out.push({
          sku: r.default_code,
          name: r.name,
          priceMinor: this.toMinor(r.list_price, currency),
          currency,
          uom: r.uom_id === false ? undefined : r.uom_id[1],
        });
      }
      if (rows.length < PAGE) return out;
    }
  }

  // ---------------------------------------------------------------- plumbing

  /**
   * Finds a record by our ref: through its external id first, then by the field the create wrote. A record found
   * only by field (a crash fell between create and the external id) gets its external id now.
   */
  private async findByRef(model: string, kind: string, ref: string, domain: unknown[]): Promise<number | null> {
    const name = xmlidName(kind, ref);
    const xmlids = await this.searchRead(
      'ir.model.data',
      [
        ['module', '=', this.module],
        ['name', '=', name],
      ],
      ['model', 'res_id'],
      xmlidRow,
    );
    const hit = xmlids.find((x) => x.model === model);
    if (hit) {
      const alive = await this.t.call(model, 'search', { domain: [['id', '=', hit.res_id]], limit: 1 }, idList);
      if (alive.length) return hit.res_id;
    }
    const ids = await this.t.call(model, 'search', { domain, limit: 1, order: 'id asc' }, idList);
    if (!ids.length) return null;
    if (!hit) await this.bindXmlid(model, kind, ref, ids[0]);
    else await this.t.call('ir.model.data', 'write', { ids: [hit.id], vals: { res_id: ids[0] } }, z.boolean());
    return ids[0];
  }

  /**
   * createOnce's look-ups of a record by our ref: `find` by external id and by field (several calls, for retries), and
   * `precheck` by field alone (one call, before a first create), which falls back to `find` when it hits.
   */
  private refLookups<R>(
    model: string,
    kind: string,
    ref: string,
    domain: unknown[],
    found: (id: number) => Promise<R>,
  ) {
    const find = async () => {
      const id = await this.findByRef(model, kind, ref, domain);
      return id ? found(id) : null;
    };
    const precheck = async () => {
      const ids = await this.t.call(model, 'search', { domain, limit: 1 }, idList);
      return ids.length ? find() : null;
    };
    return { find, precheck };
  }

  private async bindXmlid(model: string, kind: string, ref: string, resId: number): Promise<void> {
    await this.t.call(
      'ir.model.data',
      'create',
      { vals_list: [{ module: this.module, name: xmlidName(kind, ref), model, res_id: resId, noupdate: true }] },
      createdIds,
    );
  }

  private searchRead<T>(model: string, domain: unknown[], fields: string[], row: z.ZodType<T>): Promise<T[]> {
    return this.t.call(model, 'search_read', { domain, fields }, z.array(row));
  }

  /** The id of the one record matching `domain`, cached per process; ValidationError when Odoo has none. */
  private lookupId(model: string, domain: unknown[], what: string): Promise<number> {
    return this.cached(`${model}:${JSON.stringify(domain)}`, async () => {
      const ids = await this.t.call(model, 'search', { domain, limit: 1 }, idList);
      if (!ids.length) throw invalid(`no ${what} in Odoo`);
      return ids[0];
    });
  }

  /** One lookup per key and process; a failed lookup is forgotten, so the next call asks again. */
  private cached(key: string, fetch: () => Promise<number>): Promise<number> {
    let hit = this.cache.get(key);
    if (!hit) {
      hit = fetch();
      hit.catch(() => this.cache.delete(key));
      this.cache.set(key, hit);
    }
    return hit;
  }

  private currencyId(code: string): Promise<number> {
    return this.lookupId('res.currency', [['name', '=', code]], `active currency ${code}`);
  }

  private journalId(code: string): Promise<number> {
    return this.lookupId('account.journal', [['code', '=', code]], `journal ${code}`);
  }

  private toMinor(value: number, currency: string): number {
    return parseDecimal(value.toFixed(exponentOf(currency)), currency).amountMinor;
  }
}
