import { readFileSync } from 'node:fs';
import { Agent, request, type Dispatcher } from 'undici';
import { z } from 'zod';
import { failure } from '../../../domain/errors';
import { CachedTokenProvider, parseRetryAfter } from '../../http';

/**
 * Infor ION API credentials (`.ionapi` file) and the OAuth2 token they give. The `.ionapi` fields: `ti` tenant,
 * `ci`/`cs` client id and secret, `iu` ION API base URL, `pu` + `ot` the token endpoint, `or` revoke, `ev`, `v`, and for
 * a backend service account `saak`/`sask` (then the grant is `password`, otherwise `client_credentials`).
 */

/** The fields of an `.ionapi` document that the connector needs. */
export const ionApiSchema = z
  .object({
    ti: z.string().min(1),
    ci: z.string().min(1),
    cs: z.string().min(1),
    iu: z.string().url(),
    pu: z.string().url(),
    ot: z.string().min(1),
    or: z.string().optional(),
    ev: z.string().optional(),
    v: z.string().optional(),
    saak: z.string().optional(),
    sask: z.string().optional(),
  })
  .loose();

export type IonApi = z.infer<typeof ionApiSchema>;

/** Reads and validates an `.ionapi` document (a path or the parsed JSON); a bad file is a ConfigError. */
export function loadIonApi(source: string | Record<string, unknown>): IonApi {
  let raw: unknown = source;
  if (typeof source === 'string') {
    try {
      raw = JSON.parse(readFileSync(source, 'utf8'));
    } catch (err) {
      throw failure('ConfigError', `m3: cannot read the .ionapi file ${source}: ${(err as Error).message}`);
    }
  }
  const parsed = ionApiSchema.safeParse(raw);
  if (!parsed.success) {
    const fields = parsed.error.issues.map((i) => i.path.join('.')).join(', ');
    throw failure('ConfigError', `m3: the .ionapi document is missing or has invalid fields: ${fields}`);
  }
  return parsed.data;
}

const tokenResponse = z.object({ access_token: z.string().min(1), expires_in: z.coerce.number().positive() }).loose();

/**
 * A token provider for the ION API: posts the form-encoded grant to `pu + ot` and caches the token until shortly
 * before `expires_in`. The form body is why this call uses undici directly rather than the JSON-only HttpClient.
 */
export function ionTokenProvider(
  ion: IonApi,
  opts: { timeoutMs?: number } = {},
): CachedTokenProvider & { close(): Promise<void> } {
  const url = new URL(ion.ot, ion.pu.endsWith('/') ? ion.pu : `${ion.pu}/`).toString();
  const dispatcher = new Agent({ connections: 2, keepAliveTimeout: 10_000 });
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const form = new URLSearchParams(
    ion.saak && ion.sask
      ? { grant_type: 'password', username: ion.saak, password: ion.sask, client_id: ion.ci, client_secret: ion.cs }
      : { grant_type: 'client_credentials', client_id: ion.ci, client_secret: ion.cs },
  ).toString();

  const fetchToken = async () => {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    let status: number;
    let text: string;
    let retryAfter: string | undefined;
    try {
      const res = await request(url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: form,
        signal: controller.signal,
        dispatcher: dispatcher as Dispatcher,
      });
      status = res.statusCode;
      text = await res.body.text();
      const ra = res.headers['retry-after'];
      retryAfter = Array.isArray(ra) ? ra[0] : ra;
    } catch (err) {
      if (controller.signal.aborted) {
        throw failure('Timeout', `m3: token endpoint did not answer within ${timeoutMs} ms`, {
          connector: 'm3',
          code: 'ETIMEDOUT',
        });
      }
      const e = err as { code?: string; message?: string };
      throw failure('NetworkError', `m3: token endpoint unreachable: ${e.code ?? ''} ${e.message ?? ''}`, {
        connector: 'm3',
        code: e.code,
      });
    } finally {
      clearTimeout(timer);
    }
    if (status === 429) {
      const delay = parseRetryAfter(retryAfter);
      throw failure(
        'RateLimited',
        'm3: token endpoint rate limited',
        { connector: 'm3', status },
        { nextRetryDelayMs: delay },
      );
    }
    if (status >= 500)
      throw failure('UpstreamUnavailable', `m3: token endpoint answered HTTP ${status}`, { connector: 'm3', status });
    if (status >= 400) {
      let code: string | undefined;
      try {
        code = (JSON.parse(text) as { error?: string }).error;
      } catch {
        code = undefined;
      }
      throw failure('AuthFailed', `m3: the ION API refused the credentials (HTTP ${status}${code ? ` ${code}` : ''})`, {
        connector: 'm3',
        status,
        code,
      });
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    const parsed = tokenResponse.safeParse(body);
    if (!parsed.success) {
      throw failure('SchemaMismatch', 'm3: the token endpoint answered without access_token/expires_in', {
        connector: 'm3',
        status,
        field: 'access_token',
      });
    }
    return { token: parsed.data.access_token, expiresInSeconds: parsed.data.expires_in };
  };

  const provider = new CachedTokenProvider(fetchToken) as CachedTokenProvider & { close(): Promise<void> };
  provider.close = () => dispatcher.close();
  return provider;
}
