import type { Db } from '../../../db';
import { failure, isRetryable, type ErrorType } from '../../../domain/errors';
import { miErrorType, type MiFields, type MiResult } from './mi';

/**
 * Line-level idempotency for an M3 bulk request. Each line has its own `external_writes` row
 * (`<key>/line-<n>`): lines already done are never sent again, lines an earlier attempt may have written are looked
 * up on the M3 side first, and after a partial failure only the failed lines stay open for the retry.
 */

export interface BulkLine {
  /** Position of the line in the business document (0-based); part of its key. */
  n: number;
  record: MiFields;
}

export interface BulkSpec {
  db: Db;
  key: string;
  operation: string;
  workflowId?: string;
  program: string;
  transaction: string;
  lines: BulkLine[];
  /** The parent (order, batch, …) existed before this attempt, so the M3 side may already hold some lines. */
  parentExisted: boolean;
  /** The line numbers (n) that M3 already holds, read from M3 itself. */
  findExisting: () => Promise<Set<number>>;
  send: (transactions: { transaction: string; record: MiFields }[]) => Promise<MiResult[]>;
}

const lineKey = (key: string, n: number) => `${key}/line-${n}`;

/** Writes the lines not yet written; throws PartialFailure (retryable) or the first permanent error when some fail. */
export async function bulkLinesOnce(s: BulkSpec): Promise<void> {
  if (!s.lines.length) return;
  const keys = s.lines.map((l) => lineKey(s.key, l.n));
  const inserted = await s
    .db('external_writes')
    .insert(
      s.lines.map((l) => ({
        idempotency_key: lineKey(s.key, l.n),
        target: 'm3',
        operation: `${s.operation}.line`,
        workflow_id: s.workflowId ?? null,
        status: 'pending',
      })),
    )
    .onConflict('idempotency_key')
    .ignore()
    .returning(['idempotency_key']);
  const fresh = new Set(inserted.map((r: { idempotency_key: string }) => r.idempotency_key));
  const rows: { idempotency_key: string; status: string }[] = await s
    .db('external_writes')
    .whereIn('idempotency_key', keys);
  const status = new Map(rows.map((r) => [r.idempotency_key, r.status]));
  let open = s.lines.filter((l) => status.get(lineKey(s.key, l.n)) !== 'done');
  if (!open.length) return;

  // A line left pending by an earlier attempt may have reached M3 before that attempt died: ask M3.
  const maybeWritten = open.some(
    (l) => !fresh.has(lineKey(s.key, l.n)) && status.get(lineKey(s.key, l.n)) === 'pending',
  );
  if (s.parentExisted || maybeWritten) {
    const existing = await s.findExisting();
    const already = open.filter((l) => existing.has(l.n));
    if (already.length) {
      await s
        .db('external_writes')
        .whereIn(
          'idempotency_key',
          already.map((l) => lineKey(s.key, l.n)),
        )
        .update({ status: 'done', result: JSON.stringify({ foundRemote: true }), updated_at: s.db.fn.now() });
    }
    open = open.filter((l) => !existing.has(l.n));
    if (!open.length) return;
  }

  const retried = open.filter((l) => !fresh.has(lineKey(s.key, l.n))).map((l) => lineKey(s.key, l.n));
  if (retried.length) {
    await s
      .db('external_writes')
      .whereIn('idempotency_key', retried)
      .update({ status: 'pending', attempts: s.db.raw('attempts + 1'), updated_at: s.db.fn.now() });
  }

  const results = await s.send(open.map((l) => ({ transaction: s.transaction, record: l.record })));
  const failed: { n: number; result: MiResult; type: ErrorType }[] = [];
  const succeeded: number[] = [];
  for (const [i, l] of open.entries()) {
    const r = results[i];
    const k = lineKey(s.key, l.n);
    if (r.errorMessage) {
      failed.push({ n: l.n, result: r, type: miErrorType(r, s.transaction) });
      await s
        .db('external_writes')
        .where({ idempotency_key: k })
        .update({ status: 'failed', result: JSON.stringify(r), updated_at: s.db.fn.now() });
    } else {
      succeeded.push(l.n);
      const first = r.records[0];
      await s
        .db('external_writes')
        .where({ idempotency_key: k })
        .update({
          status: 'done',
          external_id: first ? (Object.values(first).at(-1) ?? null) : null,
          result: JSON.stringify(r.records),
          updated_at: s.db.fn.now(),
        });
    }
  }
  if (!failed.length) return;

  const details = {
    connector: 'm3',
    program: s.program,
    transaction: s.transaction,
    failedLines: failed.map((f) => f.n),
    succeededLines: succeeded,
    errors: failed.map((f) => ({
      line: f.n,
      code: f.result.errorCode,
      field: f.result.errorField,
      message: f.result.errorMessage,
    })),
  };
  const permanent = failed.find((f) => !isRetryable(f.type));
  const summary = failed.map((f) => `line ${f.n}: ${f.result.errorMessage}`).join('; ');
  if (permanent) {
    throw failure(permanent.type, `m3 ${s.program}/${s.transaction}: ${summary}`, {
      ...details,
      code: permanent.result.errorCode,
      field: permanent.result.errorField,
    });
  }
  throw failure(
    'PartialFailure',
    `m3 ${s.program}/${s.transaction}: ${succeeded.length} of ${open.length} lines written, ${failed.length} failed (${summary}); ` +
      'a retry re-sends only the failed lines',
    details,
  );
}
