import type { Config } from '../config';
import type { Db } from '../db';
import type { Logger } from '../logger';
import type { ErpConnector, ErpSystem } from './erp/types';
import type { HeartlandGateway } from './heartland/gp-types';
import { GpApiConnector } from './heartland/gp-api';
import { HeartlandRetailConnector } from './heartland/retail-connector';
import { OdooConnector } from './erp/odoo';
import { M3Connector } from './erp/m3';
import { P21Connector } from './erp/p21';
import { SageProConnector } from './erp/sagepro';

function required(cfg: Config, key: keyof Config, system: string): string {
  const v = cfg[key];
  if (v === undefined || v === '') throw new Error(`${String(key)} is required to use the ${system} connector`);
  return String(v);
}

export interface Connectors {
  heartland: HeartlandGateway;
  retail(): HeartlandRetailConnector;
  erp(system: ErpSystem): ErpConnector;
}

/** Builds the production connectors from config; each ERP adapter is built on first use and then reused. */
export function createConnectors(cfg: Config, db: Db, logger?: Logger): Connectors {
  const timeoutMs = cfg.CONNECTOR_TIMEOUT_MS;
  let gp: GpApiConnector | undefined;
  let retail: HeartlandRetailConnector | undefined;
  const erps = new Map<ErpSystem, ErpConnector>();
  const build = (system: ErpSystem): ErpConnector => {
    switch (system) {
      case 'odoo':
        return new OdooConnector({
          baseUrl: required(cfg, 'ODOO_URL', 'Odoo'),
          db,
          database: required(cfg, 'ODOO_DB', 'Odoo'),
          apiKey: required(cfg, 'ODOO_API_KEY', 'Odoo'),
          login: cfg.ODOO_LOGIN,
          protocol: cfg.ODOO_PROTOCOL,
          logger,
          timeoutMs,
        });
      case 'm3':
        return new M3Connector({
          baseUrl: cfg.M3_URL,
          db,
          ionapi: required(cfg, 'M3_IONAPI_FILE', 'Infor M3'),
          company: cfg.M3_COMPANY,
          division: cfg.M3_DIVISION,
          logger,
          timeoutMs,
        });
      case 'p21':
        return new P21Connector({
          baseUrl: required(cfg, 'P21_URL', 'Epicor P21'),
          db,
          username: required(cfg, 'P21_USERNAME', 'Epicor P21'),
          password: required(cfg, 'P21_PASSWORD', 'Epicor P21'),
          logger,
          timeoutMs,
        });
      case 'sagepro':
        return new SageProConnector({
          dropDir: required(cfg, 'SAGEPRO_DROP_DIR', 'Sage Pro'),
          db,
          ackTimeoutMs: cfg.SAGEPRO_ACK_TIMEOUT_MS,
          logger,
          currency: cfg.LB_CURRENCY,
        });
    }
  };
  return {
    get heartland(): HeartlandGateway {
      gp ??= new GpApiConnector({
        baseUrl: required(cfg, 'HEARTLAND_GP_URL', 'Heartland GP API'),
        appId: required(cfg, 'HEARTLAND_APP_ID', 'Heartland GP API'),
        appKey: required(cfg, 'HEARTLAND_APP_KEY', 'Heartland GP API'),
        accountName: cfg.HEARTLAND_ACCOUNT_NAME,
        country: cfg.HEARTLAND_COUNTRY,
        timeoutMs,
        logger,
      });
      return gp;
    },
    retail() {
      retail ??= new HeartlandRetailConnector({
        baseUrl: required(cfg, 'HEARTLAND_RETAIL_URL', 'Heartland Retail'),
        token: required(cfg, 'HEARTLAND_RETAIL_TOKEN', 'Heartland Retail'),
        timeoutMs,
        logger,
      });
      return retail;
    },
    erp(system) {
      let c = erps.get(system);
      if (!c) {
        c = build(system);
        erps.set(system, c);
      }
      return c;
    },
  };
}
