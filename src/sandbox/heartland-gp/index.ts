/**
 * Heartland / Global Payments GP API simulator: a real HTTP server speaking the GP API wire format under `/ucp`.
 *
 * Follows CONNECTORS.md: `POST /ucp/accesstoken` (nonce + sha512 secret), Bearer tokens, `X-GP-Version`,
 * `x-gp-idempotency`, `POST /transactions` (SALE/REFUND, capture_mode AUTO/LATER/MULTIPLE, amounts as strings of
 * minor units), `/transactions/{id}/capture|refund|reversal`, `POST /batches/{batch_reference}`, settlement reports
 * with `page`/`page_size` paging, `total_record_count` and `paging{}`, GP error bodies, signed webhooks.
 *
 * Choices made where the public docs are silent (the connector in src/connectors/heartland/gp-*.ts follows them):
 * - Every `/ucp` request must carry `X-GP-Version` (else 400 MANDATORY_DATA_MISSING). Tokens live
 *   `tokenTtlSeconds` (default 86399, as `seconds_to_expire`); `POST /__faults {"expireTokens": true}` invalidates
 *   every token issued before it. A missing, unknown, expired or invalidated token => 401 NOT_AUTHENTICATED/40001.
 *   Wrong app_id or secret => 403 ACTION_NOT_AUTHORIZED/40004; a nonce that is not a timestamp => 400.
 * - Error bodies are `{error_code, detailed_error_code, detailed_error_description}` with the codes in GP_ERRORS
 *   (src/connectors/heartland/gp-schemas.ts): 400 MANDATORY_DATA_MISSING/40005 and INVALID_REQUEST_DATA/40006 for bad
 *   input, INVALID_REQUEST_DATA/40007 for raw card data, INVALID_REQUEST_DATA/40213 for a refund over the refundable
 *   amount, INVALID_TRANSACTION_ACTION/40090 for a capture/refund/reversal from the wrong status,
 *   INVALID_BATCH_ACTION/40091 for closing a closed batch, 404 RESOURCE_NOT_FOUND/40008, 409 DUPLICATE_ACTION/40039.
 * - `payment_method` is `{id: "PMT_…", entry_mode}` (a bare "PMT_…" string is accepted too). A card number
 *   (`payment_method.card.number`, or 13-19 digits anywhere in the id) is rejected. A token ending in "DECLINE" is
 *   declined: HTTP 200 with status DECLINED, `payment_method.result` "05", `action.result_code` "DECLINED". A token
 *   ending in "PENDING" stays INITIATED. Card brand and last four are derived from the token.
 * - Status transitions: SALE AUTO => CAPTURED; LATER or MULTIPLE => PREAUTHORIZED (MULTIPLE is treated as LATER:
 *   one capture); capture only from PREAUTHORIZED, once, optional `amount` up to the authorized amount; refund (a
 *   new REFUND transaction with `parent_resource_id` set, optional `amount` and `reference`) from CAPTURED or
 *   BATCHED sales, up to captured minus refunded; reversal from PREAUTHORIZED, or from CAPTURED before the batch
 *   closes (a reversed refund gives its amount back; a sale with refunds cannot be reversed), not twice. A
 *   standalone `type: REFUND` is CAPTURED at once.
 * - Batches: captured transactions join the open batch (`batch_id` "BAT_nnnnnn"); `POST /batches/{id}` closes it,
 *   its transactions become BATCHED, and a new batch opens. The close answer has `id` = `batch_id` = the reference,
 *   `amount` = sales − refunds, and per brand `funding_credit` = sales and `funding_debit` = refunds + fees. Funding
 *   is instant: a closed batch is settled at once into deposit `DEP_<batch id>` with status FUNDED.
 * - Fees: 2.9 % of a sale (rounded half up) + 30 minor units; refunds carry no fee. A deposit's `amount` is
 *   sales − refunds − fees, with `funding_type` CREDIT (or DEBIT and the absolute amount when negative).
 * - Settlement reports: records are served in the order they settled (`order`/`order_by` accepted, not applied);
 *   filters `batch_id`, `deposit_id`, `from_settlement_date`/`to_settlement_date` (YYYY-MM-DD, the deposit date);
 *   `page` from 1, `page_size` default 100, at most 1000 (more => 400); a page past the end is empty. Settlement
 *   records carry `status` FUNDED, `fees.amount` and `payment_method.card{brand, masked_number_first6last4}`.
 * - Seeded settlement (`seedTransactions`, `state.seedSettlement`, or `POST /__seed/settlement {batchId, count}`)
 *   creates a batch whose records are generated from their index per page, so 100,000 records cost no memory; they
 *   are listed in settlement reports at once, and closing that batch through the API returns their totals.
 * - `GET /transactions?reference=…&status=…` lists transactions by our reference (for the lookup after a crash),
 *   in creation order, paged like the settlement reports.
 * - Idempotency: `x-gp-idempotency` on any POST. The first answer below 500 is stored with a hash of method, path
 *   and body; the same key and body replays it (header `x-gp-idempotent-replay: true`); the same key with another
 *   body => 409. Keys never expire in the simulator.
 * - Webhooks: see webhooks.ts; batch-close events use `action.type` "BATCH_CLOSE" in the transaction envelope.
 * - The shared fault middleware (src/sandbox/faults.ts) is mounted before everything else.
 */
import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express, { type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import { FaultState } from '../faults';
import { GP_ERRORS } from '../../connectors/heartland/gp-schemas';
import { gpSecret } from '../../connectors/heartland/gp-api';
import { isCurrency } from '../../domain/money';
import { depositWire, GpSimState, SIM_MERCHANT, type SimBatch, type SimTransaction } from './state';
import type { Segment, SettlementSeed } from './synthetic';
import { batchCloseEvent, sendGpWebhook, type WebhookDelivery } from './webhooks';

export { batchCloseEvent, sendGpWebhook } from './webhooks';
export type { SettlementSeed } from './synthetic';

export interface HeartlandGpSimulatorOptions {
  port?: number;
  host?: string;
  appId?: string;
  appKey?: string;
  tokenTtlSeconds?: number;
  /** Synthetic settled transactions to seed: a count (batch BAT_SEED_1) or explicit seeds. */
  seedTransactions?: number | SettlementSeed[];
}

export interface HeartlandGpSimulator {
  /** Origin (fault control at `${url}/__faults`). */
  url: string;
  /** The GP API base for the connector: `${url}/ucp`. */
  baseUrl: string;
  port: number;
  appId: string;
  appKey: string;
  faults: FaultState;
  state: GpSimState;
  /** Posts a signed webhook (same bytes each time) `times` times. */
  sendWebhook(url: string, event: unknown, opts?: { times?: number }): Promise<WebhookDelivery[]>;
  /** The webhook payload for a transaction: its resource as the API returns it. */
  transactionEvent(id: string): Record<string, unknown>;
  /** The webhook payload for a batch close response. */
  batchCloseEvent(close: Record<string, unknown>): Record<string, unknown>;
  close(): Promise<void>;
}

type GpErrorKind = keyof typeof GP_ERRORS;

class GpHttpError extends Error {
  constructor(
    readonly kind: GpErrorKind,
    readonly description: string,
  ) {
    super(description);
  }
}

const reject = (kind: GpErrorKind, description: string): never => {
  throw new GpHttpError(kind, description);
};

function sendError(res: Response, kind: GpErrorKind, description: string): void {
  const e = GP_ERRORS[kind];
  res.status(e.status).json({
    error_code: e.error_code,
    detailed_error_code: e.detailed_error_code,
    detailed_error_description: description,
  });
}

/** Wire form of a transaction resource. */
export function transactionWire(tx: SimTransaction, appId: string): Record<string, unknown> {
  return {
    id: tx.id,
    time_created: tx.timeCreated,
    type: tx.type,
    status: tx.status,
    channel: tx.channel,
    capture_mode: tx.captureMode,
    amount: String(tx.status === 'CAPTURED' || tx.status === 'BATCHED' ? tx.captured : tx.amount),
    currency: tx.currency,
    country: tx.country,
    merchant_id: SIM_MERCHANT.id,
    merchant_name: SIM_MERCHANT.name,
    account_name: tx.accountName,
    reference: tx.reference,
    ...(tx.orderReference ? { order: { reference: tx.orderReference } } : {}),
    batch_id: tx.batchId,
    parent_resource_id: tx.parentId,
    payment_method: {
      result: tx.paymentResult,
      message: tx.message,
      entry_mode: tx.entryMode,
      id: tx.paymentToken,
      card: {
        brand: tx.brand,
        masked_number_last4: `XXXXXXXXXXXX${tx.last4}`,
        authcode: tx.authCode || null,
      },
    },
    action: {
      id: tx.actionId,
      type: tx.lastAction,
      time_created: new Date().toISOString(),
      result_code: tx.resultCode,
      app_id: appId,
      app_name: 'ledgerbridge-sandbox',
    },
  };
}

const minorString = z.string().regex(/^\d{1,15}$/, 'must be a string of integer minor units');
const positiveMinor = minorString.refine((s) => Number(s) > 0, 'must be greater than zero');

const tokenBody = z.object({
  app_id: z.string().min(1),
  nonce: z.string().min(1),
  secret: z.string().min(1),
  grant_type: z.literal('client_credentials'),
});

const transactionBody = z.object({
  account_name: z.string().min(1),
  type: z.enum(['SALE', 'REFUND']),
  channel: z.enum(['CP', 'CNP']),
  capture_mode: z.enum(['AUTO', 'LATER', 'MULTIPLE']).optional(),
  amount: positiveMinor,
  currency: z.string().refine(isCurrency, 'must be an ISO 4217 code'),
  country: z.string().length(2).optional(),
  reference: z.string().max(100).optional(),
  order: z.object({ reference: z.string().max(100).optional() }).optional(),
  payment_method: z.union([
    z.string(),
    z.object({ id: z.string().optional(), entry_mode: z.string().optional(), card: z.unknown().optional() }),
  ]),
});

const followUpBody = z.object({ amount: positiveMinor.optional(), reference: z.string().max(100).optional() });

const PAN_RUN = /\d{13,19}/;

function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  const parsed = schema.safeParse(body ?? {});
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const field = issue.path.join('.') || 'body';
  const missing = issue.code === 'invalid_type' && issue.message.includes('undefined');
  return reject(missing ? 'missingField' : 'invalidField', `${field}: ${missing ? 'is required' : issue.message}`);
}

function pageParams(req: Request): { page: number; pageSize: number } {
  const page = req.query.page === undefined ? 1 : Number(req.query.page);
  const pageSize = req.query.page_size === undefined ? 100 : Number(req.query.page_size);
  if (!Number.isInteger(page) || page < 1) reject('invalidField', 'page must be an integer from 1');
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 1000) {
    reject('invalidField', 'page_size must be an integer from 1 to 1000');
  }
  return { page, pageSize };
}

function listBody(
  key: 'transactions' | 'deposits',
  req: Request,
  page: number,
  pageSize: number,
  total: number,
  records: unknown[],
) {
  return {
    merchant_id: SIM_MERCHANT.id,
    merchant_name: SIM_MERCHANT.name,
    total_record_count: total,
    current_page_size: records.length,
    paging: {
      page,
      page_size: pageSize,
      order: typeof req.query.order === 'string' ? req.query.order : 'DESC',
      order_by: typeof req.query.order_by === 'string' ? req.query.order_by : 'TIME_CREATED',
    },
    [key]: records,
  };
}

const qs = (req: Request, name: string): string | undefined =>
  typeof req.query[name] === 'string' && req.query[name] !== '' ? (req.query[name] as string) : undefined;

/** Starts the GP API simulator on 127.0.0.1 (port 0 = a free port). */
export async function startHeartlandGpSimulator(opts: HeartlandGpSimulatorOptions = {}): Promise<HeartlandGpSimulator> {
  const host = opts.host ?? '127.0.0.1';
  const appId = opts.appId ?? 'ledgerbridge-sandbox-app';
  const appKey = opts.appKey ?? 'sandbox-app-key';
  const ttl = opts.tokenTtlSeconds ?? 86_399;
  const faults = new FaultState();
  const state = new GpSimState(appId);

  const seeds =
    typeof opts.seedTransactions === 'number'
      ? [{ batchId: 'BAT_SEED_1', count: opts.seedTransactions }]
      : (opts.seedTransactions ?? []);
  for (const seed of seeds) state.seedSettlement(seed);

  const app = express();
  app.set('etag', false);
  app.set('x-powered-by', false);
  app.use(faults.middleware());
  app.use(express.json({ limit: '1mb' }));

  app.post('/__seed/settlement', (req, res) => {
    const body = z
      .object({
        batchId: z.string().regex(/^[A-Za-z0-9_.-]{1,60}$/),
        count: z.number().int().min(0).max(10_000_000),
        depositId: z.string().optional(),
        currency: z.string().optional(),
        settlementDate: z
          .string()
          .regex(/^\d{4}-\d{2}-\d{2}$/)
          .optional(),
        salt: z.number().int().optional(),
      })
      .safeParse(req.body);
    if (!body.success) {
      res.status(400).json({ error: 'invalid seed', issues: body.error.issues });
      return;
    }
    try {
      const seg = state.seedSettlement(body.data);
      res.json({ ok: true, batchId: seg.batchId, depositId: seg.depositId, count: seg.count });
    } catch (err) {
      res.status(409).json({ error: (err as Error).message });
    }
  });

  const ucp = express.Router();

  ucp.use((req, res, next) => {
    if (!req.get('x-gp-version')) return sendError(res, 'missingField', 'X-GP-Version header is required');
    next();
  });

  ucp.post('/accesstoken', (req, res) => {
    const body = parseBody(tokenBody, req.body);
    if (Number.isNaN(Date.parse(body.nonce))) reject('invalidField', 'nonce must be an RFC 3339 timestamp');
    const want = gpSecret(body.nonce, appKey);
    if (body.app_id !== appId || body.secret.toLowerCase() !== want) {
      reject('badCredentials', 'Credentials not recognized to create access token.');
    }
    const token = state.issueToken(faults.tokenEpoch, ttl);
    res.json({
      token,
      type: 'Bearer',
      app_id: appId,
      app_name: state.appName,
      time_created: new Date().toISOString(),
      seconds_to_expire: ttl,
      email: 'sandbox@ledgerbridge.example',
      scope: {
        merchant_id: SIM_MERCHANT.id,
        merchant_name: SIM_MERCHANT.name,
        accounts: [{ id: 'TRA_sandbox', name: 'transaction_processing', permissions: ['TRN_POST_Authorize'] }],
      },
    });
  });

  ucp.use((req, res, next) => {
    const m = /^Bearer (.+)$/i.exec(req.get('authorization') ?? '');
    if (!m || !state.tokenValid(m[1], faults.tokenEpoch)) {
      return sendError(res, 'notAuthenticated', 'Invalid access token');
    }
    next();
  });

  ucp.use((req, res, next) => {
    const key = req.get('x-gp-idempotency');
    if (req.method !== 'POST' || !key) return next();
    const hash = createHash('sha256')
      .update(`${req.method} ${req.path} ${JSON.stringify(req.body ?? null)}`)
      .digest('hex');
    const stored = state.idempotency.get(key);
    if (stored) {
      if (stored.hash !== hash) {
        return sendError(res, 'idempotencyReused', 'Idempotency key already used with a different request');
      }
      state.stats.replays++;
      res.set('x-gp-idempotent-replay', 'true');
      res.status(stored.status).json(stored.body);
      return;
    }
    const json = res.json.bind(res);
    res.json = ((body: unknown) => {
      if (res.statusCode < 500) state.idempotency.set(key, { hash, status: res.statusCode, body });
      return json(body);
    }) as Response['json'];
    next();
  });

  const wire = (tx: SimTransaction) => transactionWire(tx, appId);
  const find = (id: string): SimTransaction =>
    state.transactions.get(id) ?? reject('notFound', `Transaction ${id} not found at this location.`);

  ucp.post('/transactions', (req, res) => {
    const b = parseBody(transactionBody, req.body);
    const pm = b.payment_method;
    const token = typeof pm === 'string' ? pm : pm.id;
    const card = typeof pm === 'object' ? (pm.card as { number?: unknown } | undefined) : undefined;
    if ((card && card.number !== undefined) || (token && PAN_RUN.test(token))) {
      reject('rawCardData', 'payment_method: raw card data is not accepted; send a payment token (PMT_...)');
    }
    if (!token) reject('missingField', 'payment_method.id: is required');
    if (!/^PMT_[A-Za-z0-9_-]{1,120}$/.test(token!)) reject('invalidField', 'payment_method.id: not a payment token');
    state.stats.writes++;
    const tx = state.createTransaction({
      type: b.type,
      captureMode: b.type === 'REFUND' ? 'AUTO' : (b.capture_mode ?? 'AUTO'),
      channel: b.channel,
      amount: Number(b.amount),
      currency: b.currency,
      country: b.country ?? 'US',
      accountName: b.account_name,
      reference: b.reference ?? null,
      orderReference: b.order?.reference ?? null,
      paymentToken: token!,
      entryMode: typeof pm === 'object' && pm.entry_mode ? pm.entry_mode : b.channel === 'CP' ? 'MANUAL' : 'ECOM',
    });
    res.json(wire(tx));
  });

  ucp.get('/transactions', (req, res) => {
    const { page, pageSize } = pageParams(req);
    const reference = qs(req, 'reference');
    const status = qs(req, 'status');
    const all = reference
      ? (state.byReference.get(reference) ?? []).map((id) => state.transactions.get(id)!)
      : [...state.transactions.values()];
    const matching = status ? all.filter((t) => t.status === status) : all;
    const slice = matching.slice((page - 1) * pageSize, page * pageSize).map(wire);
    res.json(listBody('transactions', req, page, pageSize, matching.length, slice));
  });

  ucp.get('/transactions/:id', (req, res) => {
    res.json(wire(find(String(req.params.id))));
  });

  ucp.post('/transactions/:id/capture', (req, res) => {
    const tx = find(String(req.params.id));
    const b = parseBody(followUpBody, req.body);
    if (tx.type !== 'SALE' || tx.status !== 'PREAUTHORIZED') {
      reject('invalidAction', `Cannot capture a transaction with status ${tx.status}`);
    }
    const amount = b.amount === undefined ? tx.amount : Number(b.amount);
    if (amount > tx.amount) reject('invalidField', 'amount: exceeds the authorized amount');
    state.stats.writes++;
    tx.status = 'CAPTURED';
    tx.captured = amount;
    tx.lastAction = 'CAPTURE';
    state.addToOpenBatch(tx);
    res.json(wire(tx));
  });

  ucp.post('/transactions/:id/refund', (req, res) => {
    const tx = find(String(req.params.id));
    const b = parseBody(followUpBody, req.body);
    if (tx.type !== 'SALE' || (tx.status !== 'CAPTURED' && tx.status !== 'BATCHED')) {
      reject('invalidAction', `Cannot refund a transaction with status ${tx.status}`);
    }
    const remaining = tx.captured - tx.refunded;
    const amount = b.amount === undefined ? remaining : Number(b.amount);
    if (amount <= 0 || amount > remaining) {
      reject('refundExceeds', `Refund amount ${amount} exceeds the refundable amount ${remaining}`);
    }
    state.stats.writes++;
    res.json(wire(state.createRefund(tx, amount, b.reference ?? null)));
  });

  ucp.post('/transactions/:id/reversal', (req, res) => {
    const tx = find(String(req.params.id));
    const reversible = tx.status === 'PREAUTHORIZED' || tx.status === 'CAPTURED';
    if (!reversible || tx.refunded > 0) {
      reject('invalidAction', `Cannot reverse a transaction with status ${tx.status}`);
    }
    state.stats.writes++;
    tx.status = 'REVERSED';
    tx.lastAction = 'REVERSAL';
    if (tx.type === 'REFUND' && tx.parentId) {
      const sale = state.transactions.get(tx.parentId);
      if (sale) sale.refunded -= tx.captured;
    }
    res.json(wire(tx));
  });

  ucp.post('/batches/:ref', (req, res) => {
    const ref = String(req.params.ref);
    const batch: SimBatch = state.batches.get(ref) ?? reject('notFound', `Batch ${ref} not found`);
    if (batch.status === 'CLOSED') reject('batchClosed', `Batch ${ref} is already closed`);
    state.stats.writes++;
    res.json(state.closeBatch(batch));
  });

  ucp.get('/settlement/transactions', (req, res) => {
    const { page, pageSize } = pageParams(req);
    const batchId = qs(req, 'batch_id');
    const depositId = qs(req, 'deposit_id');
    const from = qs(req, 'from_settlement_date');
    const to = qs(req, 'to_settlement_date');
    const matching = state.segments.filter(
      (s: Segment) =>
        (!batchId || s.batchId === batchId) &&
        (!depositId || s.depositId === depositId) &&
        (!from || s.settlementDate >= from) &&
        (!to || s.settlementDate <= to),
    );
    let total = 0;
    for (const s of matching) total += s.count;
    const records: unknown[] = [];
    let skip = (page - 1) * pageSize;
    for (const s of matching) {
      if (records.length >= pageSize) break;
      if (skip >= s.count) {
        skip -= s.count;
        continue;
      }
      const end = Math.min(s.count, skip + pageSize - records.length);
      for (let i = skip; i < end; i++) records.push(s.at(i));
      skip = 0;
    }
    res.json(listBody('transactions', req, page, pageSize, total, records));
  });

  ucp.get('/settlement/deposits', (req, res) => {
    const { page, pageSize } = pageParams(req);
    const depositId = qs(req, 'deposit_id');
    const from = qs(req, 'from_settlement_date');
    const to = qs(req, 'to_settlement_date');
    const all = state
      .deposits()
      .filter(
        (d) =>
          (!depositId || d.id === depositId) && (!from || d.settlementDate >= from) && (!to || d.settlementDate <= to),
      );
    const slice = all.slice((page - 1) * pageSize, page * pageSize).map(depositWire);
    res.json(listBody('deposits', req, page, pageSize, all.length, slice));
  });

  app.use('/ucp', ucp);
  app.use((_req: Request, res: Response) => sendError(res, 'notFound', 'Resource not found'));
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    if (err instanceof GpHttpError) return sendError(res, err.kind, err.description);
    const e = err as { type?: string; status?: number };
    if (e.type === 'entity.parse.failed') return sendError(res, 'invalidField', 'Request body is not valid JSON');
    res.status(500).json({ error_code: 'SYSTEM_ERROR_DOWNSTREAM', detailed_error_description: 'internal error' });
  });

  const server: Server = await new Promise((resolve, reject) => {
    const s = app.listen(opts.port ?? 0, host, () => resolve(s));
    s.once('error', reject);
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${host}:${port}`;
  return {
    url,
    baseUrl: `${url}/ucp`,
    port,
    appId,
    appKey,
    faults,
    state,
    sendWebhook: (target, event, o) => sendGpWebhook(target, event, appKey, o),
    transactionEvent: (id) => wire(find(id)),
    batchCloseEvent,
    async close() {
      faults.clear();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
