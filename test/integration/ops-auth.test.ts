import type { AddressInfo } from 'node:net';
import http from 'node:http';
import express from 'express';
import type { Client } from '@temporalio/client';
import type { Db } from '../../src/db';
import { createLogger } from '../../src/logger';
import { createMetrics } from '../../src/gateway/metrics';
import { codecRouter, CODEC_ROUTES } from '../../src/gateway/codec-endpoint';
import { docsRouter } from '../../src/gateway/openapi';
import { createApiKey, hashKey } from '../../src/gateway/ops/auth';
import { OPS_ROUTES, opsRouter, type OpsDeps } from '../../src/gateway/ops/routes';
import { ROLES, type Role } from '../../src/gateway/ops/schemas';
import { testClient, testDb } from '../support/env';

let db: Db;
let client: Client;
const servers: http.Server[] = [];
const suffix = `${process.pid}-${Math.random().toString(36).slice(2, 7)}`;
const ADMIN_BOOTSTRAP = `bootstrap-${suffix}-0123456789abcdef`;
const keys = {} as Record<Role, string>;
let base: string;

async function serve(app: express.Express): Promise<string> {
  const server = http.createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  servers.push(server);
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function gateway(deps: Partial<OpsDeps> = {}) {
  const full: OpsDeps = {
    db,
    temporal: client,
    namespace: 'default',
    logger: createLogger({ level: 'silent' }),
    metrics: createMetrics(),
    config: { LB_ADMIN_API_KEY: ADMIN_BOOTSTRAP, TEMPORAL_UI_URL: 'http://127.0.0.1:8233' },
    ops: { rateLimit: false, queryTimeoutMs: 2000 },
    ...deps,
  };
  const app = express();
  app.use('/api/v1', opsRouter(full));
  app.use('/api/docs', docsRouter());
  app.use('/codec', codecRouter(full));
  return { app, deps: full };
}

beforeAll(async () => {
  db = testDb();
  client = await testClient();
  for (const role of ROLES)
    keys[role] = (await createApiKey(db, { name: `auth-${role}-${suffix}`, role, createdBy: 'test' })).key;
  base = await serve(gateway().app);
});

afterAll(async () => {
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
  await client?.connection.close();
  await db?.destroy();
});

async function call(
  method: string,
  path: string,
  o: { key?: string; bearer?: string; body?: unknown; origin?: string } = {},
) {
  const headers: Record<string, string> = {};
  if (o.key) headers['x-api-key'] = o.key;
  if (o.bearer) headers.authorization = `Bearer ${o.bearer}`;
  if (o.origin) headers.origin = o.origin;
  if (o.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${base}${path}`, {
    method,
    headers,
    body: o.body === undefined ? undefined : JSON.stringify(o.body),
    redirect: 'manual',
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json: json as Record<string, unknown> };
}

/** A concrete URL for a route, with placeholder path parameters that name nothing that exists. */
function concrete(path: string): string {
  return path
    .replace('{workflowId}', encodeURIComponent('order:auth-matrix:none'))
    .replace('{id}', '987654321')
    .replace('{batchId}', 'NO_SUCH_BATCH')
    .replace('{version}', '987654');
}

const allowed = (role: Role, needed: Role) => ROLES.indexOf(role) >= ROLES.indexOf(needed);

describe('auth matrix: every route, no key, a bad key and every role', () => {
  const routes = [
    ...OPS_ROUTES.map((r) => ({ method: r.method.toUpperCase(), url: `/api/v1${concrete(r.path)}`, role: r.role })),
    ...CODEC_ROUTES.map((r) => ({ method: 'POST', url: r.path, role: r.role })),
  ];

  test.each(routes)('$method $url needs $role', async ({ method, url, role }) => {
    const body = method === 'GET' || method === 'DELETE' ? undefined : url.startsWith('/codec') ? { payloads: [] } : {};
    const none = await call(method, url, { body });
    expect(none.status).toBe(401);
    expect(none.json).toMatchObject({ error: 'unauthorized' });
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);

    const bad = await call(method, url, { key: 'lb_not-a-real-key-but-long-enough-to-look-like-one', body });
    expect(bad.status).toBe(401);
    expect(bad.json).toMatchObject({ error: 'unauthorized' });
    expect((await call(method, url, { bearer: 'lb_another-unknown-key', body })).status).toBe(401);

    for (const r of ROLES) {
      const res = await call(method, url, { key: keys[r], body });
      if (allowed(r, role)) {
        expect([r, res.status]).not.toEqual([r, 401]);
        expect([r, res.status]).not.toEqual([r, 403]);
        expect(res.status).toBeLessThan(500);
      } else {
        expect([r, res.status]).toEqual([r, 403]);
        expect(res.json).toMatchObject({ error: 'forbidden' });
        expect(String(res.json.message)).toContain(role);
      }
    }
  });

  test('the matrix covers every route of the OpenAPI document', async () => {
    const doc = (await call('GET', '/api/docs/openapi.json')).json as {
      paths: Record<string, Record<string, unknown>>;
    };
    const documented = Object.entries(doc.paths).flatMap(([p, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`),
    );
    const tested = [
      ...OPS_ROUTES.map((r) => `${r.method.toUpperCase()} /api/v1${r.path}`),
      ...CODEC_ROUTES.map((r) => `POST ${r.path}`),
    ];
    // Public by design: sign-in takes the key in its body; sign-out ends the cookie's session (ops-codec.test.ts).
    const sessionRoutes = ['POST /codec/login', 'POST /codec/logout'];
    expect(documented.sort()).toEqual([...tested, ...sessionRoutes].sort());
  });
});

describe('API keys', () => {
  test('Authorization: Bearer works like x-api-key, and whoami names the key', async () => {
    const a = await call('GET', '/api/v1/whoami', { bearer: keys.finance });
    expect(a.status).toBe(200);
    expect(a.json).toMatchObject({ name: `auth-finance-${suffix}`, role: 'finance' });
    const b = await call('GET', '/api/v1/whoami', { key: keys.viewer });
    expect(b.json).toMatchObject({ role: 'viewer' });
  });

  test('LB_ADMIN_API_KEY is accepted as an admin key (bootstrap)', async () => {
    const r = await call('GET', '/api/v1/whoami', { key: ADMIN_BOOTSTRAP });
    expect(r.json).toEqual({ name: 'bootstrap-admin', role: 'admin', keyId: null });
    expect((await call('GET', '/api/v1/keys', { bearer: ADMIN_BOOTSTRAP })).status).toBe(200);
    expect((await call('GET', '/api/v1/whoami', { key: `${ADMIN_BOOTSTRAP}x` })).status).toBe(401);
  });

  test('an admin creates a key (shown once, stored hashed), it works, and once revoked it is refused', async () => {
    const name = `created-${suffix}`;
    const created = await call('POST', '/api/v1/keys', { key: keys.admin, body: { name, role: 'operator' } });
    expect(created.status).toBe(201);
    const key = String(created.json.key);
    expect(key).toMatch(/^lb_[A-Za-z0-9_-]{43}$/);
    expect(created.json).toMatchObject({
      name,
      role: 'operator',
      keyPrefix: key.slice(0, 10),
      createdBy: `auth-admin-${suffix}`,
    });

    const row = await db('api_keys').where({ id: created.json.id }).first();
    expect(row.key_hash).toBe(hashKey(key));
    expect(JSON.stringify(row)).not.toContain(key);

    const listed = await call('GET', '/api/v1/keys', { key: keys.admin });
    const mine = (listed.json.keys as Record<string, unknown>[]).find((k) => k.id === created.json.id)!;
    expect(mine).toMatchObject({ name, role: 'operator' });
    expect(JSON.stringify(listed.json)).not.toContain(key);

    expect((await call('POST', '/api/v1/keys', { key: keys.admin, body: { name, role: 'viewer' } })).status).toBe(409);
    expect((await call('GET', '/api/v1/whoami', { key })).json).toMatchObject({ name, role: 'operator' });

    const revoked = await call('DELETE', `/api/v1/keys/${created.json.id}`, { key: keys.admin });
    expect(revoked.status).toBe(200);
    expect(revoked.json.revokedAt).toEqual(expect.any(String));
    expect((await call('GET', '/api/v1/whoami', { key })).status).toBe(401);
    expect((await call('DELETE', `/api/v1/keys/${created.json.id}`, { key: keys.admin })).status).toBe(404);

    const audit = await db('audit_log')
      .whereIn('action', ['api-key.create', 'api-key.revoke'])
      .where({ target: String(created.json.id) })
      .orderBy('id');
    expect(audit.map((a) => [a.action, a.actor])).toEqual([
      ['api-key.create', `auth-admin-${suffix}`],
      ['api-key.revoke', `auth-admin-${suffix}`],
    ]);
    expect(audit[0].after).toMatchObject({ name, role: 'operator' });
    expect(JSON.stringify(audit)).not.toContain(key);
    expect(audit[1].before.revokedAt).toBeNull();
    expect(audit[1].after.revokedAt).toEqual(expect.any(String));
    expect(audit[0].request_id).toMatch(/^[0-9a-f-]{36}$/);
  });

  test('a bad body is a 400 with the issues; an unknown route a 404; errors are JSON', async () => {
    const r = await call('POST', '/api/v1/keys', { key: keys.admin, body: { name: 'has spaces', role: 'root' } });
    expect(r.status).toBe(400);
    expect(r.json).toMatchObject({ error: 'bad_request' });
    expect((r.json.details as { path: string }[]).map((d) => d.path).sort()).toEqual(['name', 'role']);
    const bad = await fetch(`${base}/api/v1/keys`, {
      method: 'POST',
      headers: { 'x-api-key': keys.admin, 'content-type': 'application/json' },
      body: '{"name": ',
    });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: 'bad_request' });
    const missing = await call('GET', '/api/v1/nothing-here', { key: keys.viewer });
    expect(missing.status).toBe(404);
    expect(missing.json).toMatchObject({ error: 'not_found' });
  });
});

describe('rate limit, helmet and CORS', () => {
  test('each key has its own token bucket: 429 with Retry-After once it is spent', async () => {
    const { app, deps } = gateway({ ops: { rateLimit: { capacity: 3, refillPerSecond: 0.05 } } });
    const url = await serve(app);
    const get = (key: string) => fetch(`${url}/api/v1/whoami`, { headers: { 'x-api-key': key } });
    for (let i = 0; i < 3; i++) expect((await get(keys.viewer)).status).toBe(200);
    const limited = await get(keys.viewer);
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await limited.json()).toMatchObject({ error: 'rate_limited' });
    expect((await get(keys.operator)).status).toBe(200);
    const scraped = await deps.metrics!.registry.metrics();
    expect(scraped).toMatch(/^ledgerbridge_ops_rate_limited_total 1$/m);
  });

  test('helmet headers are set and CORS admits the Temporal UI origin only', async () => {
    const r = await call('GET', '/api/v1/whoami', { key: keys.viewer, origin: 'http://127.0.0.1:8233' });
    expect(r.headers.get('x-content-type-options')).toBe('nosniff');
    expect(r.headers.get('access-control-allow-origin')).toBe('http://127.0.0.1:8233');
    expect(r.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const evil = await call('GET', '/api/v1/whoami', { key: keys.viewer, origin: 'https://evil.example' });
    expect(evil.headers.get('access-control-allow-origin')).toBeNull();
    const pre = await fetch(`${base}/api/v1/runs`, {
      method: 'OPTIONS',
      headers: {
        origin: 'http://localhost:8233',
        'access-control-request-method': 'GET',
        'access-control-request-headers': 'x-api-key',
      },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe('http://localhost:8233');
    expect(pre.headers.get('access-control-allow-headers')).toContain('x-api-key');
  });
});

describe('OpenAPI', () => {
  test('the document is OpenAPI 3.1, has every route with its parameters, and every $ref resolves', async () => {
    const r = await call('GET', '/api/docs/openapi.json');
    expect(r.status).toBe(200);
    const doc = r.json as {
      openapi: string;
      paths: Record<
        string,
        Record<
          string,
          {
            operationId: string;
            parameters?: { name: string; in: string }[];
            responses: Record<string, unknown>;
            security: unknown[];
            requestBody?: { content: Record<string, unknown> };
          }
        >
      >;
      components: { schemas: Record<string, unknown>; securitySchemes: Record<string, unknown> };
    };
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.components.securitySchemes).sort()).toEqual(['ApiKey', 'Bearer', 'CodecSession']);
    const ids = new Set<string>();
    for (const route of OPS_ROUTES) {
      const op = doc.paths[`/api/v1${route.path}`]?.[route.method];
      expect(op).toBeDefined();
      expect(ids.has(op.operationId)).toBe(false);
      ids.add(op.operationId);
      for (const param of route.path.match(/\{(\w+)\}/g) ?? []) {
        expect(op.parameters).toEqual(
          expect.arrayContaining([expect.objectContaining({ name: param.slice(1, -1), in: 'path' })]),
        );
      }
      for (const q of Object.keys(route.query?.shape ?? {})) {
        expect(op.parameters).toEqual(expect.arrayContaining([expect.objectContaining({ name: q, in: 'query' })]));
      }
      expect(Object.keys(op.responses)).toEqual(
        expect.arrayContaining(['401', '403', '429', ...Object.keys(route.responses)]),
      );
      expect(op.security.length).toBe(2);
      expect(op.requestBody !== undefined).toBe(route.body !== undefined);
    }
    expect(doc.paths['/codec/decode'].post.operationId).toBe('codecDecode');
    expect(doc.paths['/codec/decode'].post.security).toContainEqual({ CodecSession: [] });
    expect(doc.components.securitySchemes.CodecSession).toEqual({ type: 'apiKey', in: 'cookie', name: 'lb_codec' });
    expect(doc.paths['/codec/login'].post.requestBody?.content).toHaveProperty('application/x-www-form-urlencoded');
    expect(doc.paths['/codec/logout'].post.operationId).toBe('codecLogout');
    const refs = JSON.stringify(doc).match(/"\$ref":"[^"]+"/g) ?? [];
    expect(refs.length).toBeGreaterThan(20);
    for (const ref of refs) {
      const name = ref.slice(8, -1).replace('#/components/schemas/', '');
      expect(doc.components.schemas[name]).toBeDefined();
    }
    expect(doc.paths['/api/v1/reports/reconciliations/{batchId}'].get.responses['200']).toMatchObject({
      content: { 'application/json': expect.anything(), 'text/csv': expect.anything() },
    });
  });

  test('/api/docs renders the document as a self-contained HTML page', async () => {
    const redirect = await call('GET', '/api/docs');
    expect(redirect.status).toBe(301);
    const page = await call('GET', '/api/docs/');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.text).not.toMatch(/<script|https?:\/\/(?!127\.0\.0\.1)/);
    for (const route of OPS_ROUTES) expect(page.text).toContain(`<code>/api/v1${route.path}</code>`);
    expect(page.text).toContain('id="schema-RunSummary"');
    expect(page.text).toContain('href="#schema-Error"');
    expect(page.text).toContain('<b>finance</b>');
  });
});
