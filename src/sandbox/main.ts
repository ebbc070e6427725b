import path from 'node:path';
import { loadConfig, ConfigError, dataDir } from '../config';
import { PortInUse } from '../runtime/ports';
import { startSandbox } from './index';

/** `npm run sandbox`: every simulator on its default port, one line each, until Ctrl-C. */
async function main(): Promise<void> {
  const cfg = loadConfig();
  const sandbox = await startSandbox({ dataDir: dataDir(cfg), ports: 'default' });
  console.log('Ledgerbridge sandbox simulators (fault injection: POST <url>/__faults):');
  for (const line of sandbox.describe()) console.log(`  ${line}`);
  console.log(
    `State for file-based systems lives under ${path.relative(process.cwd(), dataDir(cfg)) || '.'}. Ctrl-C stops.`,
  );
  const stop = () => void sandbox.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((e: unknown) => {
  console.error(
    e instanceof ConfigError || e instanceof PortInUse ? e.message : `sandbox failed: ${(e as Error).message}`,
  );
  process.exit(1);
});
