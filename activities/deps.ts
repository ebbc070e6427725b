import type { Db } from '../src/db';
import type { Config } from '../src/config';

/** What activities need from the outside world; tests pass fakes or test instances. */
export interface ActivityDeps {
  db: Db;
  config?: Config;
}
