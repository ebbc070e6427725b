import type { Knex } from 'knex';
import * as m001 from './001-foundation';

/** Migrations in order. Listed in code (not read from disk) so tsx, jest and compiled builds all see the same set. */
const MIGRATIONS: Record<string, Knex.Migration> = {
  '001-foundation': m001,
};

export const migrationSource: Knex.MigrationSource<string> = {
  getMigrations: async () => Object.keys(MIGRATIONS),
  getMigrationName: (name) => name,
  getMigration: async (name) => MIGRATIONS[name],
};
