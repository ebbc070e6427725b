import { NativeConnection, Runtime, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../activities';
import { CONNECTOR_SYSTEMS, connectorQueue } from '../workflows/definitions';
import { loadConfig, ConfigError, type Config } from '../src/config';
import { createDb } from '../src/db';
import { createConnectors } from '../src/connectors/factory';
import { dataConverterFor } from '../src/codec';
import { connectNative } from '../src/temporal/connection';
import { createLogger } from '../src/logger';
import { PinoSdkLogger } from './sdk-logger';

export interface WorkerSetOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  deps: ActivityDeps;
  /** A pre-built bundle (tests bundle once); otherwise the worker bundles `workflows/index.ts`. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  maxConnectorRps?: number;
  /** Encrypts payloads when LB_PAYLOAD_KEY is set (see src/codec). */
  dataConverter?: WorkerOptions['dataConverter'];
}

/**
 * The workers of one process: the `ledgerbridge` queue runs workflows and bookkeeping activities, and each external
 * system gets its own `connector-*` activity queue so a vendor's rate limit is `maxTaskQueueActivitiesPerSecond`.
 */
export async function createWorkers(o: WorkerSetOptions): Promise<Worker[]> {
  const activities = createActivities(o.deps);
  const workflowSource = o.workflowBundle
    ? { workflowBundle: o.workflowBundle }
    : { workflowsPath: require.resolve('../workflows') };
  const main = await Worker.create({
    connection: o.connection,
    namespace: o.namespace,
    taskQueue: o.taskQueue,
    ...workflowSource,
    activities,
    dataConverter: o.dataConverter,
  });
  const connectors = await Promise.all(
    CONNECTOR_SYSTEMS.map((system) =>
      Worker.create({
        connection: o.connection,
        namespace: o.namespace,
        taskQueue: connectorQueue(system),
        activities,
        maxTaskQueueActivitiesPerSecond: o.maxConnectorRps,
        dataConverter: o.dataConverter,
      }),
    ),
  );
  return [main, ...connectors];
}

/** Runs every worker until one fails or a shutdown signal arrives; shutting one down shuts down all. */
export async function runWorkers(workers: Worker[]): Promise<void> {
  try {
    await Promise.all(workers.map((w) => w.run()));
  } catch (e) {
    for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
    throw e;
  }
}

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
  const log = createLogger({ level: cfg.LOG_LEVEL, name: 'worker' });
  if (!cfg.DATABASE_URL || !cfg.TEMPORAL_ADDRESS) {
    console.error('the worker needs DATABASE_URL and TEMPORAL_ADDRESS (npm start sets both)');
    process.exit(2);
  }
  Runtime.install({
    logger: new PinoSdkLogger(log),
    telemetryOptions: {
      metrics: { prometheus: { bindAddress: `127.0.0.1:${cfg.WORKER_METRICS_PORT}` } },
      logging: { forward: {}, filter: 'WARN' },
    },
  });
  const db = createDb(cfg.DATABASE_URL, { poolMax: 20 });
  const connectors = createConnectors(cfg, db, log);
  const connection = await connectNative(cfg.TEMPORAL_ADDRESS, cfg);
  const workers = await createWorkers({
    connection,
    namespace: cfg.TEMPORAL_NAMESPACE,
    taskQueue: cfg.TEMPORAL_TASK_QUEUE,
    deps: { db, config: cfg, logger: log, erp: (s) => connectors.erp(s), heartland: connectors.heartland },
    maxConnectorRps: cfg.CONNECTOR_MAX_RPS,
    dataConverter: dataConverterFor(cfg),
  });
  log.info(
    {
      taskQueues: [cfg.TEMPORAL_TASK_QUEUE, ...CONNECTOR_SYSTEMS.map(connectorQueue)],
      metricsPort: cfg.WORKER_METRICS_PORT,
    },
    'worker polling',
  );
  process.send?.({ type: 'ready' });
  try {
    await runWorkers(workers);
  } finally {
    await connection.close();
    await db.destroy();
    log.info('worker stopped');
  }
}

if (require.main === module) {
  main().catch((e: unknown) => {
    console.error(`worker failed: ${(e as Error).message}`);
    process.exit(1);
  });
}
