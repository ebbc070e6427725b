import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Registry } from 'prom-client';
import type { Config } from '../config';
import type { Db } from '../db';
import { createLogger, type Logger } from '../logger';
import { inboxEvents } from './webhooks/inbox';
import { dispatcherMetrics } from './webhooks/metrics';
import { RouteError, routeEvent, type DispatchPlan, type RouteContext } from './webhooks/routing';
import { configFromEnv, type WebhookSource } from './webhooks/secrets';

export interface DispatcherOptions {
  db: Db;
  client: Client;
  /** LB_ERP, LB_CURRENCY and TEMPORAL_TASK_QUEUE; default: loadConfig() from the environment. */
  config?: Pick<Config, 'LB_ERP' | 'LB_CURRENCY' | 'TEMPORAL_TASK_QUEUE' | 'LOG_LEVEL'>;
  logger?: Logger;
  /** Prometheus registry for the dispatcher metrics (the gateway's createMetrics().registry). */
  registry?: Registry;
  /** Workflow task queue (default TEMPORAL_TASK_QUEUE). */
  taskQueue?: string;
  /** Connector task queue overrides put into every workflow input (tests). */
  queues?: RouteContext['queues'];
  /** Rows claimed per transaction (default 50). */
  batchSize?: number;
  /** Workflows called at once within a batch (default: the batch size). */
  concurrency?: number;
  /** Claim loops running side by side (default 2): one commits while the other calls Temporal. */
  loops?: number;
  /** How long a signal for a workflow that does not exist yet is retried (its start may still be in flight). */
  signalGraceMs?: number;
  /** Poll interval when the inbox is empty (default 250 ms); accepted webhooks in this process wake it at once. */
  idleMs?: number;
  /** Deadline of one Temporal call (default 5 s). */
  callTimeoutMs?: number;
  /** Backoff while Temporal (or Postgres) is unreachable: doubles from 200 ms up to this (default 10 s). */
  maxBackoffMs?: number;
}

interface Row {
  id: string;
  source: WebhookSource;
  event_id: string;
  event_type: string;
  payload: unknown;
  age_ms: number;
}

type Outcome =
  | { status: 'dispatched'; workflowId: string; note?: string }
  | { status: 'ignored' | 'failed'; workflowId?: string; error: string }
  | { status: 'pending'; workflowId?: string; error: string; backoff: boolean };

/** One pass: how many rows were claimed and whether any waits for Temporal to come back. */
export interface PassResult {
  claimed: number;
  dispatched: number;
  retry: number;
}

const GRPC_INVALID_ARGUMENT = 3;

function grpcCode(err: unknown): number | undefined {
  let e: unknown = err;
  for (let depth = 0; e && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'number') return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * Moves `webhook_inbox` rows to Temporal. Each pass claims up to `batchSize` pending rows (SELECT … FOR UPDATE SKIP
 * LOCKED, so two loops per process and several gateways share the inbox), routes each through the routing table,
 * starts or signals its workflow, and marks it dispatched with the workflow id in the same transaction. Within a
 * batch, rows of one workflow go in inbox order and different workflows go in parallel; a signal whose workflow is
 * not there yet (its start sits in another batch) stays pending for `signalGraceMs` before it is marked ignored.
 * While Temporal is unreachable the rows stay pending (attempts and last_error recorded) and the loops back off; the
 * gateway keeps accepting meanwhile. A crash between the Temporal call and the commit re-dispatches the row, which
 * is harmless: ids are deterministic, starts use USE_EXISTING (and REJECT_DUPLICATE once the run has closed) and the
 * flows' signal handlers are idempotent.
 */
export class Dispatcher {
  private running = false;
  private loops: Promise<void>[] = [];
  private readonly wakers = new Set<() => void>();
  private readonly log: Logger;
  private readonly metrics?: ReturnType<typeof dispatcherMetrics>;
  private readonly ctx: RouteContext;
  private readonly taskQueue: string;
  private lastGauge = 0;
  private readonly onInserted = () => this.wake();

  constructor(private readonly opts: DispatcherOptions) {
    const cfg = opts.config ?? configFromEnv();
    this.log = opts.logger ?? createLogger({ level: cfg.LOG_LEVEL, name: 'dispatcher' });
    this.metrics = opts.registry ? dispatcherMetrics(opts.registry) : undefined;
    this.taskQueue = opts.taskQueue ?? cfg.TEMPORAL_TASK_QUEUE;
    this.ctx = {
      erp: cfg.LB_ERP,
      currency: cfg.LB_CURRENCY,
      queues: opts.queues,
      lookupOrderByTransaction: async (transactionId) => {
        const link = await opts
          .db('id_links')
          .where({ entity: 'order', target_system: 'heartland', target_id: transactionId })
          .orderBy('id')
          .first('source_system', 'source_id');
        return link ? { source: link.source_system as string, orderId: link.source_id as string } : null;
      },
    };
  }

  /** Starts the loop (idempotent). */
  start(): void {
    if (this.running) return;
    this.running = true;
    inboxEvents.on('inserted', this.onInserted);
    this.loops = Array.from({ length: Math.max(1, this.opts.loops ?? 2) }, () => this.run());
  }

  /** Stops the loop and waits for the batch in hand to be committed. */
  async stop(): Promise<void> {
    this.running = false;
    inboxEvents.off('inserted', this.onInserted);
    this.wake();
    await Promise.all(this.loops);
    this.loops = [];
  }

  /** Polls now instead of at the next interval. */
  wake(): void {
    for (const w of [...this.wakers]) w();
  }

  private async run(): Promise<void> {
    const max = this.opts.maxBackoffMs ?? 10_000;
    let backoff = 200;
    while (this.running) {
      let pass: PassResult;
      try {
        pass = await this.runOnce();
      } catch (e) {
        this.log.warn({ err: (e as Error).message }, 'dispatcher pass failed; retrying');
        pass = { claimed: 0, dispatched: 0, retry: 1 };
      }
      await this.updateGauges();
      if (!this.running) break;
      if (pass.retry > 0) {
        await this.sleep(backoff, false);
        backoff = Math.min(max, backoff * 2);
        continue;
      }
      backoff = 200;
      if (pass.claimed < (this.opts.batchSize ?? 50)) await this.sleep(this.opts.idleMs ?? 250, true);
    }
  }

  private sleep(ms: number, wakeable: boolean): Promise<void> {
    return new Promise((resolve) => {
      // While backing off only stop() ends the wait early, so a flood of webhooks does not hammer a down Temporal.
      const waker = () => (wakeable || !this.running ? done() : undefined);
      const done = () => {
        clearTimeout(timer);
        this.wakers.delete(waker);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakers.add(waker);
    });
  }

  /** One pass over up to `batchSize` pending rows (exported for tests and the bench). */
  async runOnce(): Promise<PassResult> {
    const batchSize = this.opts.batchSize ?? 50;
    return this.opts.db.transaction(async (trx) => {
      const { rows } = (await trx.raw(
        `SELECT id, source, event_id, event_type, payload,
                (EXTRACT(EPOCH FROM now() - received_at) * 1000)::float8 AS age_ms FROM webhook_inbox
          WHERE status = 'pending' ORDER BY id LIMIT ? FOR UPDATE SKIP LOCKED`,
        [batchSize],
      )) as { rows: Row[] };
      if (rows.length === 0) return { claimed: 0, dispatched: 0, retry: 0 };

      const outcomes = new Map<string, Outcome>();
      const groups = new Map<string, { row: Row; plan: Exclude<DispatchPlan, { action: 'ignore' }> }[]>();
      for (const row of rows) {
        try {
          const plan = await routeEvent(row.source, row.event_type, row.payload, this.ctx);
          if (plan.action === 'ignore') {
            outcomes.set(row.id, { status: 'ignored', error: plan.reason });
            continue;
          }
          const group = groups.get(plan.workflowId) ?? [];
          group.push({ row, plan });
          groups.set(plan.workflowId, group);
        } catch (e) {
          const error =
            e instanceof RouteError ? `cannot route: ${e.message}` : `routing failed: ${(e as Error).message}`;
          outcomes.set(
            row.id,
            e instanceof RouteError ? { status: 'failed', error } : { status: 'pending', error, backoff: true },
          );
        }
      }

      const queue = [...groups.values()];
      const worker = async () => {
        for (let g = queue.shift(); g; g = queue.shift()) {
          let blocked: string | undefined;
          const early: typeof g = [];
          let started = false;
          for (const { row, plan } of g) {
            // Later events of a workflow wait behind an earlier one that failed for want of Temporal, to keep order.
            const out: Outcome = blocked
              ? { status: 'pending', workflowId: plan.workflowId, error: blocked, backoff: true }
              : await this.dispatch(row, plan);
            if (out.status === 'pending' && out.backoff) blocked ??= `waiting behind inbox row ${row.id}: ${out.error}`;
            // A signal ahead of its workflow's start in the same batch is sent again once the start went through.
            if (out.status === 'pending' && !out.backoff) early.push({ row, plan });
            if (out.status === 'dispatched' && plan.action !== 'signal') started = true;
            outcomes.set(row.id, out);
          }
          if (started) for (const { row, plan } of early) outcomes.set(row.id, await this.dispatch(row, plan));
        }
      };
      await Promise.all(Array.from({ length: Math.min(this.opts.concurrency ?? batchSize, queue.length) }, worker));

      const updates = rows.map((row) => {
        const o = outcomes.get(row.id)!;
        return {
          id: Number(row.id),
          status: o.status,
          wf: o.workflowId ?? null,
          err: o.status === 'dispatched' ? (o.note ?? null) : o.error.slice(0, 2000),
        };
      });
      const { rows: marked } = (await trx.raw(
        `UPDATE webhook_inbox AS w SET
           status = u.status,
           workflow_id = COALESCE(u.wf, w.workflow_id),
           last_error = u.err,
           attempts = w.attempts + 1,
           dispatched_at = CASE WHEN u.status = 'dispatched' THEN now() ELSE w.dispatched_at END
         FROM jsonb_to_recordset(?::jsonb) AS u(id bigint, status text, wf text, err text)
         WHERE w.id = u.id
         RETURNING w.source, w.status, EXTRACT(EPOCH FROM (w.dispatched_at - w.received_at))::float8 AS lag`,
        [JSON.stringify(updates)],
      )) as { rows: { source: string; status: string; lag: number | null }[] };

      let dispatched = 0;
      for (const m of marked) {
        this.metrics?.dispatched.inc({ source: m.source, outcome: m.status === 'pending' ? 'retry' : m.status });
        if (m.status === 'dispatched') {
          dispatched++;
          if (m.lag !== null) this.metrics?.inboxLag.observe(Math.max(0, m.lag));
        }
      }
      const retry = [...outcomes.values()].filter((o) => o.status === 'pending' && o.backoff).length;
      for (const u of updates) {
        if (u.status === 'failed' || u.status === 'ignored') {
          this.log.warn({ inboxId: u.id, status: u.status, workflowId: u.wf, reason: u.err }, 'webhook not dispatched');
        }
      }
      if (retry > 0)
        this.log.warn({ retry, error: updates.find((u) => u.status === 'pending')?.err }, 'dispatch deferred');
      return { claimed: rows.length, dispatched, retry };
    });
  }

  private async dispatch(row: Row, plan: Exclude<DispatchPlan, { action: 'ignore' }>): Promise<Outcome> {
    const client = this.opts.client;
    const workflowId = plan.workflowId;
    const started = process.hrtime.bigint();
    const observe = (outcome: string) =>
      this.metrics?.dispatchLatency.observe(
        { action: plan.action, outcome },
        Number(process.hrtime.bigint() - started) / 1e9,
      );
    const common = {
      taskQueue: this.taskQueue,
      workflowId,
      workflowIdConflictPolicy: 'USE_EXISTING' as const,
      workflowIdReusePolicy: 'REJECT_DUPLICATE' as const,
    };
    try {
      await client.withDeadline(Date.now() + (this.opts.callTimeoutMs ?? 5000), async () => {
        if (plan.action === 'start') {
          await client.workflow.start(plan.workflowType, { ...common, args: [plan.input] });
        } else if (plan.action === 'signalWithStart') {
          await client.workflow.signalWithStart(plan.workflowType, {
            ...common,
            args: [plan.input],
            signal: plan.signal,
            signalArgs: plan.signalArgs,
          });
        } else {
          await client.workflow.getHandle(workflowId).signal(plan.signal, ...plan.signalArgs);
        }
      });
      observe('ok');
      return { status: 'dispatched', workflowId };
    } catch (e) {
      if (e instanceof WorkflowExecutionAlreadyStartedError) {
        // REJECT_DUPLICATE: the run for this id has already closed, so this event was handled by it.
        observe('closed');
        return { status: 'dispatched', workflowId, note: 'the workflow had already closed' };
      }
      if (e instanceof WorkflowNotFoundError) {
        observe('not_found');
        // Another dispatcher (or the other loop) may still be starting it: retried for a while, then ignored.
        if (row.age_ms < (this.opts.signalGraceMs ?? 120_000)) {
          return { status: 'pending', workflowId, error: `no running workflow ${workflowId} yet`, backoff: false };
        }
        return {
          status: 'ignored',
          workflowId,
          error: `no running workflow ${workflowId} to signal ${plan.action === 'signal' ? plan.signal : ''}`.trim(),
        };
      }
      if (grpcCode(e) === GRPC_INVALID_ARGUMENT) {
        observe('rejected');
        return { status: 'failed', workflowId, error: `Temporal rejected the ${plan.action}: ${(e as Error).message}` };
      }
      observe('unavailable');
      const cause = (e as { cause?: Error }).cause?.message;
      return {
        status: 'pending',
        workflowId,
        error: `${(e as Error).message}${cause ? `: ${cause}` : ''}`,
        backoff: true,
      };
    }
  }

  private async updateGauges(): Promise<void> {
    if (!this.metrics || Date.now() - this.lastGauge < 1000) return;
    this.lastGauge = Date.now();
    try {
      const { rows } = await this.opts.db.raw(
        `SELECT count(*)::int AS n, COALESCE(EXTRACT(EPOCH FROM now() - min(received_at)), 0)::float8 AS age
           FROM webhook_inbox WHERE status = 'pending'`,
      );
      this.metrics.pending.set(rows[0].n);
      this.metrics.oldestPending.set(rows[0].age);
    } catch {
      // Postgres unreachable: the gauges keep their last values; the pass itself reports the outage.
    }
  }
}
