import { createDb, migrate, type Db } from '../db';
import { audit } from '../db/audit';
import { createApiKey, getApiKey, KeyNameTaken, revokeApiKey } from '../gateway/ops/auth';
import { apiKeyOut } from '../gateway/ops/queries';
import { ROLES, type Role } from '../gateway/ops/schemas';
import { CliError, EXIT } from './api';

/** CLI commands that work without the gateway: key bootstrap against DATABASE_URL (the sandbox: sandbox-command.ts). */

async function withDb<T>(env: NodeJS.ProcessEnv, fn: (db: Db) => Promise<T>): Promise<T> {
  const url = env.DATABASE_URL;
  if (!url) throw new CliError('--direct needs DATABASE_URL', EXIT.usage);
  const db = createDb(url, { poolMax: 2, quiet: true });
  try {
    await migrate(db);
    return await fn(db);
  } catch (e) {
    if (e instanceof CliError) throw e;
    const code = (e as { code?: string }).code;
    if (code === 'ECONNREFUSED' || code === '28P01' || code === '3D000') {
      throw new CliError(`cannot use the database at DATABASE_URL (${code})`, EXIT.failure);
    }
    throw e;
  } finally {
    await db.destroy();
  }
}

/** Creates a key straight in the database (bootstrap: the first admin key, before any key exists). */
export async function createKeyDirect(env: NodeJS.ProcessEnv, name: string, role: string, actor: string) {
  if (!(ROLES as readonly string[]).includes(role))
    throw new CliError(`role must be one of ${ROLES.join(', ')}`, EXIT.usage);
  if (!/^[A-Za-z0-9._@-]{1,100}$/.test(name)) throw new CliError('name: letters, digits and . _ @ - only', EXIT.usage);
  return withDb(env, async (db) => {
    try {
      const { row, key } = await createApiKey(db, { name, role: role as Role, createdBy: actor });
      await audit(db, { actor, action: 'api-key.create', target: row.id, after: apiKeyOut(row) });
      return { ...apiKeyOut(row), key };
    } catch (e) {
      if (e instanceof KeyNameTaken) throw new CliError(e.message, EXIT.conflict);
      throw e;
    }
  });
}

/** Revokes a key straight in the database. */
export async function revokeKeyDirect(env: NodeJS.ProcessEnv, id: string, actor: string) {
  if (!/^\d{1,18}$/.test(id)) throw new CliError('a key id is a number', EXIT.usage);
  return withDb(env, async (db) => {
    const before = await revokeApiKey(db, id, actor);
    if (!before) throw new CliError(`no active key ${id}`, EXIT.notFound);
    const after = (await getApiKey(db, id))!;
    await audit(db, {
      actor,
      action: 'api-key.revoke',
      target: id,
      before: apiKeyOut(before),
      after: apiKeyOut(after),
    });
    return apiKeyOut(after);
  });
}
