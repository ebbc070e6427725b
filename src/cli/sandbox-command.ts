import { dataDir, loadConfig } from '../config';
import { startSandbox } from '../sandbox';
import type { CliIo } from './program';

/** `ledgerbridge sandbox`: every simulator on its default port until SIGINT or SIGTERM. */
export async function runSandbox(io: CliIo, json: boolean): Promise<void> {
  const cfg = loadConfig(io.env);
  const sandbox = await startSandbox({ dataDir: dataDir(cfg), ports: 'default' });
  if (json) io.out(JSON.stringify({ simulators: sandbox.describe(), env: sandbox.env }));
  else {
    io.out('Ledgerbridge sandbox simulators (fault injection: POST <url>/__faults):');
    for (const line of sandbox.describe()) io.out(`  ${line}`);
    io.out('Ctrl-C stops.');
  }
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await sandbox.close();
}
