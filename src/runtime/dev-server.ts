import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { SEARCH_ATTRIBUTE_ARGS } from '../../workflows/definitions';
import { waitForTemporal } from '../temporal/connection';

export interface DevServer {
  address: string;
  uiUrl: string | undefined;
  process?: ChildProcess;
  stop(): Promise<void>;
}

export interface DevServerOptions {
  cli: string;
  dbFile: string;
  port: number;
  uiPort: number;
  headless?: boolean;
  namespace?: string;
  /** More namespaces to create at launch (the test suite keeps its card-data audit's probe apart in one). */
  extraNamespaces?: string[];
  /** `normal` survives a process crash; `off` is for tests and benchmarks only. */
  synchronous?: 'normal' | 'off' | 'full';
  logFile?: string;
  say?: (m: string) => void;
}

/** Args for `temporal server start-dev`: SQLite in WAL mode and the Ledgerbridge search attributes. */
export function devServerArgs(o: DevServerOptions): string[] {
  const args = [
    'server',
    'start-dev',
    '--db-filename',
    o.dbFile,
    '--ip',
    '127.0.0.1',
    '--port',
    String(o.port),
    '--namespace',
    o.namespace ?? 'default',
    '--log-level',
    'warn',
    '--sqlite-pragma',
    'journal_mode=wal',
    '--sqlite-pragma',
    `synchronous=${o.synchronous ?? 'normal'}`,
  ];
  for (const ns of o.extraNamespaces ?? []) args.push('--namespace', ns);
  if (o.headless) args.push('--headless');
  else args.push('--ui-port', String(o.uiPort));
  for (const sa of SEARCH_ATTRIBUTE_ARGS) args.push('--search-attribute', sa);
  return args;
}

/** Starts the Temporal dev server and resolves when its namespace answers. */
export async function startDevServer(o: DevServerOptions): Promise<DevServer> {
  mkdirSync(path.dirname(o.dbFile), { recursive: true });
  const child = spawn(o.cli, devServerArgs(o), { stdio: ['ignore', 'pipe', 'pipe'] });
  const tail: string[] = [];
  const keep = (b: Buffer) => {
    tail.push(b.toString());
    if (tail.length > 50) tail.shift();
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let exited: number | null = null;
  child.on('exit', (code) => (exited = code ?? -1));
  const address = `127.0.0.1:${o.port}`;
  const stop = () => stopChild(child);
  try {
    await Promise.race([
      waitForTemporal(address, { TEMPORAL_NAMESPACE: o.namespace }, { timeoutMs: 60_000, say: o.say }),
      new Promise((_, reject) => {
        child.on('exit', (code) =>
          reject(new Error(`temporal dev server exited with code ${code}:\n${tail.join('').slice(-2000)}`)),
        );
      }),
    ]);
  } catch (e) {
    await stop();
    throw e;
  }
  if (exited !== null) throw new Error(`temporal dev server exited:\n${tail.join('').slice(-2000)}`);
  return { address, uiUrl: o.headless ? undefined : `http://127.0.0.1:${o.uiPort}`, process: child, stop };
}

/** SIGTERM, then SIGKILL after a grace period; resolves when the process is gone. */
export async function stopChild(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
