/**
 * Records one real run of each flow into test/replay/histories/ (run: npm run record:histories). The replay test then
 * replays them against the current workflow code, so a change that would break running workflows fails CI; such a
 * change must use patched(). Re-record only when a flow is added or a patch adds a code path, and then keep the
 * earlier history under its own name (e.g. order-to-cash-lean-stages.json); never re-record to make a replay pass.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { execFileSync } from 'node:child_process';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { createActivities } from '../../activities';
import { loadConfig } from '../../src/config';
import { createConnectors } from '../../src/connectors/factory';
import { createDb, dropDatabase, ensureDatabase, migrate, withDatabase } from '../../src/db';
import { workflowIds } from '../../src/domain/ids';
import { createLogger } from '../../src/logger';
import { startDevServer } from '../../src/runtime/dev-server';
import { freePort } from '../../src/runtime/ports';
import { ensureTemporalCli } from '../../src/runtime/temporal-cli';
import { startSandbox } from '../../src/sandbox';
import { orderToCash, refund, settlementReconciliation } from '../../workflows';

const OUT = path.join(__dirname, 'histories');

async function main() {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'lb-record-'));
  chmodSync(tmp, 0o755);
  const cli = await ensureTemporalCli();
  if (!cli) throw new Error('no Temporal CLI');
  const server = await startDevServer({
    cli,
    dbFile: path.join(tmp, 't.db'),
    port: await freePort(),
    uiPort: 0,
    headless: true,
  });
  const url = withDatabase(
    process.env.DATABASE_URL ?? 'postgres://root@127.0.0.1:5432/postgres',
    `lb_record_${Date.now()}`,
  );
  await ensureDatabase(url);
  const db = createDb(url);
  await migrate(db);
  const sandbox = await startSandbox({ dataDir: tmp, ports: 'random' });
  try {
    const config = loadConfig({ ...sandbox.env });
    const connectors = createConnectors(config, db, createLogger({ level: 'silent' }));
    const activities = createActivities({ db, config, erp: (s) => connectors.erp(s), heartland: connectors.heartland });
    const connection = await NativeConnection.connect({ address: server.address });
    const taskQueue = 'record';
    const queues = { heartland: 'record-heartland', erp: 'record-erp' };
    const workers = [
      await Worker.create({ connection, taskQueue, workflowsPath: require.resolve('../../workflows'), activities }),
      await Worker.create({ connection, taskQueue: queues.heartland, activities }),
      await Worker.create({ connection, taskQueue: queues.erp, activities }),
    ];
    const client = new Client({ connection: await Connection.connect({ address: server.address }) });
    const recorded: Record<string, string> = {};
    // The CLI's JSON is the format historyFromJSON reads (the SDK's historyToJSON trips over two protobufjs copies).
    const historyJson = (workflowId: string) =>
      execFileSync(
        cli,
        ['workflow', 'show', '--address', server.address, '--workflow-id', workflowId, '--output', 'json'],
        {
          encoding: 'utf8',
        },
      );
    const body = async () => {
      const orderId = 'REC-1001';
      const order = client.workflow.getHandle(workflowIds.order('commerce', orderId));
      await client.workflow.start(orderToCash, {
        taskQueue,
        workflowId: order.workflowId,
        args: [
          {
            source: 'commerce',
            orderId,
            erp: 'odoo',
            currency: 'USD',
            orderDate: '2026-11-20',
            customer: { externalRef: 'cust-rec-1', name: 'Replay Recorder', email: 'replay@example.com' },
            lines: [{ sku: 'SKU-1001', qty: 1, unitPriceMinor: 8999, taxMinor: 742 }],
            totalMinor: 9741,
            payment: { token: 'PMT_REC_1', brand: 'VISA', last4: '4242' },
            queues,
          },
        ],
      });
      await order.signal('fulfilled', {});
      await order.result();
      recorded['order-to-cash'] = historyJson(order.workflowId);

      const refundHandle = await client.workflow.start(refund, {
        taskQueue,
        workflowId: workflowIds.refund('ops', 'REC-R1'),
        args: [
          {
            source: 'ops',
            refundId: 'REC-R1',
            erp: 'odoo',
            kind: 'request',
            order: { source: 'commerce', orderId },
            currency: 'USD',
            amountMinor: 8999 + 742,
            date: '2026-11-21',
            reason: 'returned',
            lines: [{ sku: 'SKU-1001', qty: 1, unitPriceMinor: 8999, taxMinor: 742 }],
            queues,
          },
        ],
      });
      await refundHandle.result();
      recorded['refund'] = historyJson(refundHandle.workflowId);

      const batchId = 'BAT_REC_1';
      const seeded = await fetch(`${sandbox.heartlandGp.url}/__seed/settlement`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ batchId, count: 20, settlementDate: '2026-11-20', salt: 7 }),
      });
      if (!seeded.ok) throw new Error(`seeding the batch failed: ${seeded.status}`);
      const settle = await client.workflow.start(settlementReconciliation, {
        taskQueue,
        workflowId: workflowIds.settlement(batchId),
        args: [{ batchId, erp: 'odoo', trigger: 'on-demand', queues }],
      });
      for (;;) {
        const s = (await settle.query('status')) as { stage: string };
        if (s.stage === 'needs-review') break;
        if (s.stage === 'completed') break;
        await new Promise((r) => setTimeout(r, 200));
      }
      const s = (await settle.query('status')) as { stage: string };
      if (s.stage === 'needs-review')
        await settle.executeUpdate('approve', { args: [{ actor: 'recorder', note: 'recorded run' }] });
      await settle.result();
      recorded['settlement-reconciliation'] = historyJson(settle.workflowId);
    };
    const done = body();
    await Promise.all(workers.map((w) => w.runUntil(done)));
    mkdirSync(OUT, { recursive: true });
    for (const [name, json] of Object.entries(recorded)) {
      writeFileSync(path.join(OUT, `${name}.json`), JSON.stringify(JSON.parse(json), null, 1) + '\n');
      console.log(`recorded ${name}`);
    }
  } finally {
    await sandbox.close();
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
