import { readFileSync } from 'node:fs';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createDb, ensureDatabase, withDatabase, type Db } from '../../src/db';

function required(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run the tests through jest (test/support/global-setup.ts)`);
  return v;
}

export const testDatabaseUrl = () => required('LB_TEST_DATABASE_URL');
export const testTemporalAddress = () => required('LB_TEST_TEMPORAL_ADDRESS');
export const testTmpDir = () => required('LB_TEST_TMP');

let bundle: { code: string } | undefined;
/** The workflow bundle built once by globalSetup (production workflows plus test fixtures). */
export function workflowBundle(): { code: string } {
  bundle ??= { code: readFileSync(required('LB_TEST_WORKFLOW_BUNDLE'), 'utf8') };
  return bundle;
}

/**
 * A database of its own for a test file that must count every row (the webhook inbox). It is named after the run's
 * database, and globalTeardown audits it for card data and drops it with the rest, so tests do not drop it themselves.
 */
export async function ownTestDatabase(tag: string): Promise<string> {
  const main = testDatabaseUrl();
  const url = withDatabase(main, `${decodeURIComponent(new URL(main).pathname.slice(1))}_${tag}`);
  await ensureDatabase(url);
  return url;
}

export function testDb(poolMax = 5): Db {
  return createDb(testDatabaseUrl(), { poolMax });
}

export async function testClient(): Promise<Client> {
  const connection = await Connection.connect({ address: testTemporalAddress() });
  return new Client({ connection });
}

export async function testNativeConnection(): Promise<NativeConnection> {
  return NativeConnection.connect({ address: testTemporalAddress() });
}

/** A unique task queue per test, so workers of parallel test files never steal each other's tasks. */
export function uniqueQueue(prefix: string): string {
  return `${prefix}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
}

export async function createTestWorker(
  connection: NativeConnection,
  opts: Omit<WorkerOptions, 'connection' | 'workflowBundle' | 'workflowsPath'> & { workflows?: boolean },
): Promise<Worker> {
  const { workflows = true, ...rest } = opts;
  return Worker.create({
    connection,
    ...(workflows ? { workflowBundle: workflowBundle() } : {}),
    ...rest,
  });
}
