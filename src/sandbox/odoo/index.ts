/**
 * Odoo simulator: one in-memory database served over both external APIs, the JSON-2 API (Odoo 19+,
 * `POST /json/2/<model>/<method>`) and the legacy JSON-RPC endpoint (`POST /jsonrpc`, services `common` and
 * `object`/`execute_kw`), with the shared fault injection mounted first.
 *
 * Choices made where Odoo's documentation is silent or where the simulator simplifies:
 * - Auth, JSON-2: `Authorization: bearer <apiKey>` (scheme case-insensitive). A wrong key answers 401
 *   `werkzeug.exceptions.Unauthorized` "Invalid apikey" exactly as in the docs. `X-Odoo-Database` is optional; a
 *   different database name answers 404 `werkzeug.exceptions.NotFound`.
 * - Auth, JSON-RPC: `common.authenticate(db, login, key, {})` returns uid 2 or `false`; `execute_kw` with a wrong
 *   db/uid/password answers `odoo.exceptions.AccessDenied`. Error envelopes use `error.code` 200 (Odoo 16-18; set
 *   `rpcErrorCode: 0` for 19), message "Odoo Server Error", and `data: {name, debug, message, arguments, context}`.
 * - Expiry (`faults.expireTokens`): Odoo API keys expire (max three months). After an epoch bump the next JSON-2
 *   request answers 401 "Invalid apikey" once (the key provider re-reads the rotated key), and every `execute_kw`
 *   answers code 100 `odoo.http.SessionExpiredException` until `common.authenticate` is called again.
 * - JSON-2 errors: UserError/ValidationError/ValueError/TypeError → 422, MissingError and unknown model/method → 404,
 *   AccessError (e.g. private `_methods`) → 403, anything else → 500; body `{name, message, arguments, context, debug}`.
 * - Each call runs in one transaction: a failing call leaves no partial records.
 * - Money fields are floats on the wire (as Odoo serialises them) rounded to the currency's decimal places.
 * - `sale.order.currency_id` follows `pricelist_id` (seeded: 1 USD, 2 EUR, 3 CAD). Taxes are not computed: the
 *   connector books externally computed tax as a line of the `LB-TAX` service product (income account 2200).
 * - Invoices: product lines only; the receivable side is implicit. `amount_residual` and `payment_state` come from
 *   payments registered with `account.payment.register` and from reversals.
 * - Reversal: `account.move.reversal` + `refund_moves` behaves like Odoo's full refund (`_reverse_moves(cancel=True)`):
 *   the reversing move is posted and reconciled with the original; an invoice becomes `payment_state = reversed`.
 * - Payments: `account.payment.register` (context `active_model`/`active_ids`) + `action_create_payments` creates,
 *   posts and reconciles the payment; `memo` takes the wizard's `communication`. Payment states follow Odoo 18+
 *   (draft, in_process, paid, canceled); `action_cancel` needs a draft payment (`action_draft` first).
 * - Stock: `stock.quant` counted quantity + `action_apply_inventory`; context `inventory_name` names the resulting
 *   `stock.move` (searchable, used by the connector to detect an adjustment already applied). Only storable products
 *   (`is_storable`) have quants: a service or consumable answers "Quants cannot be created for consumables or
 *   services." Sales orders do not reserve stock (no pickings are simulated).
 * - External ids: `ir.model.data` supports search/read/create with the unique (module, name) constraint.
 * - Dangling many2one values answer a ValidationError naming the comodel (e.g. `account.account(99,)`).
 * - Seed: customers with near-duplicates (same email in another case, same phone written differently), SKU-1001..1005
 *   with stock at warehouse MAIN (`MAIN/Stock`), the service product SHIPPING ("Shipping", price 0, income 4000; order-
 *   to-cash sends shipping as a SHIPPING line), chart of accounts without 4999 and 6199, journals INV, BANK, CARD,
 *   CASH, MISC.
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express, { type Request, type Response, type NextFunction } from 'express';
import { FaultState } from '../faults';
import { OdooError, Store, type Rec } from './orm';
import { defineModels } from './models';
import { seed } from './seed';

export interface OdooSimulatorOptions {
  port?: number;
  host?: string;
  db?: string;
  apiKey?: string;
  login?: string;
  /** `error.code` in JSON-RPC error envelopes: 200 (16-18) or 0 (19). */
  rpcErrorCode?: number;
}

export interface OdooCall {
  protocol: 'json2' | 'jsonrpc';
  model: string;
  method: string;
  ok: boolean;
}

export interface OdooSimState {
  readonly store: Store;
  readonly db: string;
  readonly uid: number;
  /** Every model call that passed authentication, in order. */
  readonly calls: OdooCall[];
  /** 401 / AccessDenied / SessionExpired answers sent. */
  readonly authFailures: { json2: number; jsonrpc: number; sessionExpired: number };
  /** Records of a model (optionally filtered by an Odoo domain), as stored. */
  records(model: string, domain?: unknown[]): Rec[];
  /** Creates a record directly (bypassing HTTP), e.g. to simulate a write from an earlier, crashed attempt. */
  create(model: string, vals: Record<string, unknown>, ctx?: Record<string, unknown>): number;
}

export interface OdooSimulator {
  url: string;
  port: number;
  faults: FaultState;
  state: OdooSimState;
  close(): Promise<void>;
}

const USER_UID = 2;

/** Starts the simulator on 127.0.0.1 (port 0 = a free port). */
export async function startOdooSimulator(opts: OdooSimulatorOptions = {}): Promise<OdooSimulator> {
  const db = opts.db ?? 'ledgerbridge';
  const apiKey = opts.apiKey ?? 'odoo-sim-api-key';
  const login = opts.login ?? 'ledgerbridge-bot';
  const rpcErrorCode = opts.rpcErrorCode ?? 200;
  const faults = new FaultState();
  const store = new Store();
  defineModels(store);
  seed(store);

  let json2Epoch = 0;
  let rpcAuthEpoch = 0;
  const calls: OdooCall[] = [];
  const authFailures = { json2: 0, jsonrpc: 0, sessionExpired: 0 };

  const state: OdooSimState = {
    store,
    db,
    uid: USER_UID,
    calls,
    authFailures,
    records: (model, domain = []) => store.search(model, domain).map((id) => store.get(model, id)),
    create: (model, vals, ctx = {}) => store.transaction(() => store.create(model, vals, ctx)),
  };

  const app = express();
  app.disable('x-powered-by');
  app.use(faults.middleware());

  app.post(/^\/json\/2\/([^/]+)\/([^/]+)$/, express.json({ limit: '2mb' }), (req: Request, res: Response) => {
    const params = req.params as unknown as Record<string, string>;
    const model = params[0];
    const method = params[1];
    const auth = req.get('authorization') ?? '';
    const m = /^bearer\s+(.+)$/i.exec(auth);
    if (!m || m[1].trim() !== apiKey) {
      authFailures.json2++;
      return json2Error(res, 401, 'werkzeug.exceptions.Unauthorized', 'Invalid apikey', {});
    }
    if (faults.tokenEpoch > json2Epoch) {
      json2Epoch = faults.tokenEpoch;
      authFailures.json2++;
      return json2Error(res, 401, 'werkzeug.exceptions.Unauthorized', 'Invalid apikey', {});
    }
    const dbHeader = req.get('x-odoo-database');
    if (dbHeader !== undefined && dbHeader !== db) {
      return json2Error(res, 404, 'werkzeug.exceptions.NotFound', `Database "${dbHeader}" not found`, {});
    }
    const body = (req.body ?? {}) as Record<string, unknown>;
    if (typeof body !== 'object' || Array.isArray(body)) {
      return json2Error(res, 400, 'werkzeug.exceptions.BadRequest', 'The body must be a JSON object', {});
    }
    const { ids, context, ...args } = body;
    const ctx = (context && typeof context === 'object' ? context : {}) as Record<string, unknown>;
    try {
      if (ids !== undefined && (!Array.isArray(ids) || ids.some((i) => !Number.isInteger(i)))) {
        throw new OdooError('builtins.TypeError', 'ids must be a list of integers', 422);
      }
      const result = store.callInTransaction(model, method, ids as number[] | undefined, args, ctx);
      calls.push({ protocol: 'json2', model, method, ok: true });
      res.json(result ?? null);
    } catch (err) {
      calls.push({ protocol: 'json2', model, method, ok: false });
      const e = asOdooError(err);
      json2Error(res, e.status, e.odooName, e.message, ctx);
    }
  });

  app.post('/jsonrpc', express.json({ limit: '2mb' }), (req: Request, res: Response) => {
    const body = (req.body ?? {}) as { id?: unknown; params?: { service?: string; method?: string; args?: unknown[] } };
    const id = body.id ?? null;
    const reply = (result: unknown) => res.json({ jsonrpc: '2.0', id, result });
    const fail = (code: number, name: string, message: string, extra: { message?: string } = {}) =>
      res.json({
        jsonrpc: '2.0',
        id,
        error: {
          code,
          message: extra.message ?? 'Odoo Server Error',
          data: {
            name,
            debug: `Traceback (most recent call last):\n${name}: ${message}\n`,
            message,
            arguments: [message],
            context: {},
          },
        },
      });
    const p = body.params ?? {};
    const args = Array.isArray(p.args) ? p.args : [];
    if (p.service === 'common') {
      if (p.method === 'version') return reply({ server_version: '17.0', server_serie: '17.0', protocol_version: 1 });
      if (p.method === 'authenticate' || p.method === 'login') {
        const [dbName, user, password] = args;
        if (dbName !== db || user !== login || password !== apiKey) {
          authFailures.jsonrpc++;
          return reply(false);
        }
        rpcAuthEpoch = faults.tokenEpoch;
        return reply(USER_UID);
      }
      return fail(rpcErrorCode, 'builtins.KeyError', `Unknown method common.${String(p.method)}`);
    }
    if (p.service !== 'object' || (p.method !== 'execute_kw' && p.method !== 'execute')) {
      return fail(
        rpcErrorCode,
        'builtins.KeyError',
        `Unknown service or method ${String(p.service)}.${String(p.method)}`,
      );
    }
    const [dbName, uid, password, model, method, posArgs = [], kwargs = {}] = args as [
      unknown,
      unknown,
      unknown,
      string,
      string,
      unknown[],
      Record<string, unknown>,
    ];
    if (dbName !== db || uid !== USER_UID || password !== apiKey) {
      authFailures.jsonrpc++;
      return fail(rpcErrorCode, 'odoo.exceptions.AccessDenied', 'Access Denied');
    }
    if (faults.tokenEpoch > rpcAuthEpoch) {
      authFailures.sessionExpired++;
      return fail(100, 'odoo.http.SessionExpiredException', 'Session expired', { message: 'Odoo Session Expired' });
    }
    try {
      const sig = store.method(String(model), String(method));
      const positional = Array.isArray(posArgs) ? [...posArgs] : [];
      const ids = sig.model ? undefined : (positional.shift() as number[] | undefined);
      if (!sig.model && !Array.isArray(ids))
        throw new OdooError('builtins.TypeError', `${model}.${method}() missing the record ids`);
      const named: Record<string, unknown> = {};
      if (positional.length > sig.params.length) {
        throw new OdooError(
          'builtins.TypeError',
          `${model}.${method}() takes ${sig.params.length} positional arguments`,
        );
      }
      positional.forEach((v, i) => (named[sig.params[i]] = v));
      const { context, ...kw } = (kwargs ?? {}) as Record<string, unknown>;
      Object.assign(named, kw);
      const ctx = (context && typeof context === 'object' ? context : {}) as Record<string, unknown>;
      const result = store.callInTransaction(String(model), String(method), ids, named, ctx);
      calls.push({ protocol: 'jsonrpc', model: String(model), method: String(method), ok: true });
      reply(result ?? false);
    } catch (err) {
      calls.push({ protocol: 'jsonrpc', model: String(model), method: String(method), ok: false });
      const e = asOdooError(err);
      fail(rpcErrorCode, e.odooName, e.message);
    }
  });

  app.use((err: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(err);
    const status = (err as { status?: number }).status ?? 500;
    json2Error(
      res,
      status,
      status === 400 ? 'werkzeug.exceptions.BadRequest' : 'builtins.Exception',
      String((err as Error).message),
      {},
    );
  });

  const server: Server = app.listen(opts.port ?? 0, opts.host ?? '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${opts.host ?? '127.0.0.1'}:${port}`,
    port,
    faults,
    state,
    close: async () => {
      faults.clear();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

function asOdooError(err: unknown): OdooError {
  if (err instanceof OdooError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new OdooError('builtins.Exception', message, 500);
}

function json2Error(
  res: Response,
  status: number,
  name: string,
  message: string,
  context: Record<string, unknown>,
): void {
  res.status(status).json({
    name,
    message,
    arguments: status === 401 ? [message, 401] : [message],
    context,
    debug: `Traceback (most recent call last):\n  File "odoo/http.py", in _serve_db\n${name}: ${message}\n`,
  });
}
