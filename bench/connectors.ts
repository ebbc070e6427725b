/**
 * Connector overhead benchmark: pages 100,000 settlement transactions from the GP API simulator through the GP
 * connector (token cache, breaker, zod validation, mapping) and through a bare undici loop (JSON.parse only), and
 * compares the two. The simulator and the bare loop each run in a child process, so that the connector's process
 * holds only the connector and `peak_rss_mb` is its peak (the bare loop's peak is printed beside it). Rounds
 * alternate between the two clients against the same simulator, and the best round of each is compared.
 * The last line printed is one JSON object: {records, connector_rps, bare_rps, ratio, peak_rss_mb}.
 *
 *   npm run bench:connectors   (node --import tsx bench/connectors.ts)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { Agent, request } from 'undici';
import { GpApiConnector, GP_API_VERSION, gpSecret } from '../src/connectors/heartland/gp-api';

const RECORDS = Number(process.env.BENCH_RECORDS ?? 100_000);
const PAGE_SIZE = Number(process.env.BENCH_PAGE_SIZE ?? 1000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const BATCH = 'BAT_BENCH';
const APP_ID = 'bench-app';
const APP_KEY = 'bench-app-key';

interface Target {
  baseUrl: string;
}

async function serve(): Promise<void> {
  // Imported here only: the client process never loads the simulator (express and friends).
  const { startHeartlandGpSimulator } = await import('../src/sandbox/heartland-gp/index.js');
  const sim = await startHeartlandGpSimulator({
    appId: APP_ID,
    appKey: APP_KEY,
    seedTransactions: [{ batchId: BATCH, count: RECORDS }],
  });
  process.stdout.write(`${JSON.stringify({ baseUrl: sim.baseUrl })}\n`);
  const stop = () => void sim.close().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.stdin.on('end', stop);
  process.stdin.resume();
}

/** Starts this file in another mode as a child process; `next()` reads its stdout line by line. */
function startChild(mode: string[]): { child: ChildProcess; next: () => Promise<string> } {
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1], ...mode], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const queued: string[] = [];
  const waiting: ((line: string) => void)[] = [];
  let exited: Error | undefined;
  const failed: ((err: Error) => void)[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const w = waiting.shift();
    failed.shift();
    if (w) w(line);
    else queued.push(line);
  });
  child.once('exit', (code) => {
    exited = new Error(`child ${mode.join(' ')} exited with ${code}`);
    for (const f of failed.splice(0)) f(exited);
  });
  const next = () =>
    new Promise<string>((resolve, reject) => {
      if (queued.length) return resolve(queued.shift()!);
      if (exited) return reject(exited);
      waiting.push(resolve);
      failed.push(reject);
    });
  return { child, next };
}

/** Child mode: runs the bare loop once per "run" line on stdin and answers with {records, ms, maxRssMb}. */
async function serveBare(target: Target): Promise<void> {
  const agent = new Agent({ connections: 4 });
  for await (const line of createInterface({ input: process.stdin })) {
    if (line !== 'run') continue;
    const t = await timed(() => bare(target, agent));
    const maxRssMb = process.resourceUsage().maxRSS / 1024;
    process.stdout.write(`${JSON.stringify({ records: t.records, ms: t.ms, maxRssMb })}\n`);
  }
  await agent.close();
}

/** The bare loop: undici + JSON.parse, the least any client must do. */
async function bare(target: Target, agent: Agent): Promise<number> {
  const nonce = new Date().toISOString();
  const tokenRes = await request(`${target.baseUrl}/accesstoken`, {
    method: 'POST',
    dispatcher: agent,
    headers: { 'content-type': 'application/json', 'x-gp-version': GP_API_VERSION },
    body: JSON.stringify({ app_id: APP_ID, nonce, secret: gpSecret(nonce, APP_KEY), grant_type: 'client_credentials' }),
  });
  const { token } = (await tokenRes.body.json()) as { token: string };
  let records = 0;
  for (let page = 1; ; page++) {
    const url =
      `${target.baseUrl}/settlement/transactions?page=${page}&page_size=${PAGE_SIZE}` +
      `&order=ASC&order_by=TIME_CREATED&batch_id=${BATCH}`;
    const res = await request(url, {
      dispatcher: agent,
      headers: { authorization: `Bearer ${token}`, 'x-gp-version': GP_API_VERSION, accept: 'application/json' },
    });
    if (res.statusCode !== 200) throw new Error(`bare loop: HTTP ${res.statusCode}`);
    const body = JSON.parse(await res.body.text()) as { total_record_count: number; transactions: unknown[] };
    records += body.transactions.length;
    if (body.transactions.length === 0 || page * PAGE_SIZE >= body.total_record_count) break;
  }
  return records;
}

/** The connector loop: what a settlement activity does per page. */
async function viaConnector(gp: GpApiConnector): Promise<number> {
  let records = 0;
  let checksum = 0;
  for await (const page of gp.settlementTransactions({ batchId: BATCH, pageSize: PAGE_SIZE })) {
    records += page.records.length;
    for (const r of page.records) checksum += r.amountMinor;
  }
  if (checksum <= 0) throw new Error('connector loop read no amounts');
  return records;
}

async function timed(fn: () => Promise<number>): Promise<{ records: number; rps: number; ms: number }> {
  const t0 = performance.now();
  const records = await fn();
  const ms = performance.now() - t0;
  return { records, rps: records / (ms / 1000), ms };
}

async function main(): Promise<void> {
  const sim = startChild(['--serve']);
  const target = JSON.parse(await sim.next()) as Target;
  const bareChild = startChild(['--bare', target.baseUrl]);
  const runBare = async () => {
    bareChild.child.stdin!.write('run\n');
    const r = JSON.parse(await bareChild.next()) as { records: number; ms: number; maxRssMb: number };
    return { records: r.records, ms: r.ms, rps: r.records / (r.ms / 1000), maxRssMb: r.maxRssMb };
  };
  const gp = new GpApiConnector({ baseUrl: target.baseUrl, appId: APP_ID, appKey: APP_KEY, timeoutMs: 30_000 });
  try {
    const startRssMb = process.memoryUsage().rss / 1048576;
    // Warm-up: JIT, connections, token, and the simulator's code paths.
    await runBare();
    await viaConnector(gp);
    let bestBare = { records: 0, rps: 0, ms: 0, maxRssMb: 0 };
    let bestConn = { records: 0, rps: 0, ms: 0 };
    for (let round = 1; round <= ROUNDS; round++) {
      const b = await runBare();
      const c = await timed(() => viaConnector(gp));
      if (b.records !== RECORDS || c.records !== RECORDS) {
        throw new Error(`expected ${RECORDS} records, got bare ${b.records}, connector ${c.records}`);
      }
      console.log(
        `round ${round}: bare ${Math.round(b.rps)} rec/s (${Math.round(b.ms)} ms), ` +
          `connector ${Math.round(c.rps)} rec/s (${Math.round(c.ms)} ms)`,
      );
      if (b.rps > bestBare.rps) bestBare = b;
      if (c.rps > bestConn.rps) bestConn = c;
    }
    const bareRssMb = (await runBare()).maxRssMb;
    const peakRssMb = process.resourceUsage().maxRSS / 1024;
    const ratio = bestConn.rps / bestBare.rps;
    console.log(
      `GP settlement paging, ${RECORDS} records, page_size ${PAGE_SIZE}, best of ${ROUNDS} rounds:\n` +
        `  connector   ${Math.round(bestConn.rps)} records/s\n` +
        `  bare undici ${Math.round(bestBare.rps)} records/s\n` +
        `  ratio       ${ratio.toFixed(3)} (target >= 0.8)\n` +
        `  peak RSS    ${peakRssMb.toFixed(1)} MB, connector process (target < 200 MB; ` +
        `${startRssMb.toFixed(0)} MB of it is node + tsx + modules before the first request); ` +
        `bare-loop process ${bareRssMb.toFixed(1)} MB`,
    );
    console.log(
      JSON.stringify({
        records: RECORDS,
        connector_rps: Math.round(bestConn.rps),
        bare_rps: Math.round(bestBare.rps),
        ratio: Number(ratio.toFixed(3)),
        peak_rss_mb: Number(peakRssMb.toFixed(1)),
      }),
    );
  } finally {
    await gp.close();
    for (const c of [bareChild.child, sim.child]) {
      c.stdin!.end();
      c.kill('SIGTERM');
    }
  }
}

const bareAt = process.argv.indexOf('--bare');
if (process.argv.includes('--serve')) {
  void serve();
} else if (bareAt > 0) {
  void serveBare({ baseUrl: process.argv[bareAt + 1] });
} else {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
