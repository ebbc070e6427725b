import cors from 'cors';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { codecFor } from '../codec';
import { authenticate, requireRole, sendError } from './ops/auth';
import { registerOpsMetrics } from './ops/metrics';
import { uiOrigins, type OpsDeps, type ResponseSpec } from './ops/routes';
import { codecPayloadsSchema, errorSchema, type Role } from './ops/schemas';

/**
 * The remote codec endpoint of the Temporal UI (and `temporal --codec-endpoint`): POST /codec/encode and
 * /codec/decode take `{ payloads: [{ metadata: { key: base64 }, data: base64 }] }` and answer the same shape. It
 * decrypts workflow payloads for people, so it needs an API key (x-api-key, or Authorization: Bearer, which the UI
 * sends when configured to pass its access token); any role may read. CORS admits the Temporal UI's origin. With
 * payload encryption off it is the identity.
 */

export interface CodecDeps extends Pick<OpsDeps, 'db' | 'config' | 'ops' | 'metrics'> {
  /** The codec to apply; default: the one LB_PAYLOAD_KEY configures. */
  codec?: PayloadCodec;
}

export const CODEC_ROUTES: {
  method: 'post';
  path: string;
  role: Role;
  operationId: string;
  summary: string;
  body: typeof codecPayloadsSchema;
  responses: Record<number, ResponseSpec>;
}[] = (['encode', 'decode'] as const).map((op) => ({
  method: 'post' as const,
  path: `/codec/${op}`,
  role: 'viewer' as const,
  operationId: `codec${op[0].toUpperCase()}${op.slice(1)}`,
  summary: `${op === 'encode' ? 'Encrypt' : 'Decrypt'} Temporal payloads (Temporal UI remote codec protocol)`,
  body: codecPayloadsSchema,
  responses: {
    200: { description: `the ${op}d payloads, in the same order`, schema: codecPayloadsSchema },
    400: { description: 'malformed payloads, or a payload no configured key opens', schema: errorSchema },
  },
}));

const fromWire = (p: { metadata: Record<string, string>; data: string }): Payload => ({
  metadata: Object.fromEntries(
    Object.entries(p.metadata).map(([k, v]) => [k, new Uint8Array(Buffer.from(v, 'base64'))]),
  ),
  data: new Uint8Array(Buffer.from(p.data, 'base64')),
});

const toWire = (p: Payload) => ({
  metadata: Object.fromEntries(
    Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
  ),
  data: Buffer.from(p.data ?? new Uint8Array()).toString('base64'),
});

/** The codec endpoint router, mounted at /codec. */
export function codecRouter(deps: CodecDeps): Router {
  const codec = deps.codec ?? codecFor(deps.config ?? {});
  const authFailures = deps.metrics ? registerOpsMetrics(deps.metrics.registry, deps.db).authFailures : undefined;
  const router = express.Router();
  router.use((_req, res, next) => {
    res.on('finish', () => {
      if (res.statusCode === 401 || res.statusCode === 403) {
        authFailures?.inc({ reason: res.statusCode === 401 ? 'unauthenticated' : 'forbidden' });
      }
    });
    next();
  });
  router.use(
    cors({
      origin: [...uiOrigins(deps.config), ...(deps.ops?.corsOrigins ?? [])],
      credentials: true,
      allowedHeaders: ['content-type', 'authorization', 'x-api-key', 'x-namespace'],
      methods: ['POST'],
      maxAge: 600,
    }),
  );
  router.use(authenticate(deps.db, deps.config?.LB_ADMIN_API_KEY));
  router.use(requireRole('viewer'));
  router.use(express.json({ limit: '8mb' }));
  for (const op of ['encode', 'decode'] as const) {
    router.post(`/${op}`, async (req: Request, res: Response) => {
      const parsed = codecPayloadsSchema.safeParse(req.body);
      if (!parsed.success) return sendError(res, 400, 'bad_request', 'expected { payloads: [{ metadata, data }] }');
      const payloads = parsed.data.payloads.map(fromWire);
      let out: Payload[];
      try {
        out = codec ? await codec[op](payloads) : payloads;
      } catch (e) {
        return sendError(res, 400, 'codec_failed', (e as Error).message);
      }
      res.json({ payloads: out.map(toWire) });
    });
  }
  router.use((_req, res) => sendError(res, 404, 'not_found', 'the codec endpoint has /encode and /decode'));
  router.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const e = err as { type?: string };
    if (e.type === 'entity.parse.failed') return sendError(res, 400, 'bad_request', 'the body is not valid JSON');
    if (e.type === 'entity.too.large') return sendError(res, 413, 'too_large', 'the body is too large');
    sendError(res, 500, 'internal', 'the codec request failed');
  });
  return router;
}
