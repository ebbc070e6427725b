/** The CLI's HTTP client for the ops API, and the exit codes every command ends with. */

export const EXIT = { ok: 0, failure: 1, usage: 2, auth: 3, notFound: 4, conflict: 5 } as const;

/** A failure the CLI reports in one readable line and ends with its exit code. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
    readonly status?: number,
    readonly code?: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

/** Exit code for an HTTP status of the ops API. */
export function exitCodeFor(status: number): number {
  if (status === 400 || status === 413) return EXIT.usage;
  if (status === 401 || status === 403) return EXIT.auth;
  if (status === 404) return EXIT.notFound;
  if (status === 409) return EXIT.conflict;
  return EXIT.failure;
}

export interface ApiOptions {
  baseUrl: string;
  apiKey?: string;
  timeoutMs?: number;
}

export class OpsApi {
  constructor(private readonly opts: ApiOptions) {}

  /** Calls `/api/v1<path>`; answers the parsed JSON (or text), throws CliError on any non-2xx. */
  async call<T = unknown>(
    method: 'GET' | 'POST' | 'DELETE',
    path: string,
    o: { body?: unknown; query?: Record<string, string | number | boolean | undefined>; timeoutMs?: number } = {},
  ): Promise<{ status: number; body: T; contentType: string }> {
    const url = new URL(`${this.opts.baseUrl.replace(/\/+$/, '')}/api/v1${path}`);
    for (const [k, v] of Object.entries(o.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    if (!this.opts.apiKey) {
      throw new CliError('no API key: set LEDGERBRIDGE_API_KEY or pass --api-key', EXIT.auth);
    }
    const headers: Record<string, string> = { 'x-api-key': this.opts.apiKey, accept: 'application/json, text/csv' };
    if (o.body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers,
        body: o.body === undefined ? undefined : JSON.stringify(o.body),
        signal: AbortSignal.timeout(o.timeoutMs ?? this.opts.timeoutMs ?? 60_000),
      });
    } catch (e) {
      const err = e as Error & { cause?: { code?: string; message?: string } };
      const why = err.name === 'TimeoutError' ? 'timed out' : (err.cause?.code ?? err.cause?.message ?? err.message);
      throw new CliError(`cannot reach the gateway at ${this.opts.baseUrl} (${why})`, EXIT.failure);
    }
    const contentType = res.headers.get('content-type') ?? '';
    const text = await res.text();
    let body: unknown = text;
    if (contentType.includes('json') && text) {
      try {
        body = JSON.parse(text);
      } catch {
        body = text;
      }
    }
    if (!res.ok) {
      const b = (typeof body === 'object' && body ? body : {}) as {
        error?: string;
        message?: string;
        details?: unknown;
      };
      let message = b.message ?? `HTTP ${res.status}`;
      if (res.status === 429) message += ` (retry after ${res.headers.get('retry-after') ?? '?'} s)`;
      if (Array.isArray(b.details)) {
        const issues = (b.details as { path?: string; message?: string }[])
          .map((d) => (d.path ? `${d.path}: ${d.message}` : d.message))
          .filter(Boolean);
        if (issues.length) message += `: ${issues.join('; ')}`;
      }
      throw new CliError(message, exitCodeFor(res.status), res.status, b.error, b.details);
    }
    return { status: res.status, body: body as T, contentType };
  }
}
