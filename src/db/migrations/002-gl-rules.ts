import type { Knex } from 'knex';
import { DEFAULT_GL_RULES } from '../../mapping/gl-rules';

/** Versioned GL rules with the default chart published as version 1. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('gl_rule_versions', (t) => {
    t.increments('version');
    t.jsonb('rules').notNullable();
    t.text('status').notNullable().defaultTo('draft'); // draft | published | retired
    t.text('created_by').notNullable();
    t.text('note');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('published_at', { useTz: true });
  });
  await knex.raw(
    `CREATE UNIQUE INDEX gl_rule_versions_one_published ON gl_rule_versions (status) WHERE status = 'published'`,
  );
  await knex('gl_rule_versions').insert({
    rules: JSON.stringify(DEFAULT_GL_RULES),
    status: 'published',
    created_by: 'migration',
    note: 'default chart',
    published_at: knex.fn.now(),
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('gl_rule_versions');
}
