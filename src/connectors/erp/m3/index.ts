import type { Db } from '../../../db';
import { failure } from '../../../domain/errors';
import { formatDecimal, money, parseDecimal } from '../../../domain/money';
import type { Logger } from '../../../logger';
import { HttpClient, type HttpClientOptions } from '../../http';
import {
  changeOnce,
  checkDocument,
  checkJournal,
  checkPayment,
  createOnce,
  customerKeys,
  customerName,
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
  JournalLine,
  OnHand,
  WriteContext,
} from '../types';
import { bulkLinesOnce, type BulkLine } from './bulk';
import { ionTokenProvider, loadIonApi, type IonApi } from './ionapi';
import { MiClient, miFailure, type MiFields, type MiRecord } from './mi';

/**
 * The Infor M3 adapter of `ErpConnector`: MI programs through the ION API gateway (REST v2), OAuth2 from an
 * `.ionapi` file. Every write runs through `idempotentWrite` (target `m3`) and looks its record up in M3 by our
 * reference before creating (customer number derived from the external ref, `CUOR` on orders, `YRE1` on invoices,
 * `VTXT` on payments, `BTXT` on GL batches). Lines go in one bulk request with one `external_writes` row per line
 * (`<key>/line-<n>`), so a partial batch failure re-sends only the failed lines.
 *
 * Mapping choices:
 * - Customer numbers are `LB` + 8 characters of a hash of the external ref: the same ref always maps to the same
 *   CUNO, which makes `CRS610MI/Add` idempotent by itself. The external ref is also kept in `YREF`.
 * - Near-duplicate lookups by email/phone list customers (`CRS610MI/LstByNumber`) and compare normalised values here:
 *   MI has no search by email or phone.
 * - Text fields have M3 lengths; a longer ref is shortened to a prefix plus a hash (`refText`), stable per ref.
 * - Journal lines carry the signed amount in `CUAM` (debit positive), dimensions in `AIT2`-`AIT7` (order from
 *   `dimensionOrder`, else sorted keys), and `#<line>` at the end of `VTXT` to find lines already written.
 * - A GL batch is reversed by posting a reversing batch (`BTXT` = `REV <batch>`); an unposted batch has nothing to
 *   reverse and is reported as it is.
 * - Service items (SHIPPING, see ../common.ts) are order and invoice lines like any item; inventory adjustments skip
 *   them (M3 keeps no balance for an item that is not inventory accounted).
 */

export interface M3ConnectorOptions {
  /** ION API gateway base URL; defaults to the `.ionapi` `iu`. */
  baseUrl?: string;
  /** Ledgerbridge's own database (knex), for `external_writes`. */
  db: Db;
  /** Path of the `.ionapi` file, or its parsed content. */
  ionapi: string | Record<string, unknown>;
  company?: string;
  division?: string;
  logger?: Logger;
  timeoutMs?: number;
  breaker?: HttpClientOptions['breaker'];
  /** Order type for OIS100MI (default A01). */
  orderType?: string;
  /** Payment method → M3 payment method code (`card` → CRD by default); exact method or its prefix. */
  paymentMethods?: Record<string, string>;
  /** Dimension keys in AIT2..AIT7 order. */
  dimensionOrder?: string[];
}

/** M3 customer order status codes (strings) → normalised status. */
export const M3_ORDER_STATUS: Record<string, string> = {
  '05': 'draft',
  '10': 'draft',
  '15': 'draft',
  '20': 'confirmed',
  '22': 'confirmed',
  '23': 'confirmed',
  '33': 'picking',
  '44': 'picked',
  '66': 'delivered',
  '77': 'invoiced',
  '90': 'cancelled',
};
/** Invoice / credit note status (simulated OIS300MI) → normalised status. */
export const M3_INVOICE_STATUS: Record<string, string> = {
  '10': 'draft',
  '20': 'posted',
  '80': 'reversed',
  '90': 'cancelled',
};
/** Payment status (simulated ARS110MI) → normalised status. */
export const M3_PAYMENT_STATUS: Record<string, string> = { '20': 'applied', '90': 'cancelled' };
/** GL batch status (GLS840MI) → normalised status; a posted batch with a posted reversal reads `reversed`. */
export const M3_BATCH_STATUS: Record<string, string> = { '10': 'draft', '90': 'posted' };

const DEFAULT_METHODS: Record<string, string> = { card: 'CRD', cash: 'CSH', bank: 'BNK', ach: 'BNK', check: 'CHK' };
const PAGE = 200;

const CONNECTOR = 'm3';
const invalid = (message: string, field?: string) => refused(CONNECTOR, message, field);

/** A ref shortened to an M3 field length: unchanged when it fits, else a prefix plus a stable hash. */
export function refText(ref: string, max: number): string {
  return ref.length <= max ? ref : `${ref.slice(0, max - 11)}~${sha256Hex(ref, 10)}`;
}

/** The customer number of an external ref (10 characters, stable). */
export function cunoFor(externalRef: string): string {
  return `LB${BigInt(`0x${sha256Hex(externalRef, 16)}`)
    .toString(36)
    .toUpperCase()
    .padStart(8, '0')
    .slice(0, 8)}`;
}

const toDate8 = (iso: string) => iso.replace(/-/g, '');
const fromDate8 = (d: string) => (/^\d{8}$/.test(d) ? `${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6, 8)}` : d);
const dec = (minor: number, currency: string) => formatDecimal(money(minor, currency));

/** Parses an M3 decimal ("89.99", "89.990000", "-12") into minor units; extra trailing zeros are tolerated. */
function minor(value: string | undefined, currency: string): number {
  const v = (value ?? '0').trim() || '0';
  const m = /^([+-]?\d+)(?:\.(\d*?)0*)?$/.exec(v);
  return parseDecimal(m ? (m[2] ? `${m[1]}.${m[2]}` : m[1]) : v, currency).amountMinor;
}

/** The Infor M3 `ErpConnector` (see the file header for the mapping choices). */
export class M3Connector implements ErpConnector {
  readonly system = 'm3' as const;
  private readonly db: Db;
  private readonly ops: ReturnType<typeof writesOf>;
  private readonly http: HttpClient;
  private readonly tokens: ReturnType<typeof ionTokenProvider>;
  private readonly mi: MiClient;
  private readonly ion: IonApi;
  private readonly orderType: string;
  private readonly methods: Record<string, string>;
  private readonly dimensionOrder?: string[];

  constructor(opts: M3ConnectorOptions) {
    this.db = opts.db;
    this.ops = writesOf(opts.db, CONNECTOR);
    this.ion = loadIonApi(opts.ionapi);
    this.orderType = opts.orderType ?? 'A01';
    this.methods = { ...DEFAULT_METHODS, ...opts.paymentMethods };
    this.dimensionOrder = opts.dimensionOrder;
    this.tokens = ionTokenProvider(this.ion, { timeoutMs: opts.timeoutMs, logger: opts.logger });
    this.http = new HttpClient({
      connector: 'm3',
      version: '1.0.0',
      baseUrl: opts.baseUrl ?? this.ion.iu,
      timeoutMs: opts.timeoutMs,
      auth: this.tokens,
      breaker: opts.breaker,
      logger: opts.logger,
    });
    this.mi = new MiClient(this.http, this.ion.ti, { cono: opts.company ?? '100', divi: opts.division ?? 'AAA' });
  }

  get breakerState() {
    return this.http.breakerState;
  }

  /** How many OAuth2 tokens this connector fetched. */
  get tokenFetches(): number {
    return this.tokens.fetchCount;
  }

  /** Closes the HTTP connections. */
  async close(): Promise<void> {
    await Promise.all([this.http.close(), this.tokens.close()]);
  }

  // ---------------------------------------------------------------- customers

  async findCustomers(q: { email?: string; phone?: string; externalRef?: string }): Promise<ErpCustomer[]> {
    if (!q.email && !q.phone && !q.externalRef)
      throw invalid('findCustomers needs an email, a phone or an externalRef');
    const keys = customerKeys(q);
    const found = new Map<string, ErpCustomer>();
    if (keys.externalRef) {
      const c = await this.mi.find('CRS610MI', 'Get', { CUNO: cunoFor(keys.externalRef) });
      if (c) found.set(c.CUNO, this.toCustomer(c));
    }
    if (keys.email || keys.phone || (keys.externalRef && !found.size)) {
      // MI has no search by email or phone: list the customers and compare normalised values here.
      const byYref = { ...keys, externalRef: keys.externalRef && refText(keys.externalRef, 30) };
      for await (const c of this.allCustomers()) {
        if (matchesCustomer(byYref, { externalRef: c.YREF, email: c.MAIL, phones: [c.PHNO] })) {
          found.set(c.CUNO, this.toCustomer(c));
        }
      }
    }
    return [...found.values()].sort((a, b) => a.erpId.localeCompare(b.erpId));
  }

  private async *allCustomers(): AsyncIterable<MiRecord> {
    let from = '';
    for (;;) {
      const rows = await this.mi.call('CRS610MI', 'LstByNumber', { CUNO: from }, PAGE);
      const fresh = from ? rows.filter((r) => r.CUNO > from) : rows;
      yield* fresh;
      if (rows.length < PAGE || !fresh.length) return;
      from = fresh[fresh.length - 1].CUNO;
    }
  }

  async upsertCustomer(c: ErpCustomerInput, ctx: WriteContext): Promise<ErpCustomer> {
    const name = customerName(CONNECTOR, c);
    const cuno = cunoFor(c.externalRef);
    const fields: MiFields = {
      CUNO: cuno,
      CUNM: name.slice(0, 36),
      MAIL: c.email?.trim(),
      PHNO: c.phone?.trim().slice(0, 16),
      YREF: refText(c.externalRef, 30),
      CUA1: c.address?.line1.slice(0, 36),
      CUA2: c.address?.line2?.slice(0, 36),
      TOWN: c.address?.city.slice(0, 20),
      ECAR: c.address?.region,
      PONO: c.address?.postalCode,
      CSCD: c.address?.country.toUpperCase(),
    };
    const apply = async (exists: boolean): Promise<ErpCustomer> => {
      if (!exists) {
        const r = await this.mi.execute('CRS610MI', 'Add', fields);
        if (r.errorMessage && !/already exists/i.test(r.errorMessage)) throw miFailure('CRS610MI', r);
        if (!r.errorMessage) return this.toCustomer((await this.mi.call('CRS610MI', 'Get', { CUNO: cuno }))[0]);
      }
      await this.mi.call('CRS610MI', 'ChgBasicData', fields);
      return this.toCustomer((await this.mi.call('CRS610MI', 'Get', { CUNO: cuno }))[0]);
    };
    return createOnce({
      ...this.ops.write(ctx, 'upsertCustomer', c),
      find: async () => ((await this.mi.find('CRS610MI', 'Get', { CUNO: cuno })) ? apply(true) : null),
      create: () => apply(false),
    });
  }

  private toCustomer(c: MiRecord): ErpCustomer {
    return {
      erpId: c.CUNO,
      name: c.CUNM,
      email: c.MAIL || undefined,
      phone: c.PHNO || undefined,
      externalRef: c.YREF || undefined,
    };
  }

  // ---------------------------------------------------------------- sales orders

  async createSalesOrder(o: ErpSalesOrderInput, ctx: WriteContext): Promise<ErpDocRef> {
    checkDocument(CONNECTOR, o);
    const cuor = refText(o.ref, 20);
    const find = async () => {
      const rows = await this.mi.call('OIS100MI', 'LstHead', { CUNO: o.customerErpId, CUOR: cuor });
      return rows.find((r) => r.CUOR === cuor)?.ORNO ?? null;
    };
    const complete = async (orno: string, existed: boolean) => {
      const [head] = await this.mi.call('OIS100MI', 'GetHead', { ORNO: orno });
      if (head.ORST === '05') {
        const lines: BulkLine[] = o.lines.map((l, n) => ({
          n,
          record: {
            ORNO: orno,
            ITNO: l.sku,
            ORQT: String(l.qty),
            SAPR: dec(l.unitPriceMinor, o.currency),
            TAXA: dec(l.taxMinor ?? 0, o.currency),
            CUPO: String(n + 1),
          },
        }));
        await this.lines(ctx, 'createSalesOrder', 'OIS100MI', 'AddBatchLine', lines, existed, async () => {
          const rows = await this.mi.call('OIS100MI', 'LstLine', { ORNO: orno }, 0);
          return new Set(rows.map((r) => Number(r.CUPO) - 1).filter((n) => n >= 0));
        });
        await this.mi.call('OIS100MI', 'Confirm', { ORNO: orno });
      }
      return this.orderRef(orno);
    };
    return createOnce({
      ...this.ops.write(ctx, 'createSalesOrder', o),
      find: async () => {
        const orno = await find();
        return orno ? complete(orno, true) : null;
      },
      create: async () => {
        const [head] = await this.mi.call('OIS100MI', 'AddBatchHead', {
          CUNO: o.customerErpId,
          ORTP: this.orderType,
          CUOR: cuor,
          ORDT: toDate8(o.date),
          CUCD: o.currency,
        });
        return complete(head.ORNO, false);
      },
    });
  }

  async cancelSalesOrder(erpId: string, ctx: WriteContext): Promise<ErpDocRef> {
    return changeOnce({
      ...this.ops.change(ctx, 'cancelSalesOrder', erpId),
      get: () => this.orderRef(erpId),
      done: (d) => d.status === 'cancelled',
      send: () => this.mi.call('OIS100MI', 'CancelOrder', { ORNO: erpId }),
    });
  }

  async getSalesOrder(erpId: string): Promise<ErpDocRef> {
    return this.orderRef(erpId);
  }

  private async orderRef(orno: string): Promise<ErpDocRef> {
    const [h] = await this.mi.call('OIS100MI', 'GetHead', { ORNO: orno });
    return docRef(h.ORNO, h.ORNO, h.ORST, M3_ORDER_STATUS, 'open');
  }

  // ---------------------------------------------------------------- invoices and credit memos

  async createInvoice(i: ErpInvoiceInput, ctx: WriteContext): Promise<ErpDocRef> {
    checkDocument(CONNECTOR, i);
    return this.draftDocument(i, ctx, 'createInvoice', { IVTP: 'IN', ORNO: i.salesOrderErpId });
  }

  async postInvoice(erpId: string, ctx: WriteContext): Promise<ErpDocRef> {
    return this.releaseDocument(erpId, ctx, 'postInvoice');
  }

  async reverseInvoice(erpId: string, ctx: WriteContext): Promise<ErpDocRef> {
    return this.undoDocument(erpId, ctx, 'reverseInvoice');
  }

  async draftCreditMemo(c: ErpCreditMemoInput, ctx: WriteContext): Promise<ErpDocRef> {
    checkDocument(CONNECTOR, c);
    return this.draftDocument(c, ctx, 'draftCreditMemo', {
      IVTP: 'CN',
      OIVN: c.invoiceErpId,
      TX40: c.reason.slice(0, 40),
    });
  }

  async postCreditMemo(erpId: string, ctx: WriteContext): Promise<ErpDocRef> {
    return this.releaseDocument(erpId, ctx, 'postCreditMemo');
  }

  async cancelCreditMemo(erpId: string, ctx: WriteContext): Promise<ErpDocRef> {
    return this.undoDocument(erpId, ctx, 'cancelCreditMemo');
  }

  private async draftDocument(
    d: ErpDocumentInput,
    ctx: WriteContext,
    operation: string,
    head: MiFields,
  ): Promise<ErpDocRef> {
    const yre1 = refText(d.ref, 30);
    const find = async () => {
      const rows = await this.mi.call('OIS300MI', 'LstHead', { CUNO: d.customerErpId, YRE1: yre1, IVTP: head.IVTP }, 0);
      return rows.find((r) => r.YRE1 === yre1)?.IVNO ?? null;
    };
    const complete = async (ivno: string, existed: boolean) => {
      const [h] = await this.mi.call('OIS300MI', 'Get', { IVNO: ivno });
      if (h.STAT === '10') {
        const lines: BulkLine[] = d.lines.map((l, n) => ({
          n,
          record: {
            IVNO: ivno,
            LINO: String(n + 1),
            ITNO: l.sku,
            IVQT: String(l.qty),
            SAPR: dec(l.unitPriceMinor, d.currency),
            TAXA: dec(l.taxMinor ?? 0, d.currency),
          },
        }));
        await this.lines(ctx, operation, 'OIS300MI', 'AddLine', lines, existed, async () => {
          const rows = await this.mi.call('OIS300MI', 'LstLine', { IVNO: ivno }, 0);
          return new Set(rows.map((r) => Number(r.LINO) - 1).filter((n) => n >= 0));
        });
      }
      return this.invoiceRef(ivno);
    };
    return createOnce({
      ...this.ops.write(ctx, operation, d),
      find: async () => {
        const ivno = await find();
        return ivno ? complete(ivno, true) : null;
      },
      create: async () => {
        const [h] = await this.mi.call('OIS300MI', 'AddHead', {
          ...head,
          CUNO: d.customerErpId,
          YRE1: yre1,
          IVDT: toDate8(d.date),
          CUCD: d.currency,
        });
        return complete(h.IVNO, false);
      },
    });
  }

  private async releaseDocument(ivno: string, ctx: WriteContext, operation: string): Promise<ErpDocRef> {
    return changeOnce({
      ...this.ops.change(ctx, operation, ivno),
      get: () => this.invoiceRef(ivno),
      done: (d) => d.rawStatus !== '10',
      send: () => this.mi.call('OIS300MI', 'Release', { IVNO: ivno }),
    });
  }

  /** Cancels a draft, reverses a released document; a cancelled or reversed one is returned as it is. */
  private async undoDocument(ivno: string, ctx: WriteContext, operation: string): Promise<ErpDocRef> {
    return changeOnce({
      ...this.ops.change(ctx, operation, ivno),
      get: () => this.invoiceRef(ivno),
      done: (d) => d.status === 'cancelled' || d.status === 'reversed',
      send: (d) => this.mi.call('OIS300MI', d.rawStatus === '10' ? 'Cancel' : 'Reverse', { IVNO: ivno }),
    });
  }

  private async invoiceRef(ivno: string): Promise<ErpDocRef> {
    const [h] = await this.mi.call('OIS300MI', 'Get', { IVNO: ivno });
    return docRef(h.IVNO, h.IVNO, h.STAT, M3_INVOICE_STATUS, 'open');
  }

  // ---------------------------------------------------------------- payments

  async applyPayment(p: ErpPaymentInput, ctx: WriteContext): Promise<ErpDocRef> {
    checkPayment(CONNECTOR, p);
    const vtxt = refText(p.ref, 40);
    const find = async () => {
      const rows = await this.mi.call('ARS110MI', 'LstPayments', { CINO: p.invoiceErpId }, 0);
      const hit = rows.find((r) => r.VTXT === vtxt);
      return hit ? this.toPaymentRef(hit) : null;
    };
    return createOnce({
      ...this.ops.write(ctx, 'applyPayment', p),
      find,
      create: async () => {
        const [r] = await this.mi.call('ARS110MI', 'AddPayment', {
          CUNO: p.customerErpId,
          CINO: p.invoiceErpId,
          CUAM: dec(p.amountMinor, p.currency),
          CUCD: p.currency,
          PYDT: toDate8(p.date),
          PYME: methodCode(this.methods, p.method, 'BNK'),
          VTXT: vtxt,
          PYRF: refText(p.processorRef, 30),
        });
        return this.paymentRef(r.PYNO);
      },
    });
  }

  async unapplyPayment(paymentErpId: string, ctx: WriteContext): Promise<ErpDocRef> {
    return changeOnce({
      ...this.ops.change(ctx, 'unapplyPayment', paymentErpId),
      get: () => this.paymentRef(paymentErpId),
      done: (d) => d.status === 'cancelled',
      send: () => this.mi.call('ARS110MI', 'Reverse', { PYNO: paymentErpId }),
    });
  }

  async *listPayments(q: { from: string; to: string }): AsyncIterable<ErpPaymentRecord> {
    const byCode = methodsByCode(this.methods);
    let from = '';
    for (;;) {
      const rows = await this.mi.call(
        'ARS110MI',
        'LstPayments',
        { FDAT: toDate8(q.from), TDAT: toDate8(q.to), PYNO: from || undefined },
        PAGE,
      );
      const fresh = from ? rows.filter((r) => r.PYNO > from) : rows;
      for (const r of fresh) {
        if (r.STAT !== '20') continue;
        yield {
          erpId: r.PYNO,
          ref: r.VTXT || r.PYNO,
          processorRef: r.PYRF || undefined,
          amountMinor: minor(r.CUAM, r.CUCD),
          currency: r.CUCD,
          date: fromDate8(r.PYDT),
          method: r.PYME ? (byCode.get(r.PYME) ?? r.PYME) : undefined,
        };
      }
      if (rows.length < PAGE || !fresh.length) return;
      from = fresh[fresh.length - 1].PYNO;
    }
  }

  private async paymentRef(pyno: string): Promise<ErpDocRef> {
    const [r] = await this.mi.call('ARS110MI', 'Get', { PYNO: pyno });
    return this.toPaymentRef(r);
  }

  private toPaymentRef(r: MiRecord): ErpDocRef {
    return docRef(r.PYNO, r.PYNO, r.STAT, M3_PAYMENT_STATUS, 'open');
  }

  // ---------------------------------------------------------------- journals

  async postJournal(j: ErpJournalInput, ctx: WriteContext): Promise<ErpDocRef> {
    checkJournal(CONNECTOR, j);
    return writeOnce({
      ...this.ops.write(ctx, 'postJournal', j),
      findRemote: async () => {
        const doc = await this.findJournalByRef(j.ref);
        return doc && doc.status !== 'draft' ? doc : null;
      },
      // A draft batch found by our ref is an earlier attempt that stopped before UpdBatch: it is completed.
      write: async () => {
        const existing = await this.findJournalByRef(j.ref);
        if (existing && existing.status !== 'draft') return existing;
        return this.postBatch(
          ctx,
          'postJournal',
          refText(j.ref, 40),
          j.lines,
          j.currency,
          j.date,
          j.memo,
          existing?.erpId,
        );
      },
    });
  }

  async reverseJournal(erpId: string, ctx: WriteContext): Promise<ErpDocRef> {
    return changeOnce({
      ...this.ops.change(ctx, 'reverseJournal', erpId),
      get: async () => {
        const [h] = await this.mi.call('GLS840MI', 'LstBatchHead', { BCHN: erpId }, 1);
        if (!h) throw failure('NotFound', `m3: GL batch ${erpId} does not exist`, { connector: 'm3', field: 'BCHN' });
        return this.batchRef(h);
      },
      // Only a posted batch is reversed: an unposted one (nothing booked) and a reversed one are reported as they are.
      done: (d) => d.status !== 'posted',
      send: async () => {
        const lines = await this.mi.call('GLS840MI', 'LstBatchLine', { BCHN: erpId }, 0);
        const reversal: JournalLine[] = lines.map((l) => {
          const amount = minor(l.CUAM, l.CUCD);
          return {
            account: l.AIT1,
            debitMinor: Math.max(0, -amount),
            creditMinor: Math.max(0, amount),
            description: `Reversal of ${l.VTXT.replace(/ #\d+$/, '')}`,
          };
        });
        const currency = lines[0]?.CUCD ?? 'USD';
        const date = new Date().toISOString().slice(0, 10);
        const existing = await this.mi.call('GLS840MI', 'LstBatchHead', { BTXT: `REV ${erpId}` }, 0);
        await this.postBatch(
          ctx,
          'reverseJournal',
          `REV ${erpId}`,
          reversal,
          currency,
          date,
          '',
          existing[0]?.BCHN,
          true,
        );
      },
    });
  }

  async findJournalByRef(ref: string): Promise<ErpDocRef | null> {
    const heads = await this.mi.call('GLS840MI', 'LstBatchHead', { BTXT: refText(ref, 40) }, 0);
    const head = heads.find((h) => h.STAT === '90') ?? heads[0];
    return head ? this.batchRef(head) : null;
  }

  private async batchRef(h: MiRecord): Promise<ErpDocRef> {
    let status = M3_BATCH_STATUS[h.STAT] ?? 'open';
    if (h.STAT === '90') {
      const rev = await this.mi.call('GLS840MI', 'LstBatchHead', { BTXT: `REV ${h.BCHN}` }, 0);
      if (rev.some((r) => r.STAT === '90')) status = 'reversed';
    }
    return { erpId: h.BCHN, number: h.VONO || undefined, status, rawStatus: h.STAT };
  }

  /** Adds the batch (unless `bchn` is an open batch found for this ref), its lines in one bulk call, then updates it. */
  private async postBatch(
    ctx: WriteContext,
    operation: string,
    btxt: string,
    lines: JournalLine[],
    currency: string,
    date: string,
    memo: string,
    bchn?: string,
    reversal = false,
  ): Promise<ErpDocRef> {
    const existed = !!bchn;
    if (!bchn) [{ BCHN: bchn }] = await this.mi.call('GLS840MI', 'AddBatchHead', { BTXT: btxt });
    const batch = bchn!;
    const bulk: BulkLine[] = lines.map((l, n) => {
      const marker = ` #${n + 1}`;
      const dims = l.dimensions ?? {};
      const order = this.dimensionOrder ?? Object.keys(dims).sort();
      const ait: MiFields = {};
      order.slice(0, 6).forEach((k, i) => (ait[`AIT${i + 2}`] = dims[k]));
      return {
        n,
        record: {
          BCHN: batch,
          AIT1: l.account,
          ...ait,
          CUAM: dec(l.debitMinor - l.creditMinor, currency),
          CUCD: currency,
          ACDT: toDate8(date),
          VTXT: `${(l.description ?? memo).slice(0, 40 - marker.length)}${marker}`,
        },
      };
    });
    await this.lines(ctx, operation, 'GLS840MI', 'AddBatchLine', bulk, existed, async () => {
      const rows = await this.mi.call('GLS840MI', 'LstBatchLine', { BCHN: batch }, 0);
      return new Set(
        rows
          .map((r) => /#(\d+)$/.exec(r.VTXT))
          .filter((m) => !!m)
          .map((m) => Number(m![1]) - 1),
      );
    });
    await this.mi.call('GLS840MI', 'UpdBatch', { BCHN: batch });
    const [h] = await this.mi.call('GLS840MI', 'LstBatchHead', { BCHN: batch }, 1);
    return reversal ? { erpId: h.BCHN, number: h.VONO, status: 'posted', rawStatus: h.STAT } : this.batchRef(h);
  }

  // ---------------------------------------------------------------- inventory and products

  async readOnHand(q: { skus?: string[]; location?: string } = {}): Promise<OnHand[]> {
    const warehouses = q.location
      ? [q.location]
      : (await this.mi.call('MMS005MI', 'LstWarehouses', {}, 0)).map((w) => w.WHLO);
    const out: OnHand[] = [];
    for (const whlo of warehouses) {
      const one = q.skus?.length === 1 ? q.skus[0] : undefined;
      const rows = await this.mi.call('MMS060MI', 'LstBalID', { WHLO: whlo, ITNO: one }, 0);
      const totals = new Map<string, number>();
      for (const r of rows) {
        if (q.skus?.length && !q.skus.includes(r.ITNO)) continue;
        totals.set(r.ITNO, (totals.get(r.ITNO) ?? 0) + Number(r.STQT));
      }
      for (const sku of q.skus ?? []) if (!totals.has(sku)) totals.set(sku, 0);
      for (const [sku, qty] of totals) out.push({ sku, location: whlo, qty });
    }
    return out.sort((a, b) => a.location.localeCompare(b.location) || a.sku.localeCompare(b.sku));
  }

  async adjustInventory(adjustments: InventoryAdjustment[], ctx: WriteContext): Promise<void> {
    const tag = `LB${sha256Hex(ctx.idempotencyKey ?? '', 16)}`;
    const lines: BulkLine[] = stockAdjustments(CONNECTOR, adjustments).map(({ index: n, adj: a }) => ({
      n,
      record: { WHLO: a.location, ITNO: a.sku, QLQT: String(a.delta), RSCD: 'LB', REMK: `${tag}#${n + 1}` },
    }));
    await writeOnce({
      ...this.ops.write(ctx, 'adjustInventory', adjustments),
      write: async () => {
        await this.lines(ctx, 'adjustInventory', 'MMS850MI', 'AddAdjust', lines, false, async () => {
          const seen = new Set<number>();
          const pairs = new Set(lines.map((l) => `${l.record.ITNO}|${l.record.WHLO}`));
          for (const pair of pairs) {
            const [itno, whlo] = pair.split('|');
            for (const t of await this.mi.call('MWS070MI', 'LstTransByItem', { ITNO: itno, WHLO: whlo }, 0)) {
              const m = t.REMK?.startsWith(`${tag}#`) ? Number(t.REMK.slice(tag.length + 1)) : NaN;
              if (m > 0) seen.add(m - 1);
            }
          }
          return seen;
        });
        return { lines: lines.length };
      },
    });
  }

  async listProducts(): Promise<ErpProduct[]> {
    const out: ErpProduct[] = [];
    let from = '';
    for (;;) {
      const rows = await this.mi.call('MMS200MI', 'LstItmByItm', { ITNO: from || undefined }, PAGE);
      const fresh = from ? rows.filter((r) => r.ITNO > from) : rows;
      for (const r of fresh) {
        if (r.STAT >= '90') continue;
        const currency = r.CUCD || 'USD';
        out.push({
          sku: r.ITNO,
          name: r.ITDS,
          priceMinor: minor(r.SAPR, currency),
          currency,
          uom: r.UNMS || undefined,
        });
      }
      if (rows.length < PAGE || !fresh.length) return out;
      from = fresh[fresh.length - 1].ITNO;
    }
  }

  // ---------------------------------------------------------------- plumbing

  private async lines(
    ctx: WriteContext,
    operation: string,
    program: string,
    transaction: string,
    lines: BulkLine[],
    parentExisted: boolean,
    findExisting: () => Promise<Set<number>>,
  ): Promise<void> {
    await bulkLinesOnce({
      db: this.db,
      key: ctx.idempotencyKey,
      operation,
      workflowId: ctx.workflowId,
      program,
      transaction,
      lines,
      parentExisted,
      findExisting,
      send: (txs) => this.mi.bulk(program, txs),
    });
  }
}
