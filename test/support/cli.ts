import { execFile } from 'node:child_process';
import path from 'node:path';

const BIN = path.resolve(__dirname, '..', '..', 'bin', 'ledgerbridge');

/**
 * Runs bin/ledgerbridge as a user would, from another directory, against the gateway at `url` with `key`; no
 * DATABASE_URL unless `env` has one. `json` is stdout parsed, when it is JSON.
 */
export function runCli(args: string[], o: { url: string; key?: string; env?: Record<string, string> }) {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, LEDGERBRIDGE_URL: o.url, ...o.env };
  if (o.key) env.LEDGERBRIDGE_API_KEY = o.key;
  // The JSON output is checked by shape assertions, so it stays loosely typed here.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return new Promise<{ code: number; stdout: string; stderr: string; json: any }>((resolve) => {
    execFile(BIN, args, { env, cwd: '/', timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? ((err as { code?: number }).code ?? 1) : 0;
      let json: unknown;
      try {
        json = JSON.parse(stdout);
      } catch {
        json = undefined;
      }
      resolve({ code: typeof code === 'number' ? code : 1, stdout, stderr, json });
    });
  });
}
