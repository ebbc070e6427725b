import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Registry } from 'prom-client';
import { parse } from 'yaml';
import type { Db } from '../../src/db';
import { insertDeadLetter, closeDeadLetter } from '../../src/db/dead-letters';
import { createMetrics } from '../../src/gateway/metrics';
import { registerOpsMetrics, TEMPORAL_SDK_METRICS } from '../../src/gateway/ops/metrics';
import { dispatcherMetrics, webhookMetrics } from '../../src/gateway/webhooks/metrics';
import { testDb } from '../support/env';

const ROOT = path.resolve(__dirname, '..', '..');
let db: Db;

beforeAll(() => {
  db = testDb();
});
afterAll(async () => {
  await db?.destroy();
});

/** Names the gateway registers: its own, the webhook and dispatcher metrics, and the ops metrics. */
async function registeredNames(): Promise<Set<string>> {
  const metrics = createMetrics();
  registerOpsMetrics(metrics.registry, db);
  webhookMetrics(metrics.registry);
  dispatcherMetrics(metrics.registry);
  return new Set((await metrics.registry.getMetricsAsJSON()).map((m) => m.name));
}

/** Metric names referenced in a PromQL expression (label names inside {…} and by (…) are not metrics). */
function metricsIn(expr: string): string[] {
  const withoutLabels = expr.replace(/\{[^}]*\}/g, '').replace(/\b(by|without)\s*\([^)]*\)/g, '');
  return [...withoutLabels.matchAll(/\b(ledgerbridge|temporal)_[a-z0-9_]+/g)].map((m) => m[0]);
}

function known(name: string, registered: Set<string>): boolean {
  if (registered.has(name)) return true;
  const base = name.replace(/_(bucket|sum|count)$/, '');
  if (registered.has(base)) return true;
  return (TEMPORAL_SDK_METRICS as readonly string[]).includes(base);
}

describe('ops/alerts.yml and ops/dashboard.json', () => {
  test('alerts.yml is a Prometheus rule file whose every rule has an expression, a severity and a summary', () => {
    const doc = parse(readFileSync(path.join(ROOT, 'ops', 'alerts.yml'), 'utf8')) as {
      groups: {
        name: string;
        rules: {
          alert: string;
          expr: string;
          for?: string;
          labels: { severity: string };
          annotations: { summary: string; description?: string };
        }[];
      }[];
    };
    expect(doc.groups.length).toBeGreaterThanOrEqual(4);
    const alerts = doc.groups.flatMap((g) => g.rules);
    expect(new Set(alerts.map((a) => a.alert)).size).toBe(alerts.length);
    for (const a of alerts) {
      expect(a.alert).toMatch(/^Ledgerbridge[A-Za-z0-9]+$/);
      expect(typeof a.expr).toBe('string');
      expect(['warning', 'critical']).toContain(a.labels.severity);
      expect(a.annotations.summary.length).toBeGreaterThan(10);
      if (a.for !== undefined) expect(a.for).toMatch(/^\d+[smh]$/);
      expect(a.expr.split('(').length).toBe(a.expr.split(')').length);
    }
    const exprs = alerts.map((a) => a.expr).join('\n');
    // The four situations the ops issue asks for.
    expect(exprs).toContain('ledgerbridge_dead_letters_open');
    expect(exprs).toContain('ledgerbridge_webhook_inbox_oldest_pending_seconds');
    expect(exprs).toMatch(/temporal_workflow_failed\{workflow_type=~"settlementDaily/);
    expect(exprs).toMatch(/ledgerbridge_http_requests_total\{status=~"5\.\."\}/);
  });

  test('every metric the alerts and the dashboard use is registered by the code or exported by the Temporal SDK', async () => {
    const registered = await registeredNames();
    const alerts = parse(readFileSync(path.join(ROOT, 'ops', 'alerts.yml'), 'utf8')) as {
      groups: { rules: { expr: string }[] }[];
    };
    const dashboard = JSON.parse(readFileSync(path.join(ROOT, 'ops', 'dashboard.json'), 'utf8')) as {
      uid: string;
      panels: { type: string; title: string; targets?: { expr: string }[] }[];
    };
    expect(dashboard.uid).toBe('ledgerbridge-ops');
    const panels = dashboard.panels.filter((p) => p.type !== 'row');
    expect(panels.length).toBeGreaterThanOrEqual(10);
    const exprs = [
      ...alerts.groups.flatMap((g) => g.rules.map((r) => r.expr)),
      ...panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)),
    ];
    const used = new Set(exprs.flatMap(metricsIn));
    expect([...used].some((n) => n.startsWith('ledgerbridge_'))).toBe(true);
    expect([...used].some((n) => n.startsWith('temporal_'))).toBe(true);
    const unknown = [...used].filter((n) => !known(n, registered));
    expect(unknown).toEqual([]);
    for (const p of panels) expect(p.targets?.length).toBeGreaterThan(0);
  });

  test('the checker refuses a metric nobody registers', async () => {
    const registered = await registeredNames();
    expect(metricsIn('sum by (flow) (rate(ledgerbridge_typo_total{flow="x"}[5m]))')).toEqual([
      'ledgerbridge_typo_total',
    ]);
    expect(known('ledgerbridge_typo_total', registered)).toBe(false);
    expect(known('temporal_activity_schedule_to_start_latency_bucket', registered)).toBe(true);
    expect(known('ledgerbridge_http_request_duration_seconds_bucket', registered)).toBe(true);
  });
});

describe('dead-letter gauges', () => {
  test('are read from Postgres on each scrape', async () => {
    const registry = new Registry();
    registerOpsMetrics(registry, db);
    const flow = `gauge${Math.random().toString(36).slice(2, 8)}`;
    const line = (n: number) => `ledgerbridge_dead_letters_open{flow="${flow}"} ${n}`;
    expect(await registry.metrics()).not.toContain(`flow="${flow}"`);
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      ids.push(
        await insertDeadLetter(db, {
          flow,
          workflowId: `${flow}:${i}`,
          step: 's',
          errorType: 'ValidationError',
          errorMessage: 'x',
        }),
      );
    }
    expect(await registry.metrics()).toContain(line(2));
    await closeDeadLetter(db, ids[0], 'discarded', 'test', 'gauge test');
    expect(await registry.metrics()).toContain(line(1));
    await closeDeadLetter(db, ids[1], 'replayed', 'test');
    expect(await registry.metrics()).not.toContain(`flow="${flow}"`);
    expect(await registry.metrics()).toMatch(/^ledgerbridge_dead_letters_oldest_open_age_seconds \d/m);
  });

  test('a failed Postgres read keeps /metrics answering and is counted', async () => {
    const registry = new Registry();
    const broken = testDb(1);
    registerOpsMetrics(registry, broken);
    await broken.destroy();
    const text = await registry.metrics();
    expect(text).toContain('ledgerbridge_metrics_read_failures_total{gauge="dead_letters"} 1');
  });
});
