import { Counter, Gauge, type Registry } from 'prom-client';
import type { Db } from '../../db';

/**
 * Ops metrics on the gateway's registry. The dead-letter gauges are read from Postgres when Prometheus scrapes (no
 * background timer, so the values are never older than the scrape); a failed read leaves the previous values and
 * counts the failure, so /metrics keeps answering while Postgres is down. Inbox metrics belong to the webhook
 * dispatcher (src/gateway/webhooks/metrics.ts).
 */

/**
 * Metrics that the Temporal TypeScript SDK (Core) exports from workers and clients, prefixed `temporal_`
 * (docs.temporal.io/references/sdk-metrics; names checked against a 1.24 worker's Prometheus endpoint: counters have
 * no `_total` suffix, histograms are in milliseconds). Alerts and dashboards may use these besides our own.
 */
export const TEMPORAL_SDK_METRICS = [
  'temporal_request',
  'temporal_request_failure',
  'temporal_request_latency',
  'temporal_long_request',
  'temporal_long_request_failure',
  'temporal_long_request_latency',
  'temporal_workflow_completed',
  'temporal_workflow_failed',
  'temporal_workflow_canceled',
  'temporal_workflow_continue_as_new',
  'temporal_workflow_endtoend_latency',
  'temporal_workflow_task_queue_poll_succeed',
  'temporal_workflow_task_queue_poll_empty',
  'temporal_workflow_task_schedule_to_start_latency',
  'temporal_workflow_task_execution_latency',
  'temporal_workflow_task_replay_latency',
  'temporal_workflow_task_execution_failed',
  'temporal_activity_poll_no_task',
  'temporal_activity_task_received',
  'temporal_activity_execution_failed',
  'temporal_activity_execution_cancelled',
  'temporal_activity_execution_latency',
  'temporal_activity_schedule_to_start_latency',
  'temporal_activity_succeed_endtoend_latency',
  'temporal_local_activity_total',
  'temporal_local_activity_execution_failed',
  'temporal_local_activity_execution_cancelled',
  'temporal_local_activity_execution_latency',
  'temporal_local_activity_succeeded_endtoend_latency',
  'temporal_num_pollers',
  'temporal_worker_start',
  'temporal_worker_task_slots_available',
  'temporal_worker_task_slots_used',
  'temporal_sticky_cache_hit',
  'temporal_sticky_cache_miss',
  'temporal_sticky_cache_size',
  'temporal_sticky_cache_total_forced_eviction',
] as const;

export interface OpsMetrics {
  actions: Counter<'action' | 'outcome'>;
  authFailures: Counter<'reason'>;
  rateLimited: Counter;
}

function once<T>(registry: Registry, name: string, make: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make();
}

interface DeadLetterSnapshot {
  byFlow: { flow: string; n: string }[];
  oldestAgeSeconds: number;
}

/**
 * The dead-letter gauges and their read-failure counter. prom-client collects every metric of a scrape at once, so
 * the three share one read per scrape: the counter's collect waits for it and shows that scrape's failure.
 */
function registerDeadLetterGauges(registry: Registry, db: Db): void {
  let inflight: Promise<DeadLetterSnapshot | undefined> | undefined;
  const read = () =>
    (inflight ??= (async () => {
      try {
        const [byFlow, oldest] = await Promise.all([
          db('dead_letters').where({ status: 'open' }).select('flow').count({ n: '*' }).groupBy('flow') as Promise<
            { flow: string; n: string }[]
          >,
          db('dead_letters')
            .where({ status: 'open' })
            .select(db.raw('coalesce(extract(epoch from now() - min(created_at)), 0) AS age'))
            .first() as Promise<{ age: string } | undefined>,
        ]);
        return { byFlow, oldestAgeSeconds: Number(oldest?.age ?? 0) };
      } catch {
        failures.inc({ gauge: 'dead_letters' });
        return undefined;
      }
    })().finally(() => {
      inflight = undefined;
    }));

  const failures = new Counter({
    name: 'ledgerbridge_metrics_read_failures_total',
    help: 'Scrapes whose Postgres read for a gauge failed (the gauges keep their previous values)',
    labelNames: ['gauge'] as const,
    registers: [registry],
    async collect() {
      await read();
    },
  });
  new Gauge({
    name: 'ledgerbridge_dead_letters_open',
    help: 'Open dead letters (parked steps waiting for retry or discard), by flow',
    labelNames: ['flow'] as const,
    registers: [registry],
    async collect() {
      const snap = await read();
      if (!snap) return;
      this.reset();
      for (const r of snap.byFlow) this.set({ flow: String(r.flow) }, Number(r.n));
    },
  });
  new Gauge({
    name: 'ledgerbridge_dead_letters_oldest_open_age_seconds',
    help: 'Age of the oldest open dead letter (0 when none is open)',
    registers: [registry],
    async collect() {
      const snap = await read();
      if (snap) this.set(snap.oldestAgeSeconds);
    },
  });
}

/** Registers the ops metrics (idempotent per registry) and returns the counters the routes update. */
export function registerOpsMetrics(registry: Registry, db: Db): OpsMetrics {
  if (!registry.getSingleMetric('ledgerbridge_dead_letters_open')) registerDeadLetterGauges(registry, db);
  return {
    actions: once(
      registry,
      'ledgerbridge_ops_actions_total',
      () =>
        new Counter({
          name: 'ledgerbridge_ops_actions_total',
          help: 'Changes made through the ops API, by action and outcome',
          labelNames: ['action', 'outcome'] as const,
          registers: [registry],
        }),
    ),
    authFailures: once(
      registry,
      'ledgerbridge_ops_auth_failures_total',
      () =>
        new Counter({
          name: 'ledgerbridge_ops_auth_failures_total',
          help: 'Ops API and codec requests refused: missing or bad key (401) or role too low (403)',
          labelNames: ['reason'] as const,
          registers: [registry],
        }),
    ),
    rateLimited: once(
      registry,
      'ledgerbridge_ops_rate_limited_total',
      () =>
        new Counter({
          name: 'ledgerbridge_ops_rate_limited_total',
          help: 'Ops API requests answered 429',
          registers: [registry],
        }),
    ),
  };
}
