import { randomUUID } from 'node:crypto';
import cors from 'cors';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import helmet from 'helmet';
import { Registry } from 'prom-client';
import { z, type ZodType } from 'zod';
import type { Client } from '@temporalio/client';
import type { Config } from '../../config';
import type { Db } from '../../db';
import { audit } from '../../db/audit';
import { closeDeadLetter, getDeadLetter } from '../../db/dead-letters';
import type { Logger } from '../../logger';
import { getGlRules, publishGlRules } from '../../mapping/gl-rules';
import { getReconReport } from '../../settlement/report';
import type { SettlementInput } from '../../settlement/types';
import type { Metrics } from '../metrics';
import {
  authenticate,
  createApiKey,
  getApiKey,
  KeyNameTaken,
  listApiKeys,
  rateLimit,
  requireRole,
  revokeApiKey,
  sendError,
  TokenBuckets,
  type Principal,
  type RateLimitOptions,
} from './auth';
import { registerOpsMetrics } from './metrics';
import {
  apiKeyOut,
  deadLetterOut,
  getGlRuleVersion,
  listAudit,
  listDeadLetters,
  listGlRuleVersions,
  openDeadLettersOf,
} from './queries';
import * as s from './schemas';
import { buildRunQuery, OpsError, OpsService } from './service';

/** Dependencies of the ops API: the gateway's, plus optional settings (tests narrow queues and limits). */
export interface OpsDeps {
  db: Db;
  temporal: Client;
  namespace: string;
  logger: Logger;
  metrics?: Metrics;
  config?: Partial<Config>;
  ops?: OpsOptions;
}

export interface OpsOptions {
  /** Per-key token bucket; default 30 requests burst, 10 per second. `false` turns it off. */
  rateLimit?: RateLimitOptions | false;
  /** Browser origins allowed to call the API (default: the Temporal UI's). */
  corsOrigins?: string[];
  /** Workflow task queue of reconciliations (default TEMPORAL_TASK_QUEUE or `ledgerbridge`). */
  taskQueue?: string;
  settlementDefaults?: Partial<SettlementInput>;
  queryTimeoutMs?: number;
  concurrency?: number;
}

export const DEFAULT_RATE_LIMIT: RateLimitOptions = { capacity: 30, refillPerSecond: 10 };

/** The Temporal UI base URL of deep links. */
export function temporalUiBase(config?: Partial<Config>): string {
  return config?.TEMPORAL_UI_URL ?? `http://127.0.0.1:${config?.TEMPORAL_UI_PORT ?? 8233}`;
}

/** Origins of the Temporal UI, for CORS. */
export function uiOrigins(config?: Partial<Config>): string[] {
  const base = new URL(temporalUiBase(config));
  const out = new Set([base.origin]);
  if (base.hostname === '127.0.0.1') out.add(`${base.protocol}//localhost${base.port ? `:${base.port}` : ''}`);
  if (base.hostname === 'localhost') out.add(`${base.protocol}//127.0.0.1${base.port ? `:${base.port}` : ''}`);
  return [...out];
}

type Reply = { status: number; body: unknown } | { status: number; text: string; contentType: string };

interface Ctx<P, Q, B> {
  params: P;
  query: Q;
  body: B;
  principal: Principal;
  requestId: string;
  svc: OpsService;
  deps: OpsDeps;
  audit(e: { action: string; target?: string; before?: unknown; after?: unknown }): Promise<void>;
}

export interface ResponseSpec {
  description: string;
  schema?: ZodType;
  /** Default application/json. */
  contentType?: string;
  /** Extra media types with their schema (e.g. text/csv besides JSON). */
  alternatives?: Record<string, ZodType>;
}

export interface OpsRoute {
  method: 'get' | 'post' | 'delete';
  /** OpenAPI-style path under /api/v1, e.g. /runs/{workflowId}. */
  path: string;
  role: s.Role;
  operationId: string;
  summary: string;
  description?: string;
  tag: string;
  params?: z.ZodObject;
  query?: z.ZodObject;
  body?: ZodType;
  responses: Record<number, ResponseSpec>;
  handler(ctx: Ctx<unknown, unknown, unknown>): Promise<Reply>;
}

/** Declares a route; the generic parameters type its handler from its schemas. */
function route<P extends z.ZodObject | undefined, Q extends z.ZodObject | undefined, B extends ZodType | undefined>(r: {
  method: OpsRoute['method'];
  path: string;
  role: s.Role;
  operationId: string;
  summary: string;
  description?: string;
  tag: string;
  params?: P;
  query?: Q;
  body?: B;
  responses: Record<number, ResponseSpec>;
  handler(
    ctx: Ctx<
      P extends z.ZodObject ? z.output<P> : undefined,
      Q extends z.ZodObject ? z.output<Q> : undefined,
      B extends ZodType ? z.output<B> : undefined
    >,
  ): Promise<Reply>;
}): OpsRoute {
  return r as unknown as OpsRoute;
}

const json = (status: number, body: unknown): Reply => ({ status, body });
const ok = (description: string, schema: ZodType): ResponseSpec => ({ description, schema });
const notFound: ResponseSpec = { description: 'not found', schema: s.errorSchema };
const conflict = (description: string): ResponseSpec => ({ description, schema: s.errorSchema });

async function loadDeadLetter(db: Db, id: string) {
  const dl = await getDeadLetter(db, id);
  if (!dl) throw new OpsError(404, 'not_found', `no dead letter ${id}`);
  return { ...dl, id: String(dl.id) };
}

/** Every ops route: the router mounts them and the OpenAPI document is generated from them. */
export const OPS_ROUTES: OpsRoute[] = [
  route({
    method: 'get',
    path: '/whoami',
    role: 'viewer',
    operationId: 'whoAmI',
    summary: 'The key making the request and its role',
    tag: 'keys',
    responses: { 200: ok('the caller', s.whoAmISchema) },
    handler: async ({ principal }) => json(200, principal),
  }),
  route({
    method: 'get',
    path: '/runs',
    role: 'viewer',
    operationId: 'listRuns',
    summary: 'List runs through Temporal visibility, filtered on the Lb* search attributes',
    tag: 'runs',
    query: s.runListQuerySchema,
    responses: { 200: ok('one page of runs', s.runListSchema) },
    handler: async ({ query, svc }) => {
      const { pageSize, pageToken, ...filter } = query;
      const q = buildRunQuery(filter);
      const page = await svc.listRuns(q, pageSize, pageToken);
      return json(200, { ...page, query: q });
    },
  }),
  route({
    method: 'get',
    path: '/runs/{workflowId}',
    role: 'viewer',
    operationId: 'getRun',
    summary: 'The latest run of a workflow id: description, `status` query, open dead letters, Temporal UI link',
    tag: 'runs',
    params: s.workflowIdParams,
    responses: { 200: ok('the run', s.runDetailSchema), 404: notFound },
    handler: async ({ params, svc, deps }) => {
      const desc = await svc.describe(params.workflowId);
      const fs = await svc.flowStatus(desc.workflowId, desc.runId);
      return json(200, {
        ...svc.summary(desc),
        historyLength: desc.historyLength,
        flowStatus: fs.status,
        flowStatusError: fs.error,
        openDeadLetters: await openDeadLettersOf(deps.db, desc.workflowId, desc.runId),
      });
    },
  }),
  route({
    method: 'post',
    path: '/runs/{workflowId}/retrigger',
    role: 'finance',
    operationId: 'retriggerRun',
    summary: 'Retrigger a run: `retry` update when parked, a new run with the same id and input when it ended failed',
    tag: 'runs',
    params: s.workflowIdParams,
    body: s.retriggerBodySchema,
    responses: {
      200: ok('retriggered', s.retriggerResultSchema),
      404: notFound,
      409: conflict('the run is in progress without a parked step, completed, or was compensated'),
    },
    handler: async ({ params, body, principal, svc, audit: write }) => {
      const plan = await svc.plan(params.workflowId);
      const r = await svc.execute(plan, { actor: principal.name, ...body });
      await write({
        action: 'run.retrigger',
        target: params.workflowId,
        before: plan.kind === 'skip' ? null : { runId: plan.runId, status: plan.status, step: plan.step },
        after: {
          ...r,
          reason: body.reason ?? null,
          patch: body.patch ?? null,
          mappingVersion: body.mappingVersion ?? null,
        },
      });
      return json(200, r);
    },
  }),
  route({
    method: 'post',
    path: '/runs/retrigger',
    role: 'finance',
    operationId: 'retriggerRuns',
    summary: 'Retrigger up to 5,000 runs by filter or id list; dryRun lists what would be retriggered',
    description:
      'A filter selects runs that are parked (Running with LbNeedsAttention) or ended Failed, Terminated or TimedOut.',
    tag: 'runs',
    body: s.bulkRetriggerSchema,
    responses: { 200: ok('the plan (dry run) or the outcome per run', s.bulkRetriggerResultSchema) },
    handler: async ({ body, principal, svc, audit: write }) => {
      let query: string | null = null;
      let ids: string[];
      let truncated = false;
      if (body.filter) {
        const t = await svc.bulkTargets(body.filter, body.limit);
        query = t.query;
        ids = t.ids;
        truncated = t.truncated;
      } else {
        const unique = [...new Set(body.workflowIds!)];
        truncated = unique.length > body.limit;
        ids = unique.slice(0, body.limit);
      }
      const plans = await svc.planAll(ids);
      const candidates = plans.flatMap((p) =>
        p.kind === 'skip'
          ? []
          : [{ workflowId: p.workflowId, runId: p.runId, status: p.status, action: p.kind, step: p.step }],
      );
      const skipped = plans.flatMap((p) => (p.kind === 'skip' ? [{ workflowId: p.workflowId, reason: p.reason }] : []));
      const base = { dryRun: body.dryRun, query, matched: ids.length, truncated, candidates, skipped };
      if (body.dryRun) return json(200, { ...base, results: [] });
      const opts = {
        actor: principal.name,
        patch: body.patch,
        mappingVersion: body.mappingVersion,
        reason: body.reason,
      };
      const outcomes = await svc.executeAll(
        plans.filter((p) => p.kind !== 'skip'),
        opts,
      );
      for (const o of outcomes) {
        if (!o.ok || !o.result) continue;
        await write({
          action: 'run.retrigger',
          target: o.workflowId,
          before: { runId: o.result.previousRunId },
          after: { ...o.result, bulk: true, reason: body.reason ?? null },
        });
      }
      await write({
        action: 'runs.retrigger-bulk',
        target: query ?? `${ids.length} workflow ids`,
        after: {
          matched: ids.length,
          succeeded: outcomes.filter((o) => o.ok).length,
          failed: outcomes.filter((o) => !o.ok).length,
          skipped: skipped.length,
        },
      });
      return json(200, { ...base, results: outcomes.map(({ result: _r, ...o }) => o) });
    },
  }),
  route({
    method: 'post',
    path: '/reconciliations',
    role: 'operator',
    operationId: 'startReconciliation',
    summary: 'Start a settlement reconciliation for a batch or a date range (idempotent)',
    description:
      'The workflow id is settlement:<batchId> or settlement:range-<from>-<to>. A new run answers 201; an existing ' +
      'run with that id (running or finished) answers 200 and is returned as is.',
    tag: 'reconciliations',
    body: s.startReconciliationSchema,
    responses: {
      201: ok('started', s.reconciliationStartedSchema),
      200: ok('a run with this id already existed', s.reconciliationStartedSchema),
    },
    handler: async ({ body, principal, svc, audit: write }) => {
      const { input, ...r } = await svc.startReconciliation(body, principal.name);
      if (r.created)
        await write({ action: 'reconciliation.start', target: r.workflowId, before: null, after: { ...r, input } });
      return json(r.created ? 201 : 200, r);
    },
  }),
  route({
    method: 'get',
    path: '/reports/reconciliations/{batchId}',
    role: 'viewer',
    operationId: 'getReconciliationReport',
    summary: 'The reconciliation report of a batch, as JSON or CSV (format=csv)',
    tag: 'reconciliations',
    params: s.reportParams,
    query: s.reportQuerySchema,
    responses: {
      200: {
        description: 'the report',
        schema: s.reconReportSchema,
        alternatives: { 'text/csv': z.string().openapi({ description: 'one row per match result' }) },
      },
      404: notFound,
    },
    handler: async ({ params, query, deps }) => {
      const r = await getReconReport(deps.db, params.batchId, query.format);
      if (!r) throw new OpsError(404, 'not_found', `no ${query.format} report for batch ${params.batchId}`);
      const contentType = query.format === 'csv' ? 'text/csv; charset=utf-8' : 'application/json; charset=utf-8';
      return { status: 200, text: r.body, contentType };
    },
  }),
  route({
    method: 'get',
    path: '/dead-letters',
    role: 'viewer',
    operationId: 'listDeadLetters',
    summary: 'Dead letters (default: open ones), newest first',
    tag: 'dead-letters',
    query: s.deadLetterListQuerySchema,
    responses: { 200: ok('one page', s.deadLetterListSchema) },
    handler: async ({ query, deps }) => json(200, await listDeadLetters(deps.db, query)),
  }),
  route({
    method: 'get',
    path: '/dead-letters/{id}',
    role: 'viewer',
    operationId: 'getDeadLetter',
    summary: 'One dead letter with the state of its run',
    tag: 'dead-letters',
    params: s.deadLetterIdParams,
    responses: { 200: ok('the dead letter', s.deadLetterDetailSchema), 404: notFound },
    handler: async ({ params, deps, svc }) => {
      const dl = await loadDeadLetter(deps.db, params.id);
      let run = null;
      try {
        const desc = await svc.describe(dl.workflow_id);
        const status = svc.statusName(desc);
        const parkedHere =
          status === 'Running' && (await svc.flowStatus(dl.workflow_id, desc.runId)).status?.deadLetterId === dl.id;
        run = { runId: desc.runId, status, parkedHere, uiUrl: svc.uiUrl(dl.workflow_id, desc.runId) };
      } catch (e) {
        if (!(e instanceof OpsError)) throw e;
      }
      return json(200, { ...deadLetterOut(dl), run });
    },
  }),
  route({
    method: 'post',
    path: '/dead-letters/{id}/replay',
    role: 'finance',
    operationId: 'replayDeadLetter',
    summary: 'Replay a dead letter: `retry` update on the run parked on it, or a new run when that run ended',
    tag: 'dead-letters',
    params: s.deadLetterIdParams,
    body: s.replayBodySchema,
    responses: {
      200: ok('replayed', s.replayResultSchema),
      404: notFound,
      409: conflict('the dead letter is closed, its run is not parked on it, or its run was compensated'),
    },
    handler: async ({ params, body, principal, deps, svc, audit: write }) => {
      const dl = await loadDeadLetter(deps.db, params.id);
      if (dl.status !== 'open') throw new OpsError(409, 'closed', `dead letter ${dl.id} is already ${dl.status}`);
      const r = await svc.replayDeadLetter(dl, { actor: principal.name, ...body });
      if (r.action === 'new-run')
        await closeDeadLetter(deps.db, dl.id, 'replayed', principal.name, `retriggered as run ${r.runId}`);
      await write({
        action: 'dead-letter.replay',
        target: dl.id,
        before: deadLetterOut(dl),
        after: {
          status: 'replayed',
          action: r.action,
          workflowId: r.workflowId,
          runId: r.runId,
          patch: body.patch ?? null,
        },
      });
      return json(200, { deadLetterId: dl.id, workflowId: r.workflowId, action: r.action, runId: r.runId });
    },
  }),
  route({
    method: 'post',
    path: '/dead-letters/{id}/discard',
    role: 'finance',
    operationId: 'discardDeadLetter',
    summary: 'Discard a dead letter (with a reason): the parked run is told to discard its step, else it is closed',
    tag: 'dead-letters',
    params: s.deadLetterIdParams,
    body: s.discardBodySchema,
    responses: {
      200: ok('discarded', s.discardResultSchema),
      404: notFound,
      409: conflict('the dead letter is already closed'),
    },
    handler: async ({ params, body, principal, deps, svc, audit: write }) => {
      const dl = await loadDeadLetter(deps.db, params.id);
      if (dl.status !== 'open') throw new OpsError(409, 'closed', `dead letter ${dl.id} is already ${dl.status}`);
      let action: 'discard-update' | 'closed' = 'discard-update';
      if (!(await svc.discardParked(dl, principal.name, body.reason))) {
        action = 'closed';
        if (!(await closeDeadLetter(deps.db, dl.id, 'discarded', principal.name, body.reason))) {
          throw new OpsError(409, 'closed', `dead letter ${dl.id} was closed meanwhile`);
        }
      }
      await write({
        action: 'dead-letter.discard',
        target: dl.id,
        before: deadLetterOut(dl),
        after: { status: 'discarded', reason: body.reason, action },
      });
      return json(200, { deadLetterId: dl.id, workflowId: dl.workflow_id, action });
    },
  }),
  route({
    method: 'get',
    path: '/audit',
    role: 'viewer',
    operationId: 'listAudit',
    summary: 'The audit log: every change made through the ops API or CLI, newest first',
    tag: 'audit',
    query: s.auditQuerySchema,
    responses: { 200: ok('one page', s.auditListSchema) },
    handler: async ({ query, deps }) => json(200, await listAudit(deps.db, query)),
  }),
  route({
    method: 'get',
    path: '/keys',
    role: 'admin',
    operationId: 'listKeys',
    summary: 'Active API keys (never the keys themselves)',
    tag: 'keys',
    responses: { 200: ok('the keys', s.keyListSchema) },
    handler: async ({ deps }) => {
      return json(200, { keys: (await listApiKeys(deps.db)).map(apiKeyOut) });
    },
  }),
  route({
    method: 'post',
    path: '/keys',
    role: 'admin',
    operationId: 'createKey',
    summary: 'Create an API key; the key is in this answer only',
    tag: 'keys',
    body: s.createKeySchema,
    responses: { 201: ok('created', s.createdKeySchema), 409: conflict('an active key has this name') },
    handler: async ({ body, principal, deps, audit: write }) => {
      try {
        const { row, key } = await createApiKey(deps.db, { ...body, createdBy: principal.name });
        await write({ action: 'api-key.create', target: row.id, before: null, after: apiKeyOut(row) });
        return json(201, { ...apiKeyOut(row), key });
      } catch (e) {
        if (e instanceof KeyNameTaken) throw new OpsError(409, 'name_taken', e.message);
        throw e;
      }
    },
  }),
  route({
    method: 'delete',
    path: '/keys/{id}',
    role: 'admin',
    operationId: 'revokeKey',
    summary: 'Revoke an API key (it stops working at once)',
    tag: 'keys',
    params: s.keyIdParams,
    responses: { 200: ok('revoked', s.apiKeySchema), 404: notFound },
    handler: async ({ params, principal, deps, audit: write }) => {
      const before = await revokeApiKey(deps.db, params.id, principal.name);
      if (!before) throw new OpsError(404, 'not_found', `no active key ${params.id}`);
      const after = (await getApiKey(deps.db, params.id))!;
      await write({ action: 'api-key.revoke', target: params.id, before: apiKeyOut(before), after: apiKeyOut(after) });
      return json(200, apiKeyOut(after));
    },
  }),
  route({
    method: 'get',
    path: '/mappings/gl-rules',
    role: 'viewer',
    operationId: 'listGlRules',
    summary: 'Versions of the GL rules (one is published)',
    tag: 'mappings',
    responses: { 200: ok('the versions', s.glRulesListSchema) },
    handler: async ({ deps }) => json(200, { versions: await listGlRuleVersions(deps.db) }),
  }),
  route({
    method: 'get',
    path: '/mappings/gl-rules/{version}',
    role: 'viewer',
    operationId: 'getGlRules',
    summary: 'One version of the GL rules',
    tag: 'mappings',
    params: s.glRulesVersionParams,
    responses: { 200: ok('the version', s.glRulesVersionSchema), 404: notFound },
    handler: async ({ params, deps }) => {
      const v = await getGlRuleVersion(deps.db, params.version);
      if (!v) throw new OpsError(404, 'not_found', `no GL rules version ${params.version}`);
      return json(200, v);
    },
  }),
  route({
    method: 'post',
    path: '/mappings/gl-rules',
    role: 'admin',
    operationId: 'publishGlRules',
    summary: 'Publish a new GL rules version (the previous one is retired; versions are immutable)',
    tag: 'mappings',
    body: s.publishGlRulesSchema,
    responses: { 201: ok('published', s.publishedGlRulesSchema) },
    handler: async ({ body, principal, deps, audit: write }) => {
      const before = await getGlRules(deps.db).catch(() => undefined);
      const version = await publishGlRules(deps.db, body.rules, principal.name, body.note);
      await write({
        action: 'mapping.gl-rules.publish',
        target: `gl-rules/${version}`,
        before: before ? { publishedVersion: before.version } : null,
        after: { publishedVersion: version, note: body.note ?? null },
      });
      return json(201, { version });
    },
  }),
];

/** `/runs/{workflowId}` → `/runs/:workflowId`. */
export const expressPath = (p: string) => p.replace(/\{(\w+)\}/g, ':$1');

function zodIssues(e: z.ZodError) {
  return e.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
}

function parse<T>(schema: ZodType<T> | undefined, value: unknown, where: string): T {
  if (!schema) return undefined as T;
  const r = schema.safeParse(value ?? (where === 'body' ? {} : value));
  if (!r.success) throw new OpsError(400, 'bad_request', `invalid ${where}`, zodIssues(r.error));
  return r.data;
}

/** The ops API router, mounted at /api/v1. */
export function opsRouter(deps: OpsDeps): Router {
  const opsMetrics = registerOpsMetrics(deps.metrics?.registry ?? new Registry(), deps.db);
  const svc = new OpsService(deps.temporal, deps.db, {
    namespace: deps.namespace,
    uiBaseUrl: temporalUiBase(deps.config),
    taskQueue: deps.ops?.taskQueue ?? deps.config?.TEMPORAL_TASK_QUEUE,
    defaultErp: deps.config?.LB_ERP,
    settlementDefaults: deps.ops?.settlementDefaults,
    queryTimeoutMs: deps.ops?.queryTimeoutMs,
    concurrency: deps.ops?.concurrency,
  });
  const router = express.Router();
  router.use(helmet());
  router.use(
    cors({
      origin: deps.ops?.corsOrigins ?? uiOrigins(deps.config),
      allowedHeaders: ['content-type', 'authorization', 'x-api-key'],
      exposedHeaders: ['x-request-id', 'retry-after'],
      methods: ['GET', 'POST', 'DELETE'],
    }),
  );
  router.use((req, res, next) => {
    res.locals.requestId = randomUUID();
    res.set('x-request-id', res.locals.requestId as string);
    res.on('finish', () => {
      if (res.statusCode === 401) opsMetrics.authFailures.inc({ reason: 'unauthenticated' });
      else if (res.statusCode === 403) opsMetrics.authFailures.inc({ reason: 'forbidden' });
      else if (res.statusCode === 429) opsMetrics.rateLimited.inc();
    });
    next();
  });
  router.use(authenticate(deps.db, deps.config?.LB_ADMIN_API_KEY));
  const limit = deps.ops?.rateLimit ?? DEFAULT_RATE_LIMIT;
  if (limit) router.use(rateLimit(new TokenBuckets(limit)));
  router.use(express.json({ limit: '1mb' }));

  for (const r of OPS_ROUTES) {
    router[r.method](expressPath(r.path), requireRole(r.role), async (req: Request, res: Response) => {
      const principal = req.principal!;
      const requestId = res.locals.requestId as string;
      const ctx: Ctx<unknown, unknown, unknown> = {
        params: parse(r.params, req.params, 'path parameters'),
        query: parse(r.query, req.query, 'query'),
        body: parse(r.body, req.body, 'body'),
        principal,
        requestId,
        svc,
        deps,
        audit: (e) => audit(deps.db, { actor: principal.name, requestId, ...e }),
      };
      let reply: Reply;
      try {
        reply = await r.handler(ctx);
      } catch (e) {
        if (r.method !== 'get') opsMetrics.actions.inc({ action: r.operationId, outcome: 'error' });
        throw e;
      }
      if (r.method !== 'get') opsMetrics.actions.inc({ action: r.operationId, outcome: 'ok' });
      if ('text' in reply) res.status(reply.status).type(reply.contentType).send(reply.text);
      else res.status(reply.status).json(reply.body);
    });
  }

  router.use((_req, res) => sendError(res, 404, 'not_found', 'no such ops API route'));
  router.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    if (err instanceof OpsError) return sendError(res, err.status, err.code, err.message, err.details);
    const e = err as { type?: string; status?: number; message?: string };
    if (e.type === 'entity.parse.failed') return sendError(res, 400, 'bad_request', 'the body is not valid JSON');
    if (e.type === 'entity.too.large') return sendError(res, 413, 'too_large', 'the body is too large');
    deps.logger.error({ err, requestId: res.locals.requestId }, 'ops API request failed');
    sendError(res, 500, 'internal', 'the request failed; see the gateway log', { requestId: res.locals.requestId });
  });
  return router;
}
