import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import type { Client } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import { loadConfig } from '../../src/config';
import type { ErpSystem } from '../../src/connectors/erp/types';
import { createDb, migrate, type Db } from '../../src/db';
import { Dispatcher } from '../../src/gateway/dispatcher';
import { webhookRouter } from '../../src/gateway/webhooks';
import { createLogger } from '../../src/logger';
import { ownTestDatabase, testClient, testNativeConnection } from './env';
import { flowWorkers, testSandbox, type FlowWorkers, type TestSandbox } from './sandbox';

const quiet = createLogger({ level: 'silent' });

/** Settings of a sandbox gateway and dispatcher whose flows use `erp`. */
export const sandboxConfig = (erp: ErpSystem = 'odoo') =>
  loadConfig({ LB_MODE: 'sandbox', LB_ERP: erp, LOG_LEVEL: 'silent' });

export interface WebhookHarness {
  db: Db;
  client: Client;
  connection: NativeConnection;
  sb: TestSandbox;
  /** The gateway's base URL (POST `${base}/webhooks/<source>`). */
  base: string;
  post(path: string, body: string, headers: Record<string, string>): Promise<{ status: number; body: WebhookAnswer }>;
  /** Runs fn with a test's workers polling and a dispatcher that routes to their task queues, its flows on `erp`. */
  withFlows(prefix: string, fn: () => Promise<void>, erp?: ErpSystem): Promise<void>;
}

export interface WebhookAnswer {
  status: string;
  id?: string;
}

/**
 * The public webhook path of a test file: the real gateway router on a port of its own, its own database (so the
 * file can count inbox rows), the simulators, and per test a dispatcher plus workers on unique task queues.
 */
export function useWebhookHarness(tag: string, poolMax = 15): WebhookHarness {
  const h = {} as WebhookHarness;
  let server: http.Server;
  beforeAll(async () => {
    h.db = createDb(await ownTestDatabase(tag), { poolMax });
    await migrate(h.db);
    h.client = await testClient();
    h.connection = await testNativeConnection();
    h.sb = await testSandbox(h.db);
    const app = express();
    app.use('/webhooks', webhookRouter({ db: h.db, config: sandboxConfig(), logger: quiet }));
    server = http.createServer(app);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    h.base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise<void>((r) => (server ? (server.close(() => r()), server.closeAllConnections()) : r()));
    await h.sb?.close();
    await h.connection?.close();
    await h.client?.connection.close();
    await h.db?.destroy();
  });
  h.post = async (path, body, headers) => {
    const res = await fetch(`${h.base}${path}`, { method: 'POST', headers, body });
    return { status: res.status, body: (await res.json()) as WebhookAnswer };
  };
  h.withFlows = async (prefix, fn, erp = 'odoo') => {
    const w: FlowWorkers = await flowWorkers(h.connection, h.sb.deps, prefix);
    const dispatcher = new Dispatcher({
      db: h.db,
      client: h.client,
      config: sandboxConfig(erp),
      logger: quiet,
      taskQueue: w.taskQueue,
      queues: w.queues,
      idleMs: 50,
    });
    dispatcher.start();
    try {
      await w.run(fn);
    } finally {
      await dispatcher.stop();
    }
  };
  return h;
}

/** Polls `probe` until it returns something, failing after `ms`. */
export async function pollUntil<T>(
  what: string,
  probe: () => Promise<T | undefined | null | false>,
  ms = 60_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The result of a workflow that a dispatcher starts (waits for it to exist first). */
export async function workflowResult(client: Client, workflowId: string, ms = 120_000) {
  return pollUntil(
    `result of ${workflowId}`,
    async () => {
      try {
        return (await client.workflow.getHandle(workflowId).result()) as Record<string, unknown>;
      } catch (e) {
        if ((e as Error).name === 'WorkflowNotFoundError') return undefined;
        throw e;
      }
    },
    ms,
  );
}
