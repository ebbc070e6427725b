import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startHeartlandGpSimulator, type HeartlandGpSimulator } from './heartland-gp';
import { startHeartlandRetailSimulator, type HeartlandRetailSimulator } from './heartland-retail';
import { startOdooSimulator, type OdooSimulator } from './odoo';
import { startM3Simulator, type M3Simulator } from './m3';
import { startP21Simulator, type P21Simulator } from './p21';
import { startSageProSimulator, type SageProSimulator } from './sagepro';
import { SANDBOX_SECRETS } from '../config/sandbox-secrets';
import { PortInUse } from '../runtime/ports';

/** Default sandbox ports (the Sage Pro importer is a folder, not a port). */
export const SANDBOX_PORTS = { heartlandGp: 4101, heartlandRetail: 4102, odoo: 4201, m3: 4202, p21: 4203 } as const;

export const SANDBOX_CREDENTIALS = {
  heartlandAppId: 'ledgerbridge-sandbox-app',
  heartlandAppKey: SANDBOX_SECRETS.HEARTLAND_APP_KEY,
  retailToken: SANDBOX_SECRETS.HEARTLAND_RETAIL_TOKEN,
  odooDb: 'ledgerbridge',
  odooApiKey: SANDBOX_SECRETS.ODOO_API_KEY,
  odooLogin: 'ledgerbridge-bot',
  p21Username: 'ledgerbridge',
  p21Password: SANDBOX_SECRETS.P21_PASSWORD,
} as const;

export interface Sandbox {
  heartlandGp: HeartlandGpSimulator;
  heartlandRetail: HeartlandRetailSimulator;
  odoo: OdooSimulator;
  m3: M3Simulator;
  p21: P21Simulator;
  sagepro: SageProSimulator;
  /** Connector settings (config variable names) that point every connector at these simulators. */
  env: Record<string, string>;
  /** One line per simulator: name and base URL. */
  describe(): string[];
  close(): Promise<void>;
}

async function onPort<T>(name: string, port: number, start: () => Promise<T>): Promise<T> {
  try {
    return await start();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new PortInUse(`port ${port} (${name} simulator) is already in use; free it or stop the other sandbox`);
    }
    throw e;
  }
}

/**
 * Starts every simulator: Heartland GP API and Retail, Odoo, Infor M3, Epicor P21 (HTTP on loopback) and the Sage Pro
 * importer (a drop folder under `dataDir`). `ports: 'random'` uses free ports (tests); 'default' uses SANDBOX_PORTS.
 */
export async function startSandbox(opts: {
  dataDir: string;
  ports?: 'default' | 'random';
  host?: string;
}): Promise<Sandbox> {
  const fixed = (opts.ports ?? 'default') === 'default';
  const port = (p: number) => (fixed ? p : 0);
  const host = opts.host ?? '127.0.0.1';
  const started: { close(): Promise<void> }[] = [];
  const keep = <T extends { close(): Promise<void> }>(s: T) => (started.push(s), s);
  try {
    const heartlandGp = keep(
      await onPort('Heartland GP API', SANDBOX_PORTS.heartlandGp, () =>
        startHeartlandGpSimulator({
          port: port(SANDBOX_PORTS.heartlandGp),
          host,
          appId: SANDBOX_CREDENTIALS.heartlandAppId,
          appKey: SANDBOX_CREDENTIALS.heartlandAppKey,
        }),
      ),
    );
    const heartlandRetail = keep(
      await onPort('Heartland Retail', SANDBOX_PORTS.heartlandRetail, () =>
        startHeartlandRetailSimulator({
          port: port(SANDBOX_PORTS.heartlandRetail),
          host,
          token: SANDBOX_CREDENTIALS.retailToken,
        }),
      ),
    );
    const odoo = keep(
      await onPort('Odoo', SANDBOX_PORTS.odoo, () =>
        startOdooSimulator({
          port: port(SANDBOX_PORTS.odoo),
          host,
          db: SANDBOX_CREDENTIALS.odooDb,
          apiKey: SANDBOX_CREDENTIALS.odooApiKey,
          login: SANDBOX_CREDENTIALS.odooLogin,
        }),
      ),
    );
    const m3 = keep(
      await onPort('Infor M3', SANDBOX_PORTS.m3, () => startM3Simulator({ port: port(SANDBOX_PORTS.m3), host })),
    );
    const p21 = keep(
      await onPort('Epicor P21', SANDBOX_PORTS.p21, () =>
        startP21Simulator({
          port: port(SANDBOX_PORTS.p21),
          host,
          username: SANDBOX_CREDENTIALS.p21Username,
          password: SANDBOX_CREDENTIALS.p21Password,
        }),
      ),
    );
    const dropDir = path.join(opts.dataDir, 'sagepro');
    mkdirSync(dropDir, { recursive: true });
    const sagepro = keep(await startSageProSimulator({ dropDir }));

    const sandboxDir = path.join(opts.dataDir, 'sandbox');
    mkdirSync(sandboxDir, { recursive: true });
    const ionapiFile = path.join(sandboxDir, 'm3.ionapi');
    writeFileSync(ionapiFile, JSON.stringify(m3.ionapi, null, 2), { mode: 0o600 });

    const env: Record<string, string> = {
      HEARTLAND_GP_URL: heartlandGp.baseUrl,
      HEARTLAND_APP_ID: SANDBOX_CREDENTIALS.heartlandAppId,
      HEARTLAND_APP_KEY: SANDBOX_CREDENTIALS.heartlandAppKey,
      HEARTLAND_RETAIL_URL: `${heartlandRetail.url}/api`,
      HEARTLAND_RETAIL_TOKEN: SANDBOX_CREDENTIALS.retailToken,
      ODOO_URL: odoo.url,
      ODOO_DB: SANDBOX_CREDENTIALS.odooDb,
      ODOO_API_KEY: SANDBOX_CREDENTIALS.odooApiKey,
      ODOO_LOGIN: SANDBOX_CREDENTIALS.odooLogin,
      M3_URL: m3.url,
      M3_IONAPI_FILE: ionapiFile,
      P21_URL: p21.url,
      P21_USERNAME: SANDBOX_CREDENTIALS.p21Username,
      P21_PASSWORD: SANDBOX_CREDENTIALS.p21Password,
      SAGEPRO_DROP_DIR: dropDir,
    };
    return {
      heartlandGp,
      heartlandRetail,
      odoo,
      m3,
      p21,
      sagepro,
      env,
      describe: () => [
        `Heartland GP API   ${heartlandGp.baseUrl}  (app id ${SANDBOX_CREDENTIALS.heartlandAppId})`,
        `Heartland Retail   ${heartlandRetail.url}/api  (token ${SANDBOX_CREDENTIALS.retailToken})`,
        `Odoo               ${odoo.url}  (db ${SANDBOX_CREDENTIALS.odooDb}, JSON-2 and /jsonrpc)`,
        `Infor M3           ${m3.url}  (.ionapi: ${ionapiFile})`,
        `Epicor P21         ${p21.url}  (user ${SANDBOX_CREDENTIALS.p21Username})`,
        `Sage Pro importer  file://${dropDir}`,
      ],
      close: async () => {
        await Promise.all(started.map((s) => s.close().catch(() => undefined)));
      },
    };
  } catch (e) {
    await Promise.all(started.map((s) => s.close().catch(() => undefined)));
    throw e;
  }
}
