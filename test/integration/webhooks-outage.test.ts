import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import express from 'express';
import { Client, Connection } from '@temporalio/client';
import { Registry } from 'prom-client';
import { loadConfig } from '../../src/config';
import { signGpWebhook } from '../../src/connectors/heartland/webhook-signature';
import { createDb, migrate, type Db } from '../../src/db';
import { Dispatcher } from '../../src/gateway/dispatcher';
import {
  SANDBOX_WEBHOOK_SECRETS,
  signCommerceWebhook,
  signErpWebhook,
  webhookRouter,
} from '../../src/gateway/webhooks';
import { createLogger } from '../../src/logger';
import { startDevServer, type DevServer } from '../../src/runtime/dev-server';
import { freePort } from '../../src/runtime/ports';
import { ensureTemporalCli } from '../../src/runtime/temporal-cli';
import { ownTestDatabase } from '../support/env';
import { auditHistories, emptyReport } from '../support/pan-audit';

/**
 * Temporal goes away in the middle of a webhook load and comes back on the same state file and port: the gateway
 * answers every delivery meanwhile, the rows wait in the inbox, and after the restart each one is dispatched once.
 */

jest.setTimeout(240_000);

const quiet = createLogger({ level: 'silent' });
const config = loadConfig({ LB_MODE: 'sandbox', LB_ERP: 'odoo', LOG_LEVEL: 'silent' });
const S = SANDBOX_WEBHOOK_SECRETS;

let tmp: string;
let temporal: DevServer | undefined;
let devOpts: Parameters<typeof startDevServer>[0];
let client: Client;
let db: Db;
let dbUrl: string;
let server: http.Server;
let base: string;
let dispatcher: Dispatcher;
const registry = new Registry();

beforeAll(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'lb-wh-outage-'));
  const cli = await ensureTemporalCli(() => undefined);
  if (!cli) throw new Error('the temporal CLI is needed for this test');
  devOpts = { cli, dbFile: path.join(tmp, 'temporal.db'), port: await freePort(), uiPort: 0, headless: true };
  temporal = await startDevServer(devOpts);
  client = new Client({ connection: await Connection.connect({ address: temporal.address }) });

  dbUrl = await ownTestDatabase('who');
  db = createDb(dbUrl, { poolMax: 10 });
  await migrate(db);

  const app = express();
  app.use('/webhooks', webhookRouter({ db, config, logger: quiet, registry }));
  server = http.createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  dispatcher = new Dispatcher({
    db,
    client,
    config,
    logger: quiet,
    registry,
    taskQueue: 'outage-test',
    idleMs: 50,
    callTimeoutMs: 2000,
    maxBackoffMs: 1000,
    signalGraceMs: 4000,
  });
  dispatcher.start();
});

afterAll(async () => {
  await dispatcher?.stop();
  await new Promise<void>((r) => (server ? (server.close(() => r()), server.closeAllConnections()) : r()));
  await client?.connection.close();
  await temporal?.stop();
  await db?.destroy();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

const run = Date.now().toString(36).toUpperCase();

/** The i-th delivery of the load: GP batch closes (start settlement) and commerce orders (start order-to-cash). */
function delivery(i: number): { path: string; body: string; headers: Record<string, string>; workflowId: string } {
  if (i % 2 === 0) {
    const batchId = `BAT_O${run}_${i}`;
    const { body, headers } = signGpWebhook(
      {
        id: batchId,
        batch_id: batchId,
        status: 'CLOSED',
        amount: '100',
        currency: 'USD',
        reference: batchId,
        action: { id: `ACT_${batchId}`, type: 'BATCH_CLOSE', result_code: 'SUCCESS' },
      },
      S.heartland,
    );
    return { path: '/webhooks/heartland', body, headers, workflowId: `settlement:${batchId}` };
  }
  const id = 7_000_000_000 + i;
  const body = JSON.stringify({
    id,
    created_at: '2026-11-20T10:00:00Z',
    currency: 'USD',
    total_price: '24.99',
    line_items: [{ sku: 'SKU-1004', title: 'Water Bottle', quantity: 1, price: '24.99' }],
    customer: { id: 5, first_name: 'Out', last_name: 'Age', email: 'outage@example.com' },
    note_attributes: [{ name: 'payment_token', value: `PMT_out${run}${i}` }],
  });
  return {
    path: '/webhooks/commerce',
    body,
    headers: signCommerceWebhook(body, S.commerce, 'orders/create', `out-${run}-${i}`),
    workflowId: `order:commerce:${id}`,
  };
}

async function send(i: number): Promise<{ status: number; body: { status: string; id?: string } }> {
  const d = delivery(i);
  const res = await fetch(`${base}${d.path}`, { method: 'POST', headers: d.headers, body: d.body });
  return { status: res.status, body: (await res.json()) as { status: string; id?: string } };
}

async function until(what: string, probe: () => Promise<boolean>, ms = 120_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const countWhere = async (status: string) =>
  Number((await db('webhook_inbox').where({ status }).count({ n: '*' }))[0].n);

test('Temporal stopped mid-load and restarted: every 2xx-answered webhook is dispatched exactly once', async () => {
  const TOTAL = 300;
  const answers: { status: number; body: { status: string; id?: string } }[] = [];
  let downWhileSending = 0;
  let stopping: Promise<void> | undefined;

  // Ten deliveries at a time; Temporal is stopped after the tenth wave, while the load goes on.
  for (let wave = 0; wave < TOTAL / 10; wave++) {
    if (wave === 10) stopping = temporal!.stop();
    if (wave === 20) {
      await stopping;
      temporal = undefined;
      // Everything answered so far is in the inbox; what arrived during the outage waits there, with the reason.
      await until('a failed dispatch attempt', async () => {
        const r = await db('webhook_inbox').where({ status: 'pending' }).where('attempts', '>', 0).first();
        return Boolean(r?.last_error);
      });
      downWhileSending = await countWhere('pending');
      // The lag gauges show the backlog while Temporal is away.
      await until('the backlog gauges', async () => {
        const text = await registry.metrics();
        const pending = Number(/^ledgerbridge_webhook_inbox_pending (\d+)/m.exec(text)?.[1] ?? 0);
        const oldest = Number(/^ledgerbridge_webhook_inbox_oldest_pending_seconds ([\d.e+-]+)/m.exec(text)?.[1] ?? 0);
        return pending > 0 && oldest > 0;
      });
    }
    const batch = await Promise.all(Array.from({ length: 10 }, (_, k) => send(wave * 10 + k)));
    answers.push(...batch);
  }
  expect(answers.map((a) => `${a.status} ${a.body.status}`)).toEqual(Array(TOTAL).fill('202 accepted'));
  expect(downWhileSending).toBeGreaterThan(50);
  const retried = await db('webhook_inbox').where({ status: 'pending' }).where('attempts', '>', 0).first();
  expect(retried.last_error).toBeTruthy();
  expect(await registry.metrics()).toMatch(
    /ledgerbridge_webhook_dispatch_total\{source="[a-z]+",outcome="retry"\} [1-9]/,
  );

  // Back on the same state file and port: the dispatcher drains the inbox on its own.
  temporal = await startDevServer(devOpts);
  await until('every row dispatched', async () => (await countWhere('dispatched')) === TOTAL);

  const rows = await db('webhook_inbox').orderBy('id').select('id', 'status', 'workflow_id', 'dispatched_at');
  expect(rows).toHaveLength(TOTAL);
  expect(new Set(rows.map((r) => String(r.id)))).toEqual(new Set(answers.map((a) => a.body.id)));
  const expected = Array.from({ length: TOTAL }, (_, i) => delivery(i).workflowId);
  expect(rows.map((r) => r.workflow_id).sort()).toEqual([...expected].sort());

  const text = await registry.metrics();
  expect(text).toMatch(/^ledgerbridge_webhook_inbox_lag_seconds_count [1-9]\d*/m);
  expect(text).toMatch(/^ledgerbridge_webhook_dispatch_duration_seconds_count\{action="start",outcome="ok"\} [1-9]/m);
  expect(text).toMatch(
    /^ledgerbridge_webhook_dispatch_duration_seconds_count\{action="start",outcome="unavailable"\} [1-9]/m,
  );

  // Exactly one run per workflow id, nothing else on this server.
  const seen = new Map<string, number>();
  await until('visibility to list every run', async () => {
    seen.clear();
    for await (const wf of client.workflow.list()) seen.set(wf.workflowId, (seen.get(wf.workflowId) ?? 0) + 1);
    return seen.size >= TOTAL;
  });
  expect(seen.size).toBe(TOTAL);
  expect([...seen.values()].every((n) => n === 1)).toBe(true);
  expect(new Set(seen.keys())).toEqual(new Set(expected));
});

test('a re-dispatch after a crash between the Temporal call and the commit is harmless', async () => {
  const before = new Map<string, number>();
  for await (const wf of client.workflow.list()) before.set(wf.workflowId, (before.get(wf.workflowId) ?? 0) + 1);
  // As if the process died after Temporal answered but before the rows were marked: they are pending again.
  const again = await db('webhook_inbox').orderBy('id').limit(40).select('id', 'workflow_id');
  await db('webhook_inbox')
    .whereIn(
      'id',
      again.map((r) => r.id),
    )
    .update({ status: 'pending', dispatched_at: null });
  await until('the rows dispatched again', async () => (await countWhere('pending')) === 0);
  const rows = await db('webhook_inbox').whereIn(
    'id',
    again.map((r) => r.id),
  );
  expect(rows.every((r) => r.status === 'dispatched')).toBe(true);
  expect(rows.map((r) => r.workflow_id).sort()).toEqual(again.map((r) => r.workflow_id).sort());
  const after = new Map<string, number>();
  for await (const wf of client.workflow.list()) after.set(wf.workflowId, (after.get(wf.workflowId) ?? 0) + 1);
  expect(after).toEqual(before);
});

test('a signal that arrives before its workflow is started waits for it; one that never finds it is ignored', async () => {
  const erp = (orderId: string) => {
    const body = JSON.stringify({
      id: `dlv-${orderId}`,
      type: 'delivery.done',
      occurred_at: new Date().toISOString(),
      data: { order: { source: 'commerce', orderId } },
    });
    return fetch(`${base}/webhooks/odoo`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...signErpWebhook(body, S.odoo) },
      body,
    }).then(async (r) => ({ status: r.status, body: (await r.json()) as { id: string } }));
  };
  const early = await erp('8000000001');
  const never = await erp('8000000002');
  expect([early.status, never.status]).toEqual([202, 202]);
  await until('a first attempt', async () => {
    const r = await db('webhook_inbox').where({ id: early.body.id }).first();
    return r.attempts > 0;
  });
  expect(await db('webhook_inbox').where({ id: early.body.id }).first()).toMatchObject({
    status: 'pending',
    last_error: 'no running workflow order:commerce:8000000001 yet',
  });

  // The order's start arrives (late, e.g. from another gateway): the waiting signal is delivered to it.
  const d = delivery(1);
  const body = d.body.replace(/"id":\d+/, '"id":8000000001');
  const res = await fetch(`${base}${d.path}`, {
    method: 'POST',
    headers: signCommerceWebhook(body, S.commerce, 'orders/create', `late-${run}`),
    body,
  });
  expect(res.status).toBe(202);
  await until('the early signal dispatched', async () => {
    const r = await db('webhook_inbox').where({ id: early.body.id }).first();
    return r.status === 'dispatched';
  });
  const history = await client.workflow.getHandle('order:commerce:8000000001').fetchHistory();
  expect(history.events!.some((e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'fulfilled')).toBe(
    true,
  );

  await until('the orphan signal given up', async () => {
    const r = await db('webhook_inbox').where({ id: never.body.id }).first();
    return r.status === 'ignored';
  });
  expect((await db('webhook_inbox').where({ id: never.body.id }).first()).last_error).toBe(
    'no running workflow order:commerce:8000000002 to signal fulfilled',
  );
});

test('the histories this file left on its own dev server hold no card data', async () => {
  const report = emptyReport();
  await auditHistories(temporal!.address, 'default', report);
  expect(report.scanned.workflows).toBeGreaterThan(0);
  expect(report.findings).toEqual([]);
});
