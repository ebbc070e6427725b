import { z } from 'zod';
import { failure, type ErrorType } from '../../../domain/errors';
import { scrubText } from '../../../domain/card-data';
import { formatPath, HttpClient, type HttpClientOptions, type TokenProvider } from '../../http';
import type { Logger } from '../../../logger';

/**
 * The two ways to call Odoo's ORM over HTTP, behind one `call(model, method, params)`: the JSON-2 API (Odoo 19+,
 * named parameters, HTTP status errors) and the legacy JSON-RPC `execute_kw` (positional ids + kwargs, errors inside a
 * 200 response). `params` are JSON-2 shaped: `ids` and `context` plus the method's named parameters.
 */

export type OdooProtocol = 'json2' | 'jsonrpc';
export type ApiKeySource = string | (() => string | Promise<string>);

export interface OdooTransport {
  readonly protocol: OdooProtocol;
  call<T>(model: string, method: string, params: Record<string, unknown>, schema: z.ZodType<T>): Promise<T>;
  readonly breakerState: HttpClient['breakerState'];
  close(): Promise<void>;
}

export interface TransportOptions {
  baseUrl: string;
  database: string;
  apiKey: ApiKeySource;
  login?: string;
  timeoutMs?: number;
  breaker?: HttpClientOptions['breaker'];
  logger?: Logger;
}

export const CONNECTOR = 'odoo';
export const CONNECTOR_VERSION = '1.0.0';

/** Maps an Odoo exception (by its qualified name, never by the JSON-RPC code) to our error taxonomy. */
export function odooErrorType(name: string, message: string): ErrorType | undefined {
  const short = name.split('.').pop() ?? name;
  const aboutAccount = /account\.account\(/.test(message) || /\baccount\b.*\bdoes not exist\b/i.test(message);
  switch (short) {
    case 'AccessDenied':
    case 'SessionExpiredException':
    case 'Unauthorized':
      return 'AuthFailed';
    case 'AccessError':
    case 'Forbidden':
      return 'Forbidden';
    case 'MissingError':
      return aboutAccount ? 'GlAccountNotFound' : 'NotFound';
    case 'ValidationError':
      return aboutAccount ? 'GlAccountNotFound' : 'ValidationError';
    case 'UserError':
    case 'RedirectWarning':
      return /not balanced/i.test(message) ? 'JournalUnbalanced' : 'UpstreamRejected';
    case 'NotFound':
      return 'NotFound';
    case 'ValueError':
    case 'TypeError':
    case 'KeyError':
    case 'BadRequest':
      return 'UpstreamRejected';
    case 'SerializationFailure':
    case 'LockNotAvailable':
    case 'ConcurrencyError':
      return 'UpstreamConflict';
    default:
      return undefined;
  }
}

const json2ErrorBody = z.object({ name: z.string(), message: z.string().optional() }).loose();

/** Caches the API key; `invalidate` makes the next request read it again (a rotated key from a secret file). */
class ApiKeyProvider implements TokenProvider {
  private cached: string | undefined;
  constructor(private readonly source: ApiKeySource) {}
  async getToken(): Promise<string> {
    this.cached ??= typeof this.source === 'string' ? this.source : await this.source();
    return this.cached;
  }
  invalidate(): void {
    this.cached = undefined;
  }
}

function parseResult<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const field = formatPath(issue.path);
  throw failure(
    'SchemaMismatch',
    `${CONNECTOR}@${CONNECTOR_VERSION}: result of ${what} does not match the expected schema at ${field}: ${issue.message}`,
    { connector: CONNECTOR, version: CONNECTOR_VERSION, field },
  );
}

/** JSON-2: `POST /json/2/<model>/<method>`, `Authorization: bearer <key>`, named parameters in the body. */
/** JSON-2 transport (see above). */
export class Json2Transport implements OdooTransport {
  readonly protocol = 'json2' as const;
  private readonly http: HttpClient;

  constructor(o: TransportOptions) {
    this.http = new HttpClient({
      connector: CONNECTOR,
      version: CONNECTOR_VERSION,
      baseUrl: o.baseUrl,
      timeoutMs: o.timeoutMs,
      auth: new ApiKeyProvider(o.apiKey),
      authHeader: (key) => ({ authorization: `bearer ${key}` }),
      headers: { 'x-odoo-database': o.database, 'user-agent': 'ledgerbridge' },
      breaker: o.breaker,
      logger: o.logger,
      classify: (_status, body) => {
        const parsed = json2ErrorBody.safeParse(body);
        if (!parsed.success) return undefined;
        const message = parsed.data.message ?? '';
        const type = odooErrorType(parsed.data.name, message);
        return type ? { type, code: parsed.data.name, message: message.split('\n')[0] } : undefined;
      },
    });
  }

  get breakerState() {
    return this.http.breakerState;
  }

  async call<T>(model: string, method: string, params: Record<string, unknown>, schema: z.ZodType<T>): Promise<T> {
    const body = await this.http.request({
      method: 'POST',
      path: `/json/2/${model}/${method}`,
      body: params,
      schema: z.unknown(),
    });
    return parseResult(schema, body, `${model}.${method}`);
  }

  close(): Promise<void> {
    return this.http.close();
  }
}

const rpcEnvelope = z.object({
  jsonrpc: z.literal('2.0').optional(),
  id: z.unknown().optional(),
  result: z.unknown().optional(),
  error: z
    .object({
      code: z.number().optional(),
      message: z.string().optional(),
      data: z.object({ name: z.string().optional(), message: z.string().optional() }).loose().optional(),
    })
    .optional(),
});

/**
 * Legacy JSON-RPC: `common.authenticate` for the uid, then `object.execute_kw(db, uid, key, model, method, args,
 * kwargs)`. A session-expired answer (code 100 or `SessionExpiredException`) re-authenticates once and retries.
 */
export class JsonRpcTransport implements OdooTransport {
  readonly protocol = 'jsonrpc' as const;
  private readonly http: HttpClient;
  private readonly keys: ApiKeyProvider;
  private uid: Promise<number> | undefined;
  private seq = 0;

  constructor(private readonly o: TransportOptions) {
    if (!o.login) throw failure('ConfigError', 'odoo: the JSON-RPC protocol needs a login (ODOO_LOGIN)');
    this.keys = new ApiKeyProvider(o.apiKey);
    this.http = new HttpClient({
      connector: CONNECTOR,
      version: CONNECTOR_VERSION,
      baseUrl: o.baseUrl,
      timeoutMs: o.timeoutMs,
      headers: { 'user-agent': 'ledgerbridge' },
      breaker: o.breaker,
      logger: o.logger,
    });
  }

  get breakerState() {
    return this.http.breakerState;
  }

  async call<T>(model: string, method: string, params: Record<string, unknown>, schema: z.ZodType<T>): Promise<T> {
    const { ids, ...kwargs } = params;
    const args = ids !== undefined ? [ids] : [];
    for (let attempt = 0; ; attempt++) {
      const uid = await this.login();
      const key = await this.keys.getToken();
      const env = await this.rpc('object', 'execute_kw', [this.o.database, uid, key, model, method, args, kwargs]);
      if (!env.error) return parseResult(schema, env.result, `${model}.${method}`);
      const name = env.error.data?.name ?? '';
      const expired = env.error.code === 100 || name.endsWith('SessionExpiredException');
      if (expired && attempt === 0) {
        this.uid = undefined;
        this.keys.invalidate();
        continue;
      }
      throw this.toFailure(env.error, `${model}.${method}`, expired);
    }
  }

  close(): Promise<void> {
    return this.http.close();
  }

  private login(): Promise<number> {
    this.uid ??= (async () => {
      const key = await this.keys.getToken();
      const env = await this.rpc('common', 'authenticate', [this.o.database, this.o.login, key, {}]);
      if (env.error) throw this.toFailure(env.error, 'common.authenticate', false);
      if (typeof env.result !== 'number' || env.result <= 0) {
        throw failure(
          'AuthFailed',
          `${CONNECTOR}: common.authenticate refused the login for database ${this.o.database}`,
          {
            connector: CONNECTOR,
            code: 'AccessDenied',
          },
        );
      }
      return env.result;
    })().catch((err) => {
      this.uid = undefined;
      throw err;
    });
    return this.uid;
  }

  private rpc(service: string, method: string, args: unknown[]) {
    return this.http.request({
      method: 'POST',
      path: '/jsonrpc',
      body: { jsonrpc: '2.0', method: 'call', id: ++this.seq, params: { service, method, args } },
      schema: rpcEnvelope,
    });
  }

  private toFailure(error: z.infer<typeof rpcEnvelope>['error'] & object, what: string, expired: boolean) {
    const name = error.data?.name ?? 'odoo.exceptions.Exception';
    const message = error.data?.message ?? error.message ?? 'Odoo Server Error';
    const type: ErrorType = expired ? 'AuthFailed' : (odooErrorType(name, message) ?? 'UpstreamRejected');
    const suffix = expired ? ' (still expired after one re-authentication)' : '';
    return failure(type, scrubText(`${CONNECTOR} ${what}: ${name}: ${message.split('\n')[0]}${suffix}`), {
      connector: CONNECTOR,
      code: name,
      status: 200,
    });
  }
}

/** Builds the transport for the selected protocol. */
export function createTransport(protocol: OdooProtocol, o: TransportOptions): OdooTransport {
  return protocol === 'jsonrpc' ? new JsonRpcTransport(o) : new Json2Transport(o);
}
