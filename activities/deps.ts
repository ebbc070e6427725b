import type { Db } from '../src/db';
import type { Config } from '../src/config';
import type { ErpConnector, ErpSystem } from '../src/connectors/erp/types';
import type { HeartlandGateway } from '../src/connectors/heartland/gp-types';
import type { Logger } from '../src/logger';

/** What activities need from the outside world; tests pass fakes or test instances. */
export interface ActivityDeps {
  db: Db;
  config?: Config;
  /** The ERP adapter for a system (the flows carry which ERP they run against in their input). */
  erp?: (system: ErpSystem) => ErpConnector;
  heartland?: HeartlandGateway;
  logger?: Logger;
}

/** Returns a dependency or fails clearly when a worker was built without it. */
export function need<T>(value: T | undefined, name: string): T {
  if (value === undefined) throw new Error(`activity dependency ${name} is not configured on this worker`);
  return value;
}
