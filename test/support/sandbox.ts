import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { NativeConnection, Worker } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../../activities';
import { loadConfig } from '../../src/config';
import { createConnectors, type Connectors } from '../../src/connectors/factory';
import type { Db } from '../../src/db';
import { createLogger } from '../../src/logger';
import { startSandbox, type Sandbox } from '../../src/sandbox';
import type { Client } from '@temporalio/client';
import { createTestWorker, testClient, testDb, testNativeConnection, uniqueQueue } from './env';

export interface TestSandbox {
  sandbox: Sandbox;
  connectors: Connectors;
  deps: ActivityDeps;
  close(): Promise<void>;
}

/** Every simulator on random ports, and activity deps whose connectors point at them. */
export async function testSandbox(db: Db): Promise<TestSandbox> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lb-sandbox-'));
  const sandbox = await startSandbox({ dataDir: dir, ports: 'random' });
  const config = loadConfig({ ...sandbox.env, SAGEPRO_ACK_TIMEOUT_MS: '20000', CONNECTOR_TIMEOUT_MS: '5000' });
  const connectors = createConnectors(config, db, createLogger({ level: 'silent' }));
  return {
    sandbox,
    connectors,
    deps: { db, config, erp: (s) => connectors.erp(s), heartland: connectors.heartland },
    close: async () => {
      await sandbox.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface FlowWorkers {
  taskQueue: string;
  queues: { heartland: string; erp: string };
  workers: Worker[];
  /** Runs fn while the workers poll; shuts them down after. */
  run<T>(fn: () => Promise<T>): Promise<T>;
}

/** Workers for one test: a workflow queue plus unique Heartland and ERP connector queues, all sharing `deps`. */
export async function flowWorkers(
  connection: NativeConnection,
  deps: ActivityDeps,
  prefix: string,
): Promise<FlowWorkers> {
  const taskQueue = uniqueQueue(prefix);
  const queues = { heartland: `${taskQueue}-heartland`, erp: `${taskQueue}-erp` };
  const activities = createActivities(deps);
  const workers = [
    await createTestWorker(connection, { taskQueue, activities }),
    await createTestWorker(connection, { taskQueue: queues.heartland, activities, workflows: false }),
    await createTestWorker(connection, { taskQueue: queues.erp, activities, workflows: false }),
  ];
  return {
    taskQueue,
    queues,
    workers,
    async run<T>(fn: () => Promise<T>): Promise<T> {
      const [main, ...rest] = workers;
      const others = rest.map((w) => w.run());
      try {
        return await main.runUntil(fn());
      } finally {
        for (const w of rest) w.shutdown();
        await Promise.all(others);
      }
    },
  };
}

export interface FlowHarness {
  db: Db;
  client: Client;
  connection: NativeConnection;
  sb: TestSandbox;
}

/** Registers beforeAll/afterAll that open a database pool, a client, a worker connection and a sandbox for a file. */
export function useFlowHarness(): FlowHarness {
  const h = {} as FlowHarness;
  beforeAll(async () => {
    h.db = testDb(10);
    h.client = await testClient();
    h.connection = await testNativeConnection();
    h.sb = await testSandbox(h.db);
  });
  afterAll(async () => {
    await h.sb?.close();
    await h.connection?.close();
    await h.client?.connection.close();
    await h.db?.destroy();
  });
  return h;
}
