import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { isSandboxSecret } from './sandbox-secrets';

export { isSandboxSecret, SANDBOX_SECRETS } from './sandbox-secrets';

/** The project root: config paths such as `.data` resolve against it, whatever the working directory. */
export const PROJECT_ROOT = path.resolve(__dirname, '..', '..');

/** Settings that hold secrets: read from NAME or from the file at NAME_FILE, and never logged. */
export const SECRET_KEYS = [
  'DATABASE_URL',
  'TEMPORAL_API_KEY',
  'LB_PAYLOAD_KEY',
  'LB_PAYLOAD_OLD_KEYS',
  'LB_ADMIN_API_KEY',
  'HEARTLAND_APP_KEY',
  'HEARTLAND_RETAIL_TOKEN',
  'HEARTLAND_RETAIL_WEBHOOK_SECRET',
  'ODOO_API_KEY',
  'ODOO_WEBHOOK_SECRET',
  'M3_CLIENT_SECRET',
  'M3_WEBHOOK_SECRET',
  'P21_PASSWORD',
  'P21_WEBHOOK_SECRET',
  'COMMERCE_WEBHOOK_SECRET',
] as const;

const port = z.coerce.number().int().min(1).max(65535);
const bool = z
  .enum(['true', 'false', '1', '0', 'on', 'off', 'yes', 'no'])
  .transform((v) => ['true', '1', 'on', 'yes'].includes(v));
const optionalUrl = z.url().optional();
const positiveInt = z.coerce.number().int().positive();

/** Every setting, with its default and a description that `.env.example` mirrors. */
export const configSchema = z.object({
  LB_MODE: z.enum(['sandbox', 'production']).default('sandbox').describe('sandbox starts the simulators and demo'),
  LB_DEMO: bool.default(true).describe('send demo traffic in sandbox mode'),
  LB_SANDBOX_PORTS: z
    .enum(['default', 'random'])
    .default('default')
    .describe('simulator ports: default (4101, 4102, 4201-4203) or random free ports'),
  LB_DATA_DIR: z.string().min(1).default('.data').describe('local state: Temporal db, embedded Postgres, Sage drop'),
  LB_ERP: z.enum(['odoo', 'm3', 'p21', 'sagepro']).default('odoo').describe('which ERP adapter the flows use'),
  LB_CURRENCY: z
    .string()
    .regex(/^[A-Z]{3}$/)
    .default('USD')
    .describe('the ledger currency'),
  LB_ADMIN_API_KEY: z.string().min(16).optional().describe('bootstrap admin API key for the ops API'),
  LB_PAYLOAD_KEY: z.string().optional().describe('base64 AES-256 key: encrypts workflow payloads when set'),
  LB_PAYLOAD_KEY_ID: z.string().default('k1').describe('key id written into encrypted payload metadata'),
  LB_PAYLOAD_OLD_KEYS: z
    .string()
    .optional()
    .describe('retired payload keys still accepted for decoding: id:base64,id:base64'),
  LB_STARTUP_TIMEOUT_MS: positiveInt.default(60000).describe('how long start-up waits for Postgres and Temporal'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),

  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
    .optional(),
  LB_EMBEDDED_PG_PORT: port.default(5433).describe('port of the embedded Postgres when DATABASE_URL is unset'),

  TEMPORAL_ADDRESS: z
    .string()
    .regex(/^[^:\s]+:\d+$/, 'must be host:port')
    .optional(),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_TASK_QUEUE: z.string().min(1).default('ledgerbridge'),
  TEMPORAL_PORT: port.default(7233).describe('gRPC port of the dev server started when TEMPORAL_ADDRESS is unset'),
  TEMPORAL_UI_PORT: port.default(8233),
  TEMPORAL_UI_URL: optionalUrl.describe('Temporal UI base URL for deep links (defaults to the dev server UI)'),
  TEMPORAL_CLI: z.string().optional().describe('path to the temporal CLI binary'),
  TEMPORAL_TLS: bool.default(false),
  TEMPORAL_TLS_CERT_FILE: z.string().optional(),
  TEMPORAL_TLS_KEY_FILE: z.string().optional(),
  TEMPORAL_TLS_CA_FILE: z.string().optional(),
  TEMPORAL_TLS_SERVER_NAME: z.string().optional(),
  TEMPORAL_API_KEY: z.string().optional().describe('Temporal Cloud API key (implies TLS)'),

  GATEWAY_HOST: z.string().default('127.0.0.1'),
  GATEWAY_PORT: port.default(3000),
  WORKER_METRICS_PORT: port.default(9464).describe('Prometheus port of the worker (Temporal SDK metrics)'),

  HEARTLAND_GP_URL: optionalUrl.describe('GP API base, e.g. https://apis.sandbox.globalpay.com/ucp'),
  HEARTLAND_APP_ID: z.string().optional(),
  HEARTLAND_APP_KEY: z.string().optional(),
  HEARTLAND_ACCOUNT_NAME: z.string().default('transaction_processing'),
  HEARTLAND_COUNTRY: z
    .string()
    .regex(/^[A-Z]{2}$/)
    .default('US'),
  HEARTLAND_RETAIL_URL: optionalUrl.describe('https://<subdomain>.retail.heartland.us/api'),
  HEARTLAND_RETAIL_TOKEN: z.string().optional(),
  HEARTLAND_RETAIL_WEBHOOK_SECRET: z.string().optional(),
  HEARTLAND_PAYROLL_DIR: z.string().optional().describe('folder where payroll export CSV files arrive'),

  ODOO_URL: optionalUrl,
  ODOO_DB: z.string().optional(),
  ODOO_LOGIN: z.string().optional().describe('login for legacy JSON-RPC'),
  ODOO_API_KEY: z.string().optional(),
  ODOO_PROTOCOL: z.enum(['json2', 'jsonrpc']).default('json2'),
  ODOO_WEBHOOK_SECRET: z.string().optional(),

  M3_URL: optionalUrl.describe('ION API gateway base URL'),
  M3_IONAPI_FILE: z.string().optional().describe('path to the .ionapi credentials file'),
  M3_CLIENT_SECRET: z.string().optional(),
  M3_COMPANY: z.string().default('100'),
  M3_DIVISION: z.string().default('AAA'),
  M3_WEBHOOK_SECRET: z.string().optional(),

  P21_URL: optionalUrl,
  P21_USERNAME: z.string().optional(),
  P21_PASSWORD: z.string().optional(),
  P21_WEBHOOK_SECRET: z.string().optional(),

  SAGEPRO_DROP_DIR: z.string().optional().describe('Sage Pro import drop folder'),
  SAGEPRO_ACK_TIMEOUT_MS: positiveInt.default(30000),

  COMMERCE_WEBHOOK_SECRET: z.string().optional(),

  CONNECTOR_TIMEOUT_MS: positiveInt.default(15000),
  CONNECTOR_MAX_RPS: z.coerce.number().positive().optional().describe('maxTaskQueueActivitiesPerSecond per queue'),
});

export type Config = z.infer<typeof configSchema>;

/** Connector settings that production mode requires (sandbox mode fills them with simulator defaults). */
const PRODUCTION_REQUIRED: Partial<Record<Config['LB_ERP'] | 'heartland', (keyof Config)[]>> = {
  heartland: ['HEARTLAND_GP_URL', 'HEARTLAND_APP_ID', 'HEARTLAND_APP_KEY'],
  odoo: ['ODOO_URL', 'ODOO_DB', 'ODOO_API_KEY'],
  m3: ['M3_URL', 'M3_IONAPI_FILE'],
  p21: ['P21_URL', 'P21_USERNAME', 'P21_PASSWORD'],
  sagepro: ['SAGEPRO_DROP_DIR'],
};

export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(readonly problems: string[]) {
    super(
      `Invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n  - ${problems.join('\n  - ')}`,
    );
  }
}

const KNOWN_KEYS = new Set<string>([...Object.keys(configSchema.shape), ...SECRET_KEYS.map((k) => `${k}_FILE`)]);

/** Reads NAME_FILE into NAME for secrets, so secrets can be mounted files. */
function resolveSecretFiles(env: NodeJS.ProcessEnv, problems: string[]): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = { ...env };
  for (const key of SECRET_KEYS) {
    const file = env[`${key}_FILE`];
    if (!file) continue;
    if (env[key]) {
      problems.push(`${key} and ${key}_FILE are both set; set only one`);
      continue;
    }
    try {
      out[key] = readFileSync(file, 'utf8').trim();
    } catch (e) {
      problems.push(`${key}_FILE: cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
  return out;
}

/**
 * Validates the whole environment at once. Every problem is collected into one ConfigError; an unknown
 * variable with a Ledgerbridge prefix (a typo such as LB_MOD) is named too.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const problems: string[] = [];
  const raw = resolveSecretFiles(env, problems);
  for (const key of Object.keys(env)) {
    if (key.startsWith('LB_') && !KNOWN_KEYS.has(key)) problems.push(`${key} is not a known setting`);
  }
  const input: Record<string, string> = {};
  for (const key of Object.keys(configSchema.shape)) {
    const v = raw[key];
    if (v !== undefined && v !== '') input[key] = v;
  }
  const parsed = configSchema.safeParse(input);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const key = issue.path.join('.');
      const shown = SECRET_KEYS.includes(key as (typeof SECRET_KEYS)[number]) ? '<secret>' : JSON.stringify(input[key]);
      problems.push(`${key}: ${issue.message} (got ${shown})`);
    }
  }
  if (problems.length === 0 && parsed.success) {
    const cfg = parsed.data;
    if (cfg.LB_MODE === 'production') {
      for (const key of [...(PRODUCTION_REQUIRED.heartland ?? []), ...(PRODUCTION_REQUIRED[cfg.LB_ERP] ?? [])]) {
        if (cfg[key] === undefined) problems.push(`${key}: required in production mode with LB_ERP=${cfg.LB_ERP}`);
      }
      for (const key of SECRET_KEYS) {
        if (isSandboxSecret(cfg[key])) problems.push(`${key}: is a public sandbox secret; production needs its own`);
      }
    }
    if ((cfg.TEMPORAL_TLS_CERT_FILE === undefined) !== (cfg.TEMPORAL_TLS_KEY_FILE === undefined)) {
      problems.push('TEMPORAL_TLS_CERT_FILE and TEMPORAL_TLS_KEY_FILE must be set together');
    }
    if (cfg.LB_PAYLOAD_KEY !== undefined && Buffer.from(cfg.LB_PAYLOAD_KEY, 'base64').length !== 32) {
      problems.push('LB_PAYLOAD_KEY: must be 32 bytes, base64-encoded (openssl rand -base64 32)');
    }
    if (problems.length === 0) return cfg;
  }
  throw new ConfigError(problems);
}

/** The config with every secret replaced, safe to log. */
export function redacted(cfg: Config): Record<string, unknown> {
  const out: Record<string, unknown> = { ...cfg };
  for (const key of SECRET_KEYS) if (out[key] !== undefined) out[key] = '<redacted>';
  return out;
}

export function dataDir(cfg: Pick<Config, 'LB_DATA_DIR'>): string {
  return path.resolve(PROJECT_ROOT, cfg.LB_DATA_DIR);
}
