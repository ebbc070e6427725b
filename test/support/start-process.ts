import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

const root = path.join(__dirname, '..', '..');

export interface Run {
  child: ChildProcess;
  out: () => string;
  exit: Promise<number | null>;
}

/** Runs `npm start`'s entry point the way npm does, with the given environment. */
export function start(env: Record<string, string>): Run {
  let out = '';
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/runtime/start.ts'], {
    cwd: root,
    env: {
      PATH: process.env.PATH!,
      HOME: process.env.HOME!,
      LOG_LEVEL: 'warn',
      LB_SANDBOX_PORTS: 'random',
      LB_DEMO: 'off',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, out: () => out, exit };
}

export async function waitFor(run: Run, text: string, ms = 90_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!run.out().includes(text)) {
    if (Date.now() > deadline || run.child.exitCode !== null) throw new Error(`never saw "${text}":\n${run.out()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
