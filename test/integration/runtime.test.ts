import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { createApp } from '../../src/gateway/app';
import { createDb } from '../../src/db';
import { migrationNames } from '../../src/db/migrations';
import { createLogger } from '../../src/logger';
import { assertPortFree, freePort } from '../../src/runtime/ports';
import { findTemporalCli } from '../../src/runtime/temporal-cli';
import { connectClient } from '../../src/temporal/connection';
import { testDatabaseUrl, testTemporalAddress, testClient } from '../support/env';
import { start, waitFor } from '../support/start-process';

const root = path.join(__dirname, '..', '..');
const quiet = createLogger({ level: 'silent' });

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'lb-start-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('npm start', () => {
  test('brings up worker and gateway on existing Temporal and Postgres, serves /healthz, and SIGTERM stops everything', async () => {
    const port = await freePort();
    const metricsPort = await freePort();
    const run = start({
      DATABASE_URL: testDatabaseUrl(),
      TEMPORAL_ADDRESS: testTemporalAddress(),
      GATEWAY_PORT: String(port),
      WORKER_METRICS_PORT: String(metricsPort),
      TEMPORAL_TASK_QUEUE: `start-test-${process.pid}`,
    });
    try {
      await waitFor(run, 'Press Ctrl-C to stop.');
      expect(run.out()).toContain(`Gateway:      http://127.0.0.1:${port}`);
      const health = await fetch(`http://127.0.0.1:${port}/healthz`);
      expect(health.status).toBe(200);
      expect(await health.json()).toMatchObject({ status: 'ok', postgres: { ok: true }, temporal: { ok: true } });
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(metrics).toContain('ledgerbridge_dependency_up{dependency="temporal"} 1');
      const workerMetrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      expect(workerMetrics).toMatch(/temporal_/);

      // The worker polls the workflow queue (what `temporal task-queue describe` shows).
      const client = await testClient();
      const described = await client.workflowService.describeTaskQueue({
        namespace: 'default',
        taskQueue: { name: `start-test-${process.pid}` },
        taskQueueType: 1, // WORKFLOW
      });
      expect(described.pollers.length).toBeGreaterThan(0);
      await client.connection.close();

      const workerPid = Number(/Worker: +pid (\d+)/.exec(run.out())?.[1]);
      expect(alive(workerPid)).toBe(true);
      run.child.kill('SIGTERM');
      expect(await run.exit).toBe(0);
      expect(run.out()).toContain('worker stopped');
      expect(run.out()).toContain('gateway and dispatcher stopped');
      expect(alive(workerPid)).toBe(false);
      await expect(assertPortFree(port, 'gateway')).resolves.toBeUndefined();
    } finally {
      if (run.child.exitCode === null) run.child.kill('SIGKILL');
    }
  });

  test('a bad configuration stops start-up with one message listing every problem, and no stack trace', async () => {
    const run = start({ LB_MODE: 'staging', GATEWAY_PORT: 'abc', LB_TYPO: '1' });
    expect(await run.exit).toBe(2);
    expect(run.out()).toContain('Invalid configuration (3 problems)');
    expect(run.out()).toMatch(/LB_MODE: .*"staging"/);
    expect(run.out()).toMatch(/GATEWAY_PORT: .*"abc"/);
    expect(run.out()).toContain('LB_TYPO is not a known setting');
    expect(run.out()).not.toMatch(/\n\s+at /);
  });

  test('a taken port gets a clear message naming it', async () => {
    const blocker = net.createServer().listen(0, '127.0.0.1');
    await new Promise((r) => blocker.once('listening', r));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      const run = start({
        GATEWAY_PORT: String(port),
        DATABASE_URL: testDatabaseUrl(),
        TEMPORAL_ADDRESS: testTemporalAddress(),
      });
      expect(await run.exit).toBe(1);
      expect(run.out()).toContain(`port ${port} (gateway; set GATEWAY_PORT) is already in use`);
      expect(run.out()).not.toMatch(/\n\s+at /);
    } finally {
      blocker.close();
    }
  });

  test('an unreachable Postgres is retried with a message, then fails clearly', async () => {
    const dead = await freePort();
    const run = start({
      DATABASE_URL: `postgres://root@127.0.0.1:${dead}/nothing`,
      LB_STARTUP_TIMEOUT_MS: '4000',
      GATEWAY_PORT: String(await freePort()),
    });
    expect(await run.exit).toBe(1);
    expect(run.out()).toContain(`waiting for Postgres at postgres://root@127.0.0.1:${dead}/nothing`);
    expect(run.out()).toMatch(/start-up failed: Postgres at .* could not be reached: .*ECONNREFUSED/);
  });

  test('an unreachable Temporal is retried with a message, then fails clearly', async () => {
    const dead = await freePort();
    const run = start({
      DATABASE_URL: testDatabaseUrl(),
      TEMPORAL_ADDRESS: `127.0.0.1:${dead}`,
      LB_STARTUP_TIMEOUT_MS: '4000',
      GATEWAY_PORT: String(await freePort()),
    });
    expect(await run.exit).toBe(1);
    expect(run.out()).toContain(`waiting for Temporal at 127.0.0.1:${dead}`);
    expect(run.out()).toMatch(/start-up failed: Temporal at 127\.0\.0\.1:\d+ \(namespace default\) did not answer/);
  });
});

describe('gateway health', () => {
  test('/healthz reports each dependency and answers 503 when one is down', async () => {
    const db = createDb(testDatabaseUrl());
    const deadDb = createDb(`postgres://root@127.0.0.1:${await freePort()}/x`, { quiet: true });
    const temporal = await connectClient(testTemporalAddress());
    try {
      const ok = await request(createApp({ db, temporal, namespace: 'default', logger: quiet })).get('/healthz');
      expect(ok.status).toBe(200);
      const down = await request(createApp({ db: deadDb, temporal, namespace: 'default', logger: quiet })).get(
        '/healthz',
      );
      expect(down.status).toBe(503);
      expect(down.body).toMatchObject({ status: 'unavailable', postgres: { ok: false }, temporal: { ok: true } });
      expect(down.body.postgres.error).toMatch(/ECONNREFUSED/);
      const noNs = await request(createApp({ db, temporal, namespace: 'no-such-namespace', logger: quiet })).get(
        '/healthz',
      );
      expect(noNs.status).toBe(503);
      expect(noNs.body).toMatchObject({ postgres: { ok: true }, temporal: { ok: false } });
    } finally {
      await db.destroy();
      await deadDb.destroy();
      await temporal.connection.close();
    }
  });
});

describe('runtime bootstrap pieces', () => {
  test('embedded Postgres starts, migrates, keeps its data across restarts', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'lb-embedded-'));
    chmodSync(dir, 0o755);
    try {
      const out = execFileSync(
        process.execPath,
        ['--import', 'tsx', path.join(root, 'test/fixtures/embedded-pg-cycle.ts'), dir, String(await freePort())],
        { cwd: root, encoding: 'utf8', timeout: 90_000 },
      );
      expect(JSON.parse(out.trim().split('\n').pop()!)).toEqual({
        embedded: true,
        firstApplied: migrationNames(),
        secondApplied: [],
        kept: 1,
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the Temporal CLI is found via TEMPORAL_CLI, and a wrong TEMPORAL_CLI is a clear error', () => {
    const found = findTemporalCli();
    expect(found).toMatch(/temporal$/);
    expect(findTemporalCli(found)).toBe(found);
    const notExec = path.join(mkdtempSync(path.join(os.tmpdir(), 'lb-cli-')), 'temporal');
    writeFileSync(notExec, 'not a binary');
    expect(() => findTemporalCli(notExec)).toThrow(`TEMPORAL_CLI=${notExec} is not an executable file`);
  });
});
