/**
 * Infor M3 simulator: the ION API gateway in front of M3 MI programs, speaking REST v2, with the shared fault
 * injection mounted first.
 *
 * - Token endpoint: `POST /{tenant}/as/token.oauth2` (the `.ionapi` `pu` + `ot`), form-encoded or JSON. Grants:
 *   `password` (username = `saak`, password = `sask`, the ION backend-service flow) and `client_credentials`; client id
 *   and secret in the body or HTTP Basic. Answers `{access_token, token_type: "Bearer", expires_in}`; bad client
 *   credentials answer 401 `{error: "invalid_client"}`, a bad service account 400 `{error: "invalid_grant"}`.
 *   Tokens carry the fault epoch: after `faults.expireTokens` older tokens answer 401 (refresh once).
 * - Single transaction: `POST|GET /{tenant}/M3/m3api-rest/v2/execute/{program}/{transaction}`, fields as query
 *   parameters (a JSON object body is merged in), plus `cono`, `divi`, `maxrecs` (0 = all, default 100).
 * - Bulk: `POST /{tenant}/M3/m3api-rest/v2/execute` with `{program, cono?, divi?, transactions: [{transaction,
 *   record}]}`. Results come back in request order; each transaction is independent (a failed record does not stop
 *   the others) and `wasTerminated` is always false.
 * - Response: HTTP 200 `{results: [{transaction, records, errorMessage?, errorCode?, errorField?, errorType?}],
 *   nrOfSuccessfullTransactions, nrOfFailedTransactions}` (M3's spelling). An MI error (NOK) is still HTTP 200.
 *   Unknown programs/transactions are an MI error "Transaction X does not exist" (code `WTR0001`).
 * - Partial batch failure (`faults.partialFailure`): the next bulk call fails its LAST `failRecords` records with the
 *   transient error "Record is locked by another job, try again later" (code `WLO0001`), without side effects.
 * - Values are strings. Amounts are decimals in the currency's exponent ("89.99", credits negative in GLS840MI);
 *   dates are YYYYMMDD; quantities plain decimals. Field lengths are enforced for the fields we use (CUNO 10, CUNM 36,
 *   CUA1-4 36, PHNO 16, MAIL 60, YREF 30, CUOR 20, VTXT 40, BTXT 40, REMK 30).
 * - Simplifications, where real M3 needs more programs or batch jobs:
 *   - OIS100MI: `AddBatchHead` returns the final order number (no temporary number); `Confirm` moves the order from
 *     '05' to '20'; `CancelOrder` (simulator transaction) sets '90' unless the order reached '66' or beyond;
 *     `LstHead` lists a customer's orders (optionally by `CUOR`). Order lines take an explicit tax amount `TAXA`
 *     (the external tax engine's amount) and our line number in `CUPO`.
 *   - OIS300MI (simulated program) stands for invoicing (real M3: delivery, then OIS180/OIS300 jobs):
 *     `AddHead` (IVTP IN|CN, our ref in `YRE1`, `OIVN` = original invoice of a credit note, text `TX40`), `AddLine`, `LstLine`,
 *     `Release` ('10' → '20'; the order goes to '77'), `Get`, `LstHead`, `Cancel` (draft only → '90') and `Reverse`
 *     (released → '80', plus a released opposite document).
 *   - ARS110MI collapses cash receipt entry and matching: `AddPayment` (invoice `CINO`, our ref in `VTXT`, processor
 *     reference in `PYRF`), `Get`, `LstPayments` (by `CINO`, date range `FDAT`-`TDAT`, paging from `PYNO`), `Reverse`.
 *   - GLS840MI: `AddBatchHead` (our ref in `BTXT`), `AddBatchLine` (account `AIT1`, dimensions `AIT2`-`AIT7`
 *     unchecked, signed `CUAM`, our line marker in `VTXT`), `UpdBatch` (checks the balance per currency, '10' → '90',
 *     assigns a voucher `VONO`), plus `LstBatchHead`/`LstBatchLine` for lookups (real M3 reads GLS200MI or the data
 *     lake). An unknown account answers "Account 4999 does not exist" on `AddBatchLine`.
 *   - MMS060MI `LstBalID` returns one balance identity per item and warehouse; MMS850MI `AddAdjust` takes a signed
 *     `QLQT` and our marker in `REMK`, and MWS070MI `LstTransByItem` lists those transactions. MMS200MI items carry
 *     the base sales price (`SAPR`, `CUCD`) that real M3 keeps in OIS017, and `STCD` (inventory accounting, 0 or 1).
 *   - Orders and invoices never allocate or issue stock: stock moves only through `AddAdjust`, which refuses an item
 *     with STCD 0 ("Item SHIPPING is not inventory accounted", WIT0301).
 * - Token requests are recorded (content type and grant type) so that tests can see what the client sent.
 * - Seed: customers with near-duplicates (same email in another case, same phone written differently), SKU-1001..1005
 *   at warehouse MAIN, the service item SHIPPING ("Shipping", price 0, STCD 0, no balance: order-to-cash sends
 *   shipping as a SHIPPING line), accounts without 4999 and 6199.
 */
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express, { type Request, type Response } from 'express';
import { FaultState } from '../faults';
import { M3Data, MiError, PROGRAMS, seedM3, type Fields, type MiRecord } from './programs';

export interface M3SimulatorOptions {
  port?: number;
  host?: string;
  tenant?: string;
  clientId?: string;
  clientSecret?: string;
  serviceAccountKey?: string;
  serviceAccountSecret?: string;
  tokenTtlSeconds?: number;
}

export interface M3SimState {
  readonly data: M3Data;
  readonly tenant: string;
  /** Tokens issued so far. */
  readonly tokensIssued: () => number;
  /** 401 answers sent by the gateway. */
  readonly unauthorized: () => number;
  /** Every token request: its content type and grant type. */
  readonly tokenRequests: { contentType: string; grantType: string }[];
  /** Runs one MI transaction directly (no HTTP), e.g. to simulate a write from an earlier, crashed attempt. */
  execute(program: string, transaction: string, fields: Fields): MiRecord[];
  /** How many times the simulator received a transaction whose record matches `match`. */
  seen(program: string, transaction: string, match?: (record: Fields) => boolean): number;
}

export interface M3Simulator {
  url: string;
  port: number;
  faults: FaultState;
  state: M3SimState;
  /** An `.ionapi` document that points at this simulator. */
  ionapi: Record<string, string>;
  close(): Promise<void>;
}

interface MiResult {
  transaction: string;
  records: MiRecord[];
  errorMessage?: string;
  errorCode?: string;
  errorField?: string;
  errorType?: string;
}

/** Starts the simulator on 127.0.0.1 (port 0 = a free port). */
export async function startM3Simulator(opts: M3SimulatorOptions = {}): Promise<M3Simulator> {
  const tenant = opts.tenant ?? 'LEDGERBRIDGE_TST';
  const clientId = opts.clientId ?? 'LEDGERBRIDGE_TST~m3-sim-client';
  const clientSecret = opts.clientSecret ?? 'm3-sim-secret';
  const saak = opts.serviceAccountKey ?? 'LEDGERBRIDGE_TST#sim-service-account';
  const sask = opts.serviceAccountSecret ?? 'sim-service-secret';
  const ttl = opts.tokenTtlSeconds ?? 7200;
  const faults = new FaultState();
  const data = new M3Data();
  seedM3(data);
  const tokens = new Map<string, number>();
  let issued = 0;
  let unauthorized = 0;
  const tokenRequests: M3SimState['tokenRequests'] = [];

  const run = (program: string, transaction: string, fields: Fields, maxrecs: number, bulk: boolean): MiResult => {
    const handler = PROGRAMS[program]?.[transaction];
    try {
      if (!handler) throw new MiError(`Transaction ${program}/${transaction} does not exist`, 'WTR0001');
      const records = handler(data, fields, maxrecs);
      data.log.push({ program, transaction, record: { ...fields }, ok: true, bulk });
      return { transaction, records };
    } catch (err) {
      data.log.push({ program, transaction, record: { ...fields }, ok: false, bulk });
      if (!(err instanceof MiError)) throw err;
      return {
        transaction,
        records: [],
        errorMessage: err.message,
        errorCode: err.code,
        ...(err.field ? { errorField: err.field } : {}),
        errorType: 'ServerReturnedNOK',
      };
    }
  };

  const state: M3SimState = {
    data,
    tenant,
    tokensIssued: () => issued,
    unauthorized: () => unauthorized,
    tokenRequests,
    execute(program, transaction, fields) {
      const r = run(program, transaction, fields, 0, false);
      if (r.errorMessage) throw new MiError(r.errorMessage, r.errorCode ?? '', r.errorField);
      return r.records;
    },
    seen: (program, transaction, match) =>
      data.log.filter((e) => e.program === program && e.transaction === transaction && (!match || match(e.record)))
        .length,
  };

  const app = express();
  app.disable('x-powered-by');
  app.use(faults.middleware());

  const form = express.urlencoded({ extended: false });
  app.post('/:tenant/as/token.oauth2', form, express.json(), (req: Request, res: Response) => {
    if (req.params.tenant !== tenant) return void res.status(404).json({ error: 'unknown tenant' });
    const body = (req.body ?? {}) as Record<string, string>;
    tokenRequests.push({ contentType: req.get('content-type') ?? '', grantType: body.grant_type ?? '' });
    let id = body.client_id;
    let secret = body.client_secret;
    const basic = /^basic\s+(.+)$/i.exec(req.get('authorization') ?? '');
    if (basic) [id, secret] = Buffer.from(basic[1], 'base64').toString('utf8').split(':');
    if (id !== clientId || secret !== clientSecret) {
      return void res.status(401).json({ error: 'invalid_client', error_description: 'Client authentication failed' });
    }
    if (body.grant_type === 'password') {
      if (body.username !== saak || body.password !== sask) {
        return void res.status(400).json({ error: 'invalid_grant', error_description: 'Invalid service account' });
      }
    } else if (body.grant_type !== 'client_credentials') {
      return void res.status(400).json({ error: 'unsupported_grant_type' });
    }
    const token = randomBytes(24).toString('base64url');
    tokens.set(token, faults.tokenEpoch);
    issued++;
    res.json({ access_token: token, token_type: 'Bearer', expires_in: ttl });
  });

  const base = '/:tenant/M3/m3api-rest/v2/execute';
  const authorize = (req: Request, res: Response): boolean => {
    if (req.params.tenant !== tenant) {
      res.status(404).json({ error: 'unknown tenant' });
      return false;
    }
    const m = /^bearer\s+(.+)$/i.exec(req.get('authorization') ?? '');
    const epoch = m ? tokens.get(m[1]) : undefined;
    if (epoch === undefined || epoch < faults.tokenEpoch) {
      unauthorized++;
      res.status(401).json({ error: 'Unauthorized', message: 'The access token is invalid or has expired' });
      return false;
    }
    return true;
  };
  const maxrecsOf = (v: unknown) => (v === undefined || v === '' ? 100 : Math.max(0, Number(v) || 0));
  const respond = (res: Response, results: MiResult[]) => {
    const failed = results.filter((r) => r.errorMessage).length;
    res.json({
      results,
      wasTerminated: false,
      nrOfSuccessfullTransactions: results.length - failed,
      nrOfFailedTransactions: failed,
    });
  };

  const single = (req: Request, res: Response) => {
    if (!authorize(req, res)) return;
    const fields: Fields = {};
    const skip = new Set([
      'cono',
      'divi',
      'maxrecs',
      'dateformat',
      'excludeempty',
      'righttrim',
      'format',
      'extendedresult',
    ]);
    for (const [k, v] of Object.entries(req.query)) if (!skip.has(k) && typeof v === 'string') fields[k] = v;
    if (req.body && typeof req.body === 'object' && !Array.isArray(req.body)) {
      for (const [k, v] of Object.entries(req.body as Record<string, unknown>))
        if (v !== undefined && v !== null) fields[k] = String(v);
    }
    const params = req.params as Record<string, string>;
    respond(res, [run(params.program, params.transaction, fields, maxrecsOf(req.query.maxrecs), false)]);
  };
  app.post(`${base}/:program/:transaction`, express.json(), single);
  app.get(`${base}/:program/:transaction`, single);

  app.post(base, express.json({ limit: '5mb' }), (req: Request, res: Response) => {
    if (!authorize(req, res)) return;
    const body = (req.body ?? {}) as { program?: unknown; transactions?: unknown };
    if (typeof body.program !== 'string' || !Array.isArray(body.transactions)) {
      return void res.status(400).json({ error: 'Bad Request', message: 'program and transactions[] are required' });
    }
    const program = body.program;
    const txs = body.transactions as { transaction?: unknown; record?: unknown }[];
    const failCount = Math.min(txs.length, faults.takePartialFailure(req));
    const results = txs.map((t, i) => {
      const transaction = String(t.transaction ?? '');
      const record: Fields = {};
      for (const [k, v] of Object.entries((t.record ?? {}) as Record<string, unknown>)) {
        if (v !== undefined && v !== null) record[k] = String(v);
      }
      if (i >= txs.length - failCount) {
        data.log.push({ program, transaction, record, ok: false, bulk: true });
        return {
          transaction,
          records: [],
          errorMessage: 'Record is locked by another job, try again later',
          errorCode: 'WLO0001',
          errorType: 'ServerReturnedNOK',
        };
      }
      return run(program, transaction, record, 0, true);
    });
    respond(res, results);
  });

  const server: Server = app.listen(opts.port ?? 0, opts.host ?? '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${opts.host ?? '127.0.0.1'}:${port}`;
  return {
    url,
    port,
    faults,
    state,
    ionapi: {
      ti: tenant,
      cn: 'Ledgerbridge M3 simulator',
      dt: '12',
      ci: clientId,
      cs: clientSecret,
      iu: url,
      pu: `${url}/${tenant}/as/`,
      oa: 'authorization.oauth2',
      ot: 'token.oauth2',
      or: 'revoke_token.oauth2',
      ev: 'V1480769020',
      v: '1.0',
      saak,
      sask,
    },
    close: async () => {
      faults.clear();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
