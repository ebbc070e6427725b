import type { AddressInfo } from 'node:net';
import http from 'node:http';
import express from 'express';
import { EXIT, exitCodeFor } from '../../src/cli/api';
import { runCli } from '../../src/cli/program';

/**
 * The CLI in-process against a small HTTP server that answers like the ops API (status codes and error bodies), to
 * pin down argument parsing, the requests sent, output and exit codes. test/integration/ops-cli.test.ts runs the
 * real command against the real gateway.
 */

interface Seen {
  method: string;
  path: string;
  query: Record<string, unknown>;
  body: unknown;
  key?: string;
}

let server: http.Server;
let url: string;
const seen: Seen[] = [];
/** Answers of the next requests, in order; 200 {} when none is queued. */
const answers: { status: number; body: unknown; headers?: Record<string, string> }[] = [];

beforeAll(async () => {
  const app = express();
  app.use(express.json());
  app.use((req, res) => {
    seen.push({
      method: req.method,
      path: req.path,
      query: { ...req.query },
      body: req.body,
      key: req.get('x-api-key'),
    });
    const r = answers.shift() ?? { status: 200, body: {} };
    res
      .status(r.status)
      .set(r.headers ?? {})
      .json(r.body);
  });
  server = http.createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

beforeEach(() => {
  seen.length = 0;
  answers.length = 0;
});

async function cli(args: string[], env: Record<string, string> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(args, {
    out: (s) => out.push(s),
    err: (s) => err.push(s),
    env: { LEDGERBRIDGE_URL: url, LEDGERBRIDGE_API_KEY: 'lb_test-key', ...env },
    tty: false,
  });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

test('HTTP statuses map to the documented exit codes', () => {
  expect([400, 401, 403, 404, 409, 429, 500, 503].map(exitCodeFor)).toEqual([
    EXIT.usage,
    EXIT.auth,
    EXIT.auth,
    EXIT.notFound,
    EXIT.conflict,
    EXIT.failure,
    EXIT.failure,
    EXIT.failure,
  ]);
});

test.each([
  [401, { error: 'unauthorized', message: 'the API key is unknown or revoked' }, EXIT.auth],
  [403, { error: 'forbidden', message: 'this needs the finance role; key k has viewer' }, EXIT.auth],
  [404, { error: 'not_found', message: 'no dead letter 7' }, EXIT.notFound],
  [409, { error: 'closed', message: 'dead letter 7 is already replayed' }, EXIT.conflict],
  [500, { error: 'internal', message: 'the request failed; see the gateway log' }, EXIT.failure],
])('an API answer %i ends the command with its exit code and a readable message', async (status, body, code) => {
  answers.push({ status, body });
  const r = await cli(['dlq', 'replay', '7']);
  expect(r.code).toBe(code);
  expect(r.err).toBe(`error: ${body.message}`);
  answers.push({ status, body });
  const j = await cli(['--json', 'dlq', 'replay', '7']);
  expect(JSON.parse(j.err)).toEqual({ error: body.error, message: body.message, status, exitCode: code });
});

test('validation issues from the API are listed; 429 names Retry-After', async () => {
  answers.push({
    status: 400,
    body: { error: 'bad_request', message: 'invalid body', details: [{ path: 'reason', message: 'Too small' }] },
  });
  const r = await cli(['dlq', 'discard', '3', '--reason', ' ']);
  expect(r).toMatchObject({ code: EXIT.usage, err: 'error: invalid body: reason: Too small' });
  answers.push({
    status: 429,
    body: { error: 'rate_limited', message: 'too many requests' },
    headers: { 'retry-after': '7' },
  });
  expect((await cli(['whoami'])).err).toBe('error: too many requests (retry after 7 s)');
});

test('usage errors exit 2 before any request; help exits 0', async () => {
  for (const args of [
    [],
    ['reconcile'],
    ['reconcile', '--batch', 'B1', '--from', '2031-01-01', '--to', '2031-01-02'],
    ['reconcile', '--from', '2031-01-01'],
    ['reconcile', '--from', '2031-02-30x', '--to', '2031-03-01'],
    ['retrigger'],
    ['retrigger', 'order:a:b', '--flow', 'order'],
    ['retrigger', '--flow', 'order', '--limit', '6000'],
    ['retrigger', '--filter', 'colour=red'],
    ['retrigger', '--flow', 'order', '--patch', '[1,2]'],
    ['dlq', 'discard', '5'],
    ['keys', 'create', '--name', 'x', '--role', 'root'],
    ['runs', 'list', '--status', 'Sleeping'],
    ['nonsense'],
  ]) {
    const r = await cli(args);
    expect([args, r.code]).toEqual([args, EXIT.usage]);
  }
  expect(seen).toEqual([]);
  expect((await cli(['--help'])).code).toBe(EXIT.ok);
});

test('no API key is an auth error; an unreachable gateway a failure', async () => {
  const r = await runCli(['runs', 'list'], {
    out: () => undefined,
    err: () => undefined,
    env: { LEDGERBRIDGE_URL: url },
    tty: false,
  });
  expect(r).toBe(EXIT.auth);
  const closed = http.createServer();
  await new Promise<void>((res) => closed.listen(0, '127.0.0.1', res));
  const port = (closed.address() as AddressInfo).port;
  await new Promise((res) => closed.close(res));
  const down = await cli(['whoami'], { LEDGERBRIDGE_URL: `http://127.0.0.1:${port}` });
  expect(down.code).toBe(EXIT.failure);
  expect(down.err).toBe(`error: cannot reach the gateway at http://127.0.0.1:${port} (ECONNREFUSED)`);
});

test('runs list sends the filters as query parameters and prints JSON with --json', async () => {
  answers.push({
    status: 200,
    body: { runs: [{ workflowId: 'order:shop:1', status: 'Running' }], nextPageToken: 'abc', query: 'q' },
  });
  const r = await cli([
    '--json',
    'runs',
    'list',
    '--flow',
    'order',
    '--needs-attention',
    '--filter',
    'business-key=1001',
    '--page-size',
    '10',
  ]);
  expect(r.code).toBe(EXIT.ok);
  expect(JSON.parse(r.out)).toMatchObject({ nextPageToken: 'abc', runs: [{ workflowId: 'order:shop:1' }] });
  expect(seen[0]).toMatchObject({
    method: 'GET',
    path: '/api/v1/runs',
    query: { flow: 'order', needsAttention: 'true', businessKey: '1001', pageSize: '10' },
    key: 'lb_test-key',
  });
  answers.push({
    status: 200,
    body: {
      runs: [{ workflowId: 'order:shop:1', status: 'Running', flow: 'order' }],
      nextPageToken: 'abc',
      query: 'q',
    },
  });
  const human = await cli(['runs', 'list']);
  expect(human.out).toMatch(/^workflowId\s+status\s+flow/);
  expect(human.out).toContain('order:shop:1');
  expect(human.out).toContain('more: --page-token abc');
});

test('a workflow id is URL-encoded in the path; the retrigger body carries patch, mapping version and reason', async () => {
  answers.push({ status: 200, body: { action: 'retry-update', runId: 'r1', step: 'createInvoice', uiUrl: 'u' } });
  const r = await cli([
    'retrigger',
    'order:shop:1',
    '--patch',
    '{"totalMinor":100}',
    '--mapping-version',
    '3',
    '--reason',
    'fixed',
  ]);
  expect(r.code).toBe(EXIT.ok);
  expect(r.out).toBe('order:shop:1: retry sent, step createInvoice runs again (run r1)');
  expect(seen[0]).toMatchObject({
    method: 'POST',
    path: `/api/v1/runs/${encodeURIComponent('order:shop:1')}/retrigger`,
    body: { patch: { totalMinor: 100 }, mappingVersion: 3, reason: 'fixed' },
  });
});

test('bulk retrigger: a dry run plans on the server; the real run sends the candidates in chunks of 25', async () => {
  const candidates = Array.from({ length: 30 }, (_, i) => ({
    workflowId: `order:bulk:${i}`,
    runId: `r${i}`,
    status: 'Running',
    action: 'retry-update',
    step: 'validate',
  }));
  answers.push({
    status: 200,
    body: { dryRun: true, query: 'q', matched: 30, truncated: false, candidates, skipped: [], results: [] },
  });
  const dry = await cli(['retrigger', '--source', 'shop', '--dry-run']);
  expect(dry.code).toBe(EXIT.ok);
  expect(dry.out.split('\n')[0]).toBe('30 run(s) would be retriggered:');
  expect(seen).toHaveLength(1);
  expect(seen[0].body).toEqual({ filter: { source: 'shop' }, dryRun: true, limit: 5000 });

  seen.length = 0;
  answers.push(
    {
      status: 200,
      body: { dryRun: true, query: 'q', matched: 30, truncated: false, candidates, skipped: [], results: [] },
    },
    {
      status: 200,
      body: { results: candidates.slice(0, 25).map((c) => ({ ...c, ok: true, error: null })), skipped: [] },
    },
    {
      status: 200,
      body: {
        results: [],
        skipped: candidates.slice(25).map((c) => ({ workflowId: c.workflowId, reason: 'ended meanwhile' })),
      },
    },
  );
  const real = await cli(['--json', 'retrigger', '--source', 'shop', '--reason', 'r']);
  expect(real.code).toBe(EXIT.failure);
  expect(JSON.parse(real.out)).toMatchObject({ matched: 30, retriggered: 25, failed: 5 });
  expect(seen).toHaveLength(3);
  expect((seen[1].body as { workflowIds: string[] }).workflowIds).toHaveLength(25);
  expect(seen[2].body).toEqual({ workflowIds: candidates.slice(25).map((c) => c.workflowId), reason: 'r' });
});
