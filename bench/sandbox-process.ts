// Runs every simulator in its own process for the benchmarks (so the simulators do not share the measured process's
// event loop); sends the connector settings back over IPC and stops on SIGTERM.
import { startSandbox } from '../src/sandbox';

async function main() {
  const sandbox = await startSandbox({ dataDir: process.argv[2], ports: 'random' });
  process.send?.({ type: 'ready', env: sandbox.env });
  process.once('SIGTERM', () => void sandbox.close().then(() => process.exit(0)));
}

void main();
