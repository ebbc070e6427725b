import type { Knex } from 'knex';
/**
 * The default chart as this migration published it (version 1), kept here as data: a migration runs the same on
 * every database whenever it runs, so it never takes its seed from runtime code that later changes.
 */
const GL_RULES_V1 = {
  accounts: {
    cash: '1010',
    clearing: '1030',
    ar: '1200',
    revenue: '4000',
    refunds: '4010',
    salesTax: '2200',
    fees: '6100',
    suspense: '1999',
  },
  rules: [],
  journalsByMethod: { card: 'CARD', cash: 'CASH', bank: 'BANK' },
  defaultJournal: 'MISC',
  taxRate: { numerator: 825, denominator: 10000 },
};

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
    rules: JSON.stringify(GL_RULES_V1),
    status: 'published',
    created_by: 'migration',
    note: 'default chart',
    published_at: knex.fn.now(),
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('gl_rule_versions');
}
