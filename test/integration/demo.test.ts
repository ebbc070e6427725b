import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../src/runtime/ports';
import { detectCardData } from '../support/pan-detector';
import { runCli } from '../support/cli';
import { ownTestDatabase } from '../support/env';
import { auditHistories, emptyReport } from '../support/pan-audit';
import { start, waitFor, type Run } from '../support/start-process';

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'lb-demo-'));
chmodSync(dataDir, 0o755);
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

/**
 * What a new user sees: `npm start` in sandbox mode (own Temporal dev server, own database) sends the demo traffic,
 * prints the flows with their Temporal UI links and the CLI commands that fix the parked batch; running those
 * commands completes the batch and its report reads as posted.
 */
describe('npm start with the demo', () => {
  let app: Run | undefined;
  afterAll(async () => {
    if (app && app.child.exitCode === null) {
      app.child.kill('SIGKILL');
      await app.exit;
    }
  });

  test('the demo flows run and show in the Temporal UI; the printed CLI commands fix the parked batch', async () => {
    const [gateway, temporal, ui, metrics] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const adminKey = `lb_${randomBytes(32).toString('base64url')}`;
    app = start({
      DATABASE_URL: await ownTestDatabase('demo'),
      LB_DATA_DIR: dataDir,
      LB_DEMO: 'true',
      LB_ADMIN_API_KEY: adminKey,
      GATEWAY_PORT: String(gateway),
      TEMPORAL_PORT: String(temporal),
      TEMPORAL_UI_PORT: String(ui),
      WORKER_METRICS_PORT: String(metrics),
    });
    await waitFor(app, 'demo: done', 180_000);
    await waitFor(app, 'ledgerbridge report ', 10_000);
    const out = app.out();
    const uiLink = `http://127.0.0.1:${ui}/namespaces/default/workflows/`;
    const lines = (re: RegExp) => out.split('\n').filter((l) => re.test(l) && l.includes(uiLink));
    expect(lines(/^ {2}order \S+: completed /)).toHaveLength(2);
    expect(lines(/^ {2}order \S+: card declined, sales order cancelled \(compensated\) /)).toHaveLength(1);
    expect(lines(/^ {2}partial refund \S+ of order \S+: completed /)).toHaveLength(1);
    expect(lines(/^ {2}batch \S+ closed: completed /)).toHaveLength(1);
    const parked = /batch (\S+) closed: parked on a missing GL account \(dead letter (\d+)\)/.exec(out);
    expect(parked).not.toBeNull();
    const [, batchId, deadLetterId] = parked!;

    // The runs are in the Temporal UI, with their search attributes (the UI server's own API, as the page reads it).
    const query = encodeURIComponent('LbFlow="settlement" AND LbNeedsAttention=true');
    const listed = (await (
      await fetch(`http://127.0.0.1:${ui}/api/v1/namespaces/default/workflows?query=${query}`)
    ).json()) as { executions: { execution: { workflowId: string } }[] };
    expect(listed.executions.map((e) => e.execution.workflowId)).toEqual([`settlement:${batchId}`]);

    // The user runs the printed commands, in order.
    const cli = (args: string[]) => runCli(args, { url: `http://127.0.0.1:${gateway}`, key: adminKey });
    const commands = out
      .split('\n')
      .filter((l) => l.startsWith('  ledgerbridge '))
      .map((l) => l.replace(/#.*$/, '').trim().split(/\s+/).slice(1));
    expect(commands).toEqual([
      ['dlq', 'show', deadLetterId],
      ['dlq', 'replay', deadLetterId, '--mapping-version', expect.stringMatching(/^\d+$/)],
      ['runs', 'show', `settlement:${batchId}`],
      ['report', batchId],
    ]);
    const show = await cli(commands[0]);
    expect(show).toMatchObject({ code: 0 });
    expect(show.stdout).toContain(`dead letter ${deadLetterId} (open)`);
    expect(show.stdout).toContain('GlAccountNotFound');
    const replay = await cli(commands[1]);
    expect(replay).toMatchObject({ code: 0 });
    expect(replay.stdout).toContain(`dead letter ${deadLetterId} replayed`);
    const deadline = Date.now() + 60_000;
    let runOut = '';
    while (!/Completed/.test(runOut) && Date.now() < deadline) {
      runOut = (await cli(commands[2])).stdout;
      if (!/Completed/.test(runOut)) await new Promise((r) => setTimeout(r, 500));
    }
    expect(runOut).toMatch(/stage completed, outcome completed, needs attention false/);
    const report = await cli([...commands[3], '--json']);
    expect(report.code).toBe(0);
    expect(report.json).toMatchObject({ batchId, status: 'posted' });

    // The demo's own Temporal server is gone after the run, so its histories and output are audited here.
    const audit = emptyReport();
    await auditHistories(`127.0.0.1:${temporal}`, 'default', audit);
    expect(audit.scanned.workflows).toBeGreaterThanOrEqual(7);
    expect(detectCardData(app.out())).toEqual([]);
    expect(audit.findings).toEqual([]);

    app.child.kill('SIGTERM');
    expect(await app.exit).toBe(0);
  });
});
