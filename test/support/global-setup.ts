import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { createDb, ensureDatabase, migrate, withDatabase } from '../../src/db';
import { startEmbeddedPostgres } from '../../src/runtime/postgres';
import { freePort } from '../../src/runtime/ports';
import { ensureTemporalCli, INSTALL_HINT } from '../../src/runtime/temporal-cli';
import { startDevServer } from '../../src/runtime/dev-server';
import { AUDIT_PROBE_NAMESPACE } from './pan-audit';

const say = (m: string) => process.stderr.write(`[test setup] ${m}\n`);

async function setupPostgres(tmp: string) {
  let base = process.env.DATABASE_URL;
  let stop = async () => undefined as void;
  if (!base) {
    const pg = await startEmbeddedPostgres(path.join(tmp, 'pg'), await freePort(), say);
    base = pg.url;
    stop = pg.stop;
  }
  const url = withDatabase(base, `lb_test_${process.pid}_${Date.now().toString(36)}`);
  await ensureDatabase(url);
  const db = createDb(url, { poolMax: 1 });
  await migrate(db);
  await db.destroy();
  return { url, stop };
}

async function setupTemporal(tmp: string) {
  const cli = await ensureTemporalCli(say);
  if (!cli) throw new Error(INSTALL_HINT);
  return startDevServer({
    cli,
    dbFile: path.join(tmp, 'temporal.db'),
    port: await freePort(),
    uiPort: 0,
    headless: true,
    synchronous: 'off',
    extraNamespaces: [AUDIT_PROBE_NAMESPACE],
  });
}

async function setupBundle(tmp: string) {
  const { code } = await bundleWorkflowCode({
    workflowsPath: require.resolve('../fixtures/workflows'),
    logger: {
      log: () => undefined,
      trace: () => undefined,
      debug: () => undefined,
      info: () => undefined,
      warn: say,
      error: say,
    },
  });
  const codePath = path.join(tmp, 'workflow-bundle.js');
  writeFileSync(codePath, code);
  return codePath;
}

/** Starts one Temporal dev server and one fresh Postgres database for the whole run, and bundles workflows once. */
export default async function globalSetup(): Promise<void> {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'ledgerbridge-test-'));
  chmodSync(tmp, 0o755); // as root, the embedded Postgres runs as the postgres user and must reach its data dir
  const [pg, temporal, bundle] = await Promise.all([setupPostgres(tmp), setupTemporal(tmp), setupBundle(tmp)]);
  process.env.LB_TEST_DATABASE_URL = pg.url;
  process.env.LB_TEST_TEMPORAL_ADDRESS = temporal.address;
  process.env.LB_TEST_WORKFLOW_BUNDLE = bundle;
  process.env.LB_TEST_TMP = tmp;
  process.env.LB_LOG_CAPTURE = path.join(tmp, 'logs.jsonl');
  (globalThis as Record<string, unknown>).__lbTest = { pg, temporal, tmp };
}
