import { rmSync } from 'node:fs';
import { dropDatabase } from '../../src/db';
import { auditRun, describeAudit, runDatabases } from './pan-audit';

interface TestHandles {
  pg: { url: string; stop: () => Promise<void> };
  temporal: { address: string; stop: () => Promise<void> };
  tmp: string;
}

/**
 * Audits what the run left behind for card data (tables, workflow histories, logs), then stops the dev server,
 * drops the run's databases and removes the temporary files. A finding fails the run.
 */
export default async function globalTeardown(): Promise<void> {
  const h = (globalThis as Record<string, unknown>).__lbTest as TestHandles | undefined;
  if (!h) return;
  let verdict: string | undefined;
  let clean = true;
  try {
    const report = await auditRun({
      databaseUrl: h.pg.url,
      temporalAddress: h.temporal.address,
      logFile: process.env.LB_LOG_CAPTURE,
    });
    verdict = describeAudit(report);
    clean = report.findings.length === 0;
  } finally {
    const dbs = await runDatabases(h.pg.url).catch(() => [h.pg.url]);
    await h.temporal.stop();
    for (const url of dbs) await dropDatabase(url).catch(() => undefined);
    await h.pg.stop();
    rmSync(h.tmp, { recursive: true, force: true });
  }
  process.stderr.write(`[test audit] ${verdict}\n`);
  if (!clean) throw new Error(`[test audit] ${verdict}`);
}
