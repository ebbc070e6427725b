import type { ApplicationFailure } from '@temporalio/common';
import type { z } from 'zod';
import { scrubText } from '../../../domain/card-data';
import { errorTypeOf, failure } from '../../../domain/errors';
import { formatDecimal, parseDecimal } from '../../../domain/money';
import type { Db } from '../../../db';
import { idempotentWrite } from '../../../db/external-writes';
import type { Logger } from '../../../logger';
import { CachedTokenProvider, HttpClient, type HttpClientOptions } from '../../http';
import {
  changeOnce,
  checkDate,
  checkDocument,
  checkJournal,
  checkPayment,
  createOnce,
  customerKeys,
  customerName,
  describeLine,
  matchesCustomer,
  paymentTypeFor,
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
  adjustmentRow,
  customerRow,
  invLocRow,
  invoiceRow,
  journalRow,
  memoRow,
  odataPage,
  orderRow,
  partRow,
  receiptRow,
  routerResponse,
  salesOrderEntity,
  tokenResponse,
  transactionResponse,
  type CustomerRow,
  type InvoiceRow,
  type JournalRow,
  type MemoRow,
  type OrderRow,
  type ReceiptRow,
} from './schemas';

/**
 * Epicor Prophet 21 adapter. Reads go through OData (`/odataservice/odata/{table|view}/...`) and the entity API;
 * writes go through the Transaction API on the UI server (found with `/api/ui/router/v1`). P21 has no idempotency of
 * its own, so every write goes through `idempotentWrite` and looks our reference up before creating: `WebReferenceNo`
 * on customers and documents, `JournalRef` on journals, `AdjustmentRef` on inventory adjustments.
 *
 * A multi-transaction request (inventory adjustments) can fail some transactions and pass others: the passed ones
 * are recorded per line in `external_writes` (`<key>/line-<n>`, n from 1) and a retryable PartialFailure is thrown,
 * so the retry sends only the lines that failed.
 *
 * Input checks (document totals, journal balance, payments), customer matching and pay codes come from ../common.ts;
 * service items (SHIPPING) are document lines like any part, and inventory adjustments skip them.
 */

export const P21_CONNECTOR_VERSION = '1.0.0';
const TARGET = 'p21';
const ODATA_ACCEPT = 'application/json;odata.metadata=minimal;IEEE754Compatible=true';
const FILTER_CHUNK = 20;

export interface P21ConnectorOptions {
  baseUrl: string;
  db: Db;
  username: string;
  password: string;
  logger?: Logger;
  timeoutMs?: number;
  breaker?: HttpClientOptions['breaker'];
  /** OData page size ($top); default 200. */
  pageSize?: number;
}

type EditMap = Record<string, string | number | null | undefined>;
interface Element {
  Name: string;
  Type: 'Form' | 'List';
  Keys: string[];
  Rows: { Edits: { Name: string; Value: string | number | null }[] }[];
}
interface TxOutcome {
  passed: boolean;
  keys: Record<string, string>;
  messages: string[];
}

function form(name: string, edits: EditMap, keys: string[] = []): Element {
  return { Name: name, Type: 'Form', Keys: keys, Rows: [{ Edits: toEdits(edits) }] };
}

function list(name: string, rows: EditMap[]): Element {
  return { Name: name, Type: 'List', Keys: [], Rows: rows.map((r) => ({ Edits: toEdits(r) })) };
}

function toEdits(edits: EditMap): { Name: string; Value: string | number | null }[] {
  return Object.entries(edits)
    .filter(([, v]) => v !== undefined)
    .map(([Name, Value]) => ({ Name, Value: Value as string | number | null }));
}

/** An OData string literal. */
export function lit(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

const isoDate = (v: string) => v.slice(0, 10);

const orderDoc = (r: OrderRow): ErpDocRef => ({
  erpId: r.OrderNo,
  number: r.OrderNo,
  status: r.CancelFlag === 'Y' ? 'cancelled' : r.Completed === 'Y' ? 'completed' : 'open',
  rawStatus: r.Status ?? undefined,
});
const invoiceDoc = (r: InvoiceRow): ErpDocRef => ({
  erpId: r.InvoiceNo,
  number: r.InvoiceNo,
  status: r.Reversed === 'Y' ? 'reversed' : r.Approved === 'Y' ? 'posted' : 'draft',
  rawStatus: r.Status ?? undefined,
});
const receiptDoc = (r: ReceiptRow): ErpDocRef => ({
  erpId: r.ReceiptNo,
  number: r.ReceiptNo,
  status: r.Voided === 'Y' ? 'reversed' : 'applied',
  rawStatus: r.Status ?? undefined,
});
const memoDoc = (r: MemoRow): ErpDocRef => ({
  erpId: r.MemoNo,
  number: r.MemoNo,
  status: r.CancelFlag === 'Y' ? 'cancelled' : r.Approved === 'Y' ? 'posted' : 'draft',
  rawStatus: r.Status ?? undefined,
});
const journalDoc = (r: JournalRow): ErpDocRef => ({
  erpId: r.JournalNo,
  number: r.JournalNo,
  status: r.Reversed === 'Y' ? 'reversed' : 'posted',
  rawStatus: r.Status ?? undefined,
});
const customerOut = (r: CustomerRow): ErpCustomer => ({
  erpId: r.CustomerID,
  name: r.CustomerName,
  email: r.EmailAddress ?? undefined,
  phone: r.PhoneNumber ?? undefined,
  externalRef: r.WebReferenceNo ?? undefined,
});

export class P21Connector implements ErpConnector {
  readonly system = 'p21' as const;
  readonly tokens: CachedTokenProvider;
  private readonly api: HttpClient;
  private readonly tokenClient: HttpClient;
  private readonly db: Db;
  private readonly ops: ReturnType<typeof writesOf>;
  private readonly opts: P21ConnectorOptions;
  private readonly pageSize: number;
  private refreshToken: string | undefined;
  private ui: Promise<HttpClient> | undefined;

  constructor(opts: P21ConnectorOptions) {
    this.opts = opts;
    this.db = opts.db;
    this.ops = writesOf(opts.db, TARGET);
    this.pageSize = opts.pageSize ?? 200;
    const common = {
      connector: TARGET,
      version: P21_CONNECTOR_VERSION,
      timeoutMs: opts.timeoutMs,
      logger: opts.logger,
      breaker: opts.breaker,
    };
    this.tokenClient = new HttpClient({ ...common, baseUrl: opts.baseUrl });
    this.tokens = new CachedTokenProvider(() => this.fetchToken());
    this.api = new HttpClient({
      ...common,
      baseUrl: opts.baseUrl,
      auth: this.tokens,
      headers: { accept: ODATA_ACCEPT },
    });
  }

  /** The breaker state of the middleware (OData and entity API) client. */
  get breakerState() {
    return this.api.breakerState;
  }

  /** Closes the HTTP clients. */
  async close(): Promise<void> {
    const ui = this.ui ? await this.ui.catch(() => undefined) : undefined;
    await Promise.all([this.api.close(), this.tokenClient.close(), ui?.close()]);
  }

  // ---- auth and transport ----

  private async fetchToken(): Promise<{ token: string; expiresInSeconds: number }> {
    if (this.refreshToken) {
      try {
        return await this.tokenRequest({ GrantType: 'refresh_token', RefreshToken: this.refreshToken });
      } catch (err) {
        // A refresh token that expired or was revoked: log in again with the credentials.
        if (errorTypeOf(err) !== 'AuthFailed') throw err;
        this.refreshToken = undefined;
      }
    }
    return this.tokenRequest({ username: this.opts.username, password: this.opts.password });
  }

  private async tokenRequest(body: Record<string, string>) {
    const r = await this.tokenClient.request({
      method: 'POST',
      path: '/api/security/token/v2',
      body,
      schema: tokenResponse,
    });
    this.refreshToken = r.RefreshToken ?? undefined;
    return { token: r.AccessToken, expiresInSeconds: r.ExpiresInSeconds };
  }

  /** The Transaction API client, on the UI server that the router names. */
  private uiClient(): Promise<HttpClient> {
    this.ui ??= (async () => {
      const r = await this.api.request({
        method: 'GET',
        path: '/api/ui/router/v1',
        query: { urlType: 'external' },
        schema: routerResponse,
      });
      return new HttpClient({
        connector: TARGET,
        version: P21_CONNECTOR_VERSION,
        baseUrl: r.Url,
        timeoutMs: this.opts.timeoutMs,
        logger: this.opts.logger,
        breaker: this.opts.breaker,
        auth: this.tokens,
      });
    })().catch((err: unknown) => {
      this.ui = undefined;
      throw err;
    });
    return this.ui;
  }

  private async odata<T extends z.ZodType>(
    kind: 'table' | 'view',
    name: string,
    row: T,
    q: { filter?: string; orderby?: string; top: number; skip?: number },
  ): Promise<z.infer<T>[]> {
    const page = await this.api.request({
      method: 'GET',
      path: `/odataservice/odata/${kind}/${name}`,
      query: { $filter: q.filter, $orderby: q.orderby, $top: q.top, $skip: q.skip || undefined },
      schema: odataPage(row),
    });
    return page.value as z.infer<T>[];
  }

  /** Every row matching the filter, paged with $top/$skip. */
  private async *rows<T extends z.ZodType>(
    kind: 'table' | 'view',
    name: string,
    row: T,
    filter?: string,
    orderby?: string,
  ): AsyncGenerator<z.infer<T>> {
    for (let skip = 0; ; skip += this.pageSize) {
      const page = await this.odata(kind, name, row, { filter, orderby, top: this.pageSize, skip });
      yield* page;
      if (page.length < this.pageSize) return;
    }
  }

  private async all<T extends z.ZodType>(kind: 'table' | 'view', name: string, row: T, filter?: string) {
    const out: z.infer<T>[] = [];
    for await (const r of this.rows(kind, name, row, filter)) out.push(r);
    return out;
  }

  private async first<T extends z.ZodType>(kind: 'table' | 'view', name: string, row: T, filter: string) {
    const [r] = await this.odata(kind, name, row, { filter, top: 1 });
    return r as z.infer<T> | undefined;
  }

  private async getOne<T extends z.ZodType>(view: string, key: string, id: string, row: T, what: string) {
    const r = await this.first('view', view, row, `${key} eq ${lit(id)}`);
    if (!r) throw failure('NotFound', `p21: ${what} ${id} does not exist`, { connector: TARGET, code: 'NOT_FOUND' });
    return r;
  }

  /** Sends one Transaction API request; returns the outcome of each transaction in order. */
  private async transact(name: string, transactions: Element[][], op: string): Promise<TxOutcome[]> {
    const ui = await this.uiClient();
    const res = await ui.request({
      method: 'POST',
      path: '/api/v2/transaction',
      body: {
        Name: name,
        UseCodeValues: false,
        IgnoreDisabled: true,
        Transactions: transactions.map((DataElements) => ({ Status: 'New', DataElements })),
      },
      schema: transactionResponse,
    });
    const txs = res.Results.Transactions;
    if (txs.length !== transactions.length) {
      throw failure(
        'SchemaMismatch',
        `p21@${P21_CONNECTOR_VERSION}: ${op} sent ${transactions.length} transactions, the response has ${txs.length}`,
        { connector: TARGET, version: P21_CONNECTOR_VERSION, field: 'Results.Transactions' },
      );
    }
    const messages = res.Messages ?? [];
    const failedCount = txs.filter((t) => t.Status !== 'Passed').length;
    if (res.Summary.Failed > 0 && failedCount === 0) {
      // Summary says something failed but no transaction owns it: trust the summary, fail them all.
      return txs.map(() => ({ passed: false, keys: {}, messages }));
    }
    return txs.map((t, i) => {
      const own = messages.filter((m) => m.startsWith(`Transaction ${i + 1}:`));
      const keys: Record<string, string> = {};
      for (const el of t.DataElements ?? []) {
        if (el.Type && el.Type !== 'Form') continue;
        for (const e of el.Rows[0]?.Edits ?? []) {
          if ((el.Keys ?? []).includes(e.Name) && e.Value !== null && e.Value !== undefined)
            keys[e.Name] = String(e.Value);
        }
      }
      const unowned = messages.filter((m) => !/^Transaction \d+:/.test(m));
      return { passed: t.Status === 'Passed', keys, messages: own.length > 0 ? own : unowned };
    });
  }

  /** Sends one transaction and returns its generated keys; a failed transaction is thrown as a taxonomy error. */
  private async transactOne(name: string, elements: Element[], op: string, key: string): Promise<string> {
    const [out] = await this.transact(name, [elements], op);
    if (!out.passed) throw this.txFailure(op, out.messages);
    const id = out.keys[key];
    if (!id) {
      throw failure('SchemaMismatch', `p21@${P21_CONNECTOR_VERSION}: ${op} passed without returning ${key}`, {
        connector: TARGET,
        version: P21_CONNECTOR_VERSION,
        field: key,
      });
    }
    return id;
  }

  /** Maps Transaction API failure messages to the error taxonomy. */
  private txFailure(op: string, messages: string[]): ApplicationFailure {
    const text = scrubText(messages.join(' | ') || 'transaction failed without a message');
    const gl = /GL account (\S+) (?:does not exist|not found)/i.exec(text);
    if (gl) {
      return failure('GlAccountNotFound', `p21 ${op}: ${text}`, {
        connector: TARGET,
        code: 'GL_ACCOUNT_NOT_FOUND',
        account: gl[1],
      });
    }
    if (/locked by another user|deadlock|timed? ?out|try again/i.test(text)) {
      return failure('UpstreamConflict', `p21 ${op}: ${text}`, { connector: TARGET, code: 'TRANSACTION_CONFLICT' });
    }
    return failure('UpstreamRejected', `p21 ${op}: ${text}`, { connector: TARGET, code: 'TRANSACTION_FAILED' });
  }

  // ---- write helpers ----

  /** Creates a document once, looking it up by our reference on a retry and before creating (../common.ts). */
  private createOnce(
    op: string,
    ctx: WriteContext,
    request: unknown,
    find: () => Promise<ErpDocRef | null>,
    create: () => Promise<ErpDocRef>,
  ): Promise<ErpDocRef> {
    return createOnce({ ...this.ops.write(ctx, op, request), find, create });
  }

  /** A status change that is a no-op when the document already has the target status (../common.ts). */
  private changeOnce(
    op: string,
    erpId: string,
    ctx: WriteContext,
    get: () => Promise<ErpDocRef>,
    done: (d: ErpDocRef) => boolean,
    send: () => Promise<unknown>,
  ): Promise<ErpDocRef> {
    return changeOnce({ ...this.ops.change(ctx, op, erpId), get, done, send });
  }

  private lineRows(lines: ErpLine[], currency: string, qtyColumn: string, descColumn: string): EditMap[] {
    return lines.map((l) => ({
      PartNum: l.sku,
      [qtyColumn]: String(l.qty),
      UnitPrice: formatDecimal({ amountMinor: l.unitPriceMinor, currency }),
      TaxAmount: formatDecimal({ amountMinor: l.taxMinor ?? 0, currency }),
      UnitOfMeasure: l.uom,
      [descColumn]: l.description,
    }));
  }

  // ---- customers ----

  async findCustomers(q: { email?: string; phone?: string; externalRef?: string }): Promise<ErpCustomer[]> {
    const keys = customerKeys(q);
    const parts: string[] = [];
    if (keys.externalRef) parts.push(`WebReferenceNo eq ${lit(keys.externalRef)}`);
    if (keys.email) parts.push(`tolower(EmailAddress) eq ${lit(keys.email)}`);
    // OData cannot strip punctuation server-side: narrow by the last four digits, then compare normalised digits.
    if (keys.phone) parts.push(`contains(PhoneNumber,${lit(keys.phone.slice(-4))})`);
    if (parts.length === 0) return [];
    const rows = await this.all('table', 'customer', customerRow, `DeleteFlag eq 'N' and (${parts.join(' or ')})`);
    return rows
      .filter((r) =>
        matchesCustomer(keys, { externalRef: r.WebReferenceNo, email: r.EmailAddress, phones: [r.PhoneNumber] }),
      )
      .map(customerOut);
  }

  private async customerByRef(ref: string): Promise<ErpCustomer | null> {
    const r = await this.first('table', 'customer', customerRow, `WebReferenceNo eq ${lit(ref)} and DeleteFlag eq 'N'`);
    return r ? customerOut(r) : null;
  }

  async upsertCustomer(c: ErpCustomerInput, ctx: WriteContext): Promise<ErpCustomer> {
    const name = customerName(TARGET, c);
    return upsertCustomerOnce({
      ...this.ops.write(ctx, 'upsertCustomer', c),
      name,
      byRef: () => this.customerByRef(c.externalRef),
      save: async (existing) => {
        const edits: EditMap = {
          CustomerID: existing?.erpId,
          CustomerName: name,
          FirstName: c.firstName,
          LastName: c.lastName,
          EmailAddress: c.email,
          PhoneNumber: c.phone,
          WebReferenceNo: c.externalRef,
          MailAddress1: c.address?.line1,
          MailAddress2: c.address?.line2,
          MailCity: c.address?.city,
          MailState: c.address?.region,
          MailPostalCode: c.address?.postalCode,
          MailCountry: c.address?.country,
        };
        const keys = existing ? ['CustomerID'] : [];
        const id = await this.transactOne(
          'Customer',
          [form('TABPAGE_1.customer', edits, keys)],
          'upsertCustomer',
          'CustomerID',
        );
        return {
          erpId: id,
          name,
          email: c.email ?? existing?.email,
          phone: c.phone ?? existing?.phone,
          externalRef: c.externalRef,
        };
      },
    });
  }

  // ---- sales orders ----

  private async orderByRef(ref: string): Promise<ErpDocRef | null> {
    const r = await this.first(
      'view',
      'p21_view_oe_hdr',
      orderRow,
      `WebReferenceNo eq ${lit(ref)} and CancelFlag eq 'N'`,
    );
    return r ? orderDoc(r) : null;
  }

  async createSalesOrder(o: ErpSalesOrderInput, ctx: WriteContext): Promise<ErpDocRef> {
    checkDocument(TARGET, o);
    const rows = this.lineRows(o.lines, o.currency, 'UnitQuantity', 'ExtendedDesc');
    return this.createOnce(
      'createSalesOrder',
      ctx,
      o,
      () => this.orderByRef(o.ref),
      async () => {
        const header = form('TP_ORDER.order', {
          CustomerID: o.customerErpId,
          PONo: o.poNumber ?? o.ref,
          WebReferenceNo: o.ref,
          OrderDate: o.date,
          CurrencyID: o.currency,
        });
        const id = await this.transactOne(
          'SalesOrder',
          [header, list('TP_ITEMS.items', rows)],
          'createSalesOrder',
          'OrderNo',
        );
        return { erpId: id, number: id, status: 'open', rawStatus: 'Open' };
      },
    );
  }

  async getSalesOrder(erpId: string): Promise<ErpDocRef> {
    const r = await this.api.request({
      method: 'GET',
      path: `/api/sales/orders/${encodeURIComponent(erpId)}`,
      schema: salesOrderEntity,
    });
    return orderDoc({ ...r, WebReferenceNo: null });
  }

  async cancelSalesOrder(erpId: string, ctx: WriteContext): Promise<ErpDocRef> {
    return this.changeOnce(
      'cancelSalesOrder',
      erpId,
      ctx,
      () => this.getSalesOrder(erpId),
      (d) => d.status === 'cancelled',
      () =>
        this.transactOne(
          'SalesOrder',
          [form('TP_ORDER.order', { OrderNo: erpId, CancelFlag: 'Y' }, ['OrderNo'])],
          'cancelSalesOrder',
          'OrderNo',
        ),
    );
  }

  // ---- invoices ----

  private async getInvoice(erpId: string): Promise<ErpDocRef> {
    return invoiceDoc(await this.getOne('p21_view_invoice_hdr', 'InvoiceNo', erpId, invoiceRow, 'invoice'));
  }

  async createInvoice(i: ErpInvoiceInput, ctx: WriteContext): Promise<ErpDocRef> {
    checkDocument(TARGET, i);
    const rows = this.lineRows(i.lines, i.currency, 'Quantity', 'Description');
    const find = async () => {
      const r = await this.first(
        'view',
        'p21_view_invoice_hdr',
        invoiceRow,
        `WebReferenceNo eq ${lit(i.ref)} and Reversed eq 'N'`,
      );
      return r ? invoiceDoc(r) : null;
    };
    return this.createOnce('createInvoice', ctx, i, find, async () => {
      const header = form('TP_INVOICE.invoice', {
        CustomerID: i.customerErpId,
        OrderNo: i.salesOrderErpId,
        WebReferenceNo: i.ref,
        InvoiceDate: i.date,
        CurrencyID: i.currency,
      });
      const id = await this.transactOne(
        'Invoice',
        [header, list('TP_LINES.lines', rows)],
        'createInvoice',
        'InvoiceNo',
      );
      return { erpId: id, number: id, status: 'draft', rawStatus: 'Pending' };
    });
  }

  async postInvoice(erpId: string, ctx: WriteContext): Promise<ErpDocRef> {
    return this.changeOnce(
      'postInvoice',
      erpId,
      ctx,
      () => this.getInvoice(erpId),
      (d) => d.status === 'posted',
      () =>
        this.transactOne(
          'Invoice',
          [form('TP_INVOICE.invoice', { InvoiceNo: erpId, Approved: 'Y' }, ['InvoiceNo'])],
          'postInvoice',
          'InvoiceNo',
        ),
    );
  }

  async reverseInvoice(erpId: string, ctx: WriteContext): Promise<ErpDocRef> {
    return this.changeOnce(
      'reverseInvoice',
      erpId,
      ctx,
      () => this.getInvoice(erpId),
      (d) => d.status === 'reversed',
      () =>
        this.transactOne(
          'Invoice',
          [form('TP_INVOICE.invoice', { InvoiceNo: erpId, Reversed: 'Y' }, ['InvoiceNo'])],
          'reverseInvoice',
          'InvoiceNo',
        ),
    );
  }

  // ---- payments ----

  private async getReceipt(erpId: string): Promise<ErpDocRef> {
    return receiptDoc(await this.getOne('p21_view_ar_receipts', 'ReceiptNo', erpId, receiptRow, 'cash receipt'));
  }

  async applyPayment(p: ErpPaymentInput, ctx: WriteContext): Promise<ErpDocRef> {
    checkPayment(TARGET, p);
    const find = async () => {
      const r = await this.first(
        'view',
        'p21_view_ar_receipts',
        receiptRow,
        `WebReferenceNo eq ${lit(p.ref)} and Voided eq 'N'`,
      );
      return r ? receiptDoc(r) : null;
    };
    return this.createOnce('applyPayment', ctx, p, find, async () => {
      const receipt = form('TP_RECEIPT.receipt', {
        CustomerID: p.customerErpId,
        InvoiceNo: p.invoiceErpId,
        PaymentAmount: formatDecimal({ amountMinor: p.amountMinor, currency: p.currency }),
        PaymentDate: p.date,
        PaymentTypeID: paymentTypeFor(p.method),
        CheckNo: p.processorRef,
        WebReferenceNo: p.ref,
        CurrencyID: p.currency,
      });
      const id = await this.transactOne('CashReceipt', [receipt], 'applyPayment', 'ReceiptNo');
      return { erpId: id, number: id, status: 'applied', rawStatus: 'Applied' };
    });
  }

  async unapplyPayment(paymentErpId: string, ctx: WriteContext): Promise<ErpDocRef> {
    return this.changeOnce(
      'unapplyPayment',
      paymentErpId,
      ctx,
      () => this.getReceipt(paymentErpId),
      (d) => d.status === 'reversed',
      () =>
        this.transactOne(
          'CashReceipt',
          [form('TP_RECEIPT.receipt', { ReceiptNo: paymentErpId, Voided: 'Y' }, ['ReceiptNo'])],
          'unapplyPayment',
          'ReceiptNo',
        ),
    );
  }

  async *listPayments(q: { from: string; to: string }): AsyncIterable<ErpPaymentRecord> {
    checkDate(TARGET, q.from, 'from');
    checkDate(TARGET, q.to, 'to');
    const filter = `PaymentDate ge ${q.from} and PaymentDate le ${q.to} and Voided eq 'N'`;
    for await (const r of this.rows('view', 'p21_view_ar_receipts', receiptRow, filter, 'ReceiptNo')) {
      yield {
        erpId: r.ReceiptNo,
        ref: r.WebReferenceNo ?? r.ReceiptNo,
        processorRef: r.CheckNo ?? undefined,
        amountMinor: parseDecimal(r.PaymentAmount, r.CurrencyID).amountMinor,
        currency: r.CurrencyID,
        date: isoDate(r.PaymentDate),
        method: r.PaymentTypeID,
      };
    }
  }

  // ---- credit memos ----

  private async getMemo(erpId: string): Promise<ErpDocRef> {
    return memoDoc(await this.getOne('p21_view_credit_memo', 'MemoNo', erpId, memoRow, 'credit memo'));
  }

  async draftCreditMemo(c: ErpCreditMemoInput, ctx: WriteContext): Promise<ErpDocRef> {
    checkDocument(TARGET, c);
    const rows = this.lineRows(c.lines, c.currency, 'Quantity', 'Description');
    const find = async () => {
      const r = await this.first(
        'view',
        'p21_view_credit_memo',
        memoRow,
        `WebReferenceNo eq ${lit(c.ref)} and CancelFlag eq 'N'`,
      );
      return r ? memoDoc(r) : null;
    };
    return this.createOnce('draftCreditMemo', ctx, c, find, async () => {
      const header = form('TP_CREDIT.credit', {
        CustomerID: c.customerErpId,
        InvoiceNo: c.invoiceErpId,
        WebReferenceNo: c.ref,
        MemoDate: c.date,
        Reason: c.reason,
        CurrencyID: c.currency,
      });
      const id = await this.transactOne(
        'CreditMemo',
        [header, list('TP_LINES.lines', rows)],
        'draftCreditMemo',
        'MemoNo',
      );
      return { erpId: id, number: id, status: 'draft', rawStatus: 'Pending' };
    });
  }

  async postCreditMemo(erpId: string, ctx: WriteContext): Promise<ErpDocRef> {
    return this.changeOnce(
      'postCreditMemo',
      erpId,
      ctx,
      () => this.getMemo(erpId),
      (d) => d.status === 'posted',
      () =>
        this.transactOne(
          'CreditMemo',
          [form('TP_CREDIT.credit', { MemoNo: erpId, Approved: 'Y' }, ['MemoNo'])],
          'postCreditMemo',
          'MemoNo',
        ),
    );
  }

  async cancelCreditMemo(erpId: string, ctx: WriteContext): Promise<ErpDocRef> {
    return this.changeOnce(
      'cancelCreditMemo',
      erpId,
      ctx,
      () => this.getMemo(erpId),
      (d) => d.status === 'cancelled',
      () =>
        this.transactOne(
          'CreditMemo',
          [form('TP_CREDIT.credit', { MemoNo: erpId, CancelFlag: 'Y' }, ['MemoNo'])],
          'cancelCreditMemo',
          'MemoNo',
        ),
    );
  }

  // ---- journals ----

  async postJournal(j: ErpJournalInput, ctx: WriteContext): Promise<ErpDocRef> {
    checkJournal(TARGET, j);
    const rows = j.lines.map((l) => ({
      AccountNo: l.account,
      DebitAmount: formatDecimal({ amountMinor: l.debitMinor, currency: j.currency }),
      CreditAmount: formatDecimal({ amountMinor: l.creditMinor, currency: j.currency }),
      Description: describeLine(l.description, l.dimensions),
    }));
    return this.createOnce(
      'postJournal',
      ctx,
      j,
      () => this.findJournalByRef(j.ref),
      async () => {
        const header = form('TP_JOURNAL.journal', {
          JournalRef: j.ref,
          JournalID: j.journal,
          Description: j.memo,
          TransactionDate: j.date,
          CurrencyID: j.currency,
        });
        const id = await this.transactOne(
          'JournalEntry',
          [header, list('TP_LINES.lines', rows)],
          'postJournal',
          'JournalNo',
        );
        return { erpId: id, number: id, status: 'posted', rawStatus: 'Posted' };
      },
    );
  }

  async reverseJournal(erpId: string, ctx: WriteContext): Promise<ErpDocRef> {
    return this.changeOnce(
      'reverseJournal',
      erpId,
      ctx,
      async () => journalDoc(await this.getOne('p21_view_gl_journal', 'JournalNo', erpId, journalRow, 'journal')),
      (d) => d.status === 'reversed',
      () =>
        this.transactOne(
          'JournalEntry',
          [form('TP_JOURNAL.journal', { JournalNo: erpId, Reversed: 'Y' }, ['JournalNo'])],
          'reverseJournal',
          'JournalNo',
        ),
    );
  }

  async findJournalByRef(ref: string): Promise<ErpDocRef | null> {
    const r = await this.first(
      'view',
      'p21_view_gl_journal',
      journalRow,
      `JournalRef eq ${lit(ref)} and ReversalOf eq null`,
    );
    return r ? journalDoc(r) : null;
  }

  // ---- inventory and products ----

  async readOnHand(q: { skus?: string[]; location?: string } = {}): Promise<OnHand[]> {
    if (q.skus && q.skus.length === 0) return [];
    const loc = q.location ? `LocationID eq ${lit(q.location)}` : undefined;
    const skuGroups = q.skus ? chunks(q.skus, FILTER_CHUNK) : [undefined];
    const out: OnHand[] = [];
    for (const group of skuGroups) {
      const skuFilter = group ? `(${group.map((s) => `PartNum eq ${lit(s)}`).join(' or ')})` : undefined;
      const filter = [loc, skuFilter].filter(Boolean).join(' and ') || undefined;
      for await (const r of this.rows('view', 'p21_view_inv_loc', invLocRow, filter)) {
        out.push({ sku: r.PartNum, location: r.LocationID, qty: r.OnHandQty });
      }
    }
    return out;
  }

  async adjustInventory(adjustments: InventoryAdjustment[], ctx: WriteContext): Promise<void> {
    const lines: AdjLine[] = stockAdjustments(TARGET, adjustments, { wholeUnits: true }).map(({ index, adj }) => ({
      n: index + 1,
      key: `${ctx.idempotencyKey}/line-${index + 1}`,
      adj,
    }));
    if (lines.length === 0) return;
    const result = { lines: lines.length };
    await idempotentWrite(this.db, {
      key: ctx.idempotencyKey,
      target: TARGET,
      operation: 'adjustInventory',
      workflowId: ctx.workflowId,
      request: adjustments,
      findRemote: async () =>
        (await this.reconcileLines(lines, ctx)).length === 0 ? { externalId: null, result } : null,
      write: async () => {
        await this.sendLines(lines, ctx);
        return { externalId: null, result };
      },
    });
  }

  /** Lines without a done record whose adjustment P21 does not have either; records those it has. */
  private async reconcileLines(lines: AdjLine[], ctx: WriteContext): Promise<AdjLine[]> {
    const pending = await this.undoneLines(lines);
    const found = new Map<string, string>();
    for (const group of chunks(pending, FILTER_CHUNK)) {
      const filter = group.map((l) => `AdjustmentRef eq ${lit(l.key)}`).join(' or ');
      for await (const r of this.rows('view', 'p21_view_inv_adj', adjustmentRow, filter)) {
        if (r.AdjustmentRef) found.set(r.AdjustmentRef, r.AdjustmentNo);
      }
    }
    const missing: AdjLine[] = [];
    for (const l of pending) {
      const no = found.get(l.key);
      if (no) await this.recordLine(l, no, ctx);
      else missing.push(l);
    }
    return missing;
  }

  private async undoneLines(lines: AdjLine[]): Promise<AdjLine[]> {
    const done = await this.db('external_writes')
      .whereIn(
        'idempotency_key',
        lines.map((l) => l.key),
      )
      .andWhere('status', 'done')
      .pluck('idempotency_key');
    const set = new Set<string>(done);
    return lines.filter((l) => !set.has(l.key));
  }

  private async recordLine(l: AdjLine, adjustmentNo: string, ctx: WriteContext): Promise<void> {
    await idempotentWrite(this.db, {
      key: l.key,
      target: TARGET,
      operation: 'adjustInventory.line',
      workflowId: ctx.workflowId,
      request: l.adj,
      write: async () => ({ externalId: adjustmentNo, result: { adjustmentNo, ...l.adj } }),
    });
  }

  /** Sends the lines not yet done as one multi-transaction request; records each passed line on its own. */
  private async sendLines(lines: AdjLine[], ctx: WriteContext): Promise<void> {
    const todo = await this.undoneLines(lines);
    if (todo.length === 0) return;
    const txs = todo.map((l) => [
      form('TP_ADJUSTMENT.adjustment', {
        LocationID: l.adj.location,
        PartNum: l.adj.sku,
        AdjustmentQty: String(l.adj.delta),
        AdjustmentRef: l.key,
        Reason: ctx.workflowId ? `ledgerbridge ${ctx.workflowId}` : 'ledgerbridge',
      }),
    ]);
    const outcomes = await this.transact('InventoryAdjustment', txs, 'adjustInventory');
    const failed: { line: AdjLine; messages: string[] }[] = [];
    for (const [i, out] of outcomes.entries()) {
      if (out.passed && out.keys.AdjustmentNo) await this.recordLine(todo[i], out.keys.AdjustmentNo, ctx);
      else failed.push({ line: todo[i], messages: out.messages });
    }
    if (failed.length === 0) return;
    const messages = failed.flatMap((f) => f.messages);
    if (failed.length === todo.length) throw this.txFailure('adjustInventory', messages);
    throw failure(
      'PartialFailure',
      scrubText(
        `p21 adjustInventory: ${failed.length} of ${todo.length} transactions failed (lines ` +
          `${failed.map((f) => f.line.n).join(', ')}); the others are recorded and will not be sent again: ` +
          messages.join(' | '),
      ),
      {
        connector: TARGET,
        code: 'SUMMARY_FAILED',
        failedLines: failed.map((f) => f.line.n),
        succeededLines: todo.filter((l) => !failed.some((f) => f.line === l)).map((l) => l.n),
      },
    );
  }

  async listProducts(): Promise<ErpProduct[]> {
    const rows = await this.all('table', 'inv_mast', partRow, `DeleteFlag eq 'N'`);
    return rows.map((r) => {
      const currency = r.CurrencyID ?? 'USD';
      return {
        sku: r.PartNum,
        name: r.ItemDesc,
        priceMinor: parseDecimal(r.Price, currency).amountMinor,
        currency,
        uom: r.UnitOfMeasure ?? undefined,
      };
    });
  }
}

interface AdjLine {
  n: number;
  key: string;
  adj: InventoryAdjustment;
}
