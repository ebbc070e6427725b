import type { Knex } from 'knex';

/** Foundation tables: inbox, external writes, id links, dead letters, audit log. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('webhook_inbox', (t) => {
    t.bigIncrements('id');
    t.text('source').notNullable();
    t.text('event_id').notNullable();
    t.text('event_type').notNullable();
    t.jsonb('payload').notNullable();
    t.text('status').notNullable().defaultTo('pending'); // pending | dispatched | ignored | failed
    t.integer('attempts').notNullable().defaultTo(0);
    t.text('workflow_id');
    t.text('last_error');
    t.timestamp('received_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('dispatched_at', { useTz: true });
    t.unique(['source', 'event_id']);
  });
  await knex.raw(`CREATE INDEX webhook_inbox_pending ON webhook_inbox (id) WHERE status = 'pending'`);

  await knex.schema.createTable('external_writes', (t) => {
    t.bigIncrements('id');
    t.text('idempotency_key').notNullable().unique();
    t.text('target').notNullable(); // heartland | odoo | m3 | p21 | sagepro | ...
    t.text('operation').notNullable();
    t.text('request_hash');
    t.text('workflow_id');
    t.text('external_id');
    t.text('status').notNullable().defaultTo('pending'); // pending | done | failed | undone
    t.jsonb('result');
    t.integer('attempts').notNullable().defaultTo(1);
    t.timestamps(true, true);
  });
  await knex.raw('CREATE INDEX external_writes_workflow ON external_writes (workflow_id)');

  await knex.schema.createTable('id_links', (t) => {
    t.bigIncrements('id');
    t.text('entity').notNullable(); // customer | order | transaction | invoice | product ...
    t.text('source_system').notNullable();
    t.text('source_id').notNullable();
    t.text('target_system').notNullable();
    t.text('target_id').notNullable();
    t.timestamps(true, true);
    t.unique(['entity', 'source_system', 'source_id', 'target_system']);
    t.index(['entity', 'target_system', 'target_id']);
  });

  await knex.schema.createTable('dead_letters', (t) => {
    t.bigIncrements('id');
    t.text('flow').notNullable();
    t.text('workflow_id').notNullable();
    t.text('run_id');
    t.text('step').notNullable();
    t.jsonb('input'); // card data scrubbed before insert
    t.jsonb('context');
    t.text('error_type').notNullable();
    t.text('error_message').notNullable();
    t.integer('attempts').notNullable().defaultTo(1);
    t.text('status').notNullable().defaultTo('open'); // open | replayed | discarded
    t.text('acted_by');
    t.text('reason');
    t.timestamp('acted_at', { useTz: true });
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.raw(`CREATE INDEX dead_letters_open ON dead_letters (flow, created_at) WHERE status = 'open'`);
  await knex.raw('CREATE INDEX dead_letters_workflow ON dead_letters (workflow_id)');

  await knex.schema.createTable('audit_log', (t) => {
    t.bigIncrements('id');
    t.text('actor').notNullable();
    t.text('action').notNullable();
    t.text('target');
    t.jsonb('before');
    t.jsonb('after');
    t.text('request_id');
    t.timestamp('at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.raw('CREATE INDEX audit_log_at ON audit_log (at DESC)');
}

export async function down(knex: Knex): Promise<void> {
  for (const t of ['audit_log', 'dead_letters', 'id_links', 'external_writes', 'webhook_inbox']) {
    await knex.schema.dropTableIfExists(t);
  }
}
