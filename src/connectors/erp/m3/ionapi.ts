import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { failure } from '../../../domain/errors';
import type { Logger } from '../../../logger';
import { CachedTokenProvider, HttpClient } from '../../http';

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
 * A token provider for the ION API: posts the form-encoded grant to `pu + ot` through the shared HttpClient and
 * caches the token until shortly before `expires_in`. Timeouts, network errors, 429 (with Retry-After) and 5xx keep
 * the client's taxonomy; any other 4xx means the ION API refused the credentials: AuthFailed with the OAuth2 `error`.
 */
export function ionTokenProvider(
  ion: IonApi,
  opts: { timeoutMs?: number; logger?: Logger } = {},
): CachedTokenProvider & { close(): Promise<void> } {
  const url = new URL(ion.ot, ion.pu.endsWith('/') ? ion.pu : `${ion.pu}/`);
  const http = new HttpClient({
    connector: 'm3',
    version: '1.0.0',
    baseUrl: url.origin,
    timeoutMs: opts.timeoutMs,
    // The token endpoint is not the M3 API: its failures must not open (or wait for) the API client's breaker.
    breaker: false,
    connections: 2,
    logger: opts.logger,
    classify: (status, body) =>
      status >= 400 && status < 500 && status !== 429
        ? {
            type: 'AuthFailed',
            code: (body as { error?: string } | undefined)?.error,
            message: 'the ION API refused the credentials',
          }
        : undefined,
  });
  const form: Record<string, string> =
    ion.saak && ion.sask
      ? { grant_type: 'password', username: ion.saak, password: ion.sask, client_id: ion.ci, client_secret: ion.cs }
      : { grant_type: 'client_credentials', client_id: ion.ci, client_secret: ion.cs };

  const fetchToken = async () => {
    const r = await http.request({
      method: 'POST',
      path: url.pathname + url.search,
      form,
      schema: tokenResponse,
    });
    return { token: r.access_token, expiresInSeconds: r.expires_in };
  };

  const provider = new CachedTokenProvider(fetchToken) as CachedTokenProvider & { close(): Promise<void> };
  provider.close = () => http.close();
  return provider;
}
