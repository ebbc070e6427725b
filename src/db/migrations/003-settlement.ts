import type { Knex } from 'knex';

/**
 * Settlement reconciliation: the batch, its staged Heartland lines (and the duplicates the feed carried), the ERP
 * payments of the same period, the match results, the consolidated journal entry and the stored reports.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('settlement_batches', (t) => {
    t.text('batch_id').primary();
    t.text('source').notNullable().defaultTo('heartland');
    t.text('erp').notNullable();
    t.text('workflow_id');
    // staging | staged | loaded | matched | needs-review | approved | journal-built | posted | reported
    t.text('status').notNullable().defaultTo('staging');
    t.text('currency');
    t.date('period_from');
    t.date('period_to');
    t.integer('pages').notNullable().defaultTo(0);
    t.integer('line_count').notNullable().defaultTo(0);
    t.integer('duplicate_count').notNullable().defaultTo(0);
    t.bigInteger('net_minor');
    t.integer('erp_payment_count');
    t.bigInteger('erp_payment_minor');
    t.bigInteger('variance_minor');
    t.jsonb('counts');
    t.text('approved_by');
    t.text('approval_note');
    t.timestamp('approved_at', { useTz: true });
    t.text('erp_journal_id');
    t.timestamps(true, true);
  });

  // One row per transaction id; the primary key is the ON CONFLICT target of the chunked inserts.
  await knex.schema.createTable('settlement_lines', (t) => {
    t.text('batch_id').notNullable();
    t.text('txn_id').notNullable();
    t.text('type').notNullable(); // SALE | REFUND
    t.text('status');
    t.bigInteger('amount_minor').notNullable(); // as the processor reports it: positive for sales and refunds
    t.bigInteger('fee_minor').notNullable().defaultTo(0);
    t.text('currency').notNullable();
    t.text('method').notNullable(); // card (the GP settlement feed carries card transactions only)
    t.text('brand').notNullable();
    t.text('card_last4');
    t.text('reference');
    t.text('deposit_id');
    t.timestamp('txn_time', { useTz: true }).notNullable();
    // Where the line sat in the feed: tells a re-fetched page after a resume apart from a true duplicate.
    t.integer('src_page').notNullable();
    t.integer('src_pos').notNullable();
    t.primary(['batch_id', 'txn_id']);
  });
  await knex.raw('CREATE INDEX settlement_lines_txn ON settlement_lines (txn_id)');
  await knex.raw('CREATE INDEX settlement_lines_reference ON settlement_lines (batch_id, reference)');

  await knex.schema.createTable('settlement_line_duplicates', (t) => {
    t.text('batch_id').notNullable();
    t.integer('src_page').notNullable();
    t.integer('src_pos').notNullable();
    t.text('txn_id').notNullable();
    t.text('type').notNullable();
    t.bigInteger('amount_minor').notNullable();
    t.text('reference');
    t.primary(['batch_id', 'src_page', 'src_pos']);
  });

  await knex.schema.createTable('settlement_erp_payments', (t) => {
    t.text('batch_id').notNullable();
    t.text('erp').notNullable();
    t.text('erp_id').notNullable();
    t.text('ref');
    t.text('processor_ref');
    t.bigInteger('amount_minor').notNullable();
    t.text('currency').notNullable();
    t.date('pay_date');
    t.text('method');
    t.primary(['batch_id', 'erp_id']);
  });
  await knex.raw('CREATE INDEX settlement_erp_payments_processor ON settlement_erp_payments (batch_id, processor_ref)');
  await knex.raw('CREATE INDEX settlement_erp_payments_ref ON settlement_erp_payments (batch_id, ref)');

  await knex.schema.createTable('recon_results', (t) => {
    t.bigIncrements('id');
    t.text('batch_id').notNullable();
    // matched | missing_in_erp | missing_at_heartland | amount_mismatch | duplicate | unlisted_refund
    t.text('kind').notNullable();
    t.text('txn_id');
    t.text('type');
    t.text('brand');
    t.text('reference');
    t.text('erp_id');
    t.bigInteger('heartland_minor');
    t.bigInteger('erp_minor');
    t.bigInteger('diff_minor');
    t.text('matched_by'); // txn | reference
    t.text('detail');
  });
  await knex.raw('CREATE INDEX recon_results_batch ON recon_results (batch_id, kind)');
  await knex.raw('CREATE INDEX recon_results_txn ON recon_results (batch_id, txn_id)');

  await knex.schema.createTable('journal_entries', (t) => {
    t.bigIncrements('id');
    t.text('ref').notNullable().unique(); // the batch id: one consolidated entry per batch
    t.text('batch_id').notNullable();
    t.text('erp').notNullable();
    t.text('currency').notNullable();
    t.date('entry_date').notNullable();
    t.text('journal');
    t.text('memo').notNullable();
    t.integer('gl_rules_version').notNullable();
    t.bigInteger('debit_minor').notNullable();
    t.bigInteger('credit_minor').notNullable();
    t.bigInteger('suspense_minor').notNullable().defaultTo(0);
    t.text('status').notNullable().defaultTo('built'); // built | posted
    t.text('erp_journal_id');
    t.timestamp('built_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('posted_at', { useTz: true });
  });
  await knex.raw(
    'ALTER TABLE journal_entries ADD CONSTRAINT journal_entries_balanced CHECK (debit_minor = credit_minor)',
  );

  await knex.schema.createTable('journal_lines', (t) => {
    t.bigIncrements('id');
    t.bigInteger('entry_id').notNullable().references('journal_entries.id').onDelete('CASCADE');
    t.integer('line_no').notNullable();
    t.text('purpose').notNullable();
    t.text('account').notNullable();
    t.bigInteger('debit_minor').notNullable();
    t.bigInteger('credit_minor').notNullable();
    t.text('description');
    t.jsonb('dimensions').notNullable().defaultTo('{}');
    t.unique(['entry_id', 'line_no']);
  });
  await knex.raw(
    `ALTER TABLE journal_lines ADD CONSTRAINT journal_lines_one_side
       CHECK (debit_minor >= 0 AND credit_minor >= 0 AND (debit_minor = 0) <> (credit_minor = 0))`,
  );

  await knex.schema.createTable('recon_reports', (t) => {
    t.text('batch_id').notNullable();
    t.text('format').notNullable(); // json | csv
    t.text('content_type').notNullable();
    t.text('body').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['batch_id', 'format']);
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const t of [
    'recon_reports',
    'journal_lines',
    'journal_entries',
    'recon_results',
    'settlement_erp_payments',
    'settlement_line_duplicates',
    'settlement_lines',
    'settlement_batches',
  ]) {
    await knex.schema.dropTableIfExists(t);
  }
}
