import { loadConfig, ConfigError } from '../config';
import { createDb, migrate } from '../db';
import { createLogger } from '../logger';
import { connectClient, waitForTemporal } from '../temporal/connection';
import { waitForPostgres } from '../runtime/postgres';
import { createApp } from './app';
import { close, listen } from './server';
import { createMetrics } from './metrics';
import { Dispatcher } from './dispatcher';

/** The gateway as its own process (containers); `npm start` runs it in-process instead. */
async function main(): Promise<void> {
  const cfg = loadConfig();
  const log = createLogger({ level: cfg.LOG_LEVEL, name: 'gateway' });
  if (!cfg.DATABASE_URL || !cfg.TEMPORAL_ADDRESS)
    throw new Error('the gateway needs DATABASE_URL and TEMPORAL_ADDRESS');
  const say = (m: string) => log.warn(m);
  await waitForPostgres(cfg.DATABASE_URL, { say, timeoutMs: 120_000 });
  const db = createDb(cfg.DATABASE_URL);
  await migrate(db);
  await waitForTemporal(cfg.TEMPORAL_ADDRESS, cfg, { say, timeoutMs: 120_000 });
  const temporal = await connectClient(cfg.TEMPORAL_ADDRESS, cfg);
  const metrics = createMetrics();
  const server = await listen(
    createApp({ db, temporal, namespace: cfg.TEMPORAL_NAMESPACE, logger: log, config: cfg, metrics }),
    cfg.GATEWAY_PORT,
    cfg.GATEWAY_HOST,
  );
  // The dispatcher moves accepted webhooks from the inbox to Temporal, retrying while Temporal is down.
  const dispatcher = new Dispatcher({ db, client: temporal, config: cfg, logger: log, registry: metrics.registry });
  dispatcher.start();
  log.info({ port: cfg.GATEWAY_PORT }, 'gateway listening');
  const stop = async () => {
    await dispatcher.stop();
    await close(server);
    await temporal.connection.close();
    await db.destroy();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop());
  process.once('SIGINT', () => void stop());
}

main().catch((e: unknown) => {
  console.error(e instanceof ConfigError ? e.message : `gateway failed: ${(e as Error).message}`);
  process.exit(e instanceof ConfigError ? 2 : 1);
});
