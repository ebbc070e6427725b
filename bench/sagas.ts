/**
 * bench:sagas: 300 orderToCash sagas against the simulators (zero injected latency), 50 in flight, on a real Temporal
 * dev server and Postgres; in the same run, a floor workflow with the same number of sequential no-op activities and
 * the same signal. After a warm-up of each, the two alternate in rounds (saga, floor, saga, floor, …) and their times are
 * summed. Prints a summary and, last, one JSON line: sagas_per_s, floor_per_s, ratio, p50_ms, p99_ms.
 */
import { fork } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { createActivities } from '../activities';
import { cpuMeter, cpuSeconds, cpuSecondsOf } from './cpu';
import { loadConfig } from '../src/config';
import { createConnectors } from '../src/connectors/factory';
import { createDb, dropDatabase, ensureDatabase, migrate, withDatabase } from '../src/db';
import { workflowIds } from '../src/domain/ids';
import type { OrderInput } from '../src/domain/orders';
import { createLogger } from '../src/logger';
import { startDevServer } from '../src/runtime/dev-server';
import { freePort } from '../src/runtime/ports';
import { ensureTemporalCli } from '../src/runtime/temporal-cli';

const SAGAS = Number(process.env.BENCH_SAGAS ?? 300);
const IN_FLIGHT = Number(process.env.BENCH_IN_FLIGHT ?? 50);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 25);
const SAGA_ACTIVITIES = 9; // validate, customer, sales order, authorize, invoice, capture, post, payment, inventory

async function pool<T>(n: number, width: number, job: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array(n);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < n) {
        const i = next++;
        out[i] = await job(i);
      }
    }),
  );
  return out;
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

async function main() {
  Runtime.install({ logger: new DefaultLogger(process.env.BENCH_LOG === 'warn' ? 'WARN' : 'ERROR') });
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'lb-bench-sagas-'));
  chmodSync(tmp, 0o755);
  const cli = await ensureTemporalCli();
  if (!cli) throw new Error('no Temporal CLI');
  const server = await startDevServer({
    cli,
    dbFile: path.join(tmp, 't.db'),
    port: await freePort(),
    uiPort: 0,
    headless: true,
    synchronous: 'off',
  });
  const url = withDatabase(
    process.env.DATABASE_URL ?? 'postgres://root@127.0.0.1:5432/postgres',
    `lb_bench_${Date.now()}`,
  );
  await ensureDatabase(url);
  const db = createDb(url, { poolMax: 30 });
  await migrate(db);
  const sims = fork(path.join(__dirname, 'sandbox-process.ts'), [tmp], { execArgv: process.execArgv });
  const sandboxEnv = await new Promise<Record<string, string>>((resolve, reject) => {
    sims.once('message', (m: { env: Record<string, string> }) => resolve(m.env));
    sims.once('exit', (code) => reject(new Error(`simulators exited (${code})`)));
  });
  try {
    const config = loadConfig({ ...sandboxEnv });
    const connectors = createConnectors(config, db, createLogger({ level: 'silent' }));
    const activities = {
      ...createActivities({ db, config, erp: (s) => connectors.erp(s), heartland: connectors.heartland }),
      noop: async (i: number) => i,
    };
    const { code } = await bundleWorkflowCode({
      workflowsPath: require.resolve('./workflows'),
      logger: new DefaultLogger('ERROR'),
    });
    const connection = await NativeConnection.connect({ address: server.address });
    const taskQueue = 'bench';
    const workers = [
      await Worker.create({ connection, taskQueue, workflowBundle: { code }, activities, maxCachedWorkflows: 500 }),
      await Worker.create({ connection, taskQueue: 'bench-heartland', activities }),
      await Worker.create({ connection, taskQueue: 'bench-erp', activities }),
    ];
    const client = new Client({ connection: await Connection.connect({ address: server.address }) });
    const startSaga = async (tag: string, i: number) => {
      const orderId = `${tag}-${i}`;
      const input: OrderInput = {
        source: 'bench',
        orderId,
        erp: 'odoo',
        currency: 'USD',
        orderDate: '2026-11-20',
        customer: {
          externalRef: `bench-${i % 25}`,
          name: `Bench Buyer ${i % 25}`,
          email: `bench${i % 25}@example.com`,
        },
        lines: [{ sku: 'SKU-1004', qty: 1, unitPriceMinor: 2499, taxMinor: 206 }],
        totalMinor: 2705,
        payment: { token: `PMT_BENCH_${i}`, brand: 'VISA', last4: '4242' },
        queues: { heartland: 'bench-heartland', erp: 'bench-erp' },
      };
      const h = await client.workflow.start('orderToCash', {
        taskQueue,
        workflowId: workflowIds.order('bench', orderId),
        args: [input],
      });
      await h.signal('fulfilled', {});
      const r = (await h.result()) as { outcome: string };
      if (r.outcome !== 'completed') throw new Error(`saga ${orderId} ended ${r.outcome}`);
    };
    const startFloor = async (tag: string, i: number) => {
      const h = await client.workflow.start('floorSaga', {
        taskQueue,
        workflowId: `floor-${tag}-${i}`,
        args: [SAGA_ACTIVITIES],
      });
      await h.signal('fulfilled', {});
      await h.result();
    };
    /** Runs n workflows, IN_FLIGHT at a time; returns the seconds taken and each workflow's latency. */
    const meter = cpuMeter({
      server: () => (server.process?.pid ? cpuSeconds(server.process.pid) : null),
      worker: () => cpuSeconds(process.pid),
      simulators: () => (sims.pid ? cpuSeconds(sims.pid) : null),
      postgres: () => cpuSecondsOf('postgres'),
    });
    const cpu = { saga: {} as Record<string, number>, floor: {} as Record<string, number> };
    const addCpu = (into: Record<string, number>, used: Record<string, number>) => {
      for (const [k, v] of Object.entries(used)) into[k] = (into[k] ?? 0) + v;
    };
    const round = async (n: number, job: (i: number) => Promise<void>) => {
      const latencies: number[] = [];
      const stop = meter.start();
      const t0 = Date.now();
      await pool(n, IN_FLIGHT, async (i) => {
        const s = Date.now();
        await job(i);
        latencies.push(Date.now() - s);
      });
      return { seconds: (Date.now() - t0) / 1000, latencies, cpu: stop() };
    };
    // Both kinds warm up first (JIT, connection pools, ERP customers); then they alternate in rounds, so that drift
    // over the run (the dev server's store growing, other load on the machine) falls on both sides alike.
    const run = async () => {
      const runTag = Date.now().toString(36);
      await round(WARMUP, (i) => startSaga(`W${runTag}`, i));
      await round(WARMUP, (i) => startFloor(`W${runTag}`, i));
      const perRound = Math.ceil(SAGAS / ROUNDS);
      let sagaSeconds = 0;
      let floorSeconds = 0;
      const sagaLatencies: number[] = [];
      const rounds: { saga_s: number; floor_s: number }[] = [];
      for (let r = 0; r < ROUNDS; r++) {
        const n = Math.min(perRound, SAGAS - r * perRound);
        const saga = await round(n, (i) => startSaga(`B${runTag}-${r}`, i));
        const floor = await round(n, (i) => startFloor(`${runTag}-${r}`, i));
        sagaSeconds += saga.seconds;
        floorSeconds += floor.seconds;
        sagaLatencies.push(...saga.latencies);
        addCpu(cpu.saga, saga.cpu);
        addCpu(cpu.floor, floor.cpu);
        rounds.push({ saga_s: saga.seconds, floor_s: floor.seconds });
      }
      return { sagaSeconds, floorSeconds, sagaLatencies, rounds, cpu };
    };
    const running = workers.map((w) =>
      w.run().catch((e: unknown) => {
        console.error(`worker on ${w.options.taskQueue} stopped: ${(e as Error).message}`);
        throw e;
      }),
    );
    let measured: Awaited<ReturnType<typeof run>>;
    try {
      measured = await run();
    } finally {
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
      await Promise.all(running);
    }
    const { sagaSeconds, floorSeconds, sagaLatencies, rounds } = measured;
    const sagas_per_s = SAGAS / sagaSeconds;
    const floor_per_s = SAGAS / floorSeconds;
    const result = {
      sagas_per_s: Number(sagas_per_s.toFixed(2)),
      floor_per_s: Number(floor_per_s.toFixed(2)),
      ratio: Number((sagas_per_s / floor_per_s).toFixed(3)),
      p50_ms: pct(sagaLatencies, 50),
      p99_ms: pct(sagaLatencies, 99),
    };
    console.log(
      `orderToCash: ${SAGAS} sagas, ${IN_FLIGHT} in flight, ${sagaSeconds.toFixed(1)} s against the simulators`,
    );
    console.log(
      `rounds (saga s / floor s, after ${WARMUP} of each to warm up): ${rounds.map((r) => `${r.saga_s.toFixed(1)}/${r.floor_s.toFixed(1)}`).join(', ')}`,
    );
    console.log(
      `floor: ${SAGAS} workflows of ${SAGA_ACTIVITIES} no-op activities + 1 signal, ${floorSeconds.toFixed(1)} s`,
    );
    const perWorkflow = (used: Record<string, number>) =>
      Object.entries(used)
        .map(([k, v]) => `${k} ${((v / SAGAS) * 1000).toFixed(0)}`)
        .join(', ');
    console.log(`CPU ms per saga: ${perWorkflow(measured.cpu.saga)}`);
    console.log(`CPU ms per floor workflow: ${perWorkflow(measured.cpu.floor)}`);
    console.log(
      `dev server SQLite synchronous=off (benchmark setting); ERP odoo (simulators in a child process); Postgres ${new URL(url).host}`,
    );
    await client.connection.close();
    await connection.close();
    console.log(JSON.stringify(result));
  } finally {
    sims.kill('SIGTERM');
    await db.destroy();
    await dropDatabase(url).catch(() => undefined);
    await server.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
