import type { Db } from '../db';

/** The `settlement_batches` row: one per batch, its status and the figures of its latest run. */

export type BatchStatus =
  'staging' | 'staged' | 'loaded' | 'matched' | 'needs-review' | 'approved' | 'journal-built' | 'posted' | 'reported';

/** Creates the row of a batch, or takes it over for a new run (same batch id, maybe another ERP). */
export async function openBatch(
  db: Db,
  b: { batchId: string; erp: string; source: string; workflowId?: string },
): Promise<void> {
  await db('settlement_batches')
    .insert({
      batch_id: b.batchId,
      erp: b.erp,
      source: b.source,
      workflow_id: b.workflowId ?? null,
      status: 'staging',
    })
    .onConflict('batch_id')
    .merge({ erp: b.erp, source: b.source, workflow_id: b.workflowId ?? null, updated_at: db.fn.now() });
}

/** Updates a batch's status and figures. */
export async function updateBatch(
  db: Db,
  batchId: string,
  patch: Partial<{
    status: BatchStatus;
    currency: string | null;
    period_from: string | null;
    period_to: string | null;
    pages: number;
    line_count: number;
    duplicate_count: number;
    net_minor: number;
    erp_payment_count: number;
    erp_payment_minor: number;
    variance_minor: number;
    counts: Record<string, number>;
    approved_by: string | null;
    approval_note: string | null;
    approved_at: Date | null;
    erp_journal_id: string;
  }>,
): Promise<void> {
  const row: Record<string, unknown> = { ...patch, updated_at: db.fn.now() };
  if (patch.counts) row.counts = JSON.stringify(patch.counts);
  await db('settlement_batches').where({ batch_id: batchId }).update(row);
}

export async function getBatch(db: Db, batchId: string) {
  return db('settlement_batches').where({ batch_id: batchId }).first();
}
