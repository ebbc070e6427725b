import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { gpSignature } from '../src/connectors/heartland/webhook-signature';
import { createDb, ensureDatabase, migrate, withDatabase, dropDatabase } from '../src/db';
// eslint-disable-next-line
const autocannon = require('autocannon');
async function main() {
  const dbUrl = withDatabase('postgres://root@127.0.0.1:5432/postgres', 'lb_prof_tmp');
  await dropDatabase(dbUrl); await ensureDatabase(dbUrl); const db = createDb(dbUrl); await migrate(db); await db.destroy();
  const child = spawn(process.execPath, ['--cpu-prof', '--cpu-prof-dir=/tmp/prof', '--import', 'tsx', 'bench/_tmp_gw.ts'], { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, DATABASE_URL: dbUrl } });
  const url: string = await new Promise((r) => createInterface({ input: child.stdout! }).once('line', (l) => r(l)));
  let seq = 0;
  const res = await autocannon({ url, connections: 50, amount: 20000, requests: [{ method: 'POST', path: '/webhooks/heartland', setupRequest: (req: any) => {
    const batchId = `BAT_P${Date.now()}_${seq++}`;
    const body = JSON.stringify({ id: batchId, status: 'CLOSED', amount: '1', currency: 'USD', action: { id: `ACT_${batchId}`, type: 'BATCH_CLOSE' }, batch_id: batchId });
    return { ...req, body, headers: { 'content-type': 'application/json', 'x-gp-signature': gpSignature(body, 'sandbox-app-key') } };
  } }] });
  console.log(res['2xx'] / res.duration, res.latency.p50, res.latency.p99);
  child.kill('SIGINT');
  await new Promise((r) => child.once('exit', r));
  await dropDatabase(dbUrl);
}
main();
