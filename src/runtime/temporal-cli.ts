import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const TEMPORAL_CLI_VERSION = 'v1.5.1';
const GO_PACKAGE = `github.com/temporalio/cli/cmd/temporal@${TEMPORAL_CLI_VERSION}`;

export class TemporalCliMissing extends Error {
  override name = 'TemporalCliMissing';
}

/** The per-user cache outside git where the project installs its own tools. */
export function cacheDir(): string {
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'ledgerbridge');
}

function executable(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir && executable(path.join(dir, name))) return path.join(dir, name);
  }
  return undefined;
}

/** Finds the temporal CLI: TEMPORAL_CLI, then PATH, then the project cache. */
export function findTemporalCli(explicit = process.env.TEMPORAL_CLI): string | undefined {
  if (explicit) {
    if (!executable(explicit)) throw new TemporalCliMissing(`TEMPORAL_CLI=${explicit} is not an executable file`);
    return explicit;
  }
  return (
    onPath('temporal') ??
    (executable(path.join(cacheDir(), 'bin', 'temporal')) ? path.join(cacheDir(), 'bin', 'temporal') : undefined)
  );
}

function findGo(): string | undefined {
  return onPath('go') ?? (executable('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : undefined);
}

/**
 * Returns a temporal CLI, installing it into the cache with `go install` when none is found. Returns undefined when
 * Go is missing too, so the caller can fall back to the SDK's downloader.
 */
export async function ensureTemporalCli(
  say: (msg: string) => void = (m) => console.error(m),
): Promise<string | undefined> {
  const found = findTemporalCli();
  if (found) return found;
  const go = findGo();
  if (!go) return undefined;
  const bin = path.join(cacheDir(), 'bin');
  mkdirSync(bin, { recursive: true });
  say(
    `Temporal CLI not found: installing ${GO_PACKAGE} into ${bin} with go install (about 6 minutes the first time)...`,
  );
  const started = Date.now();
  await new Promise<void>((resolve, reject) => {
    const child = spawn(go, ['install', GO_PACKAGE], {
      env: { ...process.env, CGO_ENABLED: '0', GOBIN: bin, GOFLAGS: process.env.GOFLAGS ?? '-mod=mod' },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    const ticker = setInterval(
      () => say(`  ...still building the Temporal CLI (${Math.round((Date.now() - started) / 1000)} s)`),
      30_000,
    );
    child.on('error', (e) => {
      clearInterval(ticker);
      reject(e);
    });
    child.on('exit', (code) => {
      clearInterval(ticker);
      if (code === 0) resolve();
      else reject(new TemporalCliMissing(`go install ${GO_PACKAGE} failed with exit code ${code}`));
    });
  });
  const cli = path.join(bin, 'temporal');
  say(`Temporal CLI installed at ${cli} in ${Math.round((Date.now() - started) / 1000)} s`);
  return cli;
}

export const INSTALL_HINT =
  'No Temporal CLI was found and Go is not installed. Install one of:\n' +
  '  - Go 1.22+ (https://go.dev/dl/); Ledgerbridge then builds the CLI itself, or\n' +
  '  - the Temporal CLI (https://docs.temporal.io/cli), on PATH or via TEMPORAL_CLI=/path/to/temporal,\n' +
  'or point TEMPORAL_ADDRESS at a running Temporal server.';

export function cliVersion(cli: string): string {
  const r = spawnSync(cli, ['--version'], { encoding: 'utf8' });
  return (r.stdout || r.stderr || '').trim();
}
