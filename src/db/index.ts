import knexFactory, { type Knex } from 'knex';
import { migrationSource } from './migrations';

export type Db = Knex;

/** A knex instance on pg. Pool sized for a worker that runs many activities at once. */
export function createDb(url: string, opts: { poolMax?: number; quiet?: boolean } = {}): Db {
  const silent = () => undefined;
  return knexFactory({
    client: 'pg',
    ...(opts.quiet ? { log: { warn: silent, error: silent, debug: silent, deprecate: silent } } : {}),
    connection: url,
    pool: { min: 0, max: opts.poolMax ?? 10 },
    acquireConnectionTimeout: 10_000,
  });
}

export async function migrate(db: Db): Promise<string[]> {
  const [, applied] = (await db.migrate.latest({ migrationSource })) as [number, string[]];
  return applied;
}

/** Replaces the database name in a postgres URL. */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/** Creates a database if it does not exist (connecting to the server's `postgres` database). */
export async function ensureDatabase(url: string): Promise<void> {
  const name = decodeURIComponent(new URL(url).pathname.slice(1));
  if (!name) return;
  const admin = createDb(withDatabase(url, 'postgres'), { poolMax: 1, quiet: true });
  try {
    const exists = await admin.raw('SELECT 1 FROM pg_database WHERE datname = ?', [name]);
    if (exists.rows.length === 0) await admin.raw(`CREATE DATABASE ${quoteIdent(name)}`);
  } finally {
    await admin.destroy();
  }
}

export async function dropDatabase(url: string): Promise<void> {
  const name = decodeURIComponent(new URL(url).pathname.slice(1));
  const admin = createDb(withDatabase(url, 'postgres'), { poolMax: 1, quiet: true });
  try {
    await admin.raw(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
  } finally {
    await admin.destroy();
  }
}

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
