/**
 * The secrets the simulators use (src/sandbox): public values, fine on a laptop, never in production. Sandbox mode
 * falls back to the webhook ones when none is configured; production mode refuses every one of them, whichever
 * setting it is given as (src/config loadConfig, src/gateway/webhooks/secrets.ts).
 */
export const SANDBOX_SECRETS = {
  HEARTLAND_APP_KEY: 'sandbox-app-key',
  HEARTLAND_RETAIL_TOKEN: 'retail-sandbox-token',
  HEARTLAND_RETAIL_WEBHOOK_SECRET: 'retail-sandbox-webhook-secret',
  ODOO_API_KEY: 'odoo-sim-api-key',
  ODOO_WEBHOOK_SECRET: 'odoo-sandbox-webhook-secret',
  M3_WEBHOOK_SECRET: 'm3-sandbox-webhook-secret',
  P21_PASSWORD: 'p21-sandbox',
  P21_WEBHOOK_SECRET: 'p21-sandbox-webhook-secret',
  COMMERCE_WEBHOOK_SECRET: 'commerce-sandbox-secret',
} as const;

const SANDBOX_VALUES: ReadonlySet<string> = new Set(Object.values(SANDBOX_SECRETS));

/** Whether a value is one of the sandbox secrets (under any name). */
export function isSandboxSecret(value: string | undefined): boolean {
  return value !== undefined && SANDBOX_VALUES.has(value);
}
