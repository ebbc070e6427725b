import { createHash } from 'node:crypto';
import type { z } from 'zod';
import { failure, type ErrorType } from '../../domain/errors';
import { containsPan, scrubText } from '../../domain/card-data';
import { isCurrency } from '../../domain/money';
import type { Config } from '../../config';
import type { Logger } from '../../logger';
import { CachedTokenProvider, HttpClient, defaultErrorType, type HttpClientOptions } from '../http';
import {
  GP_ERRORS,
  gpBatchCloseSchema,
  gpDepositListSchema,
  gpErrorSchema,
  gpSettlementTransactionListSchema,
  gpTokenSchema,
  gpTransactionListSchema,
  gpTransactionSchema,
  mapBatchClose,
  mapDeposit,
  mapSettlementTransaction,
  mapTransaction,
} from './gp-schemas';
import type {
  FollowUpRequest,
  GpBatchClose,
  GpChannel,
  GpDeposit,
  GpSettlementTransaction,
  GpTransaction,
  HeartlandGateway,
  Page,
  SaleRequest,
  SettlementQuery,
} from './gp-types';

export type { HeartlandGateway } from './gp-types';

export const GP_CONNECTOR = 'heartland-gp';
/** Bumped when the wire schemas change; named in SchemaMismatch errors. */
export const GP_CONNECTOR_VERSION = '1.0.0';
export const GP_API_VERSION = '2021-03-22';
export const GP_MAX_PAGE_SIZE = 1000;

export interface GpApiOptions {
  /** The GP API base including `/ucp`, e.g. https://apis.sandbox.globalpay.com/ucp. */
  baseUrl: string;
  appId: string;
  appKey: string;
  accountName?: string;
  country?: string;
  channel?: GpChannel;
  timeoutMs?: number;
  breaker?: HttpClientOptions['breaker'];
  logger?: Logger;
}

/** The GP access-token secret: sha512 hex of nonce + app key. */
export function gpSecret(nonce: string, appKey: string): string {
  return createHash('sha512')
    .update(nonce + appKey, 'utf8')
    .digest('hex');
}

/** Maps a GP error body to the taxonomy: refund limits to NotRefundable, everything else by status. */
export function classifyGpError(
  status: number,
  body: unknown,
): { type: ErrorType; code?: string; message?: string } | undefined {
  const parsed = gpErrorSchema.safeParse(body);
  if (!parsed.success) return undefined;
  const e = parsed.data;
  const code = e.detailed_error_code ? `${e.error_code}/${e.detailed_error_code}` : e.error_code;
  const message = e.detailed_error_description ? scrubText(e.detailed_error_description) : undefined;
  if (status === 400 && e.detailed_error_code === GP_ERRORS.refundExceeds.detailed_error_code) {
    return { type: 'NotRefundable', code, message };
  }
  return { type: defaultErrorType(status), code, message };
}

function checkAmount(amountMinor: number | undefined, what: string): void {
  if (amountMinor === undefined) return;
  if (!Number.isSafeInteger(amountMinor) || amountMinor <= 0) {
    throw failure('ValidationError', `${what} must be a positive integer of minor units, got ${amountMinor}`, {
      connector: GP_CONNECTOR,
      field: 'amountMinor',
    });
  }
}

function checkId(id: string, what: string): string {
  if (!/^[A-Za-z0-9_.:-]{1,100}$/.test(id)) {
    throw failure('ValidationError', `${what} is not a valid GP id`, { connector: GP_CONNECTOR, field: what });
  }
  return encodeURIComponent(id);
}

/** The GP API connector: payments, batches and settlement reports over the shared HTTP client. */
export class GpApiConnector implements HeartlandGateway {
  readonly http: HttpClient;
  readonly tokens: CachedTokenProvider;
  private readonly tokenHttp: HttpClient;
  private readonly opts: GpApiOptions;

  constructor(opts: GpApiOptions) {
    this.opts = opts;
    const common = {
      connector: GP_CONNECTOR,
      version: GP_CONNECTOR_VERSION,
      baseUrl: opts.baseUrl,
      timeoutMs: opts.timeoutMs,
      headers: { 'x-gp-version': GP_API_VERSION },
      logger: opts.logger,
    };
    // Bad credentials come back as 403 from the token endpoint: that is an authentication failure, not a permission.
    this.tokenHttp = new HttpClient({
      ...common,
      breaker: false,
      classify: (status, body) => {
        const c = classifyGpError(status, body);
        return status === 401 || status === 403 ? { ...c, type: 'AuthFailed' } : c;
      },
    });
    this.tokens = new CachedTokenProvider(() => this.fetchToken());
    this.http = new HttpClient({
      ...common,
      auth: this.tokens,
      idempotencyHeader: 'x-gp-idempotency',
      breaker: opts.breaker,
      classify: classifyGpError,
    });
  }

  /** Builds the connector from the process config (HEARTLAND_* settings). */
  static fromConfig(cfg: Config, logger?: Logger): GpApiConnector {
    if (!cfg.HEARTLAND_GP_URL || !cfg.HEARTLAND_APP_ID || !cfg.HEARTLAND_APP_KEY) {
      throw failure('ConfigError', 'HEARTLAND_GP_URL, HEARTLAND_APP_ID and HEARTLAND_APP_KEY must be set');
    }
    return new GpApiConnector({
      baseUrl: cfg.HEARTLAND_GP_URL,
      appId: cfg.HEARTLAND_APP_ID,
      appKey: cfg.HEARTLAND_APP_KEY,
      accountName: cfg.HEARTLAND_ACCOUNT_NAME,
      country: cfg.HEARTLAND_COUNTRY,
      timeoutMs: cfg.CONNECTOR_TIMEOUT_MS,
      logger,
    });
  }

  private async fetchToken(): Promise<{ token: string; expiresInSeconds: number }> {
    const nonce = new Date().toISOString();
    const res = await this.tokenHttp.request({
      method: 'POST',
      path: '/accesstoken',
      body: {
        app_id: this.opts.appId,
        nonce,
        secret: gpSecret(nonce, this.opts.appKey),
        grant_type: 'client_credentials',
      },
      schema: gpTokenSchema,
    });
    return { token: res.token, expiresInSeconds: res.seconds_to_expire };
  }

  async sale(req: SaleRequest): Promise<GpTransaction> {
    checkAmount(req.amountMinor, 'amountMinor');
    if (!isCurrency(req.currency)) {
      throw failure('ValidationError', `unknown currency ${req.currency}`, {
        connector: GP_CONNECTOR,
        field: 'currency',
      });
    }
    if (containsPan(req.paymentToken) || !/^[A-Za-z0-9_-]{4,128}$/.test(req.paymentToken)) {
      throw failure('ValidationError', 'paymentToken must be a payment token, never card data', {
        connector: GP_CONNECTOR,
        field: 'paymentToken',
      });
    }
    const channel = req.channel ?? this.opts.channel ?? 'CNP';
    const body = {
      account_name: this.opts.accountName ?? 'transaction_processing',
      type: 'SALE',
      channel,
      capture_mode: req.captureMode ?? 'AUTO',
      amount: String(req.amountMinor),
      currency: req.currency,
      country: this.opts.country ?? 'US',
      reference: req.reference,
      ...(req.orderReference ? { order: { reference: req.orderReference } } : {}),
      payment_method: { id: req.paymentToken, entry_mode: req.entryMode ?? (channel === 'CP' ? 'MANUAL' : 'ECOM') },
    };
    return this.write('/transactions', body, req.idempotencyKey);
  }

  async capture(transactionId: string, req: FollowUpRequest): Promise<GpTransaction> {
    checkAmount(req.amountMinor, 'amountMinor');
    const path = `/transactions/${checkId(transactionId, 'transactionId')}/capture`;
    return this.write(path, this.amountBody(req), req.idempotencyKey);
  }

  async refund(transactionId: string, req: FollowUpRequest): Promise<GpTransaction> {
    checkAmount(req.amountMinor, 'amountMinor');
    const path = `/transactions/${checkId(transactionId, 'transactionId')}/refund`;
    return this.write(path, this.amountBody(req), req.idempotencyKey);
  }

  async reversal(transactionId: string, req: { idempotencyKey: string }): Promise<GpTransaction> {
    return this.write(`/transactions/${checkId(transactionId, 'transactionId')}/reversal`, {}, req.idempotencyKey);
  }

  async closeBatch(batchReference: string, req: { idempotencyKey?: string } = {}): Promise<GpBatchClose> {
    const res = await this.http.request({
      method: 'POST',
      path: `/batches/${checkId(batchReference, 'batchReference')}`,
      body: {},
      idempotencyKey: req.idempotencyKey,
      schema: gpBatchCloseSchema,
    });
    return mapBatchClose(res);
  }

  async getTransaction(transactionId: string): Promise<GpTransaction> {
    const res = await this.http.request({
      method: 'GET',
      path: `/transactions/${checkId(transactionId, 'transactionId')}`,
      schema: gpTransactionSchema,
    });
    return mapTransaction(res);
  }

  async findTransactionsByReference(reference: string): Promise<GpTransaction[]> {
    const res = await this.http.request({
      method: 'GET',
      path: '/transactions',
      query: { reference, page: 1, page_size: 100, order: 'ASC', order_by: 'TIME_CREATED' },
      schema: gpTransactionListSchema,
    });
    return res.transactions.map(mapTransaction);
  }

  settlementTransactions(q: SettlementQuery = {}): AsyncIterable<Page<GpSettlementTransaction>> {
    return this.pages(q, '/settlement/transactions', gpSettlementTransactionListSchema, (r) =>
      r.transactions.map(mapSettlementTransaction),
    );
  }

  settlementDeposits(q: SettlementQuery = {}): AsyncIterable<Page<GpDeposit>> {
    return this.pages(q, '/settlement/deposits', gpDepositListSchema, (r) => r.deposits.map(mapDeposit));
  }

  /** Closes the connector's HTTP connections. */
  async close(): Promise<void> {
    await Promise.all([this.http.close(), this.tokenHttp.close()]);
  }

  private amountBody(req: FollowUpRequest): Record<string, string> {
    return {
      ...(req.amountMinor === undefined ? {} : { amount: String(req.amountMinor) }),
      ...(req.reference ? { reference: req.reference } : {}),
    };
  }

  private async write(path: string, body: unknown, idempotencyKey: string): Promise<GpTransaction> {
    if (!idempotencyKey) {
      throw failure('ValidationError', `${GP_CONNECTOR}: writes need an idempotency key`, { connector: GP_CONNECTOR });
    }
    const res = await this.http.request({ method: 'POST', path, body, idempotencyKey, schema: gpTransactionSchema });
    return mapTransaction(res);
  }

  /** One request per page, yielded before the next is asked for, so memory holds one page at a time. */
  private async *pages<W extends { total_record_count: number }, T>(
    q: SettlementQuery,
    path: string,
    schema: z.ZodType<W>,
    map: (w: W) => T[],
  ): AsyncGenerator<Page<T>> {
    const pageSize = Math.min(Math.max(1, Math.trunc(q.pageSize ?? GP_MAX_PAGE_SIZE)), GP_MAX_PAGE_SIZE);
    let page = Math.max(1, Math.trunc(q.startPage ?? 1));
    for (;;) {
      const res = await this.http.request({
        method: 'GET',
        path,
        query: {
          page,
          page_size: pageSize,
          order: 'ASC',
          order_by: 'TIME_CREATED',
          batch_id: q.batchId,
          deposit_id: q.depositId,
          from_settlement_date: q.fromSettlementDate,
          to_settlement_date: q.toSettlementDate,
        },
        schema,
      });
      const records = map(res);
      const more = records.length > 0 && page * pageSize < res.total_record_count;
      yield { page, pageSize, totalRecordCount: res.total_record_count, records, nextPage: more ? page + 1 : null };
      if (!more) return;
      page++;
    }
  }
}
