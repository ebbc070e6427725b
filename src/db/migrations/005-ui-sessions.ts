import type { Knex } from 'knex';

/**
 * Browser sessions of the codec endpoint: the Temporal UI can send a cookie to /codec but not an API key. Only a
 * sha256 of each session token is stored; a session ends at its expiry, at sign-out, or when its key is revoked.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('ui_sessions', (t) => {
    t.bigIncrements('id');
    t.text('token_hash').notNullable().unique();
    t.bigInteger('key_id').references('id').inTable('api_keys'); // null: the bootstrap key from LB_ADMIN_API_KEY
    t.text('key_name').notNullable();
    t.text('role').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('expires_at', { useTz: true }).notNullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('ui_sessions');
}
