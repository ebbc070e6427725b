import type { AddressInfo } from 'node:net';
import http from 'node:http';
import express from 'express';
import type { Client } from '@temporalio/client';
import type { NativeConnection, Worker } from '@temporalio/worker';
import { createActivities } from '../../activities';
import type { Db } from '../../src/db';
import { workflowIds } from '../../src/domain/ids';
import type { OrderInput } from '../../src/domain/orders';
import { createLogger } from '../../src/logger';
import { opsRouter } from '../../src/gateway/ops/routes';
import type { FlowStatus } from '../../workflows/definitions';
import { orderToCash } from '../../workflows/order-to-cash';
import {
  createTestWorker,
  testClient,
  testDatabaseUrl,
  testDb,
  testNativeConnection,
  uniqueQueue,
} from '../support/env';
import { runCli } from '../support/cli';

let db: Db;
let client: Client;
let connection: NativeConnection;
let worker: Worker;
let running: Promise<void>;
let server: http.Server;
let url: string;
const taskQueue = uniqueQueue('ops-cli');
const suffix = `${process.pid}${Math.random().toString(36).slice(2, 7)}`;
let adminKey: string;

beforeAll(async () => {
  db = testDb();
  client = await testClient();
  connection = await testNativeConnection();
  worker = await createTestWorker(connection, { taskQueue, activities: createActivities({ db }) });
  running = worker.run();
  const app = express();
  app.use(
    '/api/v1',
    opsRouter({
      db,
      temporal: client,
      namespace: 'default',
      logger: createLogger({ level: 'silent' }),
      config: { TEMPORAL_UI_URL: 'http://127.0.0.1:8233', LB_ERP: 'odoo' },
      ops: { rateLimit: false, taskQueue: uniqueQueue('ops-cli-recon'), queryTimeoutMs: 20_000 },
    }),
  );
  server = http.createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r));
  worker?.shutdown();
  await running;
  await connection?.close();
  await client?.connection.close();
  await db?.destroy();
});

/** Runs bin/ledgerbridge against this file's gateway with the given key. */
const ledgerbridge = (args: string[], o: { key?: string; env?: Record<string, string> } = {}) =>
  runCli(args, { url, ...o });

const TOTAL = 8999 + 742;
async function parkedOrder(source: string) {
  const orderId = `CLI${Date.now().toString(36)}${Math.random().toString(36).slice(2, 5)}`.toUpperCase();
  const input: OrderInput = {
    source,
    orderId,
    erp: 'odoo',
    currency: 'USD',
    orderDate: '2026-11-20',
    customer: { externalRef: `c-${orderId}`, name: 'Cli Buyer' },
    lines: [{ sku: 'SKU-1001', qty: 1, unitPriceMinor: 8999, taxMinor: 742 }],
    totalMinor: TOTAL + 5,
    payment: { token: `PMT_${orderId}` },
    maxParkWait: '5 minutes',
    queues: { erp: `${taskQueue}-erp`, heartland: `${taskQueue}-heartland` },
  };
  const handle = await client.workflow.start(orderToCash, {
    taskQueue,
    workflowId: workflowIds.order(source, orderId),
    args: [input],
  });
  const deadline = Date.now() + 60_000;
  for (;;) {
    const st = (await handle.query('status')) as FlowStatus;
    if (st.parkedStep === 'validate') return { handle, workflowId: handle.workflowId, deadLetterId: st.deadLetterId! };
    if (Date.now() > deadline) throw new Error('never parked');
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('the ledgerbridge command against a running gateway', () => {
  test('keys: bootstrap an admin key straight in the database, then create and revoke keys through the API', async () => {
    const boot = await ledgerbridge(
      ['--json', 'keys', 'create', '--name', `cli-admin-${suffix}`, '--role', 'admin', '--direct'],
      {
        env: { DATABASE_URL: testDatabaseUrl() },
      },
    );
    expect(boot.code).toBe(0);
    expect(boot.json).toMatchObject({
      name: `cli-admin-${suffix}`,
      role: 'admin',
      createdBy: expect.stringMatching(/^cli:/),
    });
    adminKey = boot.json.key;
    expect(adminKey).toMatch(/^lb_/);

    const who = await ledgerbridge(['whoami'], { key: adminKey });
    expect(who).toMatchObject({ code: 0, stdout: `cli-admin-${suffix} (admin)\n` });

    const viewer = await ledgerbridge(
      ['--json', 'keys', 'create', '--name', `cli-viewer-${suffix}`, '--role', 'viewer'],
      { key: adminKey },
    );
    expect(viewer.code).toBe(0);
    expect(viewer.json).toMatchObject({ role: 'viewer', createdBy: `cli-admin-${suffix}` });
    const dup = await ledgerbridge(['keys', 'create', '--name', `cli-viewer-${suffix}`, '--role', 'viewer'], {
      key: adminKey,
    });
    expect(dup.code).toBe(5);
    expect(dup.stderr).toMatch(/^error: an active key named cli-viewer-\S+ already exists/);

    const denied = await ledgerbridge(['reconcile', '--batch', `B_CLI_${suffix}`], { key: viewer.json.key });
    expect(denied.code).toBe(3);
    expect(denied.stderr).toContain('needs the operator role');

    const revoked = await ledgerbridge(['--json', 'keys', 'revoke', viewer.json.id], { key: adminKey });
    expect(revoked.code).toBe(0);
    expect(revoked.json.revokedAt).toEqual(expect.any(String));
    expect((await ledgerbridge(['whoami'], { key: viewer.json.key })).code).toBe(3);
    expect((await ledgerbridge(['keys', 'revoke', viewer.json.id], { key: adminKey })).code).toBe(4);
    expect((await ledgerbridge(['whoami'])).code).toBe(3);
  });

  test('reconcile is idempotent and says so; bad arguments are usage errors', async () => {
    const batch = `B_CLI_${suffix}`;
    const first = await ledgerbridge(['--json', 'reconcile', '--batch', batch], { key: adminKey });
    expect(first.code).toBe(0);
    expect(first.json).toMatchObject({ workflowId: `settlement:${batch}`, created: true });
    const second = await ledgerbridge(['reconcile', '--batch', batch], { key: adminKey });
    expect(second.code).toBe(0);
    expect(second.stdout).toContain(`already exists: settlement:${batch} (run ${first.json.runId}, Running)`);
    await client.workflow.getHandle(`settlement:${batch}`).terminate('cli test cleanup');
    expect((await ledgerbridge(['reconcile'], { key: adminKey })).code).toBe(2);
    const badDate = await ledgerbridge(['reconcile', '--from', '2031-13-45', '--to', '2031-01-01'], { key: adminKey });
    expect(badDate.code).toBe(2);
    expect(badDate.stderr).toContain('must be a date YYYY-MM-DD');
  });

  test('runs list / show, bulk retrigger with a dry run, and single retrigger conflicts', async () => {
    const source = `cli-${suffix}`;
    const runs = [await parkedOrder(source), await parkedOrder(source)];
    const deadline = Date.now() + 30_000;
    let listed;
    do {
      listed = await ledgerbridge(['--json', 'runs', 'list', '--source', source, '--needs-attention'], {
        key: adminKey,
      });
    } while (listed.json?.runs.length !== 2 && Date.now() < deadline);
    expect(listed.code).toBe(0);
    expect(listed.json.runs.map((r: { workflowId: string }) => r.workflowId).sort()).toEqual(
      runs.map((r) => r.workflowId).sort(),
    );

    const shown = await ledgerbridge(['runs', 'show', runs[0].workflowId], { key: adminKey });
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain('parked step validate');
    expect(shown.stdout).toContain(`open dead letters: ${runs[0].deadLetterId} (validate: ValidationError)`);
    expect((await ledgerbridge(['runs', 'show', 'order:nobody:none'], { key: adminKey })).code).toBe(4);

    const dry = await ledgerbridge(['--json', 'retrigger', '--source', source, '--dry-run'], { key: adminKey });
    expect(dry.code).toBe(0);
    expect(dry.json.candidates).toHaveLength(2);
    expect(
      await db('dead_letters')
        .whereIn(
          'workflow_id',
          runs.map((r) => r.workflowId),
        )
        .where({ status: 'open' }),
    ).toHaveLength(2);

    const done = await ledgerbridge(
      ['--json', 'retrigger', '--filter', `source=${source}`, '--patch', JSON.stringify({ totalMinor: TOTAL })],
      {
        key: adminKey,
      },
    );
    expect(done.code).toBe(0);
    expect(done.json).toMatchObject({ matched: 2, retriggered: 2, failed: 0 });
    for (const r of runs) {
      const until = Date.now() + 30_000;
      while (!((await r.handle.query('status')) as FlowStatus).stepsDone.includes('validate')) {
        if (Date.now() > until) throw new Error('validate never passed');
        await new Promise((res) => setTimeout(res, 100));
      }
    }
    const busy = await ledgerbridge(['retrigger', runs[0].workflowId], { key: adminKey });
    expect(busy.code).toBe(5);
    expect(busy.stderr).toMatch(/^error: run \S+ is running \(stage \S+\) and waits for no retry/);
  });

  test('dlq list / show / discard, with exit codes for missing reasons, closed and unknown dead letters', async () => {
    const run = await parkedOrder(`cli-dlq-${suffix}`);
    const list = await ledgerbridge(['--json', 'dlq', 'list', '--workflow-id', run.workflowId], { key: adminKey });
    expect(list.code).toBe(0);
    expect(list.json.deadLetters.map((d: { id: string }) => d.id)).toEqual([run.deadLetterId]);
    const human = await ledgerbridge(['dlq', 'show', run.deadLetterId], { key: adminKey });
    expect(human.stdout).toContain(`dead letter ${run.deadLetterId} (open) of ${run.workflowId}, step validate`);
    expect(human.stdout).toContain('parked on this dead letter');

    expect((await ledgerbridge(['dlq', 'discard', run.deadLetterId], { key: adminKey })).code).toBe(2);
    const discarded = await ledgerbridge(['--json', 'dlq', 'discard', run.deadLetterId, '--reason', 'test order'], {
      key: adminKey,
    });
    expect(discarded.code).toBe(0);
    expect(discarded.json).toMatchObject({ action: 'discard-update', workflowId: run.workflowId });
    await expect(run.handle.result()).rejects.toThrow();
    const again = await ledgerbridge(['--json', 'dlq', 'replay', run.deadLetterId], { key: adminKey });
    expect(again.code).toBe(5);
    expect(JSON.parse(again.stderr)).toMatchObject({ error: 'closed', status: 409, exitCode: 5 });
    expect((await ledgerbridge(['dlq', 'show', '999999999'], { key: adminKey })).code).toBe(4);
    expect((await ledgerbridge(['report', 'NO_SUCH_BATCH'], { key: adminKey })).code).toBe(4);

    const audit = await ledgerbridge(
      ['--json', 'audit', '--action', 'dead-letter.discard', '--actor', `cli-admin-${suffix}`],
      { key: adminKey },
    );
    expect(audit.json.entries[0]).toMatchObject({ target: run.deadLetterId, after: { reason: 'test order' } });
  });
});
