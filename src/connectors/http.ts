import CircuitBreaker from 'opossum';
import { Agent, request as undiciRequest, type Dispatcher } from 'undici';
import type { ApplicationFailure } from '@temporalio/common';
import type { z } from 'zod';
import { failure, type ErrorType } from '../domain/errors';
import { scrubText } from '../domain/card-data';
import type { Logger } from '../logger';

/**
 * The shared HTTP client of every connector: undici with a per-request timeout, a token cache with refresh-once on
 * 401, error classification into the taxonomy of src/domain/errors.ts, an opossum circuit breaker per client, one
 * log line per request and zod validation of every response.
 */

export interface TokenProvider {
  getToken(): Promise<string>;
  /** Drops the cached token; with `staleToken`, only when the cache still holds that token. */
  invalidate(staleToken?: string): void;
}

/** Caches a token until shortly before it expires; concurrent callers share one in-flight fetch. */
export class CachedTokenProvider implements TokenProvider {
  private token: string | undefined;
  private expiresAt = 0;
  private inflight: Promise<string> | undefined;
  /** How many times the token was fetched (for tests and metrics). */
  fetchCount = 0;

  constructor(
    private readonly fetchToken: () => Promise<{ token: string; expiresInSeconds: number }>,
    private readonly skewSeconds = 30,
  ) {}

  async getToken(): Promise<string> {
    if (this.token && Date.now() < this.expiresAt) return this.token;
    this.inflight ??= this.refresh().finally(() => (this.inflight = undefined));
    return this.inflight;
  }

  invalidate(staleToken?: string): void {
    if (staleToken !== undefined && staleToken !== this.token) return;
    this.token = undefined;
    this.expiresAt = 0;
  }

  private async refresh(): Promise<string> {
    this.fetchCount++;
    const { token, expiresInSeconds } = await this.fetchToken();
    // A short-lived token would otherwise never be cached at all: keep it for at least half its life.
    const lifetime = Math.max(expiresInSeconds - this.skewSeconds, expiresInSeconds / 2);
    this.token = token;
    this.expiresAt = Date.now() + lifetime * 1000;
    return token;
  }
}

export interface HttpClientOptions {
  connector: string;
  version: string;
  baseUrl: string;
  timeoutMs?: number;
  auth?: TokenProvider;
  authHeader?: (token: string) => Record<string, string>;
  headers?: Record<string, string>;
  idempotencyHeader?: string;
  breaker?: { failureThreshold?: number; resetTimeoutMs?: number } | false;
  logger?: Logger;
  /** Vendor-specific mapping of an error response to a taxonomy type; return undefined for the default mapping. */
  classify?: (status: number, body: unknown) => { type: ErrorType; code?: string; message?: string } | undefined;
  /** Connections kept per origin (default 16). */
  connections?: number;
}

export interface RequestOptions<T> {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  query?: Record<string, string | number | boolean | undefined>;
  /** Sent as JSON. */
  body?: unknown;
  /** Sent as `application/x-www-form-urlencoded` (e.g. an OAuth2 token request); not together with `body`. */
  form?: Record<string, string>;
  headers?: Record<string, string>;
  idempotencyKey?: string;
  schema: z.ZodType<T>;
  okStatuses?: number[];
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: unknown;
  text: string;
}

export type BreakerState = 'closed' | 'open' | 'half-open';

/** Failure types that say the remote side is unhealthy; only these count towards opening the breaker. */
const BREAKER_FAILURES = new Set<string>(['NetworkError', 'Timeout', 'UpstreamUnavailable']);

interface Sent {
  status: number;
  headers: Record<string, string>;
  text: string;
}

/** Carries a 5xx response out of the breaker action so that it counts as a failure; classified afterwards. */
class UpstreamStatus extends Error {
  readonly type = 'UpstreamUnavailable';
  constructor(readonly res: Sent) {
    super(`HTTP ${res.status}`);
  }
}

/** Parses Retry-After (delta seconds or an HTTP date) into milliseconds; undefined when absent or invalid. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const v = value.trim();
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

/** Renders a zod issue path as `transactions[3].amount`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out ? `.${String(p)}` : String(p);
  }
  return out || '(root)';
}

/** The taxonomy type of an HTTP error status when no vendor mapping applies. */
export function defaultErrorType(status: number): ErrorType {
  if (status === 401) return 'AuthFailed';
  if (status === 429) return 'RateLimited';
  if (status >= 500) return 'UpstreamUnavailable';
  if (status === 403) return 'Forbidden';
  if (status === 404) return 'NotFound';
  if (status === 409) return 'IdempotencyConflict';
  return 'UpstreamRejected';
}

function vendorCode(body: unknown): string | undefined {
  if (!body || typeof body !== 'object') return undefined;
  const b = body as Record<string, unknown>;
  for (const k of ['error_code', 'code', 'name']) if (typeof b[k] === 'string') return b[k] as string;
  return undefined;
}

export class HttpClient {
  private readonly opts: HttpClientOptions;
  private readonly base: string;
  private readonly timeoutMs: number;
  private readonly dispatcher: Agent;
  private readonly breaker: CircuitBreaker<[() => Promise<Sent>], Sent> | undefined;
  private consecutiveFailures = 0;
  private readonly failureThreshold: number;

  constructor(opts: HttpClientOptions) {
    this.opts = opts;
    this.base = opts.baseUrl.replace(/\/+$/, '');
    this.timeoutMs = opts.timeoutMs ?? 15_000;
    this.dispatcher = new Agent({ connections: opts.connections ?? 16, keepAliveTimeout: 10_000 });
    this.failureThreshold = opts.breaker === false ? Infinity : (opts.breaker?.failureThreshold ?? 5);
    if (opts.breaker !== false) {
      // The rate-based trip of opossum is disabled (threshold 100 %): we open after N consecutive failures instead.
      this.breaker = new CircuitBreaker((send: () => Promise<Sent>) => send(), {
        timeout: false,
        resetTimeout: opts.breaker?.resetTimeoutMs ?? 30_000,
        errorThresholdPercentage: 100,
        volumeThreshold: Number.MAX_SAFE_INTEGER,
        rollingPercentilesEnabled: false,
        enableSnapshots: false,
        errorFilter: (err: unknown) => !BREAKER_FAILURES.has((err as { type?: string }).type ?? ''),
      });
      this.breaker.on('failure', () => {
        this.consecutiveFailures++;
        if (this.consecutiveFailures >= this.failureThreshold && this.breaker!.closed) this.breaker!.open();
      });
      this.breaker.on('success', () => (this.consecutiveFailures = 0));
      this.breaker.on('close', () => (this.consecutiveFailures = 0));
    }
  }

  get breakerState(): BreakerState {
    if (!this.breaker || this.breaker.closed) return 'closed';
    return this.breaker.halfOpen ? 'half-open' : 'open';
  }

  /** Sends a request and returns the response body validated by `o.schema`. */
  async request<T>(o: RequestOptions<T>): Promise<T> {
    const raw = await this.requestRaw(o);
    const parsed = o.schema.safeParse(raw.body);
    if (parsed.success) return parsed.data;
    const issue = parsed.error.issues[0];
    const field = formatPath(issue.path);
    throw failure(
      'SchemaMismatch',
      `${this.opts.connector}@${this.opts.version}: response to ${o.method} ${o.path} does not match the expected ` +
        `schema at ${field}: ${issue.message}`,
      { connector: this.opts.connector, version: this.opts.version, status: raw.status, field },
    );
  }

  /** Sends a request and returns the status, headers, parsed JSON body (or text) without schema validation. */
  async requestRaw(o: Omit<RequestOptions<unknown>, 'schema'>): Promise<RawResponse> {
    if (o.body !== undefined && o.form !== undefined) {
      throw new TypeError(`${this.opts.connector} ${o.method} ${o.path}: a request has either a JSON body or a form`);
    }
    const ok = (s: number) => (o.okStatuses ? o.okStatuses.includes(s) : s >= 200 && s < 300);
    let token = this.opts.auth ? await this.opts.auth.getToken() : undefined;
    let res = await this.send(o, token, ok);
    if (res.status === 401 && this.opts.auth && !ok(401)) {
      this.opts.auth.invalidate(token);
      token = await this.opts.auth.getToken();
      res = await this.send(o, token, ok);
    }
    const body = this.parseBody(o, res, ok(res.status));
    if (!ok(res.status)) throw this.classifyError(o, res, body);
    return { ...res, body };
  }

  /** Closes the client's connections. */
  async close(): Promise<void> {
    this.breaker?.shutdown();
    await this.dispatcher.close();
  }

  private parseBody(o: Omit<RequestOptions<unknown>, 'schema'>, res: Sent, isOk: boolean): unknown {
    const type = res.headers['content-type'] ?? '';
    if (res.text.length === 0) return undefined;
    if (!type.includes('json') && !/^\s*[[{]/.test(res.text)) return res.text;
    try {
      return JSON.parse(res.text);
    } catch {
      // An error response that is not JSON still has a status to classify by.
      if (!isOk) return res.text;
      throw failure(
        'SchemaMismatch',
        `${this.opts.connector}@${this.opts.version}: response to ${o.method} ${o.path} is not valid JSON ` +
          `(${res.text.length} bytes, possibly truncated)`,
        { connector: this.opts.connector, version: this.opts.version, status: res.status, field: '(root)' },
      );
    }
  }

  private classifyError(o: Omit<RequestOptions<unknown>, 'schema'>, res: Sent, body: unknown): ApplicationFailure {
    const { connector } = this.opts;
    const status = res.status;
    const vendor = this.opts.classify?.(status, body);
    const code = vendor?.code ?? vendorCode(body);
    const type: ErrorType = status === 401 ? 'AuthFailed' : (vendor?.type ?? defaultErrorType(status));
    const retryAfterMs =
      status === 429 || type === 'RateLimited' ? parseRetryAfter(res.headers['retry-after']) : undefined;
    const what = status === 401 && this.opts.auth ? 'HTTP 401 after one token refresh' : `HTTP ${status}`;
    const message = scrubText(
      `${connector} ${o.method} ${o.path}: ${what}${code ? ` ${code}` : ''}` +
        (vendor?.message ? `: ${vendor.message}` : ''),
    );
    return failure(
      type,
      message,
      { connector, status, code, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) },
      {
        nextRetryDelayMs: retryAfterMs,
      },
    );
  }

  private async send(
    o: Omit<RequestOptions<unknown>, 'schema'>,
    token: string | undefined,
    ok: (status: number) => boolean,
  ): Promise<Sent> {
    if (!this.breaker) return this.sendOnce(o, token);
    const exec = async () => {
      const res = await this.sendOnce(o, token);
      if (res.status >= 500 && !ok(res.status)) throw new UpstreamStatus(res);
      return res;
    };
    try {
      return await this.breaker.fire(exec);
    } catch (err) {
      if (err instanceof UpstreamStatus) return err.res;
      if ((err as { code?: string }).code === 'EOPENBREAKER') {
        throw failure(
          'CircuitOpen',
          `${this.opts.connector}: circuit breaker is open after ${this.failureThreshold} consecutive failures`,
          { connector: this.opts.connector, code: 'EOPENBREAKER' },
        );
      }
      throw err;
    }
  }

  private async sendOnce(o: Omit<RequestOptions<unknown>, 'schema'>, token: string | undefined): Promise<Sent> {
    const { connector } = this.opts;
    const url = this.url(o.path, o.query);
    const headers: Record<string, string> = { accept: 'application/json', ...this.opts.headers };
    if (token !== undefined) {
      Object.assign(headers, this.opts.authHeader ? this.opts.authHeader(token) : { authorization: `Bearer ${token}` });
    }
    if (o.idempotencyKey && this.opts.idempotencyHeader) headers[this.opts.idempotencyHeader] = o.idempotencyKey;
    let payload: string | undefined;
    if (o.body !== undefined) {
      payload = JSON.stringify(o.body);
      headers['content-type'] = 'application/json';
    } else if (o.form !== undefined) {
      payload = new URLSearchParams(o.form).toString();
      headers['content-type'] = 'application/x-www-form-urlencoded';
    }
    Object.assign(headers, o.headers);

    const started = performance.now();
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, this.timeoutMs);
    let status: number | undefined;
    try {
      const res = await undiciRequest(url, {
        method: o.method,
        headers,
        body: payload,
        signal: controller.signal,
        dispatcher: this.dispatcher as Dispatcher,
      });
      status = res.statusCode;
      const text = await res.body.text();
      const out: Record<string, string> = {};
      for (const [k, v] of Object.entries(res.headers))
        if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v;
      return { status, headers: out, text };
    } catch (err) {
      const e = err as { code?: string; message?: string };
      if (timedOut) {
        throw failure(
          'Timeout',
          `${connector} ${o.method} ${o.path}: no complete response within ${this.timeoutMs} ms`,
          {
            connector,
            status,
            code: 'ETIMEDOUT',
          },
        );
      }
      throw failure(
        'NetworkError',
        scrubText(`${connector} ${o.method} ${o.path}: ${e.code ?? ''} ${e.message ?? err}`),
        {
          connector,
          status,
          code: e.code,
        },
      );
    } finally {
      clearTimeout(timer);
      this.opts.logger?.info(
        {
          connector,
          method: o.method,
          path: o.path,
          status: status ?? (timedOut ? 'timeout' : 'network-error'),
          ms: Math.round(performance.now() - started),
        },
        'http request',
      );
    }
  }

  private url(path: string, query: RequestOptions<unknown>['query']): string {
    let url = this.base + (path.startsWith('/') ? path : `/${path}`);
    if (query) {
      const qs = new URLSearchParams();
      for (const [k, v] of Object.entries(query)) if (v !== undefined) qs.append(k, String(v));
      const s = qs.toString();
      if (s) url += (url.includes('?') ? '&' : '?') + s;
    }
    return url;
  }
}
