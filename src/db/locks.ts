import { Client } from 'pg';
import type { Db } from './index';

/**
 * Runs `fn` while holding a Postgres advisory lock on `key`, across every worker process.
 *
 * The lock lives on a connection of its own, outside the knex pool: a waiter then never holds a pooled connection
 * that the lock's holder needs for its own writes (with many waiters, that exhausts the pool and deadlocks it).
 * The lock goes with the connection, so a crashed holder releases it.
 */
export async function withAdvisoryLock<T>(db: Db, key: string, fn: () => Promise<T>): Promise<T> {
  return withAdvisoryLocks(db, [key], fn);
}

/**
 * Runs `fn` while holding the advisory locks of every key (see withAdvisoryLock). They are taken one at a time in
 * the order of their lock ids, the same order in every process, so two callers that share some keys wait for each
 * other and never deadlock.
 */
export async function withAdvisoryLocks<T>(db: Db, keys: readonly string[], fn: () => Promise<T>): Promise<T> {
  const conn = db.client.config.connection as string | Record<string, unknown>;
  const client = new Client(typeof conn === 'string' ? { connectionString: conn } : conn);
  client.on('error', () => undefined);
  await client.connect();
  try {
    const { rows } = await client.query<{ id: number }>(
      'SELECT DISTINCT hashtext(k) AS id FROM unnest($1::text[]) AS k ORDER BY id',
      [keys],
    );
    for (const { id } of rows) await client.query('SELECT pg_advisory_lock($1)', [id]);
    return await fn();
  } finally {
    await client.end().catch(() => undefined);
  }
}
