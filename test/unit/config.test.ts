import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, configSchema, loadConfig, redacted, SANDBOX_SECRETS, SECRET_KEYS } from '../../src/config';
import { SANDBOX_CREDENTIALS } from '../../src/sandbox';

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  return [];
}

describe('config', () => {
  test('an empty environment gives working sandbox defaults', () => {
    const cfg = loadConfig({});
    expect(cfg).toMatchObject({
      LB_MODE: 'sandbox',
      GATEWAY_PORT: 3000,
      TEMPORAL_PORT: 7233,
      TEMPORAL_UI_PORT: 8233,
      LB_DEMO: true,
    });
  });

  test('every bad variable is listed in one error, naming the variable and the value', () => {
    const p = problems({ LB_MODE: 'staging', GATEWAY_PORT: '99999', LB_ERP: 'sap', TEMPORAL_ADDRESS: 'nohostport' });
    expect(p).toHaveLength(4);
    expect(p.join('\n')).toMatch(/LB_MODE: .*"staging"/);
    expect(p.join('\n')).toMatch(/GATEWAY_PORT: .*"99999"/);
    expect(p.join('\n')).toMatch(/LB_ERP: .*"sap"/);
    expect(p.join('\n')).toMatch(/TEMPORAL_ADDRESS: must be host:port/);
    const err = (() => {
      try {
        loadConfig({ LB_MODE: 'staging' });
      } catch (e) {
        return e as Error;
      }
    })();
    expect(err?.message).toMatch(/^Invalid configuration \(1 problem\):\n {2}- LB_MODE/);
  });

  test('an unknown LB_ variable (a typo) is named', () => {
    expect(problems({ LB_MOD: 'sandbox' })).toEqual(['LB_MOD is not a known setting']);
  });

  test('production mode refuses every public sandbox secret, under any setting; sandbox mode takes them', () => {
    const prod = {
      LB_MODE: 'production',
      LB_ERP: 'odoo',
      HEARTLAND_GP_URL: 'https://gp.example.com',
      HEARTLAND_APP_ID: 'app',
      HEARTLAND_APP_KEY: 'a-real-app-key',
      ODOO_URL: 'https://odoo.example.com',
      ODOO_DB: 'prod',
      ODOO_API_KEY: 'a-real-odoo-key',
    };
    expect(problems(prod)).toEqual([]);
    for (const [key, value] of Object.entries(SANDBOX_SECRETS)) {
      expect(problems({ ...prod, [key]: value })).toEqual([
        `${key}: is a public sandbox secret; production needs its own`,
      ]);
    }
    // A sandbox value under another name is refused too.
    expect(problems({ ...prod, COMMERCE_WEBHOOK_SECRET: SANDBOX_SECRETS.ODOO_WEBHOOK_SECRET })).toHaveLength(1);
    expect(problems({ LB_MODE: 'sandbox', COMMERCE_WEBHOOK_SECRET: SANDBOX_SECRETS.COMMERCE_WEBHOOK_SECRET })).toEqual(
      [],
    );
    expect(SANDBOX_CREDENTIALS.heartlandAppKey).toBe(SANDBOX_SECRETS.HEARTLAND_APP_KEY);
  });

  test('production mode requires the connector settings of the chosen ERP', () => {
    const p = problems({ LB_MODE: 'production', LB_ERP: 'p21' });
    expect(p).toEqual(
      expect.arrayContaining([
        'HEARTLAND_GP_URL: required in production mode with LB_ERP=p21',
        'P21_URL: required in production mode with LB_ERP=p21',
        'P21_PASSWORD: required in production mode with LB_ERP=p21',
      ]),
    );
  });

  test('secrets come from NAME or NAME_FILE, never both, and are redacted', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'lbcfg-'));
    const file = path.join(dir, 'key');
    writeFileSync(file, 'super-secret-app-key\n');
    const cfg = loadConfig({ HEARTLAND_APP_KEY_FILE: file });
    expect(cfg.HEARTLAND_APP_KEY).toBe('super-secret-app-key');
    expect(JSON.stringify(redacted(cfg))).not.toContain('super-secret');
    expect(problems({ HEARTLAND_APP_KEY_FILE: file, HEARTLAND_APP_KEY: 'x' })).toEqual([
      'HEARTLAND_APP_KEY and HEARTLAND_APP_KEY_FILE are both set; set only one',
    ]);
    expect(problems({ ODOO_API_KEY_FILE: path.join(dir, 'missing') })[0]).toMatch(
      /ODOO_API_KEY_FILE: cannot read .* \(ENOENT\)/,
    );
    const shown = problems({ DATABASE_URL: 'mysql://u:pw@h/db' });
    expect(shown[0]).toMatch(/DATABASE_URL: must be a postgres:\/\/ URL \(got <secret>\)/);
  });

  test('every secret is a setting of the schema, and .env.example documents every setting', () => {
    const keys = Object.keys(configSchema.shape);
    for (const s of SECRET_KEYS) expect(keys).toContain(s);
    const example = readFileSync(path.join(__dirname, '..', '..', '.env.example'), 'utf8');
    for (const k of keys) expect(example).toMatch(new RegExp(`^#? ?${k}=`, 'm'));
  });
});
