import type { Knex } from 'knex';

/** API keys of the ops API: only a sha256 of each key is stored, with its role; revoked keys stay for the audit trail. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('api_keys', (t) => {
    t.bigIncrements('id');
    t.text('name').notNullable();
    t.text('role').notNullable();
    t.text('key_hash').notNullable().unique();
    t.text('key_prefix').notNullable(); // the first characters of the key, to recognise it in a list
    t.text('created_by').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('last_used_at', { useTz: true });
    t.timestamp('revoked_at', { useTz: true });
    t.text('revoked_by');
  });
  await knex.raw(
    `ALTER TABLE api_keys ADD CONSTRAINT api_keys_role CHECK (role IN ('viewer', 'operator', 'finance', 'admin'))`,
  );
  await knex.raw('CREATE UNIQUE INDEX api_keys_active_name ON api_keys (name) WHERE revoked_at IS NULL');
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('api_keys');
}
