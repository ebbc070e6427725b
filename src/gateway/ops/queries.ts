import type { Db } from '../../db';
import type { DeadLetterRow } from '../../db/dead-letters';
import type { ApiKeyRow } from './auth';
import type { DeadLetter } from './schemas';

/** Read models of the ops API over Ledgerbridge's own tables (keyset paging on the bigint ids). */

const iso = (d: Date | string | null | undefined) => (d ? new Date(d).toISOString() : null);

export function deadLetterOut(r: DeadLetterRow): DeadLetter {
  return {
    id: String(r.id),
    flow: r.flow,
    workflowId: r.workflow_id,
    runId: r.run_id,
    step: r.step,
    input: r.input,
    context: r.context,
    errorType: r.error_type,
    errorMessage: r.error_message,
    attempts: r.attempts,
    status: r.status,
    actedBy: r.acted_by,
    reason: r.reason,
    actedAt: iso(r.acted_at),
    createdAt: iso(r.created_at)!,
  };
}

export async function listDeadLetters(
  db: Db,
  q: {
    status: 'open' | 'replayed' | 'discarded' | 'all';
    flow?: string;
    workflowId?: string;
    limit: number;
    before?: number;
  },
): Promise<{ deadLetters: DeadLetter[]; nextCursor: string | null }> {
  const query = db<DeadLetterRow>('dead_letters')
    .orderBy('id', 'desc')
    .limit(q.limit + 1);
  if (q.status !== 'all') query.where({ status: q.status });
  if (q.flow) query.where({ flow: q.flow });
  if (q.workflowId) query.where({ workflow_id: q.workflowId });
  if (q.before) query.where('id', '<', q.before);
  const rows = await query;
  const page = rows.slice(0, q.limit);
  return {
    deadLetters: page.map(deadLetterOut),
    nextCursor: rows.length > q.limit ? String(page[page.length - 1].id) : null,
  };
}

/** Open dead letters of one run. */
export async function openDeadLettersOf(db: Db, workflowId: string, runId: string): Promise<DeadLetter[]> {
  const rows = await db<DeadLetterRow>('dead_letters')
    .where({ workflow_id: workflowId, status: 'open' })
    .andWhere((w) => w.where({ run_id: runId }).orWhereNull('run_id'))
    .orderBy('id');
  return rows.map(deadLetterOut);
}

export async function listAudit(
  db: Db,
  q: { actor?: string; action?: string; target?: string; limit: number; before?: number },
) {
  const query = db('audit_log')
    .orderBy('id', 'desc')
    .limit(q.limit + 1);
  if (q.actor) query.where({ actor: q.actor });
  if (q.action) query.where({ action: q.action });
  if (q.target) query.where({ target: q.target });
  if (q.before) query.where('id', '<', q.before);
  const rows = await query;
  const page = rows.slice(0, q.limit);
  return {
    entries: page.map((r) => ({
      id: String(r.id),
      actor: r.actor,
      action: r.action,
      target: r.target,
      before: r.before,
      after: r.after,
      requestId: r.request_id,
      at: iso(r.at)!,
    })),
    nextCursor: rows.length > q.limit ? String(page[page.length - 1].id) : null,
  };
}

export function apiKeyOut(r: ApiKeyRow) {
  return {
    id: String(r.id),
    name: r.name,
    role: r.role,
    keyPrefix: r.key_prefix,
    createdBy: r.created_by,
    createdAt: iso(r.created_at)!,
    lastUsedAt: iso(r.last_used_at),
    revokedAt: iso(r.revoked_at),
  };
}

export async function listGlRuleVersions(db: Db) {
  const rows = await db('gl_rule_versions')
    .select('version', 'status', 'created_by', 'note', 'created_at', 'published_at')
    .orderBy('version', 'desc');
  return rows.map((r) => ({
    version: r.version as number,
    status: r.status as string,
    createdBy: r.created_by as string,
    note: (r.note as string | null) ?? null,
    createdAt: iso(r.created_at)!,
    publishedAt: iso(r.published_at),
  }));
}

export async function getGlRuleVersion(db: Db, version: number) {
  const r = await db('gl_rule_versions').where({ version }).first();
  if (!r) return undefined;
  return {
    version: r.version as number,
    status: r.status as string,
    rules: r.rules,
    createdBy: r.created_by as string,
    note: (r.note as string | null) ?? null,
    createdAt: iso(r.created_at)!,
    publishedAt: iso(r.published_at),
  };
}
