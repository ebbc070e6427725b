import { createHash } from 'node:crypto';
import { fail } from '../domain/errors';
import type { Db } from './index';

export interface ExternalWrite<R> {
  externalId: string | null;
  result: R;
  /** true when this call did the write; false when an earlier attempt (or the remote lookup) already had. */
  created: boolean;
}

export interface IdempotentWriteSpec<R> {
  key: string;
  target: string;
  operation: string;
  workflowId?: string;
  /** The request, hashed to detect a key reused with different content. */
  request?: unknown;
  /**
   * Looks the record up on the remote side by our reference. Runs when an earlier attempt left the row pending
   * (it may have crashed after the remote write), so a retry never creates a second remote record.
   */
  findRemote?: () => Promise<{ externalId: string | null; result: R } | null>;
  write: () => Promise<{ externalId: string | null; result: R }>;
}

export function requestHash(request: unknown): string {
  return createHash('sha256')
    .update(JSON.stringify(request ?? null))
    .digest('hex');
}

/**
 * Performs one external write at most once per idempotency key: the `external_writes` row is checked first,
 * a pending row is reserved before the call, and a retry after a crash asks the remote side before writing again.
 */
export async function idempotentWrite<R>(db: Db, spec: IdempotentWriteSpec<R>): Promise<ExternalWrite<R>> {
  const hash = spec.request === undefined ? null : requestHash(spec.request);
  const inserted = await db('external_writes')
    .insert({
      idempotency_key: spec.key,
      target: spec.target,
      operation: spec.operation,
      workflow_id: spec.workflowId ?? null,
      request_hash: hash,
      status: 'pending',
    })
    .onConflict('idempotency_key')
    .ignore()
    .returning(['id']);

  if (inserted.length === 0) {
    const row = await db('external_writes').where({ idempotency_key: spec.key }).first();
    if (row.status === 'undone') {
      // Handing back the cancelled or voided record as if it were live would let a re-run build on it.
      fail(
        'WriteUndone',
        `${spec.operation} at ${spec.target} under ${spec.key} was undone by a compensation; start the flow under a new id to do it again`,
        { field: 'idempotencyKey' },
      );
    }
    if (row.status === 'done') {
      return { externalId: row.external_id, result: row.result as R, created: false };
    }
    await db('external_writes').where({ id: row.id }).increment('attempts', 1);
    if (spec.findRemote) {
      const found = await spec.findRemote();
      if (found) {
        await markDone(db, spec.key, found.externalId, found.result);
        return { ...found, created: false };
      }
    }
  }
  const done = await spec.write();
  await markDone(db, spec.key, done.externalId, done.result);
  return { ...done, created: true };
}

async function markDone(db: Db, key: string, externalId: string | null, result: unknown): Promise<void> {
  await db('external_writes')
    .where({ idempotency_key: key })
    .update({
      status: 'done',
      external_id: externalId,
      result: JSON.stringify(result ?? null),
      updated_at: db.fn.now(),
    });
}

/** Marks a completed write as undone by its compensation (idempotent); a later write under its key is refused. */
export async function markUndone(db: Db, key: string): Promise<void> {
  await db('external_writes').where({ idempotency_key: key }).update({ status: 'undone', updated_at: db.fn.now() });
}

export async function findWrite(db: Db, key: string) {
  return db('external_writes').where({ idempotency_key: key }).first();
}
