import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { Writable } from 'node:stream';
import express from 'express';
import { z } from 'zod';
import { ApplicationFailure } from '@temporalio/common';
import { CachedTokenProvider, HttpClient, parseRetryAfter, type HttpClientOptions } from '../../src/connectors/http';
import { createLogger } from '../../src/logger';

/** A tiny local server whose routes each exercise one behaviour of the shared client. */
let server: Server;
let base: string;
const hits: Record<string, number> = {};
let issued = 0;
let validToken = '';
let flaky = { failuresLeft: 0 };

function count(name: string) {
  hits[name] = (hits[name] ?? 0) + 1;
}

beforeAll(async () => {
  const app = express();
  app.use(express.json());
  app.post('/token', (_req, res) => {
    issued++;
    validToken = `tok-${issued}`;
    res.json({ token: validToken, expires_in: 3600 });
  });
  app.get('/item/:id', (req, res) => {
    count('item');
    res.json({ id: req.params.id, amount: '1250', idem: req.get('x-idem') ?? null });
  });
  app.post('/echo', (req, res) => {
    count('echo');
    res.json({ id: 'e1', amount: String(req.body.amount), idem: req.get('x-idem') ?? null });
  });
  app.get('/secure', (req, res) => {
    count('secure');
    if (req.get('authorization') !== `Bearer ${validToken}`) {
      res.status(401).json({ error_code: 'NOT_AUTHENTICATED' });
      return;
    }
    res.json({ id: 'secure', amount: '1', idem: null });
  });
  app.get('/always-401', (_req, res) => {
    count('always-401');
    res.status(401).json({ error_code: 'NOT_AUTHENTICATED' });
  });
  app.get('/hang', () => count('hang'));
  app.get('/slow-body', (_req, res) => {
    res.type('application/json');
    res.write('{"id":"x",');
  });
  app.get('/status/:code', (req, res) => {
    count(`status-${req.params.code}`);
    res.status(Number(req.params.code)).json({ error_code: `E${req.params.code}`, detailed_error_description: 'nope' });
  });
  app.get('/rate', (_req, res) => {
    res.set('Retry-After', '7').status(429).json({ error_code: 'TOO_MANY_REQUESTS' });
  });
  app.get('/rate-date', (_req, res) => {
    res
      .set('Retry-After', new Date(Date.now() + 60_000).toUTCString())
      .status(429)
      .end();
  });
  app.get('/flaky', (_req, res) => {
    count('flaky');
    if (flaky.failuresLeft > 0) {
      flaky.failuresLeft--;
      res.status(503).json({ error_code: 'UNAVAILABLE' });
      return;
    }
    res.json({ id: 'flaky', amount: '5', idem: null });
  });
  app.get('/truncated', (_req, res) => {
    res.type('application/json').send('{"id":"t","amount":"12');
  });
  app.get('/drift', (_req, res) => {
    res.json({ id: 'd', amt: '12', idem: null, lines: [{ sku: 'SKU-1001' }, { sku: 7 }] });
  });
  app.post('/form', express.urlencoded({ extended: false }), (req, res) => {
    res.json({ id: String(req.get('content-type')), amount: String(req.body.amount), idem: String(req.body.note) });
  });
  app.get('/nested', (_req, res) => {
    res.json({ lines: [{ sku: 'SKU-1001' }, { sku: 7 }] });
  });
  server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const itemSchema = z.object({ id: z.string(), amount: z.string(), idem: z.string().nullable() });
const clients: HttpClient[] = [];
function client(extra: Partial<HttpClientOptions> = {}): HttpClient {
  const c = new HttpClient({ connector: 'test', version: 'v9', baseUrl: base, timeoutMs: 2000, ...extra });
  clients.push(c);
  return c;
}
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

async function caught(p: Promise<unknown>): Promise<ApplicationFailure> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(ApplicationFailure);
    return err as ApplicationFailure;
  }
  throw new Error('expected the request to fail');
}

function capture() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      cb();
    },
  });
  return { lines, logger: createLogger({ level: 'info', destination }) };
}

describe('HttpClient', () => {
  test('returns the validated body, sends default and idempotency headers, logs one line without secrets', async () => {
    const { lines, logger } = capture();
    const tokens = new CachedTokenProvider(async () => ({ token: 'sekrit-token-value', expiresInSeconds: 3600 }));
    const c = client({ logger, auth: tokens, idempotencyHeader: 'x-idem' });
    const out = await c.request({
      method: 'POST',
      path: '/echo',
      body: { amount: 4111 },
      idempotencyKey: 'k-1',
      schema: itemSchema,
    });
    expect(out).toEqual({ id: 'e1', amount: '4111', idem: 'k-1' });
    expect(lines).toHaveLength(1);
    const line = JSON.parse(lines[0]);
    expect(line).toMatchObject({ connector: 'test', method: 'POST', path: '/echo', status: 200, msg: 'http request' });
    expect(typeof line.ms).toBe('number');
    expect(lines[0]).not.toContain('sekrit');
    expect(lines[0]).not.toContain('4111');
  });

  test('a form is sent url-encoded; a request cannot carry both a form and a JSON body', async () => {
    const c = client();
    const out = await c.request({
      method: 'POST',
      path: '/form',
      form: { amount: '12.50', note: 'a&b=c é' },
      schema: itemSchema,
    });
    expect(out).toEqual({ id: 'application/x-www-form-urlencoded', amount: '12.50', idem: 'a&b=c é' });
    await expect(
      c.request({ method: 'POST', path: '/form', form: { amount: '1' }, body: { amount: 1 }, schema: itemSchema }),
    ).rejects.toThrow(TypeError);
  });

  test('query parameters are encoded and undefined ones dropped', async () => {
    const c = client();
    const raw = await c.requestRaw({ method: 'GET', path: '/item/a b', query: { page: 2, skip: undefined } });
    expect(raw.status).toBe(200);
    expect(raw.body).toMatchObject({ id: 'a b' });
  });

  test('a request that gets no response within timeoutMs fails with Timeout (retryable)', async () => {
    const c = client({ timeoutMs: 150 });
    const err = await caught(c.request({ method: 'GET', path: '/hang', schema: itemSchema }));
    expect(err.type).toBe('Timeout');
    expect(err.nonRetryable).toBe(false);
  });

  test('the timeout also covers a body that never finishes', async () => {
    const c = client({ timeoutMs: 150 });
    const err = await caught(c.request({ method: 'GET', path: '/slow-body', schema: itemSchema }));
    expect(err.type).toBe('Timeout');
  });

  test('connection refused is a NetworkError', async () => {
    const probe = express().listen(0, '127.0.0.1');
    await new Promise((r) => probe.once('listening', r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((r) => probe.close(r));
    const c = client({ baseUrl: `http://127.0.0.1:${port}` });
    const err = await caught(c.request({ method: 'GET', path: '/x', schema: itemSchema }));
    expect(err.type).toBe('NetworkError');
    expect(err.nonRetryable).toBe(false);
  });

  test.each([
    [500, 'UpstreamUnavailable', false],
    [502, 'UpstreamUnavailable', false],
    [504, 'UpstreamUnavailable', false],
    [403, 'Forbidden', true],
    [404, 'NotFound', true],
    [409, 'IdempotencyConflict', true],
    [400, 'UpstreamRejected', true],
    [422, 'UpstreamRejected', true],
  ])('HTTP %i is classified as %s', async (status, type, nonRetryable) => {
    const c = client({ breaker: false });
    const err = await caught(c.request({ method: 'GET', path: `/status/${status}`, schema: itemSchema }));
    expect(err.type).toBe(type);
    expect(err.nonRetryable).toBe(nonRetryable);
    expect(err.details?.[0]).toMatchObject({ connector: 'test', status, code: `E${status}` });
  });

  test('a vendor classify hook overrides the default mapping', async () => {
    const c = client({
      classify: (status, body) =>
        status === 400 && (body as { error_code?: string }).error_code === 'E400'
          ? { type: 'NotRefundable', code: 'E400', message: 'too much' }
          : undefined,
    });
    const err = await caught(c.request({ method: 'GET', path: '/status/400', schema: itemSchema }));
    expect(err.type).toBe('NotRefundable');
    expect(err.message).toContain('too much');
  });

  test('429 is RateLimited with nextRetryDelay from Retry-After seconds', async () => {
    const c = client();
    const err = await caught(c.request({ method: 'GET', path: '/rate', schema: itemSchema }));
    expect(err.type).toBe('RateLimited');
    expect(err.nonRetryable).toBe(false);
    expect(err.nextRetryDelay).toBe(7000);
    expect(err.details?.[0]).toMatchObject({ status: 429, retryAfterMs: 7000 });
  });

  test('429 with an HTTP-date Retry-After gives the delay until that date', async () => {
    const c = client();
    const err = await caught(c.request({ method: 'GET', path: '/rate-date', schema: itemSchema }));
    expect(err.type).toBe('RateLimited');
    expect(err.nextRetryDelay).toBeGreaterThan(55_000);
    expect(err.nextRetryDelay).toBeLessThanOrEqual(60_000);
    expect(parseRetryAfter('garbage')).toBeUndefined();
    expect(parseRetryAfter('0')).toBe(0);
  });

  test('401 invalidates the token, refreshes once and retries once', async () => {
    const fetchToken = jest.fn(async () => {
      const r = await fetch(`${base}/token`, { method: 'POST' });
      const j = (await r.json()) as { token: string; expires_in: number };
      return { token: j.token, expiresInSeconds: j.expires_in };
    });
    const tokens = new CachedTokenProvider(fetchToken);
    const c = client({ auth: tokens });
    await c.request({ method: 'GET', path: '/secure', schema: itemSchema });
    expect(fetchToken).toHaveBeenCalledTimes(1);
    await c.request({ method: 'GET', path: '/secure', schema: itemSchema });
    expect(fetchToken).toHaveBeenCalledTimes(1); // cached
    validToken = 'rotated-by-server';
    const before = hits.secure;
    const out = await c.request({ method: 'GET', path: '/secure', schema: itemSchema });
    expect(out.id).toBe('secure');
    expect(fetchToken).toHaveBeenCalledTimes(2);
    expect(hits.secure - before).toBe(2);
  });

  test('a second 401 after the refresh is AuthFailed (non-retryable), with exactly one refresh', async () => {
    let n = 0;
    const tokens = new CachedTokenProvider(async () => ({ token: `t${++n}`, expiresInSeconds: 3600 }));
    const c = client({ auth: tokens });
    const before = hits['always-401'] ?? 0;
    const err = await caught(c.request({ method: 'GET', path: '/always-401', schema: itemSchema }));
    expect(err.type).toBe('AuthFailed');
    expect(err.nonRetryable).toBe(true);
    expect(n).toBe(2);
    expect(hits['always-401'] - before).toBe(2);
  });

  test('the token cache expires tokens and shares one in-flight fetch', async () => {
    let n = 0;
    const tokens = new CachedTokenProvider(async () => {
      await new Promise((r) => setTimeout(r, 20));
      return { token: `t${++n}`, expiresInSeconds: 2 };
    }, 30);
    const all = await Promise.all([tokens.getToken(), tokens.getToken(), tokens.getToken()]);
    expect(all).toEqual(['t1', 't1', 't1']);
    expect(await tokens.getToken()).toBe('t1');
    // A lifetime shorter than the skew is kept for half of it (1 s here), then refetched.
    await new Promise((r) => setTimeout(r, 1100));
    expect(await tokens.getToken()).toBe('t2');
    tokens.invalidate('t1'); // stale: ignored
    expect(await tokens.getToken()).toBe('t2');
    tokens.invalidate();
    expect(await tokens.getToken()).toBe('t3');
  });

  test('the breaker opens after N consecutive retryable failures, fails fast, half-opens and closes', async () => {
    const c = client({ breaker: { failureThreshold: 3, resetTimeoutMs: 300 } });
    const get = () => c.request({ method: 'GET', path: '/flaky', schema: itemSchema });
    flaky = { failuresLeft: 100 };
    for (let i = 0; i < 3; i++) expect((await caught(get())).type).toBe('UpstreamUnavailable');
    expect(c.breakerState).toBe('open');
    const before = hits.flaky;
    const open = await caught(get());
    expect(open.type).toBe('CircuitOpen');
    expect(open.nonRetryable).toBe(false);
    expect(hits.flaky).toBe(before); // failed fast: the server saw nothing
    await new Promise((r) => setTimeout(r, 400));
    expect(c.breakerState).toBe('half-open');
    // A failed trial call re-opens the breaker at once.
    expect((await caught(get())).type).toBe('UpstreamUnavailable');
    expect(c.breakerState).toBe('open');
    await new Promise((r) => setTimeout(r, 400));
    expect(c.breakerState).toBe('half-open');
    flaky = { failuresLeft: 0 };
    expect((await get()).id).toBe('flaky');
    expect(c.breakerState).toBe('closed');
  });

  test('failures that are not consecutive, or not of the retryable kind, do not open the breaker', async () => {
    const c = client({ breaker: { failureThreshold: 2, resetTimeoutMs: 10_000 } });
    const get = () => c.request({ method: 'GET', path: '/flaky', schema: itemSchema });
    flaky = { failuresLeft: 1 };
    await caught(get());
    await get();
    flaky = { failuresLeft: 1 };
    await caught(get());
    expect(c.breakerState).toBe('closed');
    for (let i = 0; i < 4; i++) {
      expect((await caught(c.request({ method: 'GET', path: '/status/404', schema: itemSchema }))).type).toBe(
        'NotFound',
      );
    }
    expect(c.breakerState).toBe('closed');
  });

  test('timeouts count towards the breaker', async () => {
    const c = client({ timeoutMs: 100, breaker: { failureThreshold: 2, resetTimeoutMs: 10_000 } });
    for (let i = 0; i < 2; i++)
      expect((await caught(c.request({ method: 'GET', path: '/hang', schema: itemSchema }))).type).toBe('Timeout');
    expect((await caught(c.request({ method: 'GET', path: '/item/1', schema: itemSchema }))).type).toBe('CircuitOpen');
  });

  test('truncated JSON is a non-retryable SchemaMismatch', async () => {
    const c = client();
    const err = await caught(c.request({ method: 'GET', path: '/truncated', schema: itemSchema }));
    expect(err.type).toBe('SchemaMismatch');
    expect(err.nonRetryable).toBe(true);
    expect(err.message).toContain('not valid JSON');
    expect(err.message).toContain('test@v9');
  });

  test('a schema mismatch names the field path and the connector version', async () => {
    const c = client();
    const err = await caught(c.request({ method: 'GET', path: '/drift', schema: itemSchema }));
    expect(err.type).toBe('SchemaMismatch');
    expect(err.message).toContain('test@v9');
    expect(err.message).toContain('at amount');
    expect(err.details?.[0]).toMatchObject({ connector: 'test', version: 'v9', field: 'amount' });
    const nested = z.object({ lines: z.array(z.object({ sku: z.string() })) });
    const err2 = await caught(c.request({ method: 'GET', path: '/nested', schema: nested }));
    expect(err2.details?.[0]).toMatchObject({ field: 'lines[1].sku' });
  });
});
