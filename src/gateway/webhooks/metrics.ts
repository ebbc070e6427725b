import { Counter, Gauge, Histogram, Registry, type Metric } from 'prom-client';

function once<T extends Metric>(registry: Registry, name: string, make: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make();
}

/** Webhook metrics on the given registry (created once per registry, shared by every router built on it). */
export function webhookMetrics(registry: Registry) {
  const registers = [registry];
  return {
    accepted: once(
      registry,
      'ledgerbridge_webhooks_accepted_total',
      () =>
        new Counter({
          name: 'ledgerbridge_webhooks_accepted_total',
          help: 'Webhooks written to the inbox, by source',
          labelNames: ['source'] as const,
          registers,
        }),
    ),
    rejected: once(
      registry,
      'ledgerbridge_webhooks_rejected_total',
      () =>
        new Counter({
          name: 'ledgerbridge_webhooks_rejected_total',
          help: 'Webhooks refused (4xx/5xx), by source and reason',
          labelNames: ['source', 'reason'] as const,
          registers,
        }),
    ),
    duplicates: once(
      registry,
      'ledgerbridge_webhooks_duplicate_total',
      () =>
        new Counter({
          name: 'ledgerbridge_webhooks_duplicate_total',
          help: 'Webhooks already in the inbox (answered 200 duplicate), by source',
          labelNames: ['source'] as const,
          registers,
        }),
    ),
    ignored: once(
      registry,
      'ledgerbridge_webhooks_ignored_total',
      () =>
        new Counter({
          name: 'ledgerbridge_webhooks_ignored_total',
          help: 'Verified webhooks with no route (answered 202 ignored), by source and event type',
          labelNames: ['source', 'event_type'] as const,
          registers,
        }),
    ),
  };
}

/** Dispatcher metrics on the given registry. */
export function dispatcherMetrics(registry: Registry) {
  const registers = [registry];
  return {
    dispatched: once(
      registry,
      'ledgerbridge_webhook_dispatch_total',
      () =>
        new Counter({
          name: 'ledgerbridge_webhook_dispatch_total',
          help: 'Inbox rows handed to Temporal, by source and outcome (dispatched, ignored, failed, retry)',
          labelNames: ['source', 'outcome'] as const,
          registers,
        }),
    ),
    dispatchLatency: once(
      registry,
      'ledgerbridge_webhook_dispatch_duration_seconds',
      () =>
        new Histogram({
          name: 'ledgerbridge_webhook_dispatch_duration_seconds',
          help: 'Time of one Temporal call (start, signal, signal-with-start) for an inbox row',
          labelNames: ['action', 'outcome'] as const,
          buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
          registers,
        }),
    ),
    inboxLag: once(
      registry,
      'ledgerbridge_webhook_inbox_lag_seconds',
      () =>
        new Histogram({
          name: 'ledgerbridge_webhook_inbox_lag_seconds',
          help: 'From received_at to dispatched_at of each dispatched inbox row',
          buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900],
          registers,
        }),
    ),
    oldestPending: once(
      registry,
      'ledgerbridge_webhook_inbox_oldest_pending_seconds',
      () =>
        new Gauge({
          name: 'ledgerbridge_webhook_inbox_oldest_pending_seconds',
          help: 'Age of the oldest pending inbox row (0 when none)',
          registers,
        }),
    ),
    pending: once(
      registry,
      'ledgerbridge_webhook_inbox_pending',
      () =>
        new Gauge({
          name: 'ledgerbridge_webhook_inbox_pending',
          help: 'Inbox rows waiting for dispatch',
          registers,
        }),
    ),
  };
}
