import { readFileSync } from 'node:fs';
import path from 'node:path';
import { OpenApiGeneratorV31, OpenAPIRegistry, type ResponseConfig } from '@asteasolutions/zod-to-openapi';
import express, { type Router } from 'express';
import helmet from 'helmet';
import { PROJECT_ROOT } from '../config';
import { CODEC_ROUTES } from './codec-endpoint';
import { esc } from './html';
import { SESSION_COOKIE } from './ops/ui-sessions';
import { OPS_ROUTES, type ResponseSpec } from './ops/routes';
import { codecLoginSchema, codecSessionSchema, errorSchema } from './ops/schemas';

/**
 * The OpenAPI 3.1 document of the ops API and the codec endpoint, generated from the zod schemas the routes
 * validate with, and a page that renders it. The page is server-rendered HTML with no script and no CDN (none is
 * reachable from where the gateway runs): paths, methods, roles, parameters, bodies, responses and schemas.
 */

type Doc = ReturnType<OpenApiGeneratorV31['generateDocument']>;

export const API_PREFIX = '/api/v1';

function version(): string {
  try {
    return (JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
}

function responses(specs: Record<number, ResponseSpec>, extra: Record<number, string>): Record<string, ResponseConfig> {
  const out: Record<string, ResponseConfig> = {};
  for (const [code, r] of Object.entries(specs)) {
    const content: NonNullable<ResponseConfig['content']> = {};
    if (r.schema) content[r.contentType ?? 'application/json'] = { schema: r.schema };
    for (const [type, schema] of Object.entries(r.alternatives ?? {})) content[type] = { schema };
    out[code] = { description: r.description, ...(Object.keys(content).length ? { content } : {}) };
  }
  for (const [code, description] of Object.entries(extra)) {
    out[code] ??= { description, content: { 'application/json': { schema: errorSchema } } };
  }
  return out;
}

let cached: Doc | undefined;

/** The OpenAPI 3.1 document (built once). */
export function buildOpenApiDocument(): Doc {
  if (cached) return cached;
  const registry = new OpenAPIRegistry();
  registry.registerComponent('securitySchemes', 'ApiKey', { type: 'apiKey', in: 'header', name: 'x-api-key' });
  registry.registerComponent('securitySchemes', 'Bearer', { type: 'http', scheme: 'bearer' });
  registry.registerComponent('securitySchemes', 'CodecSession', { type: 'apiKey', in: 'cookie', name: SESSION_COOKIE });
  const security: Record<string, string[]>[] = [{ ApiKey: [] }, { Bearer: [] }];
  const common = {
    401: 'missing, unknown or revoked API key',
    403: 'the key lacks the role',
    429: 'rate limit of the key spent; see Retry-After',
  };
  for (const r of OPS_ROUTES) {
    const validates = r.params || r.query || r.body;
    registry.registerPath({
      method: r.method,
      path: `${API_PREFIX}${r.path}`,
      operationId: r.operationId,
      summary: r.summary,
      description: `${r.description ? `${r.description}\n\n` : ''}Needs the ${r.role} role (or higher).`,
      tags: [r.tag],
      security,
      'x-required-role': r.role,
      request: {
        ...(r.params ? { params: r.params } : {}),
        ...(r.query ? { query: r.query } : {}),
        ...(r.body ? { body: { required: true, content: { 'application/json': { schema: r.body } } } } : {}),
      },
      responses: responses(r.responses, validates ? { 400: 'invalid request', ...common } : common),
    });
  }
  for (const r of CODEC_ROUTES) {
    registry.registerPath({
      method: r.method,
      path: r.path,
      operationId: r.operationId,
      summary: r.summary,
      description:
        'Temporal UI remote codec endpoint. Any role may call it, with a key or a session from /codec/login.',
      tags: ['codec'],
      security: [...security, { CodecSession: [] }],
      'x-required-role': r.role,
      request: { body: { required: true, content: { 'application/json': { schema: r.body } } } },
      responses: responses(r.responses, { 401: common[401] }),
    });
  }
  registry.registerPath({
    method: 'post',
    path: '/codec/login',
    operationId: 'codecLogin',
    summary: 'Open a Temporal UI session: sets the HttpOnly session cookie of /codec (GET shows a sign-in form)',
    tags: ['codec'],
    request: {
      body: {
        required: true,
        content: {
          'application/json': { schema: codecLoginSchema },
          'application/x-www-form-urlencoded': { schema: codecLoginSchema },
        },
      },
    },
    responses: responses(
      {
        200: {
          description: 'signed in; Set-Cookie carries the session (an HTML page for a form)',
          schema: codecSessionSchema,
        },
      },
      { 401: 'missing, unknown or revoked API key' },
    ),
  });
  registry.registerPath({
    method: 'post',
    path: '/codec/logout',
    operationId: 'codecLogout',
    summary: 'End the Temporal UI session of the cookie (idempotent)',
    tags: ['codec'],
    responses: { 200: { description: 'signed out; the cookie is cleared' } },
  });
  cached = new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'Ledgerbridge ops API',
      version: version(),
      description:
        'Operations surface of Ledgerbridge: runs, reconciliations, retriggers, dead letters, reports, audit log, API ' +
        'keys and mappings. Authenticate with an API key in x-api-key or Authorization: Bearer. Roles: viewer < ' +
        'operator < finance < admin.',
    },
    servers: [{ url: '/' }],
    tags: [
      { name: 'runs' },
      { name: 'reconciliations' },
      { name: 'dead-letters' },
      { name: 'audit' },
      { name: 'keys' },
      { name: 'mappings' },
      { name: 'codec' },
    ],
  });
  return cached;
}

type Schema = Record<string, unknown>;

/** A schema as nested HTML: $refs link to the schema section. */
function schemaHtml(schema: unknown, depth = 0): string {
  if (!schema || typeof schema !== 'object') return '<code>any</code>';
  const sc = schema as Schema;
  if (typeof sc.$ref === 'string') {
    const name = sc.$ref.split('/').pop()!;
    return `<a href="#schema-${esc(name)}"><code>${esc(name)}</code></a>`;
  }
  const variants = (sc.anyOf ?? sc.oneOf ?? sc.allOf) as unknown[] | undefined;
  if (variants) {
    const word = sc.allOf ? 'all of' : 'one of';
    return `${word}: ${variants.map((v) => schemaHtml(v, depth)).join(' | ')}`;
  }
  const type = Array.isArray(sc.type) ? (sc.type as string[]).join(' | ') : (sc.type as string | undefined);
  const notes: string[] = [];
  if (sc.enum)
    notes.push(`one of ${(sc.enum as unknown[]).map((e) => `<code>${esc(JSON.stringify(e))}</code>`).join(', ')}`);
  if (sc.format) notes.push(`format ${esc(sc.format)}`);
  if (sc.pattern) notes.push(`pattern <code>${esc(sc.pattern)}</code>`);
  if (sc.minimum !== undefined) notes.push(`min ${esc(sc.minimum)}`);
  if (sc.maximum !== undefined) notes.push(`max ${esc(sc.maximum)}`);
  if (sc.default !== undefined) notes.push(`default <code>${esc(JSON.stringify(sc.default))}</code>`);
  if (sc.description) notes.push(esc(sc.description));
  const head = `<code>${esc(type ?? 'any')}</code>${notes.length ? ` <span class="n">${notes.join('; ')}</span>` : ''}`;
  if (type === 'array')
    return `array of ${schemaHtml(sc.items, depth)}${notes.length ? ` <span class="n">${notes.join('; ')}</span>` : ''}`;
  const props = sc.properties as Record<string, unknown> | undefined;
  if (props && depth < 6) {
    const required = new Set((sc.required as string[] | undefined) ?? []);
    const rows = Object.entries(props)
      .map(([k, v]) => `<li><b>${esc(k)}</b>${required.has(k) ? '' : '?'}: ${schemaHtml(v, depth + 1)}</li>`)
      .join('');
    return `${head}<ul>${rows}</ul>`;
  }
  if (sc.additionalProperties && typeof sc.additionalProperties === 'object') {
    return `${head} of ${schemaHtml(sc.additionalProperties, depth + 1)}`;
  }
  return head;
}

/** The document as one self-contained HTML page. */
export function renderDocsHtml(doc: Doc): string {
  const ops: string[] = [];
  for (const [p, item] of Object.entries(doc.paths ?? {})) {
    for (const method of ['get', 'post', 'put', 'patch', 'delete'] as const) {
      const op = (item as Record<string, Schema | undefined>)[method];
      if (!op) continue;
      const params = ((op.parameters as Schema[] | undefined) ?? [])
        .map(
          (pr) =>
            `<tr><td><code>${esc(pr.name)}</code></td><td>${esc(pr.in)}</td><td>${pr.required ? 'yes' : 'no'}</td><td>${schemaHtml(pr.schema)}</td></tr>`,
        )
        .join('');
      const body = (op.requestBody as Schema | undefined)?.content as Record<string, Schema> | undefined;
      const resps = Object.entries((op.responses as Record<string, Schema>) ?? {})
        .map(([code, r]) => {
          const content = Object.entries((r.content as Record<string, Schema> | undefined) ?? {})
            .map(([type, m]) => `<div><code>${esc(type)}</code> ${schemaHtml(m.schema)}</div>`)
            .join('');
          return `<tr><td><b>${esc(code)}</b></td><td>${esc(r.description ?? '')}${content}</td></tr>`;
        })
        .join('');
      const id = `op-${String(op.operationId ?? `${method}-${p}`)}`;
      ops.push(`<section class="op" id="${esc(id)}">
<h3><span class="m ${method}">${method.toUpperCase()}</span> <code>${esc(p)}</code></h3>
<p>${esc(op.summary ?? '')}</p>
<p class="n">${esc(op.description ?? '')}</p>
<p>Role: <b>${esc(op['x-required-role'] ?? 'none')}</b> · operationId <code>${esc(op.operationId ?? '')}</code></p>
${params ? `<h4>Parameters</h4><table><tr><th>name</th><th>in</th><th>required</th><th>schema</th></tr>${params}</table>` : ''}
${
  body
    ? `<h4>Request body</h4>${Object.entries(body)
        .map(([t, m]) => `<div><code>${esc(t)}</code> ${schemaHtml(m.schema)}</div>`)
        .join('')}`
    : ''
}
<h4>Responses</h4><table>${resps}</table>
</section>`);
    }
  }
  const schemas = Object.entries((doc.components?.schemas as Record<string, unknown> | undefined) ?? {})
    .map(
      ([name, sc]) =>
        `<section class="schema" id="schema-${esc(name)}"><h3>${esc(name)}</h3>${schemaHtml(sc)}</section>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(doc.info.title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1100px;padding:1rem 2rem;color:#1d2330}
code{font:12.5px ui-monospace,monospace;background:#f2f4f8;padding:0 .25em;border-radius:3px}
.op,.schema{border:1px solid #d8dde6;border-radius:6px;padding:.5rem 1rem;margin:1rem 0}
.m{display:inline-block;min-width:4.5em;text-align:center;color:#fff;border-radius:3px;font-size:12px;padding:.1em .4em}
.get{background:#2f7d32}.post{background:#1559b3}.delete{background:#b3261e}.put,.patch{background:#8a5a00}
table{border-collapse:collapse;width:100%}td,th{border-top:1px solid #e6e9ef;padding:.25rem .5rem;text-align:left;vertical-align:top}
ul{margin:.2rem 0 .2rem 1.2rem;padding:0}.n{color:#5a6272}
</style></head><body>
<h1>${esc(doc.info.title)} <small>${esc(doc.info.version)}</small></h1>
<p>${esc(doc.info.description ?? '')}</p>
<p>Machine-readable: <a href="openapi.json"><code>openapi.json</code></a> (OpenAPI ${esc(doc.openapi)}).</p>
<h2>Operations</h2>
<ul>${Object.keys(doc.paths ?? {})
    .map((p) => `<li><code>${esc(p)}</code></li>`)
    .join('')}</ul>
${ops.join('\n')}
<h2>Schemas</h2>
${schemas}
</body></html>`;
}

/** /api/docs: GET / (the rendered page) and GET /openapi.json. */
export function docsRouter(): Router {
  const router = express.Router();
  router.use(helmet());
  router.get('/openapi.json', (_req, res) => {
    res.json(buildOpenApiDocument());
  });
  router.get('/', (req, res) => {
    // The page links openapi.json relatively: it must be served as /api/docs/ (with the slash).
    if (!req.originalUrl.split('?')[0].endsWith('/')) return res.redirect(301, `${req.baseUrl}/`);
    res.type('html').send(renderDocsHtml(buildOpenApiDocument()));
  });
  return router;
}
