import express, { type Express } from 'express';
import type { Client } from '@temporalio/client';
import type { Db } from '../db';
import type { Logger } from '../logger';
import { checkHealth } from './health';
import { createMetrics, type Metrics } from './metrics';
import type { PayloadCodec } from '@temporalio/common';
import type { Config } from '../config';
import { codecRouter } from './codec-endpoint';
import { docsRouter } from './openapi';
import { opsRouter, type OpsOptions } from './ops';
import { webhookRouter } from './webhooks';

export interface GatewayDeps {
  db: Db;
  temporal: Client;
  namespace: string;
  logger: Logger;
  metrics?: Metrics;
  /** Settings the ops API and codec endpoint read (admin key, payload keys, Temporal UI URL, task queue, ERP). */
  config?: Partial<Config>;
  /** Ops API tuning (rate limit, CORS origins, test queues). */
  ops?: OpsOptions;
  /** Codec of the /codec endpoint; default: the one LB_PAYLOAD_KEY configures. */
  codec?: PayloadCodec;
}

/** The Express gateway: health, metrics, and (in later modules) webhooks and the ops API. */
export function createApp(deps: GatewayDeps): Express {
  const metrics = deps.metrics ?? createMetrics();
  const app = express();
  app.disable('x-powered-by');

  app.use((req, res, next) => {
    const end = metrics.httpDuration.startTimer({ method: req.method });
    res.on('finish', () => {
      const route = (req.route?.path as string | undefined) ?? 'unmatched';
      end({ route });
      metrics.httpRequests.inc({ route, method: req.method, status: String(res.statusCode) });
    });
    next();
  });

  app.get('/healthz', async (_req, res) => {
    const health = await checkHealth(deps);
    metrics.dependencyUp.set({ dependency: 'postgres' }, health.postgres.ok ? 1 : 0);
    metrics.dependencyUp.set({ dependency: 'temporal' }, health.temporal.ok ? 1 : 0);
    res.status(health.status === 'ok' ? 200 : 503).json(health);
  });

  app.get('/metrics', async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  app.use(
    '/webhooks',
    webhookRouter({ db: deps.db, logger: deps.logger, registry: metrics.registry, config: deps.config }),
  );

  app.use('/api/v1', opsRouter({ ...deps, metrics }));
  app.use('/api/docs', docsRouter());
  app.use('/codec', codecRouter({ ...deps, metrics }));

  app.use((_req, res) => {
    res.status(404).json({ error: 'not_found' });
  });

  return app;
}
