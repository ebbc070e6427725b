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
  const conn = db.client.config.connection as string | Record<string, unknown>;
  const client = new Client(typeof conn === 'string' ? { connectionString: conn } : conn);
  client.on('error', () => undefined);
  await client.connect();
  try {
    await client.query('SELECT pg_advisory_lock(hashtext($1))', [key]);
    return await fn();
  } finally {
    await client.end().catch(() => undefined);
  }
}
