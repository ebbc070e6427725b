import { scrubOwnRecord } from '../domain/own-records';
import type { Db } from './index';

export interface DeadLetterInput {
  flow: string;
  workflowId: string;
  runId?: string;
  step: string;
  input?: unknown;
  context?: Record<string, unknown>;
  errorType: string;
  errorMessage: string;
  attempts?: number;
}

export interface DeadLetterRow {
  id: string;
  flow: string;
  workflow_id: string;
  run_id: string | null;
  step: string;
  input: unknown;
  context: unknown;
  error_type: string;
  error_message: string;
  attempts: number;
  status: 'open' | 'replayed' | 'discarded';
  acted_by: string | null;
  reason: string | null;
  acted_at: Date | null;
  created_at: Date;
}

/**
 * Writes a dead letter with card data scrubbed from its input, context and message (ids kept: see own-records.ts).
 * Returns its id.
 */
export async function insertDeadLetter(db: Db, dl: DeadLetterInput): Promise<string> {
  const [row] = await db('dead_letters')
    .insert({
      flow: dl.flow,
      workflow_id: dl.workflowId,
      run_id: dl.runId ?? null,
      step: dl.step,
      input: JSON.stringify(scrubOwnRecord(dl.input ?? null)),
      context: JSON.stringify(scrubOwnRecord(dl.context ?? {})),
      error_type: dl.errorType,
      error_message: scrubOwnRecord(dl.errorMessage),
      attempts: dl.attempts ?? 1,
    })
    .returning(['id']);
  return String(row.id);
}

export async function getDeadLetter(db: Db, id: string): Promise<DeadLetterRow | undefined> {
  return db('dead_letters').where({ id }).first();
}

/** Moves an open dead letter to replayed or discarded; returns false when it was not open. */
export async function closeDeadLetter(
  db: Db,
  id: string,
  status: 'replayed' | 'discarded',
  actor: string,
  reason?: string,
): Promise<boolean> {
  const n = await db('dead_letters')
    .where({ id, status: 'open' })
    .update({ status, acted_by: actor, reason: reason ?? null, acted_at: db.fn.now() });
  return n > 0;
}
