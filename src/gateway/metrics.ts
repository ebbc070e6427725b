import { Registry, collectDefaultMetrics, Counter, Gauge, Histogram } from 'prom-client';

/** The gateway's Prometheus registry: process metrics plus Ledgerbridge's own. */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'ledgerbridge_' });
  return {
    registry,
    httpRequests: new Counter({
      name: 'ledgerbridge_http_requests_total',
      help: 'HTTP requests by route and status',
      labelNames: ['route', 'method', 'status'] as const,
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: 'ledgerbridge_http_request_duration_seconds',
      help: 'HTTP request latency',
      labelNames: ['route', 'method'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    dependencyUp: new Gauge({
      name: 'ledgerbridge_dependency_up',
      help: '1 when the dependency answered the last health check',
      labelNames: ['dependency'] as const,
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
