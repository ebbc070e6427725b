import cors from 'cors';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { codecFor } from '../codec';
import { audit } from '../db/audit';
import { esc } from './html';
import { authenticate, presentedKey, requireRole, resolveKey, sendError } from './ops/auth';
import { registerOpsMetrics } from './ops/metrics';
import { uiOrigins, type OpsDeps, type ResponseSpec } from './ops/routes';
import { codecLoginSchema, codecPayloadsSchema, errorSchema, type Role } from './ops/schemas';
import {
  closeSession,
  openSession,
  resolveSession,
  SESSION_COOKIE,
  SESSION_HOURS,
  sessionToken,
} from './ops/ui-sessions';

/**
 * The remote codec endpoint of the Temporal UI (and `temporal --codec-endpoint`): POST /codec/encode and
 * /codec/decode take `{ payloads: [{ metadata: { key: base64 }, data: base64 }] }` and answer the same shape. It
 * decrypts workflow payloads for people, so it needs an API key (x-api-key, or Authorization: Bearer, which the UI
 * sends when configured to pass its access token), or the session cookie of /codec/login, because a Temporal UI
 * without single sign-on has no token to pass but does send cookies when its codec setting "Include cross-origin
 * credentials" is on. Any role may read. CORS admits the Temporal UI's origin. With payload encryption off it is the
 * identity.
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

const sessionCookie = (req: Request, token: string, maxAgeSeconds: number) =>
  `${SESSION_COOKIE}=${token}; Path=${req.baseUrl || '/'}; Max-Age=${maxAgeSeconds}; HttpOnly; SameSite=Lax${req.secure ? '; Secure' : ''}`;

const page = (title: string, body: string) =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title></head><body><h1>${title}</h1>${body}</body></html>`;

const LOGIN_FORM = page(
  'Ledgerbridge codec sign-in',
  `<p>Sign in with an API key (any role) so that the Temporal UI can decrypt payloads through this endpoint.</p>
<form method="post" action="login"><label>API key <input type="password" name="key" autocomplete="off" required></label>
<button type="submit">Sign in</button></form>`,
);

/**
 * GET /codec/login (a form), POST /codec/login (`key`, form or JSON: sets an HttpOnly session cookie for /codec, valid
 * SESSION_HOURS) and POST /codec/logout. Sign-in and sign-out are written to the audit log.
 */
function sessionRoutes(router: Router, deps: CodecDeps, adminKey: string | undefined): void {
  const wantsHtml = (req: Request) =>
    req.is('application/x-www-form-urlencoded') === 'application/x-www-form-urlencoded';
  const bodies = [express.urlencoded({ extended: false, limit: '4kb' }), express.json({ limit: '4kb' })];
  router.get('/login', (_req, res) => void res.type('html').send(LOGIN_FORM));
  router.post('/login', ...bodies, async (req: Request, res: Response) => {
    const parsed = codecLoginSchema.safeParse(req.body ?? {});
    const principal = parsed.success ? await resolveKey(deps.db, parsed.data.key, adminKey) : undefined;
    if (!principal) {
      const message = parsed.success ? 'the API key is unknown or revoked' : 'an API key is required (field `key`)';
      if (wantsHtml(req))
        return void res
          .status(401)
          .type('html')
          .send(page('Sign-in failed', `<p>${message}.</p>`));
      return sendError(res, 401, 'unauthorized', message);
    }
    const session = await openSession(deps.db, principal);
    await audit(deps.db, {
      actor: principal.name,
      action: 'codec.session.open',
      target: `ui_session:${session.id}`,
      after: { role: principal.role, expiresAt: session.expiresAt.toISOString() },
    });
    res.set('set-cookie', sessionCookie(req, session.token, SESSION_HOURS * 3600));
    const endpoint = `${req.protocol}://${req.get('host')}${req.baseUrl}`;
    if (!wantsHtml(req)) {
      return void res.json({ name: principal.name, role: principal.role, expiresAt: session.expiresAt.toISOString() });
    }
    res.type('html').send(
      page(
        'Signed in',
        `<p>Signed in as ${esc(principal.name)} (${principal.role}) until ${session.expiresAt.toISOString()}.</p>
<p>In the Temporal UI, open the codec server settings, set the endpoint to <code>${esc(endpoint)}</code>, and turn on
"Include cross-origin credentials".</p><form method="post" action="logout"><button type="submit">Sign out</button></form>`,
      ),
    );
  });
  router.post('/logout', async (req: Request, res: Response) => {
    const token = sessionToken(req);
    const keyName = token ? await closeSession(deps.db, token) : undefined;
    if (keyName) await audit(deps.db, { actor: keyName, action: 'codec.session.close', target: 'ui_session' });
    res.set('set-cookie', sessionCookie(req, '', 0));
    if (wantsHtml(req)) return void res.type('html').send(page('Signed out', '<p>The codec session has ended.</p>'));
    res.json({ signedOut: true });
  });
}

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
  const adminKey = deps.config?.LB_ADMIN_API_KEY;
  sessionRoutes(router, deps, adminKey);
  const byKey = authenticate(deps.db, adminKey);
  router.use(async (req: Request, res: Response, next: NextFunction) => {
    const token = presentedKey(req) ? undefined : sessionToken(req);
    if (!token) return byKey(req, res, next);
    const principal = await resolveSession(deps.db, token, adminKey);
    if (!principal) {
      res.set('set-cookie', sessionCookie(req, '', 0));
      return sendError(
        res,
        401,
        'unauthorized',
        'the codec session has ended (expired, signed out or key revoked); sign in again at /codec/login',
      );
    }
    req.principal = principal;
    next();
  });
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
