import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { loadConfig, ConfigError, dataDir, PROJECT_ROOT, type Config } from '../config';
import { createLogger } from '../logger';
import { connectClient, waitForTemporal } from '../temporal/connection';
import { createApp } from '../gateway/app';
import { listen, close } from '../gateway/server';
import { assertPortFree, PortInUse } from './ports';
import { ensurePostgres } from './postgres';
import { ensureTemporalCli, INSTALL_HINT, TemporalCliMissing } from './temporal-cli';
import { startDevServer, stopChild, type DevServer } from './dev-server';
import { SEARCH_ATTRIBUTE_ARGS } from '../../workflows/definitions';
import { startSandbox, type Sandbox } from '../sandbox';
import { runDemo } from '../sandbox/demo';
import { createMetrics } from '../gateway/metrics';
import { Dispatcher } from '../gateway/dispatcher';
import { createApiKey } from '../gateway/ops/auth';

const say = (m: string) => console.error(`[ledgerbridge] ${m}`);

type Stopper = { name: string; stop: () => Promise<void> };

/** Starts Temporal (dev server or TEMPORAL_ADDRESS), verifying the search attributes are registered. */
async function startTemporal(cfg: Config): Promise<DevServer> {
  if (cfg.TEMPORAL_ADDRESS) {
    say(`using Temporal at ${cfg.TEMPORAL_ADDRESS} (namespace ${cfg.TEMPORAL_NAMESPACE})`);
    await waitForTemporal(cfg.TEMPORAL_ADDRESS, cfg, { timeoutMs: cfg.LB_STARTUP_TIMEOUT_MS, say });
    return { address: cfg.TEMPORAL_ADDRESS, uiUrl: cfg.TEMPORAL_UI_URL, stop: async () => undefined };
  }
  await assertPortFree(cfg.TEMPORAL_PORT, 'Temporal gRPC; or set TEMPORAL_ADDRESS to use the server already there');
  await assertPortFree(cfg.TEMPORAL_UI_PORT, 'Temporal UI; set TEMPORAL_UI_PORT');
  const dbFile = path.join(dataDir(cfg), 'temporal.db');
  const cli = await ensureTemporalCli(say);
  if (cli) {
    say(`starting Temporal dev server (${cli}), state in ${dbFile}`);
    return startDevServer({ cli, dbFile, port: cfg.TEMPORAL_PORT, uiPort: cfg.TEMPORAL_UI_PORT, say });
  }
  say('Go is not installed: trying the Temporal SDK downloader for the CLI');
  try {
    const { TestWorkflowEnvironment } = await import('@temporalio/testing');
    const env = await TestWorkflowEnvironment.createLocal({
      server: {
        ip: '127.0.0.1',
        port: cfg.TEMPORAL_PORT,
        ui: true,
        uiPort: cfg.TEMPORAL_UI_PORT,
        dbFilename: dbFile,
        extraArgs: SEARCH_ATTRIBUTE_ARGS.flatMap((sa) => ['--search-attribute', sa]),
      },
    });
    return {
      address: `127.0.0.1:${cfg.TEMPORAL_PORT}`,
      uiUrl: `http://127.0.0.1:${cfg.TEMPORAL_UI_PORT}`,
      stop: () => env.teardown(),
    };
  } catch (e) {
    throw new TemporalCliMissing(`${INSTALL_HINT}\n(the SDK downloader failed: ${(e as Error).message})`);
  }
}

function startWorker(env: NodeJS.ProcessEnv): Promise<ChildProcess> {
  const child = fork(path.join(PROJECT_ROOT, 'workers', 'main.ts'), [], {
    env,
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the worker did not become ready within 120 s')), 120_000);
    child.on('message', (m: { type?: string }) => {
      if (m?.type === 'ready') {
        clearTimeout(timer);
        resolve(child);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the worker exited with code ${code} before it was ready`));
    });
  });
}

/** `npm start`: Postgres, Temporal, worker and gateway; Ctrl-C or SIGTERM stops all of them. */
async function main(): Promise<void> {
  let cfg: Config;
  try {
    cfg = loadConfig();
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(e.message);
      process.exit(2);
    }
    throw e;
  }
  const log = createLogger({ level: cfg.LOG_LEVEL, name: 'start' });
  const stoppers: Stopper[] = [];
  let stopping = false;
  const shutdown = async (reason: string, code = 0) => {
    if (stopping) return;
    stopping = true;
    say(`stopping (${reason})...`);
    for (const s of stoppers.reverse()) {
      try {
        await s.stop();
        say(`  ${s.name} stopped`);
      } catch (e) {
        say(`  ${s.name} did not stop cleanly: ${(e as Error).message}`);
      }
    }
    process.exit(code);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));

  try {
    await assertPortFree(cfg.GATEWAY_PORT, 'gateway; set GATEWAY_PORT', cfg.GATEWAY_HOST);
    const pg = await ensurePostgres({
      databaseUrl: cfg.DATABASE_URL,
      dataDir: dataDir(cfg),
      embeddedPort: cfg.LB_EMBEDDED_PG_PORT,
      timeoutMs: cfg.LB_STARTUP_TIMEOUT_MS,
      say,
    });
    stoppers.push({
      name: pg.embedded ? 'embedded Postgres' : 'Postgres pool',
      stop: () => pg.db.destroy().then(pg.stop),
    });
    say(
      `Postgres ready${pg.applied.length ? `, migrations applied: ${pg.applied.join(', ')}` : ', schema up to date'}`,
    );

    const temporal = await startTemporal(cfg);
    stoppers.push({ name: 'Temporal', stop: temporal.stop });

    let sandboxEnv: Record<string, string> = {};
    let sandbox: Sandbox | undefined;
    if (cfg.LB_MODE === 'sandbox') {
      sandbox = await startSandbox({ dataDir: dataDir(cfg), ports: cfg.LB_SANDBOX_PORTS });
      const sb = sandbox;
      stoppers.push({ name: 'sandbox simulators', stop: () => sb.close() });
      sandboxEnv = sandbox.env;
      say('sandbox simulators:');
      for (const line of sandbox.describe()) say(`  ${line}`);
    }
    // Explicit settings win over the simulators' defaults.
    const childEnv = { ...sandboxEnv, ...process.env, DATABASE_URL: pg.url, TEMPORAL_ADDRESS: temporal.address };
    const worker = await startWorker(childEnv);
    stoppers.push({ name: 'worker', stop: () => stopChild(worker, 30_000) });
    worker.on('exit', (code) => void shutdown(`worker exited with code ${code}`, 1));

    const client = await connectClient(temporal.address, cfg);
    const metrics = createMetrics();
    // Read again now that the simulators' URLs and webhook secrets are known.
    const gatewayCfg = loadConfig({ ...sandboxEnv, ...process.env });
    const app = createApp({
      db: pg.db,
      temporal: client,
      namespace: cfg.TEMPORAL_NAMESPACE,
      logger: log,
      config: gatewayCfg,
      metrics,
    });
    const server = await listen(app, cfg.GATEWAY_PORT, cfg.GATEWAY_HOST);
    const dispatcher = new Dispatcher({
      db: pg.db,
      client,
      config: gatewayCfg,
      logger: log,
      registry: metrics.registry,
    });
    dispatcher.start();
    stoppers.push({
      name: 'gateway and dispatcher',
      stop: async () => {
        await dispatcher.stop();
        await close(server);
        await client.connection.close();
      },
    });

    const gatewayUrl = `http://${cfg.GATEWAY_HOST === '0.0.0.0' ? '127.0.0.1' : cfg.GATEWAY_HOST}:${cfg.GATEWAY_PORT}`;
    console.log('');
    console.log('Ledgerbridge is running.');
    console.log(`  Temporal UI:  ${temporal.uiUrl ?? '(set TEMPORAL_UI_URL for links)'}`);
    console.log(`  Temporal:     ${temporal.address} (namespace ${cfg.TEMPORAL_NAMESPACE})`);
    console.log(`  Gateway:      ${gatewayUrl}  (health: ${gatewayUrl}/healthz, metrics: ${gatewayUrl}/metrics)`);
    console.log(`  Worker:       pid ${worker.pid}, task queues ${cfg.TEMPORAL_TASK_QUEUE} + connector-*`);
    console.log(`  Mode:         ${cfg.LB_MODE}, ERP ${cfg.LB_ERP}`);
    if (cfg.LB_PAYLOAD_KEY) {
      console.log(
        `  Payloads:     encrypted; to read them in the Temporal UI, sign in at ${gatewayUrl}/codec/login, then`,
      );
      console.log(
        `                set the UI's codec endpoint to ${gatewayUrl}/codec with "Include cross-origin credentials"`,
      );
    }
    console.log('Press Ctrl-C to stop.');
    if (sandbox && cfg.LB_DEMO) {
      const uiUrl = temporal.uiUrl ?? cfg.TEMPORAL_UI_URL ?? 'http://127.0.0.1:8233';
      if (!cfg.LB_ADMIN_API_KEY) {
        const { key } = await createApiKey(pg.db, {
          name: `sandbox-demo-${Date.now()}`,
          role: 'finance',
          createdBy: 'npm start',
        });
        console.log(`  Demo API key (finance role): export LEDGERBRIDGE_API_KEY=${key}`);
      }
      runDemo({
        gatewayUrl,
        uiUrl,
        namespace: cfg.TEMPORAL_NAMESPACE,
        sandbox,
        client,
        db: pg.db,
        config: gatewayCfg,
        say: (l) => console.log(l),
      }).catch((e: unknown) => say(`demo traffic stopped: ${(e as Error).message}`));
    }
  } catch (e) {
    const known = e instanceof PortInUse || e instanceof TemporalCliMissing;
    say(known ? (e as Error).message : `start-up failed: ${(e as Error).message}`);
    await shutdown('start-up failed', 1);
  }
}

void main();
