import { randomUUID } from 'node:crypto';
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  isGrpcServiceError,
  type Client,
  type WorkflowExecutionInfo,
} from '@temporalio/client';
import { executionInfoFromRaw } from '@temporalio/client/lib/helpers';
import { decodeArrayFromPayloads, encodeToPayloads } from '@temporalio/common/lib/internal-non-workflow';
import { temporal } from '@temporalio/proto';
import type { Db } from '../../db';
import { workflowIds } from '../../domain/ids';
import type { SettlementInput } from '../../settlement/types';
import {
  discardUpdate,
  retryUpdate,
  SA,
  statusQuery,
  TASK_QUEUE,
  type FlowStatus,
  type RetryRequest,
} from '../../../workflows/definitions';
import { FILTER_VALUE, MAX_BULK, type RetriggerResult, type RunFilter, type RunSummary } from './schemas';

/**
 * What the ops API does on Temporal: list runs through visibility, describe them, start reconciliations and
 * retrigger runs. A parked run (a failed step waiting for `retry`) is retriggered with the `retry` update, so only
 * the failed step runs again; a run that ended failed, terminated or timed out is started again with the same
 * workflow id and the input of its first history event, and `external_writes` turns every step it had already done
 * into a no-op.
 */

export class OpsError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

const STATUS_NAMES: Record<string, string> = {
  RUNNING: 'Running',
  COMPLETED: 'Completed',
  FAILED: 'Failed',
  CANCELLED: 'Canceled',
  TERMINATED: 'Terminated',
  CONTINUED_AS_NEW: 'ContinuedAsNew',
  TIMED_OUT: 'TimedOut',
  PAUSED: 'Paused',
};
const RETRIGGERABLE_ENDED = new Set(['Failed', 'Terminated', 'TimedOut']);

/** A value as a visibility-query string literal; values outside the safe character set are refused. */
export function quoteLiteral(value: string): string {
  if (!FILTER_VALUE.test(value))
    throw new OpsError(400, 'bad_request', `filter value ${JSON.stringify(value)} is not allowed`);
  return `'${value.replace(/'/g, "''")}'`;
}

/** The visibility query for a run filter (AND of every given field); '' when the filter is empty. */
export function buildRunQuery(f: RunFilter): string {
  const parts: string[] = [];
  const keyword = (name: string, v: string | undefined) =>
    v !== undefined && parts.push(`${name} = ${quoteLiteral(v)}`);
  keyword(SA.flow.name, f.flow);
  keyword(SA.source.name, f.source);
  keyword(SA.erp.name, f.erp);
  keyword(SA.stage.name, f.stage);
  keyword(SA.businessKey.name, f.businessKey);
  keyword('WorkflowType', f.workflowType);
  if (f.needsAttention !== undefined) parts.push(`${SA.needsAttention.name} = ${f.needsAttention ? 'true' : 'false'}`);
  if (f.status !== undefined) {
    if (!Object.values(STATUS_NAMES).includes(f.status)) throw new OpsError(400, 'bad_request', 'unknown status');
    parts.push(`ExecutionStatus = '${f.status}'`);
  }
  return parts.join(' AND ');
}

/** Runs that a retrigger can act on: parked (running and needing attention) or ended failed/terminated/timed out. */
export const RETRIGGERABLE_QUERY = `((ExecutionStatus = 'Running' AND ${SA.needsAttention.name} = true) OR ExecutionStatus IN ('Failed', 'Terminated', 'TimedOut'))`;

export interface OpsServiceOptions {
  namespace: string;
  /** Base of Temporal UI deep links. */
  uiBaseUrl: string;
  /** Workflow task queue for reconciliations (default `ledgerbridge`). */
  taskQueue?: string;
  /** Default ERP of reconciliations (LB_ERP). */
  defaultErp?: SettlementInput['erp'];
  /** Extra fields merged into every reconciliation input (tests set per-test connector queues). */
  settlementDefaults?: Partial<SettlementInput>;
  /** How long the `status` query may take. */
  queryTimeoutMs?: number;
  /** Parallel Temporal calls of a bulk retrigger. */
  concurrency?: number;
}

export type RetriggerPlan =
  | { kind: 'retry-update'; workflowId: string; runId: string; status: string; step: string | null }
  | { kind: 'new-run'; workflowId: string; runId: string; status: string; step: null }
  | { kind: 'skip'; workflowId: string; httpStatus: number; code: string; reason: string };

export interface RetriggerOptions {
  actor: string;
  patch?: Record<string, unknown>;
  mappingVersion?: number;
  reason?: string;
}

/** Runs fn over items with at most `limit` in flight, keeping order. */
export async function mapLimit<T, R>(items: T[], limit: number, fn: (t: T, i: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < items.length; i = next++) out[i] = await fn(items[i], i);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

const iso = (d: Date | undefined | null) => (d ? d.toISOString() : null);

export class OpsService {
  constructor(
    private readonly client: Client,
    private readonly db: Db,
    private readonly opts: OpsServiceOptions,
  ) {}

  /** Deep link to a run in the Temporal UI. */
  uiUrl(workflowId: string, runId: string): string {
    const base = this.opts.uiBaseUrl.replace(/\/+$/, '');
    return `${base}/namespaces/${encodeURIComponent(this.opts.namespace)}/workflows/${encodeURIComponent(workflowId)}/${runId}`;
  }

  statusName(info: Pick<WorkflowExecutionInfo, 'status'>): string {
    return STATUS_NAMES[info.status.name] ?? info.status.name;
  }

  summary(
    info: Pick<
      WorkflowExecutionInfo,
      'typedSearchAttributes' | 'workflowId' | 'runId' | 'type' | 'status' | 'taskQueue' | 'startTime' | 'closeTime'
    >,
  ): RunSummary {
    const sa = info.typedSearchAttributes;
    return {
      workflowId: info.workflowId,
      runId: info.runId,
      type: info.type,
      status: this.statusName(info),
      taskQueue: info.taskQueue,
      startTime: info.startTime.toISOString(),
      closeTime: iso(info.closeTime),
      flow: sa.get(SA.flow) ?? null,
      source: sa.get(SA.source) ?? null,
      erp: sa.get(SA.erp) ?? null,
      businessKey: sa.get(SA.businessKey) ?? null,
      stage: sa.get(SA.stage) ?? null,
      needsAttention: sa.get(SA.needsAttention) ?? null,
      amountMinor: sa.get(SA.amountMinor) ?? null,
      uiUrl: this.uiUrl(info.workflowId, info.runId),
    };
  }

  /** One page of runs matching a visibility query. */
  async listRuns(
    query: string,
    pageSize: number,
    pageToken?: string,
  ): Promise<{ runs: RunSummary[]; nextPageToken: string | null }> {
    let resp: temporal.api.workflowservice.v1.ListWorkflowExecutionsResponse;
    try {
      resp = await this.client.workflowService.listWorkflowExecutions({
        namespace: this.opts.namespace,
        query,
        pageSize,
        nextPageToken: pageToken ? Buffer.from(pageToken, 'base64url') : undefined,
      });
    } catch (e) {
      if (isGrpcServiceError(e) && e.code === 3) throw new OpsError(400, 'bad_request', e.details || e.message);
      throw e;
    }
    const conv = this.client.options.loadedDataConverter;
    const runs = await Promise.all(
      resp.executions.map(async (raw) => this.summary(await executionInfoFromRaw(raw, conv, raw, this.opts.namespace))),
    );
    const token = resp.nextPageToken?.length ? Buffer.from(resp.nextPageToken).toString('base64url') : null;
    return { runs, nextPageToken: token };
  }

  /** Describes the latest run of a workflow id (or the given run); OpsError 404 when there is none. */
  async describe(workflowId: string, runId?: string) {
    try {
      return await this.client.workflow.getHandle(workflowId, runId).describe();
    } catch (e) {
      if (e instanceof WorkflowNotFoundError) throw new OpsError(404, 'not_found', `no workflow ${workflowId}`);
      throw e;
    }
  }

  /** The run's `status` query, or the reason it gave none (no worker answered in time, not a Ledgerbridge flow…). */
  async flowStatus(workflowId: string, runId: string): Promise<{ status: FlowStatus | null; error: string | null }> {
    const handle = this.client.workflow.getHandle(workflowId, runId);
    try {
      const status = await this.client.withDeadline(Date.now() + (this.opts.queryTimeoutMs ?? 5000), () =>
        handle.query(statusQuery),
      );
      return { status, error: null };
    } catch (e) {
      return { status: null, error: (e as Error).message };
    }
  }

  /** Decides what a retrigger of a workflow id would do, without doing it. */
  async plan(workflowId: string): Promise<RetriggerPlan> {
    let desc;
    try {
      desc = await this.describe(workflowId);
    } catch (e) {
      if (e instanceof OpsError)
        return { kind: 'skip', workflowId, httpStatus: e.status, code: e.code, reason: e.message };
      throw e;
    }
    const status = this.statusName(desc);
    const runId = desc.runId;
    if (status === 'Running') {
      const fs = await this.flowStatus(workflowId, runId);
      if (!fs.status) {
        return {
          kind: 'skip',
          workflowId,
          httpStatus: 409,
          code: 'no_status',
          reason: `status query failed: ${fs.error}`,
        };
      }
      if (fs.status.parkedStep || fs.status.needsAttention) {
        return { kind: 'retry-update', workflowId, runId, status, step: fs.status.parkedStep ?? fs.status.stage };
      }
      return {
        kind: 'skip',
        workflowId,
        httpStatus: 409,
        code: 'in_progress',
        reason: `run ${runId} is running (stage ${fs.status.stage}) and waits for no retry`,
      };
    }
    if (RETRIGGERABLE_ENDED.has(status)) {
      const compensated = await this.compensated(workflowId, runId);
      if (compensated) return { kind: 'skip', workflowId, httpStatus: 409, code: 'compensated', reason: compensated };
      return { kind: 'new-run', workflowId, runId, status, step: null };
    }
    return {
      kind: 'skip',
      workflowId,
      httpStatus: 409,
      code: 'nothing_to_retrigger',
      reason: `run ${runId} is ${status}: only parked runs and failed, terminated or timed-out runs are retriggered`,
    };
  }

  /**
   * Why a new run under this id must not start, when its writes were undone by compensation: the new run would reuse
   * their idempotency keys and get the cancelled or voided records back as if they were live.
   */
  private async compensated(workflowId: string, runId: string): Promise<string | null> {
    const undone: string[] = await this.db('external_writes')
      .where({ workflow_id: workflowId, status: 'undone' })
      .orderBy('id')
      .pluck('idempotency_key');
    return undone.length === 0
      ? null
      : `run ${runId} was compensated (undone: ${undone.join(', ')}); a run under the same id would reuse their idempotency keys, so start the business flow under a new id`;
  }

  /** Carries out a plan (see `plan`). */
  async execute(plan: RetriggerPlan, o: RetriggerOptions): Promise<RetriggerResult> {
    if (plan.kind === 'skip') throw new OpsError(plan.httpStatus, plan.code, plan.reason);
    if (plan.kind === 'retry-update') return this.sendRetry(plan.workflowId, plan.runId, o);
    return this.startAgain(plan.workflowId, plan.runId, o);
  }

  /** Retriggers one workflow id: `retry` update when parked, a new run when it ended failed. */
  async retrigger(workflowId: string, o: RetriggerOptions): Promise<RetriggerResult> {
    return this.execute(await this.plan(workflowId), o);
  }

  private async sendRetry(workflowId: string, runId: string, o: RetriggerOptions): Promise<RetriggerResult> {
    const req: RetryRequest = { actor: o.actor };
    if (o.patch) req.patch = o.patch;
    if (o.mappingVersion !== undefined) req.mappingVersion = o.mappingVersion;
    try {
      const r = await this.client.workflow.getHandle(workflowId, runId).executeUpdate(retryUpdate, { args: [req] });
      return {
        workflowId,
        action: 'retry-update',
        previousRunId: runId,
        runId,
        step: r.step,
        uiUrl: this.uiUrl(workflowId, runId),
      };
    } catch (e) {
      if (e instanceof WorkflowUpdateFailedError) {
        throw new OpsError(
          409,
          'not_parked',
          `the run refused the retry: ${(e.cause as Error | undefined)?.message ?? e.message}`,
        );
      }
      if (e instanceof WorkflowNotFoundError) throw new OpsError(409, 'run_ended', `run ${runId} ended meanwhile`);
      throw e;
    }
  }

  /** Starts an ended run again: same id, type, task queue and input (from its first history event). */
  private async startAgain(workflowId: string, runId: string, o: RetriggerOptions): Promise<RetriggerResult> {
    const hist = await this.client.workflowService.getWorkflowExecutionHistory({
      namespace: this.opts.namespace,
      execution: { workflowId, runId },
      maximumPageSize: 1,
    });
    const started = hist.history?.events?.[0]?.workflowExecutionStartedEventAttributes;
    if (!started?.workflowType?.name || !started.taskQueue?.name) {
      throw new OpsError(409, 'no_history', `run ${runId} has no start event to take its input from`);
    }
    const args = await decodeArrayFromPayloads(this.client.options.loadedDataConverter, started.input?.payloads);
    if (o.patch) {
      if (typeof args[0] !== 'object' || args[0] === null || Array.isArray(args[0])) {
        throw new OpsError(400, 'bad_request', 'a patch needs a run whose input is an object');
      }
      args[0] = { ...(args[0] as Record<string, unknown>), ...o.patch };
    }
    let newRunId: string;
    try {
      const handle = await this.client.workflow.start(started.workflowType.name, {
        workflowId,
        taskQueue: started.taskQueue.name,
        args,
        workflowIdReusePolicy: 'ALLOW_DUPLICATE',
        workflowIdConflictPolicy: 'FAIL',
      });
      newRunId = handle.firstExecutionRunId;
    } catch (e) {
      if (e instanceof WorkflowExecutionAlreadyStartedError) {
        throw new OpsError(409, 'already_running', `${workflowId} was started again meanwhile`);
      }
      throw e;
    }
    await this.db('dead_letters')
      .where({ workflow_id: workflowId, run_id: runId, status: 'open' })
      .update({
        status: 'replayed',
        acted_by: o.actor,
        acted_at: this.db.fn.now(),
        reason: `retriggered as run ${newRunId}`,
      });
    return {
      workflowId,
      action: 'new-run',
      previousRunId: runId,
      runId: newRunId,
      step: null,
      uiUrl: this.uiUrl(workflowId, newRunId),
    };
  }

  /**
   * The workflow ids a bulk retrigger covers: those matching the filter that are parked or ended failed, unique, at
   * most `limit`; `truncated` when more matched.
   */
  async bulkTargets(
    filter: RunFilter,
    limit = MAX_BULK,
  ): Promise<{ query: string; ids: string[]; truncated: boolean }> {
    const f = buildRunQuery(filter);
    const query = f ? `(${f}) AND ${RETRIGGERABLE_QUERY}` : RETRIGGERABLE_QUERY;
    const ids = new Set<string>();
    let token: string | null | undefined;
    let truncated = false;
    do {
      const page = await this.listRuns(query, 1000, token ?? undefined);
      for (const r of page.runs) {
        if (ids.has(r.workflowId)) continue;
        if (ids.size >= limit) {
          truncated = true;
          break;
        }
        ids.add(r.workflowId);
      }
      token = page.nextPageToken;
    } while (token && !truncated);
    return { query, ids: [...ids], truncated };
  }

  /** Plans every id (bounded concurrency). */
  async planAll(ids: string[]): Promise<RetriggerPlan[]> {
    return mapLimit(ids, this.opts.concurrency ?? 16, (id) => this.plan(id));
  }

  async executeAll(plans: RetriggerPlan[], o: RetriggerOptions) {
    return mapLimit(plans, this.opts.concurrency ?? 16, async (p) => {
      try {
        const r = await this.execute(p, o);
        return { workflowId: p.workflowId, ok: true, action: r.action, runId: r.runId, error: null, result: r };
      } catch (e) {
        return {
          workflowId: p.workflowId,
          ok: false,
          action: null,
          runId: null,
          error: (e as Error).message,
          result: null,
        };
      }
    });
  }

  /**
   * Starts a reconciliation, idempotently: the workflow id is `settlement:<batchId>` (or `settlement:range-<from>-<to>`),
   * a running one is returned as is (conflict policy USE_EXISTING) and a finished one is not started again (reuse
   * policy REJECT_DUPLICATE: a failed one is retriggered instead). `created` tells which happened.
   */
  async startReconciliation(
    body: {
      batchId?: string;
      from?: string;
      to?: string;
      erp?: SettlementInput['erp'];
      glRulesVersion?: number;
      pageSize?: number;
    },
    actor: string,
  ): Promise<{ workflowId: string; runId: string; created: boolean; status: string; uiUrl: string; input: unknown }> {
    const erp = body.erp ?? this.opts.defaultErp ?? 'odoo';
    let workflowId: string;
    let workflowType: string;
    let input: Record<string, unknown>;
    if (body.batchId) {
      workflowId = workflowIds.settlement(body.batchId);
      workflowType = 'settlementReconciliation';
      const s: SettlementInput = { ...this.opts.settlementDefaults, batchId: body.batchId, erp, trigger: 'on-demand' };
      if (body.glRulesVersion !== undefined) s.glRulesVersion = body.glRulesVersion;
      if (body.pageSize !== undefined) s.pageSize = body.pageSize;
      input = { ...s };
    } else {
      workflowId = workflowIds.settlement(`range-${body.from}-${body.to}`);
      workflowType = SETTLEMENT_RANGE_WORKFLOW;
      input = {
        from: body.from,
        to: body.to,
        erp,
        trigger: 'on-demand',
        ...(this.opts.settlementDefaults?.queues ? { queues: this.opts.settlementDefaults.queues } : {}),
      };
    }
    const conv = this.client.options.loadedDataConverter;
    try {
      const resp = await this.client.workflowService.startWorkflowExecution({
        namespace: this.opts.namespace,
        workflowId,
        workflowType: { name: workflowType },
        taskQueue: { name: this.opts.taskQueue ?? TASK_QUEUE },
        input: { payloads: await encodeToPayloads(conv, input) },
        identity: `ledgerbridge-ops:${actor}`,
        requestId: randomUUID(),
        workflowIdReusePolicy: temporal.api.enums.v1.WorkflowIdReusePolicy.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
        workflowIdConflictPolicy:
          temporal.api.enums.v1.WorkflowIdConflictPolicy.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
      });
      const runId = resp.runId ?? '';
      const desc = resp.started ? null : await this.describe(workflowId, runId);
      return {
        workflowId,
        runId,
        created: !!resp.started,
        status: desc ? this.statusName(desc) : 'Running',
        uiUrl: this.uiUrl(workflowId, runId),
        input,
      };
    } catch (e) {
      // ALREADY_EXISTS: the batch was reconciled before (the run has closed); answer with that run.
      if (!(isGrpcServiceError(e) && e.code === 6)) throw e;
      const desc = await this.describe(workflowId);
      return {
        workflowId,
        runId: desc.runId,
        created: false,
        status: this.statusName(desc),
        uiUrl: this.uiUrl(workflowId, desc.runId),
        input,
      };
    }
  }

  /** Sends `retry` to the run parked on this dead letter, or starts an ended run again. */
  async replayDeadLetter(
    dl: { id: string; workflow_id: string; run_id: string | null },
    o: RetriggerOptions,
  ): Promise<RetriggerResult> {
    const desc = await this.describe(dl.workflow_id).catch((e: unknown) => {
      if (e instanceof OpsError) throw new OpsError(409, 'run_gone', `${e.message}; discard the dead letter instead`);
      throw e;
    });
    const status = this.statusName(desc);
    if (status === 'Running') {
      if (dl.run_id && desc.runId !== dl.run_id) {
        throw new OpsError(
          409,
          'stale',
          `a newer run ${desc.runId} of ${dl.workflow_id} is running; replay its dead letter instead`,
        );
      }
      const fs = await this.flowStatus(dl.workflow_id, desc.runId);
      if (fs.status?.deadLetterId !== dl.id) {
        throw new OpsError(409, 'not_parked', `run ${desc.runId} is not parked on dead letter ${dl.id}`);
      }
      return this.sendRetry(dl.workflow_id, desc.runId, o);
    }
    if (!RETRIGGERABLE_ENDED.has(status)) {
      throw new OpsError(409, 'nothing_to_replay', `run ${desc.runId} is ${status}; discard the dead letter instead`);
    }
    const compensated = await this.compensated(dl.workflow_id, desc.runId);
    if (compensated) throw new OpsError(409, 'compensated', `${compensated}; discard the dead letter instead`);
    return this.startAgain(dl.workflow_id, desc.runId, o);
  }

  /** Tells the run parked on this dead letter to discard its step; false when no run is parked on it. */
  async discardParked(dl: { id: string; workflow_id: string; run_id: string | null }, actor: string, reason: string) {
    let desc;
    try {
      desc = await this.describe(dl.workflow_id);
    } catch (e) {
      if (e instanceof OpsError) return false;
      throw e;
    }
    if (this.statusName(desc) !== 'Running' || (dl.run_id && desc.runId !== dl.run_id)) return false;
    const fs = await this.flowStatus(dl.workflow_id, desc.runId);
    if (fs.status?.deadLetterId !== dl.id) return false;
    try {
      await this.client.workflow
        .getHandle(dl.workflow_id, desc.runId)
        .executeUpdate(discardUpdate, { args: [{ actor, reason }] });
      return true;
    } catch (e) {
      if (e instanceof WorkflowUpdateFailedError) return false;
      throw e;
    }
  }
}

/**
 * Workflow type of a reconciliation over a date range. Not in workflows/ yet: the lead adds it (see the report of
 * the gateway issue); until then such a run waits on its workflow task.
 */
export const SETTLEMENT_RANGE_WORKFLOW = 'settlementRange';
