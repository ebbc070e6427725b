import type { Db } from './index';

export interface AuditEntry {
  actor: string;
  action: string;
  target?: string;
  before?: unknown;
  after?: unknown;
  requestId?: string;
}

/** Appends one audit row: who did what to which target, with before and after. */
export async function audit(db: Db, e: AuditEntry): Promise<void> {
  await db('audit_log').insert({
    actor: e.actor,
    action: e.action,
    target: e.target ?? null,
    before: e.before === undefined ? null : JSON.stringify(e.before),
    after: e.after === undefined ? null : JSON.stringify(e.after),
    request_id: e.requestId ?? null,
  });
}
