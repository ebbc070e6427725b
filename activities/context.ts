import { activityInfo } from '@temporalio/activity';
import type { WriteContext } from '../src/connectors/erp/types';
import type { Db } from '../src/db';
import { findWrite, markUndone } from '../src/db/external-writes';
import { idempotencyKey } from '../src/domain/ids';

/** The workflow id of the running activity: the base of every idempotency key its writes carry. */
export function currentWorkflowId(): string {
  const wf = activityInfo().workflowExecution;
  if (!wf)
    throw new Error('this activity must run inside a workflow (its idempotency keys derive from the workflow id)');
  return wf.workflowId;
}

/** The write context of one step of a workflow: its idempotency key and the workflow id. */
export function writeContext(workflowId: string, step: string): WriteContext {
  return { idempotencyKey: idempotencyKey(workflowId, step), workflowId };
}

/** The external id an earlier step created under `step`'s idempotency key, or null when it never completed. */
export async function createdBy(db: Db, workflowId: string, step: string): Promise<string | null> {
  const row = await findWrite(db, idempotencyKey(workflowId, step));
  return row && row.status !== 'pending' ? (row.external_id as string | null) : null;
}

/**
 * The undo of `step`: runs `undo` on the external id the step created (nothing when it created none), then marks the
 * step's write undone, so that a later run under the same workflow id is refused instead of reusing the record.
 */
export async function undoCreated<T>(
  db: Db,
  workflowId: string,
  step: string,
  undo: (externalId: string) => Promise<T>,
): Promise<T | null> {
  const externalId = await createdBy(db, workflowId, step);
  if (!externalId) return null;
  const result = await undo(externalId);
  await markUndone(db, idempotencyKey(workflowId, step));
  return result;
}
