import { randomBytes } from 'node:crypto';
import type { Request } from 'express';
import type { Db } from '../../db';
import { hashKey, type Principal } from './auth';

/** The cookie of a codec session; its path is the codec endpoint, so no other route ever sees it. */
export const SESSION_COOKIE = 'lb_codec';
export const SESSION_HOURS = 12;

/** Opens a session for an authenticated key; returns the token (for the cookie, never stored) and its row. */
export async function openSession(db: Db, p: Principal): Promise<{ token: string; id: string; expiresAt: Date }> {
  const token = `lbs_${randomBytes(32).toString('base64url')}`;
  const expiresAt = new Date(Date.now() + SESSION_HOURS * 3_600_000);
  await db('ui_sessions').where('expires_at', '<', db.fn.now()).delete();
  const [row] = await db('ui_sessions')
    .insert({ token_hash: hashKey(token), key_id: p.keyId, key_name: p.name, role: p.role, expires_at: expiresAt })
    .returning(['id']);
  return { token, id: String(row.id), expiresAt };
}

/**
 * The principal of a live session: not expired, and its key not revoked since (a bootstrap-key session lives only
 * while LB_ADMIN_API_KEY is set).
 */
export async function resolveSession(db: Db, token: string, adminKey?: string): Promise<Principal | undefined> {
  if (!token.startsWith('lbs_') || token.length > 200) return undefined;
  const row = await db('ui_sessions as s')
    .leftJoin('api_keys as k', 'k.id', 's.key_id')
    .select('s.key_id', 's.key_name', 's.role')
    .where('s.token_hash', hashKey(token))
    .where('s.expires_at', '>', db.fn.now())
    .where((q) => q.whereNull('s.key_id').orWhereNull('k.revoked_at'))
    .first();
  if (!row || (row.key_id === null && !adminKey)) return undefined;
  return { name: row.key_name, role: row.role, keyId: row.key_id === null ? null : String(row.key_id) };
}

/** Ends a session (idempotent); returns the name of its key when one was open. */
export async function closeSession(db: Db, token: string): Promise<string | undefined> {
  const [row] = await db('ui_sessions')
    .where({ token_hash: hashKey(token) })
    .delete()
    .returning(['key_name']);
  return row?.key_name as string | undefined;
}

/** The session token the request's cookie carries, if any. */
export function sessionToken(req: Request): string | undefined {
  const m = new RegExp(`(?:^|;\\s*)${SESSION_COOKIE}=([^;\\s]+)`).exec(req.get('cookie') ?? '');
  return m?.[1];
}
