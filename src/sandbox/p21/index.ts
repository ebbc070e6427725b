import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type NextFunction, type Request, type Response } from 'express';
import { FaultState } from '../faults';
import { compileFilter, ODataError, orderRows, selectFields } from './odata';
import { renderMoney, seedState, type P21State } from './state';
import { runTransaction, SERVICES, transactionSetSchema } from './transactions';
import { orderHeader, orderLine, TABLES, VIEWS } from './views';

/**
 * Epicor Prophet 21 simulator: a real HTTP server speaking the P21 wire formats described in CONNECTORS.md.
 *
 * Routes
 * - `POST /api/security/token/v2`: body `{username, password}` (also `UserName`/`Password`), or
 *   `{ClientSecret, GrantType: "client_credentials"}`, or `{GrantType: "refresh_token", RefreshToken}`. Answers
 *   `{AccessToken, RefreshToken, ExpiresInSeconds, TokenType: "Bearer"}`; bad credentials are a 401.
 * - `GET /api/ui/router/v1?urlType=external|internal`: `{Url}` of the UI server, here `<url>/uiserver0`.
 * - `POST <ui server>/api/v2/transaction`: the Transaction API (services in ./transactions.ts).
 * - `GET /odataservice/odata/table/{customer|inv_mast|chart_of_accts}` and
 *   `GET /odataservice/odata/view/{p21_view_oe_hdr|p21_view_oe_line|p21_view_inv_loc|p21_view_invoice_hdr|
 *   p21_view_ar_receipts|p21_view_credit_memo|p21_view_gl_journal|p21_view_inv_adj}` with `$filter`, `$top`,
 *   `$skip`, `$orderby`, `$select`, `$count` (see ./odata.ts and ./views.ts for the fields).
 * - Entity API (reads): `GET /api/sales/orders/{OrderNo}`, `GET /api/entity/customers[/{CustomerID}]`,
 *   `GET /api/inventory/parts[/{PartNum}]`, lists paged with `$top`/`$skip`.
 * - `/__faults` (src/sandbox/faults.ts), mounted first.
 *
 * Choices where the vendor documentation is silent
 * - Field names follow the seed pages (PartNum, OnHandQty, CustomerID, SalesRepID) in PascalCase everywhere, instead
 *   of P21's snake_case database columns, so one naming holds for OData, the entity API and Transaction API edits.
 * - Our reference is stored in `WebReferenceNo` on customers, orders, invoices, receipts and credit memos, in
 *   `JournalRef` on journals and `AdjustmentRef` on inventory adjustments; all are filterable in OData.
 * - Every route but the token endpoint needs `Authorization: Bearer <AccessToken>`; a missing, expired or revoked
 *   token is a 401 `{"Message": "Authorization has been denied for this request."}` (the ASP.NET Web API wording).
 *   `expireTokens` revokes every access token issued so far; refresh tokens survive it (they live 24 h) and are
 *   rotated on each use, so the client must keep the newest one.
 * - Edm.Decimal values (money) are JSON strings when the request's Accept header carries `IEEE754Compatible=true`
 *   (the OData v4 rule), JSON numbers otherwise. Dates are `YYYY-MM-DDT00:00:00`; a `$filter` date literal
 *   (`PaymentDate le 2024-05-31`) compares at the precision it is written in.
 * - `$top` above 1000 is cut to 1000; without `$top` the server pages by 100 and adds `@odata.nextLink`.
 * - The Transaction API answers 200 with `{Messages, Results: {Name, Transactions: [{Status: "Passed"|"Failed",
 *   DataElements}]}, Summary: {Succeeded, Failed, Other}}`. Each transaction of a set passes or fails on its own;
 *   a passed one echoes its DataElements with the generated key (OrderNo, InvoiceNo, ...) as the first Form edit.
 *   Messages of a failed transaction are prefixed `Transaction <n>: `. A malformed set or an unknown service is a
 *   400 `{Message}`. Values are strings (numbers and booleans are accepted), amounts are decimals, dates ISO or
 *   MM/DD/YYYY; impossible dates fail the transaction.
 * - An existing record is changed by sending its key edit (CustomerID, OrderNo, InvoiceNo, ReceiptNo, MemoNo,
 *   JournalNo) with the flag: `CancelFlag=Y` (order, credit memo), `Approved=Y` (post invoice or credit memo),
 *   `Reversed=Y` (invoice; journal, which also books a reversing journal), `Voided=Y` (cash receipt). Setting a
 *   flag that is already set passes without change, so compensations are safe to repeat. Invalid transitions
 *   fail: cancelling a completed order, reversing an invoice with applied receipts, cancelling an approved memo.
 * - Invoices are entered directly (P21 normally invoices from shipments); invoicing an order completes it. Sales
 *   orders do not allocate stock: inventory moves only through `InventoryAdjustment`, which refuses to go negative
 *   and refuses a part with `Stockable = N`.
 * - Seed catalog: SKU-1001..1005 plus the service part SHIPPING ("Shipping", price 0, `Stockable = N`, no inv_loc
 *   rows) that orders, invoices and credit memos take as a line: order-to-cash sends shipping as a SHIPPING line.
 * - Journals must balance and every AccountNo must exist in `chart_of_accts` (4999 and 6199 are missing on
 *   purpose): the failure message reads `GL account <n> does not exist in the chart of accounts (...)`.
 * - Fault `partialFailure: {count, failRecords}`: the next `count` multi-transaction requests fail their last
 *   `failRecords` transactions with "The record is locked by another user", without changing state for them.
 * - Entity API 404s are `{"Message": "..."}`; OData errors are `{"error": {"code", "message"}}`.
 */

export interface P21SimulatorOptions {
  port?: number;
  host?: string;
  username?: string;
  password?: string;
  clientSecret?: string;
  tokenTtlSeconds?: number;
}

export interface P21Simulator {
  url: string;
  port: number;
  faults: FaultState;
  state: P21State;
  close(): Promise<void>;
}

const MAX_PAGE = 1000;
const SERVER_PAGE = 100;
const REFRESH_TTL_MS = 24 * 3600 * 1000;

/** Starts the P21 simulator on 127.0.0.1 (port 0 = a free port). */
export async function startP21Simulator(opts: P21SimulatorOptions = {}): Promise<P21Simulator> {
  const username = opts.username ?? 'ledgerbridge';
  const password = opts.password ?? 'p21-sandbox';
  const clientSecret = opts.clientSecret ?? `${password}-client`;
  const ttl = opts.tokenTtlSeconds ?? 3600;
  const faults = new FaultState();
  const state = seedState();
  const app = express();
  let url = '';

  app.use(faults.middleware());

  const issue = (user: string) => {
    const access = randomBytes(24).toString('hex');
    const refresh = randomBytes(24).toString('hex');
    const now = Date.now();
    state.tokens.set(access, { kind: 'access', epoch: faults.tokenEpoch, expiresAt: now + ttl * 1000, username: user });
    state.tokens.set(refresh, {
      kind: 'refresh',
      epoch: faults.tokenEpoch,
      expiresAt: now + REFRESH_TTL_MS,
      username: user,
    });
    return { AccessToken: access, RefreshToken: refresh, ExpiresInSeconds: ttl, TokenType: 'Bearer' };
  };

  app.post('/api/security/token/v2', express.json(), (req, res) => {
    const b = (req.body ?? {}) as Record<string, unknown>;
    const grant = String(b.GrantType ?? b.grant_type ?? 'password');
    const deny = (msg: string) => res.status(401).json({ Message: msg });
    if (grant === 'refresh_token') {
      const rt = String(b.RefreshToken ?? b.refresh_token ?? '');
      const t = state.tokens.get(rt);
      if (!t || t.kind !== 'refresh' || t.expiresAt < Date.now()) return void deny('Invalid refresh token.');
      state.tokens.delete(rt);
      state.tokenGrants.refresh_token++;
      return void res.json(issue(t.username));
    }
    if (grant === 'client_credentials') {
      if (b.ClientSecret !== clientSecret) return void deny('Invalid client secret.');
      state.tokenGrants.client_credentials++;
      return void res.json(issue('client'));
    }
    if (grant !== 'password') return void res.status(400).json({ Message: `Unsupported GrantType '${grant}'.` });
    const user = b.username ?? b.UserName;
    const pass = b.password ?? b.Password;
    if (user !== username || pass !== password) return void deny('Invalid username or password.');
    state.tokenGrants.password++;
    res.json(issue(username));
  });

  const auth = (req: Request, res: Response, next: NextFunction) => {
    const m = /^Bearer\s+(\S+)$/i.exec(req.get('authorization') ?? '');
    const t = m ? state.tokens.get(m[1]) : undefined;
    if (!t || t.kind !== 'access' || t.epoch < faults.tokenEpoch || t.expiresAt < Date.now()) {
      res.status(401).json({ Message: 'Authorization has been denied for this request.' });
      return;
    }
    next();
  };

  app.get('/api/ui/router/v1', auth, (req, res) => {
    const type = String(req.query.urlType ?? 'external');
    if (type !== 'external' && type !== 'internal') {
      res.status(400).json({ Message: `Invalid urlType '${type}'.` });
      return;
    }
    res.json({ Url: `${url}/uiserver0` });
  });

  const ieee754 = (req: Request) => /IEEE754Compatible=true/i.test(req.get('accept') ?? '');

  app.get('/odataservice/odata/:kind/:name', auth, (req, res) => {
    const kind = String(req.params.kind);
    const name = String(req.params.name);
    const set = kind === 'table' ? TABLES[name] : kind === 'view' ? VIEWS[name] : undefined;
    if (!set) {
      res.status(404).json({ error: { code: '', message: `Resource not found for the segment '${name}'.` } });
      return;
    }
    const q = req.query as Record<string, string | undefined>;
    try {
      const top = q.$top === undefined ? undefined : nonNegative(q.$top, '$top');
      const skip = q.$skip === undefined ? 0 : nonNegative(q.$skip, '$skip');
      const pred = compileFilter(q.$filter, set.fields);
      const rows = orderRows(set.rows(state, ieee754(req)).filter(pred), q.$orderby ?? set.key, set.fields);
      const size = top === undefined ? SERVER_PAGE : Math.min(top, MAX_PAGE);
      const page = rows.slice(skip, skip + size);
      const body: Record<string, unknown> = { '@odata.context': `${url}/odataservice/odata/$metadata#${name}` };
      if (q.$count === 'true') body['@odata.count'] = rows.length;
      body.value = page.map((r) => selectFields(r, q.$select, set.fields));
      const wanted = top === undefined ? rows.length : Math.min(rows.length, skip + top);
      if (skip + size < wanted) {
        const nextQ = new URLSearchParams(req.query as Record<string, string>);
        nextQ.set('$skip', String(skip + size));
        if (top !== undefined) nextQ.set('$top', String(top - size));
        body['@odata.nextLink'] = `${url}${req.path}?${nextQ.toString()}`;
      }
      res.json(body);
    } catch (err) {
      if (!(err instanceof ODataError)) throw err;
      res.status(400).json({ error: { code: '', message: err.message } });
    }
  });

  app.post('/uiserver0/api/v2/transaction', auth, express.json({ limit: '5mb' }), (req, res) => {
    const parsed = transactionSetSchema.safeParse(req.body);
    if (!parsed.success) {
      res.status(400).json({ Message: 'The request is invalid.', ModelState: parsed.error.issues });
      return;
    }
    const set = parsed.data;
    if (!SERVICES[set.Name]) {
      res.status(400).json({ Message: `Unknown transaction service '${set.Name}'.` });
      return;
    }
    const n = set.Transactions.length;
    const injected = n > 1 ? Math.min(faults.takePartialFailure(req), n) : 0;
    const messages: string[] = [];
    const results = set.Transactions.map((tx, i) => {
      if (i >= n - injected) {
        messages.push(`Transaction ${i + 1}: The record is locked by another user; the transaction was rolled back.`);
        return { Status: 'Failed', DataElements: tx.DataElements };
      }
      const out = runTransaction(state, set.Name, tx);
      if (out.message) messages.push(`Transaction ${i + 1}: ${out.message}`);
      return { Status: out.status, DataElements: out.dataElements };
    });
    const failed = results.filter((r) => r.Status === 'Failed').length;
    state.transactionRequests.push({ name: set.Name, transactions: n, failed });
    res.json({
      Messages: messages,
      Results: {
        Name: set.Name,
        UseCodeValues: set.UseCodeValues ?? false,
        IgnoreDisabled: set.IgnoreDisabled ?? false,
        Transactions: results,
      },
      Summary: { Succeeded: n - failed, Failed: failed, Other: 0 },
    });
  });

  app.get('/api/sales/orders/:orderNo', auth, (req, res) => {
    const o = state.orders.find((x) => x.OrderNo === req.params.orderNo);
    if (!o) return void res.status(404).json({ Message: `Order ${String(req.params.orderNo)} not found.` });
    const ieee = ieee754(req);
    res.json({ ...orderHeader(o, ieee), Lines: o.lines.map((l) => orderLine(o, l, ieee)) });
  });

  const entityList = (rows: () => Record<string, unknown>[]) => (req: Request, res: Response) => {
    const q = req.query as Record<string, string | undefined>;
    try {
      const top = Math.min(q.$top === undefined ? SERVER_PAGE : nonNegative(q.$top, '$top'), MAX_PAGE);
      const skip = q.$skip === undefined ? 0 : nonNegative(q.$skip, '$skip');
      res.json(rows().slice(skip, skip + top));
    } catch (err) {
      res.status(400).json({ Message: (err as Error).message });
    }
  };
  const customerEntity = (c: P21State['customers'][number]) => ({ ...c });
  const partEntity = (req: Request) => (p: P21State['parts'][number]) => ({
    PartNum: p.PartNum,
    ItemDesc: p.ItemDesc,
    Price: renderMoney(p.PriceMinor, p.CurrencyID, ieee754(req)),
    UnitOfMeasure: p.UnitOfMeasure,
    CurrencyID: p.CurrencyID,
    Stockable: p.Stockable,
    OnHandQty: state.invLoc.filter((l) => l.PartNum === p.PartNum).reduce((a, l) => a + l.OnHandQty, 0),
  });

  app.get('/api/entity/customers', auth, (req, res) => entityList(() => state.customers.map(customerEntity))(req, res));
  app.get('/api/entity/customers/:id', auth, (req, res) => {
    const c = state.customers.find((x) => x.CustomerID === req.params.id);
    if (!c) return void res.status(404).json({ Message: `Customer ${String(req.params.id)} not found.` });
    res.json(customerEntity(c));
  });
  app.get('/api/inventory/parts', auth, (req, res) => entityList(() => state.parts.map(partEntity(req)))(req, res));
  app.get('/api/inventory/parts/:partNum', auth, (req, res) => {
    const p = state.parts.find((x) => x.PartNum === req.params.partNum);
    if (!p) return void res.status(404).json({ Message: `Part ${String(req.params.partNum)} not found.` });
    res.json(partEntity(req)(p));
  });
  app.use((req: Request, res: Response) => {
    res.status(404).json({ Message: `No HTTP resource was found that matches the request URI '${req.originalUrl}'.` });
  });
  app.use((err: Error & { status?: number; type?: string }, _req: Request, res: Response, _next: NextFunction) => {
    // express.json parse errors carry a 4xx status; anything else is a simulator bug surfaced as a 500.
    const status = err.status && err.status < 500 ? err.status : 500;
    res.status(status).json({ Message: status === 500 ? 'An error has occurred.' : err.message });
  });

  const server = http.createServer(app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const addr = server.address() as AddressInfo;
  url = `http://${opts.host ?? '127.0.0.1'}:${addr.port}`;

  return {
    url,
    port: addr.port,
    faults,
    state,
    close: async () => {
      faults.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function nonNegative(v: string, name: string): number {
  if (!/^\d+$/.test(v)) throw new ODataError(`invalid ${name}: ${v}`);
  return Number(v);
}
