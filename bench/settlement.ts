/**
 * Settlement reconciliation benchmark: reconciles batches of 10,000 and 100,000 transactions end to end through
 * Temporal (stage from the GP API simulator, load the P21 simulator's receipts, match, journal, post, report) and,
 * in the same run, a bare baseline that does the same fetch + inserts + matching + aggregation with undici and pg
 * only. Three processes besides Temporal: this one (orchestration and the baseline), the simulators, and the worker
 * (a fresh one per batch size, so its peak RSS, VmHWM from /proc, is that size's peak). The Temporal dev server is
 * started here on a fresh SQLite file with journal_mode=wal and synchronous=off (benchmarks only; reported below),
 * Postgres gets a fresh database on DATABASE_URL (default postgres://root@127.0.0.1:5432/postgres), dropped at the end.
 *
 * The last line printed is one JSON object:
 *   {lines, seconds, baseline_seconds, ratio, worker_peak_rss_mb_10k, worker_peak_rss_mb_100k, history_events}
 * for the 100,000-line batch (ratio = seconds / baseline_seconds; history_events of that run's workflow).
 *
 *   npm run bench:settlement   (node --import tsx bench/settlement.ts)
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { Agent, request } from 'undici';
import { createDb, dropDatabase, ensureDatabase, migrate, withDatabase, type Db } from '../src/db';
import { GP_API_VERSION, gpSecret } from '../src/connectors/heartland/gp-api';
import { freePort } from '../src/runtime/ports';
import { startDevServer } from '../src/runtime/dev-server';
import { ensureTemporalCli, INSTALL_HINT } from '../src/runtime/temporal-cli';
import type { SettlementRecordWire } from '../src/sandbox/heartland-gp/synthetic';
import type { SettlementResult } from '../src/settlement/types';

const SIZES = (process.env.BENCH_SIZES ?? '10000,100000').split(',').map(Number);
const PAGE = 1000;
const GP_APP = { appId: 'bench-app', appKey: 'bench-app-key' };
const P21_USER = { username: 'ledgerbridge', password: 'p21-sandbox' };
const WF_QUEUE = 'ledgerbridge';

const say = (m: string) => process.stderr.write(`[bench] ${m}\n`);

interface BatchSpec {
  batchId: string;
  count: number;
  settlementDate: string;
}

const batchFor = (count: number, i: number): BatchSpec => ({
  batchId: `BENCH_${count}`,
  count,
  settlementDate: `2032-03-${String(2 + i * 3).padStart(2, '0')}`,
});

const dayBefore = (d: string) => new Date(Date.parse(`${d}T00:00:00Z`) - 86_400_000).toISOString().slice(0, 10);

interface Endpoints {
  gpBaseUrl: string;
  p21Url: string;
}

// ---------------------------------------------------------------- child: simulators

/** The GP API and P21 simulators, seeded with the batches and one P21 receipt per sale. */
async function simulators(): Promise<void> {
  const { startHeartlandGpSimulator } = await import('../src/sandbox/heartland-gp/index.js');
  const { startP21Simulator } = await import('../src/sandbox/p21/index.js');
  const batches = SIZES.map(batchFor);
  const gp = await startHeartlandGpSimulator({ ...GP_APP });
  const p21 = await startP21Simulator({ ...P21_USER });
  let receipt = 4_000_000;
  for (const b of batches) {
    const seg = gp.state.seedSettlement({ batchId: b.batchId, count: b.count, settlementDate: b.settlementDate });
    for (let i = 0; i < b.count; i++) {
      const r = seg.at(i);
      if (r.type !== 'SALE') continue;
      p21.state.receipts.push({
        ReceiptNo: String(receipt++),
        CustomerID: '10001',
        InvoiceNo: '2000001',
        AmountMinor: Number(r.amount),
        PaymentDate: `${r.time_created.slice(0, 10)}T00:00:00`,
        PaymentTypeID: r.payment_method.card.brand,
        CheckNo: r.id,
        WebReferenceNo: `pay:${r.reference}`,
        CurrencyID: r.currency,
        Voided: 'N',
      });
    }
  }
  process.send!({ gpBaseUrl: gp.baseUrl, p21Url: p21.url } satisfies Endpoints);
  process.on('disconnect', () => void Promise.all([gp.close(), p21.close()]).then(() => process.exit(0)));
}

// ---------------------------------------------------------------- child: worker

/** The worker: the workflow queue and both connector queues, every activity on each. */
async function worker(): Promise<void> {
  const { DefaultLogger, NativeConnection, Runtime, Worker } = await import('@temporalio/worker');
  const { createActivities } = await import('../activities/index.js');
  const { GpApiConnector } = await import('../src/connectors/heartland/gp-api.js');
  const { P21Connector } = await import('../src/connectors/erp/p21/index.js');
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const env = JSON.parse(process.env.LB_BENCH_WORKER!) as Endpoints & { db: string; temporal: string; bundle: string };
  const db = createDb(env.db, { poolMax: 10 });
  const heartland = new GpApiConnector({ baseUrl: env.gpBaseUrl, ...GP_APP });
  const p21 = new P21Connector({ baseUrl: env.p21Url, db, ...P21_USER, pageSize: PAGE });
  const activities = createActivities({
    db,
    heartland,
    erp: (system) => {
      if (system !== 'p21') throw new Error(`the bench worker serves p21, not ${system}`);
      return p21;
    },
  });
  const connection = await NativeConnection.connect({ address: env.temporal });
  const workers = await Promise.all([
    Worker.create({ connection, taskQueue: WF_QUEUE, workflowBundle: { codePath: env.bundle }, activities }),
    Worker.create({ connection, taskQueue: 'connector-heartland', activities }),
    Worker.create({ connection, taskQueue: 'connector-p21', activities }),
  ]);
  process.send!({ ready: true });
  process.on('disconnect', () => workers.forEach((w) => w.shutdown()));
  await Promise.all(workers.map((w) => w.run()));
  await db.destroy();
  process.exit(0);
}

// ---------------------------------------------------------------- orchestration

function forkChild(mode: string, env: Record<string, string> = {}): Promise<{ child: ChildProcess; first: unknown }> {
  const child = fork(process.argv[1], [mode], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    child.once('message', (first) => resolve({ child, first }));
    child.once('exit', (code) => reject(new Error(`${mode} child exited early with ${code}`)));
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    child.disconnect();
  });
}

/** Peak resident set size of a process in MB (VmHWM). */
function peakRssMb(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 102.4) / 10 : NaN;
}

/** Seconds per activity (scheduled to completed) from a run's history, in the order they ran. */
function stepSeconds(history: Awaited<ReturnType<WorkflowHandle['fetchHistory']>>): Record<string, number> {
  const scheduled = new Map<string, { name: string; at: number }>();
  const out: Record<string, number> = {};
  const ms = (t: unknown) => {
    const ts = t as { seconds?: { toNumber(): number } | number; nanos?: number } | null | undefined;
    const sec = typeof ts?.seconds === 'number' ? ts.seconds : (ts?.seconds?.toNumber() ?? 0);
    return sec * 1000 + (ts?.nanos ?? 0) / 1e6;
  };
  for (const e of history.events ?? []) {
    const id = String(e.eventId);
    if (e.activityTaskScheduledEventAttributes) {
      scheduled.set(id, {
        name: e.activityTaskScheduledEventAttributes.activityType?.name ?? '?',
        at: ms(e.eventTime),
      });
    }
    const done = e.activityTaskCompletedEventAttributes;
    if (done) {
      const s = scheduled.get(String(done.scheduledEventId));
      if (s) out[s.name] = (out[s.name] ?? 0) + Math.round(ms(e.eventTime) - s.at) / 1000;
    }
  }
  return out;
}

// ---------------------------------------------------------------- the bare baseline

const BASELINE_SCHEMA = [
  `CREATE TABLE IF NOT EXISTS bl_lines (batch_id text NOT NULL, txn_id text NOT NULL, type text NOT NULL,
     amount_minor bigint NOT NULL, fee_minor bigint NOT NULL, currency text NOT NULL, brand text NOT NULL,
     reference text, txn_time timestamptz NOT NULL, PRIMARY KEY (batch_id, txn_id))`,
  `CREATE TABLE IF NOT EXISTS bl_payments (batch_id text NOT NULL, erp_id text NOT NULL, ref text,
     processor_ref text, amount_minor bigint NOT NULL, pay_date date, PRIMARY KEY (batch_id, erp_id))`,
  `CREATE INDEX IF NOT EXISTS bl_payments_processor ON bl_payments (batch_id, processor_ref)`,
  `CREATE TABLE IF NOT EXISTS bl_results (batch_id text NOT NULL, kind text NOT NULL, txn_id text, erp_id text,
     heartland_minor bigint, erp_minor bigint)`,
];

/** Minor units from a decimal string, in integers. */
function minor(decimal: string): number {
  const [whole, frac = ''] = decimal.split('.');
  const sign = whole.startsWith('-') ? -1 : 1;
  return sign * (Math.abs(Number(whole)) * 100 + Number(frac.padEnd(2, '0').slice(0, 2)));
}

async function baseline(
  db: Db,
  ep: Endpoints,
  b: BatchSpec,
): Promise<{ seconds: number; lines: number; matched: number; phases: Record<string, number> }> {
  const agent = new Agent({ connections: 4 });
  const t0 = performance.now();
  const getJson = async (url: string, headers: Record<string, string>) => {
    const res = await request(url, { headers, dispatcher: agent });
    if (res.statusCode !== 200) throw new Error(`${url}: HTTP ${res.statusCode}`);
    return (await res.body.json()) as Record<string, unknown>;
  };

  // Heartland: token, then pages, each inserted while the next one is fetched.
  const nonce = new Date().toISOString();
  const tok = await request(`${ep.gpBaseUrl}/accesstoken`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-gp-version': GP_API_VERSION },
    body: JSON.stringify({
      app_id: GP_APP.appId,
      nonce,
      secret: gpSecret(nonce, GP_APP.appKey),
      grant_type: 'client_credentials',
    }),
    dispatcher: agent,
  });
  const gpToken = ((await tok.body.json()) as { token: string }).token;
  const gpHeaders = { authorization: `Bearer ${gpToken}`, 'x-gp-version': GP_API_VERSION };
  const gpPage = (page: number) =>
    getJson(`${ep.gpBaseUrl}/settlement/transactions?batch_id=${b.batchId}&page=${page}&page_size=${PAGE}`, gpHeaders);
  let next = gpPage(1);
  for (let page = 1; ; page++) {
    const body = await next;
    const total = Number(body.total_record_count);
    const more = page * PAGE < total;
    if (more) next = gpPage(page + 1);
    const rows = (body.transactions as SettlementRecordWire[]).map((t) => ({
      txn_id: t.id,
      type: t.type,
      amount_minor: Number(t.amount),
      fee_minor: Number(t.fees.amount),
      currency: t.currency,
      brand: t.payment_method.card.brand,
      reference: t.reference,
      txn_time: t.time_created,
    }));
    await db.raw(
      `INSERT INTO bl_lines (batch_id, txn_id, type, amount_minor, fee_minor, currency, brand, reference, txn_time)
       SELECT ?, * FROM json_to_recordset(?::json) AS t(txn_id text, type text, amount_minor bigint, fee_minor bigint,
         currency text, brand text, reference text, txn_time timestamptz)
       ON CONFLICT DO NOTHING`,
      [b.batchId, JSON.stringify(rows)],
    );
    if (!more) break;
  }

  const tGp = performance.now();
  // P21: token, then the receipts of the period, paged with $top/$skip.
  const p = await request(`${ep.p21Url}/api/security/token/v2`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(P21_USER),
    dispatcher: agent,
  });
  const p21Token = ((await p.body.json()) as { AccessToken: string }).AccessToken;
  const p21Headers = {
    authorization: `Bearer ${p21Token}`,
    accept: 'application/json;odata.metadata=minimal;IEEE754Compatible=true',
  };
  const day = dayBefore(b.settlementDate);
  const filter = encodeURIComponent(`PaymentDate ge ${day} and PaymentDate le ${day} and Voided eq 'N'`);
  const p21Page = (skip: number) =>
    getJson(
      `${ep.p21Url}/odataservice/odata/view/p21_view_ar_receipts?$filter=${filter}&$orderby=ReceiptNo&$top=${PAGE}&$skip=${skip}`,
      p21Headers,
    );
  let nextReceipts = p21Page(0);
  for (let skip = 0; ; skip += PAGE) {
    const rows = ((await nextReceipts).value as Record<string, string>[]).map((r) => ({
      erp_id: r.ReceiptNo,
      ref: r.WebReferenceNo,
      processor_ref: r.CheckNo,
      amount_minor: minor(r.PaymentAmount),
      pay_date: r.PaymentDate.slice(0, 10),
    }));
    const more = rows.length === PAGE;
    if (more) nextReceipts = p21Page(skip + PAGE);
    if (rows.length) {
      await db.raw(
        `INSERT INTO bl_payments (batch_id, erp_id, ref, processor_ref, amount_minor, pay_date)
         SELECT ?, * FROM json_to_recordset(?::json) AS t(erp_id text, ref text, processor_ref text,
           amount_minor bigint, pay_date date)
         ON CONFLICT DO NOTHING`,
        [b.batchId, JSON.stringify(rows)],
      );
    }
    if (!more) break;
  }

  const tErp = performance.now();
  // Matching and aggregation.
  await db.raw(
    `INSERT INTO bl_results (batch_id, kind, txn_id, erp_id, heartland_minor, erp_minor)
     SELECT l.batch_id,
            CASE WHEN p.erp_id IS NULL THEN 'missing_in_erp'
                 WHEN p.amount_minor = l.amount_minor THEN 'matched' ELSE 'amount_mismatch' END,
            l.txn_id, p.erp_id, l.amount_minor, p.amount_minor
     FROM bl_lines l LEFT JOIN bl_payments p ON p.batch_id = l.batch_id AND p.processor_ref = l.txn_id
     WHERE l.batch_id = ?`,
    [b.batchId],
  );
  await db.raw(
    `INSERT INTO bl_results (batch_id, kind, erp_id, erp_minor)
     SELECT p.batch_id, 'missing_at_heartland', p.erp_id, p.amount_minor FROM bl_payments p
     WHERE p.batch_id = ? AND NOT EXISTS (SELECT 1 FROM bl_lines l WHERE l.batch_id = p.batch_id AND l.txn_id = p.processor_ref)`,
    [b.batchId],
  );
  const agg = await db.raw(
    `SELECT l.type, l.brand, r.kind, count(*) AS n, sum(l.amount_minor) AS gross, sum(l.fee_minor) AS fees,
            sum((l.amount_minor * 825 * 2 + 10825) / (2 * 10825)) AS tax
     FROM bl_lines l JOIN bl_results r ON r.batch_id = l.batch_id AND r.txn_id = l.txn_id
     WHERE l.batch_id = ? GROUP BY 1, 2, 3`,
    [b.batchId],
  );
  const seconds = (performance.now() - t0) / 1000;
  await agent.close();
  const matched = (agg.rows as { kind: string; n: string }[])
    .filter((r) => r.kind === 'matched')
    .reduce((a, r) => a + Number(r.n), 0);
  const lines = (agg.rows as { n: string }[]).reduce((a, r) => a + Number(r.n), 0);
  const phases = {
    heartland: Math.round(tGp - t0) / 1000,
    erp: Math.round(tErp - tGp) / 1000,
    matchAndAggregate: Math.round(performance.now() - t0 - (tErp - t0)) / 1000,
  };
  return { seconds, lines, matched, phases };
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'ledgerbridge-bench-settlement-'));
  const cli = await ensureTemporalCli(say);
  if (!cli) throw new Error(INSTALL_HINT);
  const temporal = await startDevServer({
    cli,
    dbFile: path.join(tmp, 'temporal.db'),
    port: await freePort(),
    uiPort: 0,
    headless: true,
    synchronous: 'off',
    say,
  });
  say(`temporal dev server at ${temporal.address}: SQLite journal_mode=wal, synchronous=off (benchmark setting)`);
  const dbUrl = withDatabase(
    process.env.DATABASE_URL ?? 'postgres://root@127.0.0.1:5432/postgres',
    `lb_bench_settlement_${Date.now().toString(36)}`,
  );
  await ensureDatabase(dbUrl);
  const db = createDb(dbUrl, { poolMax: 4, quiet: true });
  await migrate(db);
  for (const sql of BASELINE_SCHEMA) await db.raw(sql);

  const { bundleWorkflowCode } = await import('@temporalio/worker');
  const { code } = await bundleWorkflowCode({
    workflowsPath: path.join(__dirname, '..', 'workflows', 'settlement-reconciliation.ts'),
    logger: { log() {}, trace() {}, debug() {}, info() {}, warn: say, error: say },
  });
  const bundle = path.join(tmp, 'settlement-workflows.js');
  writeFileSync(bundle, code);

  say(`seeding the simulators with ${SIZES.join(' and ')} transactions...`);
  const sims = await forkChild('--simulators');
  const ep = sims.first as Endpoints;
  const connection = await Connection.connect({ address: temporal.address });
  const client = new Client({ connection });

  const results: Record<number, Record<string, number>> = {};
  try {
    for (const [i, count] of SIZES.entries()) {
      const b = batchFor(count, i);
      const w = await forkChild('--worker', {
        LB_BENCH_WORKER: JSON.stringify({ ...ep, db: dbUrl, temporal: temporal.address, bundle }),
      });
      const t0 = performance.now();
      const handle = await client.workflow.start('settlementReconciliation', {
        taskQueue: WF_QUEUE,
        workflowId: `settlement:${b.batchId}`,
        args: [{ batchId: b.batchId, erp: 'p21', pageSize: PAGE, trigger: 'on-demand' }],
      });
      const r = (await handle.result()) as SettlementResult;
      const seconds = (performance.now() - t0) / 1000;
      const rss = peakRssMb(w.child.pid!);
      await stopChild(w.child);
      const history = await handle.fetchHistory();
      const sales = r.heartland!.salesCount;
      if (r.counts!.matched !== sales || r.varianceMinor !== 0 || r.journal!.debitMinor !== r.journal!.creditMinor) {
        throw new Error(`reconciliation of ${b.batchId} is wrong: ${JSON.stringify(r.counts)}`);
      }
      const base = await baseline(db, ep, b);
      say(`${b.batchId} baseline phases: ${JSON.stringify(base.phases)}`);
      if (base.lines !== count || base.matched !== sales) {
        throw new Error(`baseline of ${b.batchId} is wrong: ${JSON.stringify(base)}`);
      }
      process.stderr.write(`[bench] ${b.batchId} steps: ${JSON.stringify(stepSeconds(history))}\n`);
      results[count] = {
        lines: r.heartland!.lines,
        seconds: Math.round(seconds * 100) / 100,
        baseline_seconds: Math.round(base.seconds * 100) / 100,
        ratio: Math.round((seconds / base.seconds) * 100) / 100,
        worker_peak_rss_mb: rss,
        history_events: history.events?.length ?? 0,
        journal_lines: r.journal!.lines,
        report_csv_bytes: r.report!.csvBytes,
      };
      process.stdout.write(`${JSON.stringify({ batch: b.batchId, ...results[count] })}\n`);
    }
  } finally {
    await connection.close();
    await stopChild(sims.child);
    await db.destroy();
    await dropDatabase(dbUrl).catch(() => undefined);
    await temporal.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
  const big = results[100_000] ?? results[SIZES[SIZES.length - 1]];
  process.stdout.write(
    `${JSON.stringify({ temporal_store: 'sqlite wal synchronous=off', rss_ratio_100k_10k: Math.round((big.worker_peak_rss_mb / results[SIZES[0]].worker_peak_rss_mb) * 100) / 100 })}\n`,
  );
  process.stdout.write(
    `${JSON.stringify({
      lines: big.lines,
      seconds: big.seconds,
      baseline_seconds: big.baseline_seconds,
      ratio: big.ratio,
      worker_peak_rss_mb_10k: results[10_000]?.worker_peak_rss_mb ?? null,
      worker_peak_rss_mb_100k: results[100_000]?.worker_peak_rss_mb ?? null,
      history_events: big.history_events,
    })}\n`,
  );
}

const mode = process.argv[2];
const run = mode === '--simulators' ? simulators : mode === '--worker' ? worker : main;
run().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
