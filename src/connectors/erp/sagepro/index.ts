import { rename } from 'node:fs/promises';
import path from 'node:path';
import type { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import { scrubText } from '../../../domain/card-data';
import { failure } from '../../../domain/errors';
import { formatDecimal, parseDecimal } from '../../../domain/money';
import type { Db } from '../../../db';
import { idempotentWrite } from '../../../db/external-writes';
import type { Logger } from '../../../logger';
import {
  changeOnce,
  checkDocument,
  checkJournal,
  checkPayment,
  customerKeys,
  customerName,
  describeLine,
  docRef,
  invalid as refused,
  lineAmountMinor,
  matchesCustomer,
  paymentTypeFor,
  sha256Hex,
  stockAdjustments,
  upsertCustomerOnce,
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
  ErpLine,
  ErpPaymentInput,
  ErpPaymentRecord,
  ErpProduct,
  ErpSalesOrderInput,
  InventoryAdjustment,
  OnHand,
  WriteContext,
} from '../types';
import {
  ACK_COLUMNS,
  CONTROL_COLUMNS,
  ERROR_COLUMNS,
  exists,
  fromSageDate,
  LAYOUTS,
  parseCsv,
  readIfExists,
  toCsv,
  toSageDate,
  TOTAL_COLUMN,
  writeAtomic,
  type BatchType,
  type Row,
} from './files';

/**
 * Sage Pro adapter. Sage Pro has no web API: writes are import batches (a CSV in the module's layout plus a control
 * file with batch id, record count and control total, written last and by rename) dropped into `<dropDir>/inbox/`;
 * the importer answers with `<dropDir>/ack/<batch>.ack` or `<dropDir>/error/<batch>.err`. Reads come from the CSV
 * exports in `<dropDir>/export/`.
 *
 * Idempotency: the batch id is derived from the idempotency key, so a retry finds its own earlier batch. Before a
 * batch is written, the adapter checks, in order: the batch's ack (already imported), the exports by our reference
 * (REFNO / EXTREF: imported, ack gone), and whether the batch still waits in the inbox or is held by the importer
 * (then it only waits again, never drops it twice). An ack that does not come within `ackTimeoutMs` is a retryable
 * ImportPending; an error file is ImportRejected, or GlAccountNotFound for an unknown account (both non-retryable).
 *
 * Input checks (document totals with whole quantities, journal balance, payments), customer matching and pay codes
 * come from ../common.ts; service items (SHIPPING) are document lines like any item, and IC batches skip them.
 */

export const SAGEPRO_CONNECTOR_VERSION = '1.0.0';
const TARGET = 'sagepro';

export interface SageProConnectorOptions {
  dropDir: string;
  db: Db;
  ackTimeoutMs: number;
  /** How often the ack and error folders are checked; default 100 ms. */
  pollMs?: number;
  logger?: Logger;
  /** The Sage Pro company's currency; documents in another currency are refused. Default USD. */
  currency?: string;
}

type AckRow = Record<(typeof ACK_COLUMNS)[number], string>;
type AckOutcome = { rows: AckRow[] } | { garbled: string };

const str = z.string();
const EXPORTS = {
  customers: z.object({ CUSTNO: str, COMPANY: str, EMAIL: str, PHONE: str, EXTREF: str }),
  items: z.object({ ITEM: str, ITMDESC: str, PRICE: str, STKUMID: str }),
  onhand: z.object({ ITEM: str, LOCTID: str, ONHAND: str.regex(/^-?\d+$/) }),
  salesorders: z.object({ SONO: str, REFNO: str, STATUS: str }),
  invoices: z.object({ INVNO: str, REFNO: str, DOCTYPE: str, STATUS: str }),
  receipts: z.object({
    RECEIPTNO: str,
    REFNO: str,
    INVNO: str,
    PAYDATE: str,
    AMOUNT: str,
    PAYCODE: str,
    CHECKNO: str,
    STATUS: str,
  }),
  journals: z.object({ JOURNALNO: str, REFNO: str, STATUS: str, REVERSES: str }),
  ictrans: z.object({ TRANNO: str, REFNO: str, LINENO: str }),
};
type ExportName = keyof typeof EXPORTS;
type ExportRow<N extends ExportName> = z.infer<(typeof EXPORTS)[N]>;

const ORDER_STATUS: Record<string, string> = { OPEN: 'open', CANCELLED: 'cancelled', INVOICED: 'completed' };
const DOC_STATUS: Record<string, string> = {
  UNPOSTED: 'draft',
  POSTED: 'posted',
  VOID: 'reversed',
  CANCELLED: 'cancelled',
};
const RECEIPT_STATUS: Record<string, string> = { APPLIED: 'applied', VOID: 'reversed' };
const JOURNAL_STATUS: Record<string, string> = { POSTED: 'posted', REVERSED: 'reversed' };

const invalid = (message: string, field: string) => refused(TARGET, message, field);

const doc = (erpId: string, raw: string, map: Record<string, string>): ErpDocRef => docRef(erpId, erpId, raw, map);

const sageToday = () => {
  const d = new Date();
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getMonth() + 1)}/${p(d.getDate())}/${d.getFullYear()}`;
};

export class SageProConnector implements ErpConnector {
  readonly system = 'sagepro' as const;
  private readonly db: Db;
  private readonly ops: ReturnType<typeof writesOf>;
  private readonly dropDir: string;
  private readonly ackTimeoutMs: number;
  private readonly pollMs: number;
  private readonly logger?: Logger;
  private readonly currency: string;

  constructor(opts: SageProConnectorOptions) {
    this.db = opts.db;
    this.ops = writesOf(opts.db, TARGET);
    this.dropDir = path.resolve(opts.dropDir);
    this.ackTimeoutMs = opts.ackTimeoutMs;
    this.pollMs = opts.pollMs ?? 100;
    this.logger = opts.logger;
    this.currency = opts.currency ?? 'USD';
  }

  /** The batch id of a write: the module code plus a hash of the idempotency key (stable across retries). */
  batchIdFor(type: BatchType, idempotencyKey: string): string {
    return `${type}${sha256Hex(idempotencyKey, 16).toUpperCase()}`;
  }

  private dir(sub: string, file?: string): string {
    return file ? path.join(this.dropDir, sub, file) : path.join(this.dropDir, sub);
  }

  // ---- validation and formatting ----

  private date(iso: string, field: string): string {
    const d = toSageDate(iso);
    if (!d) throw invalid(`${field} must be YYYY-MM-DD, got ${JSON.stringify(iso)}`, field);
    return d;
  }

  private money(minor: number): string {
    return formatDecimal({ amountMinor: minor, currency: this.currency });
  }

  private checkCurrency(currency: string): void {
    if (currency !== this.currency) {
      throw invalid(`the Sage Pro company currency is ${this.currency}, the document is in ${currency}`, 'currency');
    }
  }

  /** The shared document checks (whole quantities: the importer takes no others) plus the company currency. */
  private checkDocument(d: ErpDocumentInput): void {
    checkDocument(TARGET, d, { wholeQuantities: true });
    this.checkCurrency(d.currency);
  }

  private lineRows(lines: ErpLine[], qtyColumn: string): Row[] {
    return lines.map((l, i) => {
      const tax = l.taxMinor ?? 0;
      return {
        LINENO: i + 1,
        ITEM: l.sku,
        DESCRIP: l.description ?? '',
        [qtyColumn]: l.qty,
        PRICE: this.money(l.unitPriceMinor),
        TAXAMT: this.money(tax),
        EXTAMT: this.money(lineAmountMinor(l)),
      };
    });
  }

  // ---- exports ----

  private async readExport<N extends ExportName>(name: N): Promise<ExportRow<N>[]> {
    const file = this.dir('export', `${name}.csv`);
    const text = await readIfExists(file);
    if (text === undefined) {
      throw failure('UpstreamUnavailable', `sagepro: export ${name}.csv is missing in ${this.dir('export')}`, {
        connector: TARGET,
        code: 'EXPORT_MISSING',
      });
    }
    const mismatch = (field: string, why: string) =>
      failure('SchemaMismatch', `sagepro@${SAGEPRO_CONNECTOR_VERSION}: export ${name}.csv ${why}`, {
        connector: TARGET,
        version: SAGEPRO_CONNECTOR_VERSION,
        field,
      });
    let parsed: ReturnType<typeof parseCsv>;
    try {
      parsed = parseCsv(text);
    } catch (err) {
      throw mismatch('(file)', `is not valid CSV: ${(err as Error).message}`);
    }
    const schema = EXPORTS[name];
    const missing = Object.keys(schema.shape).find((c) => !parsed.header.includes(c));
    if (missing) throw mismatch(`${name}.${missing}`, `has no column ${missing} (columns: ${parsed.header.join(',')})`);
    return parsed.rows.map((r, i) => {
      const ok = schema.safeParse(r);
      if (!ok.success) {
        const field = String(ok.error.issues[0].path[0] ?? '(row)');
        throw mismatch(`${name}.${field}`, `row ${i + 1} column ${field}: ${ok.error.issues[0].message}`);
      }
      return ok.data as ExportRow<N>;
    });
  }

  private async findOne<N extends ExportName>(name: N, pred: (r: ExportRow<N>) => boolean, what: string, id: string) {
    const r = (await this.readExport(name)).find(pred);
    if (!r)
      throw failure('NotFound', `sagepro: ${what} ${id} does not exist`, { connector: TARGET, code: 'NOT_FOUND' });
    return r;
  }

  // ---- batches ----

  /** The ack of a batch: its rows, `garbled` when unreadable, or null when there is none. */
  private async ackOf(batchId: string): Promise<AckOutcome | null> {
    const text = await readIfExists(this.dir('ack', `${batchId}.ack`));
    if (text === undefined) return null;
    try {
      const { header, rows } = parseCsv(text);
      const good =
        ACK_COLUMNS.every((c, i) => header[i] === c) &&
        rows.length > 0 &&
        rows.every((r) => r.BATCHID === batchId && r.STATUS === 'OK' && /^\d+$/.test(r.RECNO) && r.DOCNO);
      return good ? { rows: rows as AckRow[] } : { garbled: text };
    } catch {
      return { garbled: text };
    }
  }

  private rejection(op: string, batchId: string, text: string): ApplicationFailure {
    let errors: { record: number; field: string; code: string; message: string }[] = [];
    try {
      const { header, rows } = parseCsv(text);
      if (ERROR_COLUMNS.every((c) => header.includes(c))) {
        errors = rows.map((r) => ({ record: Number(r.RECNO), field: r.FIELD, code: r.CODE, message: r.MESSAGE }));
      }
    } catch {
      // an unreadable error file is still a rejection; its text goes into the message below
    }
    const summary = errors.length
      ? errors
          .map((e) => (e.record > 0 ? `record ${e.record} ${e.field}: ${e.message}` : `${e.field}: ${e.message}`))
          .join('; ')
      : text.slice(0, 500);
    const first = errors.find((e) => e.code === 'GL_ACCOUNT_NOT_FOUND') ?? errors[0];
    const type = first?.code === 'GL_ACCOUNT_NOT_FOUND' ? 'GlAccountNotFound' : 'ImportRejected';
    return failure(type, scrubText(`sagepro ${op}: batch ${batchId} rejected: ${summary}`), {
      connector: TARGET,
      code: first?.code ?? 'REJECTED',
      field: first?.field,
      record: first?.record,
      batchId,
      errors,
    });
  }

  /**
   * Drops a batch (unless it is already imported or still waiting) and waits for the importer's answer. Throws
   * ImportPending on timeout, ImportRejected / GlAccountNotFound on an error file.
   */
  private async runBatch(op: string, type: BatchType, batchId: string, rows: Row[]): Promise<AckOutcome> {
    const started = Date.now();
    const earlier = await this.ackOf(batchId);
    if (earlier) return earlier;
    if (!(await exists(this.dir('inbox')))) {
      throw failure('UpstreamUnavailable', `sagepro: drop folder ${this.dir('inbox')} does not exist`, {
        connector: TARGET,
        code: 'DROP_FOLDER_MISSING',
      });
    }
    const ctl = `${batchId}.ctl`;
    const waiting = (await exists(this.dir('inbox', ctl))) || (await exists(this.dir('processing', ctl)));
    if (!waiting) {
      const oldErr = this.dir('error', `${batchId}.err`);
      // An earlier attempt was rejected and the caller retries anyway (e.g. after a fix): keep that error aside.
      if (await exists(oldErr)) await rename(oldErr, this.dir('error', `${batchId}.${Date.now()}.err`));
      const layout = LAYOUTS[type];
      const totalCol = TOTAL_COLUMN[type];
      const total = totalCol ? rows.reduce((a, r) => a + this.minorOf(r[totalCol], type), 0) : 0;
      const dataFile = `${batchId}.csv`;
      await writeAtomic(this.dir('inbox', dataFile), toCsv(layout, rows));
      const control = {
        BATCHID: batchId,
        BATCHTYPE: type,
        DATAFILE: dataFile,
        RECORDCOUNT: rows.length,
        CONTROLTOTAL: type === 'IC' ? String(total / 100) : this.money(total),
      };
      await writeAtomic(this.dir('inbox', ctl), toCsv(CONTROL_COLUMNS, [control]));
    }
    const deadline = started + this.ackTimeoutMs;
    for (;;) {
      const ack = await this.ackOf(batchId);
      if (ack) {
        this.log(op, batchId, type, rows.length, 'garbled' in ack ? 'ack-garbled' : 'ack', started);
        return ack;
      }
      const err = await readIfExists(this.dir('error', `${batchId}.err`));
      if (err !== undefined) {
        this.log(op, batchId, type, rows.length, 'rejected', started);
        throw this.rejection(op, batchId, err);
      }
      if (Date.now() >= deadline) {
        this.log(op, batchId, type, rows.length, 'pending', started);
        throw failure(
          'ImportPending',
          `sagepro ${op}: batch ${batchId} not acknowledged within ${this.ackTimeoutMs} ms; ` +
            'it stays queued and a retry waits for it',
          { connector: TARGET, code: 'ACK_TIMEOUT', batchId },
        );
      }
      await new Promise((r) => setTimeout(r, this.pollMs));
    }
  }

  private minorOf(v: string | number | undefined, type: BatchType): number {
    if (v === undefined || v === '') return 0;
    if (type === 'IC') return Number(v) * 100;
    return parseDecimal(String(v), this.currency).amountMinor;
  }

  private log(op: string, batchId: string, type: string, records: number, outcome: string, started: number): void {
    this.logger?.info(
      { connector: TARGET, op, batchId, type, records, outcome, ms: Date.now() - started },
      'sagepro batch',
    );
  }

  /** After a garbled ack: the export decides whether the batch was applied. */
  private async confirm<T>(op: string, batchId: string, find: () => Promise<T | null>): Promise<T> {
    const found = await find();
    if (found) return found;
    throw failure(
      'SchemaMismatch',
      `sagepro@${SAGEPRO_CONNECTOR_VERSION} ${op}: the ack of batch ${batchId} is unreadable ` +
        'and the exports do not show the record',
      { connector: TARGET, version: SAGEPRO_CONNECTOR_VERSION, field: 'ack', batchId },
    );
  }

  /** Creates a record once: ack or export lookup on retry and before writing, then one batch. */
  private async createOnce(
    op: string,
    type: BatchType,
    ctx: WriteContext,
    request: unknown,
    find: () => Promise<ErpDocRef | null>,
    rows: () => Row[],
    fromAck: (ack: AckRow[]) => ErpDocRef,
  ): Promise<ErpDocRef> {
    const batchId = this.batchIdFor(type, ctx.idempotencyKey);
    const data = rows();
    const r = await idempotentWrite(this.db, {
      key: ctx.idempotencyKey,
      target: TARGET,
      operation: op,
      workflowId: ctx.workflowId,
      request,
      findRemote: async () => {
        const ack = await this.ackOf(batchId);
        const d = ack && 'rows' in ack ? fromAck(ack.rows) : await find();
        return d ? { externalId: d.erpId, result: d } : null;
      },
      write: async () => {
        const existing = await find();
        if (existing) return { externalId: existing.erpId, result: existing };
        const ack = await this.runBatch(op, type, batchId, data);
        const d = 'rows' in ack ? fromAck(ack.rows) : await this.confirm(op, batchId, find);
        return { externalId: d.erpId, result: d };
      },
    });
    return r.result;
  }

  /** A status change that is skipped when the document already has the target status (../common.ts). */
  private changeOnce(
    op: string,
    type: BatchType,
    erpId: string,
    ctx: WriteContext,
    get: () => Promise<ErpDocRef>,
    done: (d: ErpDocRef) => boolean,
    row: Row,
  ): Promise<ErpDocRef> {
    const batchId = this.batchIdFor(type, ctx.idempotencyKey);
    const send = () => this.runBatch(op, type, batchId, [row]);
    return changeOnce({ ...this.ops.change(ctx, op, erpId), get, done, send });
  }

  // ---- customers ----

  async findCustomers(q: { email?: string; phone?: string; externalRef?: string }): Promise<ErpCustomer[]> {
    const keys = customerKeys(q);
    if (!keys.email && !keys.phone && !keys.externalRef) return [];
    const rows = await this.readExport('customers');
    return rows
      .filter((r) => matchesCustomer(keys, { externalRef: r.EXTREF, email: r.EMAIL, phones: [r.PHONE] }))
      .map((r) => this.customerOut(r));
  }

  private customerOut(r: ExportRow<'customers'>): ErpCustomer {
    return {
      erpId: r.CUSTNO,
      name: r.COMPANY,
      email: r.EMAIL || undefined,
      phone: r.PHONE || undefined,
      externalRef: r.EXTREF || undefined,
    };
  }

  private async customerByRef(ref: string): Promise<ErpCustomer | null> {
    const r = (await this.readExport('customers')).find((c) => c.EXTREF === ref);
    return r ? this.customerOut(r) : null;
  }

  async upsertCustomer(c: ErpCustomerInput, ctx: WriteContext): Promise<ErpCustomer> {
    const name = customerName(TARGET, c);
    const batchId = this.batchIdFor('CU', ctx.idempotencyKey);
    return upsertCustomerOnce({
      ...this.ops.write(ctx, 'upsertCustomer', c),
      name,
      byRef: () => this.customerByRef(c.externalRef),
      save: async (existing) => {
        const contact = [c.firstName, c.lastName].filter(Boolean).join(' ');
        const row: Row = {
          ACTION: existing ? 'U' : 'A',
          CUSTNO: existing?.erpId ?? '',
          COMPANY: name,
          CONTACT: contact || name,
          EMAIL: c.email ?? '',
          PHONE: c.phone ?? '',
          ADDRESS1: c.address?.line1 ?? '',
          ADDRESS2: c.address?.line2 ?? '',
          CITY: c.address?.city ?? '',
          STATE: c.address?.region ?? '',
          ZIP: c.address?.postalCode ?? '',
          COUNTRY: c.address?.country ?? '',
          EXTREF: c.externalRef,
        };
        const ack = await this.runBatch('upsertCustomer', 'CU', batchId, [row]);
        const found = await this.confirm('upsertCustomer', batchId, () => this.customerByRef(c.externalRef));
        if ('rows' in ack && ack.rows[0].DOCNO !== found.erpId) {
          throw failure(
            'SchemaMismatch',
            `sagepro: ack names customer ${ack.rows[0].DOCNO}, the export ${found.erpId}`,
            {
              connector: TARGET,
              version: SAGEPRO_CONNECTOR_VERSION,
              field: 'DOCNO',
            },
          );
        }
        return found;
      },
    });
  }

  // ---- sales orders ----

  async createSalesOrder(o: ErpSalesOrderInput, ctx: WriteContext): Promise<ErpDocRef> {
    this.checkDocument(o);
    const date = this.date(o.date, 'date');
    const find = async () => {
      const r = (await this.readExport('salesorders')).find((x) => x.REFNO === o.ref && x.STATUS !== 'CANCELLED');
      return r ? doc(r.SONO, r.STATUS, ORDER_STATUS) : null;
    };
    const rows = () =>
      this.lineRows(o.lines, 'QTYORD').map((l) => ({
        ACTION: 'A',
        REFNO: o.ref,
        SONO: '',
        CUSTNO: o.customerErpId,
        PONUM: o.poNumber ?? '',
        ORDDATE: date,
        ...l,
      }));
    return this.createOnce('createSalesOrder', 'SO', ctx, o, find, rows, (ack) =>
      doc(ack[0].DOCNO, 'OPEN', ORDER_STATUS),
    );
  }

  async getSalesOrder(erpId: string): Promise<ErpDocRef> {
    const r = await this.findOne('salesorders', (x) => x.SONO === erpId, 'sales order', erpId);
    return doc(r.SONO, r.STATUS, ORDER_STATUS);
  }

  async cancelSalesOrder(erpId: string, ctx: WriteContext): Promise<ErpDocRef> {
    return this.changeOnce(
      'cancelSalesOrder',
      'SO',
      erpId,
      ctx,
      () => this.getSalesOrder(erpId),
      (d) => d.status === 'cancelled',
      { ACTION: 'X', SONO: erpId },
    );
  }

  // ---- invoices and credit memos (AR module) ----

  private async getArDoc(erpId: string, doctype: 'I' | 'C'): Promise<ErpDocRef> {
    const what = doctype === 'I' ? 'invoice' : 'credit memo';
    const r = await this.findOne('invoices', (x) => x.INVNO === erpId && x.DOCTYPE === doctype, what, erpId);
    return doc(r.INVNO, r.STATUS, DOC_STATUS);
  }

  private async arByRef(ref: string, doctype: 'I' | 'C'): Promise<ErpDocRef | null> {
    const r = (await this.readExport('invoices')).find(
      (x) => x.REFNO === ref && x.DOCTYPE === doctype && x.STATUS !== 'VOID' && x.STATUS !== 'CANCELLED',
    );
    return r ? doc(r.INVNO, r.STATUS, DOC_STATUS) : null;
  }

  private arRows(
    d: ErpDocumentInput,
    doctype: 'I' | 'C',
    extra: { SONO?: string; APPLYTO?: string; REASON?: string },
  ): Row[] {
    const date = this.date(d.date, 'date');
    return this.lineRows(d.lines, 'QTY').map((l) => ({
      ACTION: 'A',
      REFNO: d.ref,
      INVNO: '',
      DOCTYPE: doctype,
      CUSTNO: d.customerErpId,
      SONO: extra.SONO ?? '',
      APPLYTO: extra.APPLYTO ?? '',
      INVDATE: date,
      REASON: extra.REASON ?? '',
      ...l,
    }));
  }

  async createInvoice(i: ErpInvoiceInput, ctx: WriteContext): Promise<ErpDocRef> {
    this.checkDocument(i);
    const rows = this.arRows(i, 'I', { SONO: i.salesOrderErpId });
    return this.createOnce(
      'createInvoice',
      'AR',
      ctx,
      i,
      () => this.arByRef(i.ref, 'I'),
      () => rows,
      (ack) => doc(ack[0].DOCNO, 'UNPOSTED', DOC_STATUS),
    );
  }

  async postInvoice(erpId: string, ctx: WriteContext): Promise<ErpDocRef> {
    return this.changeOnce(
      'postInvoice',
      'AR',
      erpId,
      ctx,
      () => this.getArDoc(erpId, 'I'),
      (d) => d.status === 'posted',
      { ACTION: 'P', INVNO: erpId },
    );
  }

  async reverseInvoice(erpId: string, ctx: WriteContext): Promise<ErpDocRef> {
    return this.changeOnce(
      'reverseInvoice',
      'AR',
      erpId,
      ctx,
      () => this.getArDoc(erpId, 'I'),
      (d) => d.status === 'reversed',
      { ACTION: 'V', INVNO: erpId },
    );
  }

  async draftCreditMemo(c: ErpCreditMemoInput, ctx: WriteContext): Promise<ErpDocRef> {
    this.checkDocument(c);
    if (!c.reason) throw invalid('a credit memo needs a reason', 'reason');
    const rows = this.arRows(c, 'C', { APPLYTO: c.invoiceErpId, REASON: c.reason });
    return this.createOnce(
      'draftCreditMemo',
      'AR',
      ctx,
      c,
      () => this.arByRef(c.ref, 'C'),
      () => rows,
      (ack) => doc(ack[0].DOCNO, 'UNPOSTED', DOC_STATUS),
    );
  }

  async postCreditMemo(erpId: string, ctx: WriteContext): Promise<ErpDocRef> {
    return this.changeOnce(
      'postCreditMemo',
      'AR',
      erpId,
      ctx,
      () => this.getArDoc(erpId, 'C'),
      (d) => d.status === 'posted',
      { ACTION: 'P', INVNO: erpId },
    );
  }

  async cancelCreditMemo(erpId: string, ctx: WriteContext): Promise<ErpDocRef> {
    return this.changeOnce(
      'cancelCreditMemo',
      'AR',
      erpId,
      ctx,
      () => this.getArDoc(erpId, 'C'),
      (d) => d.status === 'cancelled',
      { ACTION: 'X', INVNO: erpId },
    );
  }

  // ---- cash receipts ----

  private async getReceipt(erpId: string): Promise<ErpDocRef> {
    const r = await this.findOne('receipts', (x) => x.RECEIPTNO === erpId, 'cash receipt', erpId);
    return doc(r.RECEIPTNO, r.STATUS, RECEIPT_STATUS);
  }

  async applyPayment(p: ErpPaymentInput, ctx: WriteContext): Promise<ErpDocRef> {
    checkPayment(TARGET, p);
    this.checkCurrency(p.currency);
    const row: Row = {
      ACTION: 'A',
      REFNO: p.ref,
      RECEIPTNO: '',
      CUSTNO: p.customerErpId,
      INVNO: p.invoiceErpId,
      PAYDATE: this.date(p.date, 'date'),
      AMOUNT: this.money(p.amountMinor),
      PAYCODE: paymentTypeFor(p.method),
      CHECKNO: p.processorRef,
    };
    const find = async () => {
      const r = (await this.readExport('receipts')).find((x) => x.REFNO === p.ref && x.STATUS === 'APPLIED');
      return r ? doc(r.RECEIPTNO, r.STATUS, RECEIPT_STATUS) : null;
    };
    return this.createOnce(
      'applyPayment',
      'CR',
      ctx,
      p,
      find,
      () => [row],
      (ack) => doc(ack[0].DOCNO, 'APPLIED', RECEIPT_STATUS),
    );
  }

  async unapplyPayment(paymentErpId: string, ctx: WriteContext): Promise<ErpDocRef> {
    return this.changeOnce(
      'unapplyPayment',
      'CR',
      paymentErpId,
      ctx,
      () => this.getReceipt(paymentErpId),
      (d) => d.status === 'reversed',
      { ACTION: 'V', RECEIPTNO: paymentErpId },
    );
  }

  async *listPayments(q: { from: string; to: string }): AsyncIterable<ErpPaymentRecord> {
    this.date(q.from, 'from');
    this.date(q.to, 'to');
    for (const r of await this.readExport('receipts')) {
      if (r.STATUS !== 'APPLIED') continue;
      const date = fromSageDate(r.PAYDATE);
      if (!date) {
        throw failure(
          'SchemaMismatch',
          `sagepro@${SAGEPRO_CONNECTOR_VERSION}: receipt ${r.RECEIPTNO} has PAYDATE '${r.PAYDATE}'`,
          {
            connector: TARGET,
            version: SAGEPRO_CONNECTOR_VERSION,
            field: 'receipts.PAYDATE',
          },
        );
      }
      if (date < q.from || date > q.to) continue;
      yield {
        erpId: r.RECEIPTNO,
        ref: r.REFNO || r.RECEIPTNO,
        processorRef: r.CHECKNO || undefined,
        amountMinor: parseDecimal(r.AMOUNT, this.currency).amountMinor,
        currency: this.currency,
        date,
        method: r.PAYCODE,
      };
    }
  }

  // ---- journals ----

  async postJournal(j: ErpJournalInput, ctx: WriteContext): Promise<ErpDocRef> {
    checkJournal(TARGET, j);
    this.checkCurrency(j.currency);
    const date = this.date(j.date, 'date');
    const rows = j.lines.map((l, i) => ({
      ACTION: 'A',
      REFNO: j.ref,
      JOURNALNO: '',
      SOURCE: j.journal ?? 'GJ',
      JEDATE: date,
      MEMO: j.memo,
      LINENO: i + 1,
      GLACCT: l.account,
      DEBIT: this.money(l.debitMinor),
      CREDIT: this.money(l.creditMinor),
      DESCRIP: describeLine(l.description, l.dimensions) ?? '',
    }));
    return this.createOnce(
      'postJournal',
      'GL',
      ctx,
      j,
      () => this.findJournalByRef(j.ref),
      () => rows,
      (ack) => doc(ack[0].DOCNO, 'POSTED', JOURNAL_STATUS),
    );
  }

  async reverseJournal(erpId: string, ctx: WriteContext): Promise<ErpDocRef> {
    const get = async () => {
      const r = await this.findOne('journals', (x) => x.JOURNALNO === erpId, 'journal', erpId);
      return doc(r.JOURNALNO, r.STATUS, JOURNAL_STATUS);
    };
    return this.changeOnce('reverseJournal', 'GL', erpId, ctx, get, (d) => d.status === 'reversed', {
      ACTION: 'V',
      JOURNALNO: erpId,
    });
  }

  async findJournalByRef(ref: string): Promise<ErpDocRef | null> {
    const r = (await this.readExport('journals')).find((x) => x.REFNO === ref && x.REVERSES === '');
    return r ? doc(r.JOURNALNO, r.STATUS, JOURNAL_STATUS) : null;
  }

  // ---- inventory and products ----

  async readOnHand(q: { skus?: string[]; location?: string } = {}): Promise<OnHand[]> {
    const skus = q.skus ? new Set(q.skus) : undefined;
    return (await this.readExport('onhand'))
      .filter((r) => (!skus || skus.has(r.ITEM)) && (!q.location || r.LOCTID === q.location))
      .map((r) => ({ sku: r.ITEM, location: r.LOCTID, qty: Number(r.ONHAND) }));
  }

  async adjustInventory(adjustments: InventoryAdjustment[], ctx: WriteContext): Promise<void> {
    const trandate = sageToday();
    const rows: Row[] = stockAdjustments(TARGET, adjustments, { wholeUnits: true }).map(({ index, adj }) => ({
      ACTION: 'A',
      REFNO: ctx.idempotencyKey,
      LINENO: index + 1,
      ITEM: adj.sku,
      LOCTID: adj.location,
      QTY: adj.delta,
      TRANDATE: trandate,
    }));
    if (rows.length === 0) return;
    const batchId = this.batchIdFor('IC', ctx.idempotencyKey);
    const result = { batchId, lines: rows.length };
    // The IC export lists each applied line under our REFNO: all of them present means the batch was imported.
    const imported = async () => {
      const mine = (await this.readExport('ictrans')).filter((t) => t.REFNO === ctx.idempotencyKey);
      return mine.length >= rows.length ? result : null;
    };
    await idempotentWrite(this.db, {
      key: ctx.idempotencyKey,
      target: TARGET,
      operation: 'adjustInventory',
      workflowId: ctx.workflowId,
      request: adjustments,
      findRemote: async () => {
        const ack = await this.ackOf(batchId);
        const done = ack && 'rows' in ack ? result : await imported();
        return done ? { externalId: batchId, result } : null;
      },
      write: async () => {
        if (!(await imported())) {
          const ack = await this.runBatch('adjustInventory', 'IC', batchId, rows);
          if (!('rows' in ack)) await this.confirm('adjustInventory', batchId, imported);
        }
        return { externalId: batchId, result };
      },
    });
  }

  async listProducts(): Promise<ErpProduct[]> {
    return (await this.readExport('items')).map((r) => ({
      sku: r.ITEM,
      name: r.ITMDESC,
      priceMinor: parseDecimal(r.PRICE, this.currency).amountMinor,
      currency: this.currency,
      uom: r.STKUMID || undefined,
    }));
  }
}
