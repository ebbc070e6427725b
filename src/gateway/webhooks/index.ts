import { Router, type NextFunction, type Request, type Response } from 'express';
import type { Registry } from 'prom-client';
import type { Logger } from 'pino';
import type { Config } from '../../config';
import { verifyRetailSignature } from '../../connectors/heartland/retail-webhook-signature';
import { verifyGpSignature } from '../../connectors/heartland/webhook-signature';
import type { Db } from '../../db';
import { createLogger } from '../../logger';
import { scrubWebhook } from './card-data';
import { InboxWriter, mayBeUnstorable, mayHoldCardData, storableIssues } from './inbox';
import { webhookMetrics } from './metrics';
import { readEnvelope, RouteError, ROUTED_EVENT_TYPES, routeEvent, type RouteContext } from './routing';
import type { Issue } from './schemas';
import { configFromEnv, productionSecrets, webhookSecrets, WEBHOOK_SOURCES, type WebhookSource } from './secrets';
import { verifyCommerceSignature, verifyErpSignature, type SignatureResult } from './signing';

export { Dispatcher } from '../dispatcher';
export { routeEvent, ROUTED_EVENT_TYPES, RouteError, type DispatchPlan, type RouteContext } from './routing';
export { webhookSecrets, SANDBOX_WEBHOOK_SECRETS, WEBHOOK_SOURCES, type WebhookSource } from './secrets';
export { signCommerceWebhook, signErpWebhook } from './signing';
export { InboxWriter, inboxEvents } from './inbox';

/** A JSON answer without Express's ETag and freshness work (webhook senders never revalidate). */
function reply(res: Response, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.setHeader('content-length', Buffer.byteLength(text));
  res.end(text);
}

/**
 * Reads the raw body, at most `limit` bytes: a Content-Length above it is refused before reading, a chunked body as
 * soon as it passes it. 'aborted' when the sender went away.
 */
function readBody(req: Request, limit: number): Promise<Buffer | 'too_large' | 'aborted'> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return Promise.resolve('too_large');
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const settle = (v: Buffer | 'too_large' | 'aborted') => {
      if (settled) return;
      settled = true;
      req.off('data', onData);
      resolve(v);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) return settle('too_large');
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => settle(Buffer.concat(chunks, size)));
    req.once('error', () => settle('aborted'));
    req.once('close', () => settle(req.complete ? Buffer.concat(chunks, size) : 'aborted'));
  });
}

/** Largest webhook body accepted (413 above it). */
export const WEBHOOK_BODY_LIMIT = 1024 * 1024;

export interface WebhookRouterDeps {
  db: Db;
  logger?: Logger;
  /** Prometheus registry for the webhook metrics (the gateway's createMetrics().registry). */
  registry?: Registry;
  /** Settings (LB_MODE, LB_ERP, LB_CURRENCY, LOG_LEVEL, the webhook secrets); what is missing comes from the environment. */
  config?: Partial<Config>;
  /** Group commit of the inbox writer: INSERTs in flight at once (default 1) and rows per INSERT (default 256). */
  inbox?: { maxConcurrent?: number; maxBatch?: number };
  /** Signing keys per source over the ones from config (tests). */
  secrets?: Partial<Record<WebhookSource, string>>;
}

type Headers = Record<string, string | string[] | undefined>;

function verify(source: WebhookSource, raw: Buffer, headers: Headers, secret: string): SignatureResult {
  switch (source) {
    case 'heartland': {
      const h = headers['x-gp-signature'];
      if (!h) return { ok: false, reason: 'missing_signature' };
      return verifyGpSignature(raw, h, secret) ? { ok: true } : { ok: false, reason: 'bad_signature' };
    }
    case 'heartland-retail': {
      const r = verifyRetailSignature(raw, headers, secret);
      return r.ok ? { ok: true } : { ok: false, reason: r.reason };
    }
    case 'commerce':
      return verifyCommerceSignature(raw, headers, secret);
    case 'odoo':
    case 'm3':
    case 'p21':
      return verifyErpSignature(raw, headers, secret);
  }
}

/**
 * POST /webhooks/<source> for heartland, heartland-retail, commerce, odoo, m3 and p21. Each check has its own answer:
 * 415 not JSON, 413 over 1 MB, 401 bad signature (with the reason), 422 invalid body (listing field paths), 202
 * ignored for an event with no route, 202 accepted once the event is committed to `webhook_inbox` (card data
 * scrubbed), 200 duplicate for an event id already there, 503 when the inbox cannot be written (the sender retries).
 * Nothing is written for a refused request.
 */
export function webhookRouter(deps: WebhookRouterDeps): Router {
  const given = deps.config ?? {};
  const complete = (['LB_MODE', 'LB_ERP', 'LB_CURRENCY', 'LOG_LEVEL'] as const).every((k) => given[k] !== undefined);
  const config = { ...(complete ? {} : configFromEnv()), ...given } as Config;
  const merged = { ...webhookSecrets(config), ...deps.secrets };
  const secrets = config.LB_MODE === 'sandbox' ? merged : productionSecrets(merged);
  const log = deps.logger ?? createLogger({ level: config.LOG_LEVEL, name: 'webhooks' });
  const metrics = deps.registry ? webhookMetrics(deps.registry) : undefined;
  const inbox = new InboxWriter(deps.db, deps.inbox);
  const ctx: RouteContext = { erp: config.LB_ERP, currency: config.LB_CURRENCY };
  const router = Router();

  const refuse = (res: Response, source: string, status: number, reason: string, body: Record<string, unknown>) => {
    metrics?.rejected.inc({ source, reason });
    reply(res, status, body);
  };
  const invalid = (res: Response, source: string, issues: Issue[]) =>
    refuse(res, source, 422, 'invalid_body', { error: 'invalid_body', issues: issues.slice(0, 50) });

  for (const source of WEBHOOK_SOURCES) {
    router.post(`/${source}`, async (req: Request, res: Response) => {
      res.locals.source = source;
      const type = String(req.headers['content-type'] ?? '')
        .split(';')[0]
        .trim()
        .toLowerCase();
      const encoding = String(req.headers['content-encoding'] ?? 'identity').toLowerCase();
      if (type !== 'application/json' || encoding !== 'identity') {
        // The body is not looked at: a small one is drained so the connection stays usable, a large one closes it.
        if (!(Number(req.headers['content-length']) <= WEBHOOK_BODY_LIMIT)) res.setHeader('connection', 'close');
        else req.resume();
        return refuse(res, source, 415, 'unsupported_media_type', {
          error: 'unsupported_media_type',
          message:
            encoding !== 'identity'
              ? `Content-Encoding ${encoding} is not accepted`
              : 'Content-Type must be application/json',
        });
      }
      const raw = await readBody(req, WEBHOOK_BODY_LIMIT);
      if (raw === 'too_large') {
        res.setHeader('connection', 'close');
        return refuse(res, source, 413, 'too_large', { error: 'payload_too_large', limitBytes: WEBHOOK_BODY_LIMIT });
      }
      if (raw === 'aborted') return;
      const secret = secrets[source];
      if (!secret) {
        log.error({ source }, 'webhook secret not configured: deliveries are refused until it is set');
        return refuse(res, source, 503, 'not_configured', { error: 'not_configured' });
      }
      const sig = verify(source, raw, req.headers, secret);
      if (!sig.ok) {
        log.warn({ source, reason: sig.reason }, 'webhook signature rejected');
        return refuse(res, source, 401, sig.reason, { error: 'invalid_signature', reason: sig.reason });
      }
      const text = raw.toString('utf8');
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        return invalid(res, source, [{ path: '(root)', message: 'not valid JSON' }]);
      }
      const unstorable = mayBeUnstorable(text) ? storableIssues(json) : [];
      if (unstorable.length) return invalid(res, source, unstorable);
      const env = readEnvelope(source, json, req.headers);
      if (Array.isArray(env)) return invalid(res, source, env);

      const ignore = (why: string) => {
        metrics?.ignored.inc({
          source,
          event_type: ROUTED_EVENT_TYPES[source].includes(env.eventType) ? env.eventType : 'other',
        });
        log.info({ source, eventType: env.eventType.slice(0, 100), eventId: env.eventId, why }, 'webhook ignored');
        reply(res, 202, { status: 'ignored' });
      };
      if (!ROUTED_EVENT_TYPES[source].includes(env.eventType)) return ignore('no route for this event type');

      // Validated before and after the card-data scrub: a PAN sent as a payment token is refused, and what is
      // stored (masked) must still route. The scrub follows the event's schema: its ids, references and amounts are
      // stored as received, its free text (and any field the schema does not know) scrubbed.
      // Most events hold nothing card-like: they are stored as received (the raw text is valid jsonb).
      const stored = mayHoldCardData(text) ? scrubWebhook(source, env.eventType, json) : json;
      const storedJson = stored === json ? text : JSON.stringify(stored);
      try {
        const plan = await routeEvent(source, env.eventType, json, ctx);
        if (plan.action === 'ignore') return ignore(plan.reason);
        if (stored !== json && storedJson !== JSON.stringify(json)) {
          await routeEvent(source, env.eventType, stored, ctx);
        }
      } catch (e) {
        if (e instanceof RouteError) return invalid(res, source, e.issues);
        throw e;
      }

      let result;
      try {
        result = await inbox.insert({
          source,
          eventId: env.eventId,
          eventType: env.eventType,
          payloadJson: storedJson,
        });
      } catch (e) {
        log.error({ source, err: (e as Error).message }, 'webhook inbox write failed');
        return refuse(res, source, 503, 'unavailable', { error: 'unavailable' });
      }
      if (result.duplicate) {
        metrics?.duplicates.inc({ source });
        return reply(res, 200, { status: 'duplicate' });
      }
      metrics?.accepted.inc({ source });
      reply(res, 202, { status: 'accepted', id: result.id });
    });
  }

  // Anything unexpected (the database gone mid-request, a bug): 503 so the sender retries, never a crash.
  router.use((err: Error, req: Request, res: Response, _next: NextFunction) => {
    const source = (res.locals.source as string | undefined) ?? 'unknown';
    log.error({ source, err: err.message, path: req.path }, 'webhook handler failed');
    if (!res.headersSent) refuse(res, source, 503, 'unavailable', { error: 'unavailable' });
  });

  return router;
}
