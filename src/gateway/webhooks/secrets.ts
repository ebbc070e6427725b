import { configSchema, isSandboxSecret, loadConfig, SANDBOX_SECRETS, SECRET_KEYS, type Config } from '../../config';

/** The webhook sources Ledgerbridge accepts, one route each under /webhooks. */
export const WEBHOOK_SOURCES = ['heartland', 'heartland-retail', 'odoo', 'm3', 'p21', 'commerce'] as const;
export type WebhookSource = (typeof WEBHOOK_SOURCES)[number];

/**
 * Sandbox defaults for the signing keys (from src/config/sandbox-secrets.ts). Heartland GP signs with the app key,
 * which the GP simulator shares with the connector; the other simulators have no signing key of their own (Retail
 * generates one per subscription unless given one), so these fixed values are what the sandbox and the demo
 * subscribe and sign with.
 */
export const SANDBOX_WEBHOOK_SECRETS: Readonly<Record<WebhookSource, string>> = Object.freeze({
  heartland: SANDBOX_SECRETS.HEARTLAND_APP_KEY,
  'heartland-retail': SANDBOX_SECRETS.HEARTLAND_RETAIL_WEBHOOK_SECRET,
  odoo: SANDBOX_SECRETS.ODOO_WEBHOOK_SECRET,
  m3: SANDBOX_SECRETS.M3_WEBHOOK_SECRET,
  p21: SANDBOX_SECRETS.P21_WEBHOOK_SECRET,
  commerce: SANDBOX_SECRETS.COMMERCE_WEBHOOK_SECRET,
});

type SecretSettings = Pick<
  Config,
  | 'LB_MODE'
  | 'HEARTLAND_APP_KEY'
  | 'HEARTLAND_RETAIL_WEBHOOK_SECRET'
  | 'ODOO_WEBHOOK_SECRET'
  | 'M3_WEBHOOK_SECRET'
  | 'P21_WEBHOOK_SECRET'
  | 'COMMERCE_WEBHOOK_SECRET'
>;

/**
 * The key each source signs with: configured, else (sandbox mode only) the sandbox default; undefined = not set.
 * Production mode never takes a sandbox secret, configured or not: that source stays unset and its deliveries are
 * refused (503 not_configured) until it has a key of its own.
 */
export function webhookSecrets(cfg: SecretSettings): Record<WebhookSource, string | undefined> {
  const configured: Record<WebhookSource, string | undefined> = {
    heartland: cfg.HEARTLAND_APP_KEY,
    'heartland-retail': cfg.HEARTLAND_RETAIL_WEBHOOK_SECRET,
    odoo: cfg.ODOO_WEBHOOK_SECRET,
    m3: cfg.M3_WEBHOOK_SECRET,
    p21: cfg.P21_WEBHOOK_SECRET,
    commerce: cfg.COMMERCE_WEBHOOK_SECRET,
  };
  const out = {} as Record<WebhookSource, string | undefined>;
  for (const s of WEBHOOK_SOURCES) {
    out[s] = configured[s] || (cfg.LB_MODE === 'sandbox' ? SANDBOX_WEBHOOK_SECRETS[s] : undefined);
  }
  return cfg.LB_MODE === 'sandbox' ? out : productionSecrets(out);
}

/** The keys with every sandbox secret removed (production mode). */
export function productionSecrets<T extends Partial<Record<WebhookSource, string | undefined>>>(keys: T): T {
  const out = { ...keys };
  for (const s of WEBHOOK_SOURCES) if (isSandboxSecret(out[s])) out[s] = undefined;
  return out;
}

/**
 * The settings from the environment, skipping variables that are not settings (the process that started the gateway
 * has validated the whole environment already; a test runner's own LB_TEST_* variables must not stop a router).
 */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env): Config {
  const known = new Set([...Object.keys(configSchema.shape), ...SECRET_KEYS.map((k) => `${k}_FILE`)]);
  return loadConfig(Object.fromEntries(Object.entries(env).filter(([k]) => known.has(k))));
}
