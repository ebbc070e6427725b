import type { Knex } from 'knex';
import * as m001 from './001-foundation';
import * as m002 from './002-gl-rules';
import * as m003 from './003-settlement';
import * as m004 from './004-api-keys';
import * as m005 from './005-ui-sessions';

/** Migrations in order. Listed in code (not read from disk) so tsx, jest and compiled builds all see the same set. */
const MIGRATIONS: Record<string, Knex.Migration> = {
  '001-foundation': m001,
  '002-gl-rules': m002,
  '003-settlement': m003,
  '004-api-keys': m004,
  '005-ui-sessions': m005,
};

/** Names of every migration, in order. */
export const migrationNames = (): string[] => Object.keys(MIGRATIONS);

export const migrationSource: Knex.MigrationSource<string> = {
  getMigrations: async () => Object.keys(MIGRATIONS),
  getMigrationName: (name) => name,
  getMigration: async (name) => MIGRATIONS[name],
};
