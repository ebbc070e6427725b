import { DefaultLogger, Runtime } from '@temporalio/worker';

// Workers in tests log warnings and errors only; Runtime.install may run once per process.
try {
  Runtime.install({ logger: new DefaultLogger('WARN') });
} catch {
  // already installed by an earlier test file in this jest worker
}
