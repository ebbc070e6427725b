import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Db } from '../../db';
import { ROLES, type Role } from './schemas';

/**
 * API keys and roles of the ops API. A key is `lb_` plus 32 random bytes (base64url); only its sha256 is stored, so
 * a leaked table does not leak keys, and a plain hash is enough because the key carries 256 bits of entropy (no
 * dictionary to attack). The key is shown once, when it is created. Roles are ordered: each includes the ones below.
 */

export interface Principal {
  name: string;
  role: Role;
  /** null for the bootstrap key from LB_ADMIN_API_KEY. */
  keyId: string | null;
}

export const BOOTSTRAP_KEY_NAME = 'bootstrap-admin';

/** True when `role` has at least the rights of `needed`. */
export function roleAllows(role: Role, needed: Role): boolean {
  return ROLES.indexOf(role) >= ROLES.indexOf(needed);
}

export function hashKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** A new random API key. */
export function generateKey(): string {
  return `lb_${randomBytes(32).toString('base64url')}`;
}

export interface ApiKeyRow {
  id: string;
  name: string;
  role: Role;
  key_prefix: string;
  created_by: string;
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
  revoked_by: string | null;
}

export class KeyNameTaken extends Error {
  override name = 'KeyNameTaken';
}

/** Stores a new key (hashed) and returns its row and the key itself, which is never retrievable again. */
export async function createApiKey(
  db: Db,
  k: { name: string; role: Role; createdBy: string },
): Promise<{ row: ApiKeyRow; key: string }> {
  if (!ROLES.includes(k.role)) throw new Error(`unknown role ${k.role}`);
  const key = generateKey();
  try {
    const [row] = await db('api_keys')
      .insert({
        name: k.name,
        role: k.role,
        key_hash: hashKey(key),
        key_prefix: key.slice(0, 10),
        created_by: k.createdBy,
      })
      .returning([
        'id',
        'name',
        'role',
        'key_prefix',
        'created_by',
        'created_at',
        'last_used_at',
        'revoked_at',
        'revoked_by',
      ]);
    return { row: { ...row, id: String(row.id) }, key };
  } catch (e) {
    if ((e as { code?: string }).code === '23505')
      throw new KeyNameTaken(`an active key named ${k.name} already exists`);
    throw e;
  }
}

const KEY_COLUMNS = [
  'id',
  'name',
  'role',
  'key_prefix',
  'created_by',
  'created_at',
  'last_used_at',
  'revoked_at',
  'revoked_by',
];

export async function listApiKeys(db: Db, includeRevoked = false): Promise<ApiKeyRow[]> {
  const q = db('api_keys').select(KEY_COLUMNS).orderBy('id');
  if (!includeRevoked) q.whereNull('revoked_at');
  return (await q).map((r) => ({ ...r, id: String(r.id) }));
}

export async function getApiKey(db: Db, id: string): Promise<ApiKeyRow | undefined> {
  const row = await db('api_keys').select(KEY_COLUMNS).where({ id }).first();
  return row ? { ...row, id: String(row.id) } : undefined;
}

/** Revokes a key; returns the row as it was before, or undefined when there is no such active key. */
export async function revokeApiKey(db: Db, id: string, actor: string): Promise<ApiKeyRow | undefined> {
  const before = await getApiKey(db, id);
  if (!before || before.revoked_at) return undefined;
  const n = await db('api_keys')
    .where({ id })
    .whereNull('revoked_at')
    .update({ revoked_at: db.fn.now(), revoked_by: actor });
  return n > 0 ? before : undefined;
}

/** The key presented in `x-api-key` or `Authorization: Bearer …`, if any. */
export function presentedKey(req: Request): string | undefined {
  const header = req.get('x-api-key');
  if (header) return header.trim();
  const auth = req.get('authorization');
  const m = auth ? /^Bearer\s+(\S+)\s*$/i.exec(auth) : null;
  return m ? m[1] : undefined;
}

function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}

/** Resolves a presented key to its principal, or undefined when it is unknown or revoked. */
export async function resolveKey(db: Db, key: string, adminKey?: string): Promise<Principal | undefined> {
  if (adminKey && sameSecret(key, adminKey)) return { name: BOOTSTRAP_KEY_NAME, role: 'admin', keyId: null };
  if (!key.startsWith('lb_') || key.length > 200) return undefined;
  const row = await db('api_keys')
    .select('id', 'name', 'role', 'last_used_at')
    .where({ key_hash: hashKey(key) })
    .whereNull('revoked_at')
    .first();
  if (!row) return undefined;
  const id = String(row.id);
  // last_used_at is informative: written at most once a minute per key, and never in the request's way.
  if (!row.last_used_at || Date.now() - new Date(row.last_used_at).getTime() > 60_000) {
    void db('api_keys')
      .where({ id })
      .update({ last_used_at: db.fn.now() })
      .catch(() => undefined);
  }
  return { name: row.name, role: row.role, keyId: id };
}

declare module 'express-serve-static-core' {
  interface Request {
    principal?: Principal;
  }
}

export function sendError(res: Response, status: number, error: string, message: string, details?: unknown): void {
  res.status(status).json(details === undefined ? { error, message } : { error, message, details });
}

/** Authenticates every request of the router: 401 without a valid key. */
export function authenticate(db: Db, adminKey?: string): RequestHandler {
  return async (req: Request, res: Response, next: NextFunction) => {
    const key = presentedKey(req);
    if (!key) {
      res.set('www-authenticate', 'Bearer realm="ledgerbridge"');
      return sendError(res, 401, 'unauthorized', 'an API key is required (x-api-key header or Authorization: Bearer)');
    }
    const principal = await resolveKey(db, key, adminKey);
    if (!principal) {
      res.set('www-authenticate', 'Bearer realm="ledgerbridge", error="invalid_token"');
      return sendError(res, 401, 'unauthorized', 'the API key is unknown or revoked');
    }
    req.principal = principal;
    next();
  };
}

/** 403 unless the authenticated key's role includes `needed`. */
export function requireRole(needed: Role): RequestHandler {
  return (req, res, next) => {
    const p = req.principal;
    if (!p) return sendError(res, 401, 'unauthorized', 'an API key is required');
    if (!roleAllows(p.role, needed)) {
      return sendError(res, 403, 'forbidden', `this needs the ${needed} role; key ${p.name} has ${p.role}`);
    }
    next();
  };
}

export interface RateLimitOptions {
  /** Bucket size: the burst a key may send at once. */
  capacity: number;
  /** Tokens added per second: the sustained rate. */
  refillPerSecond: number;
}

/** A token bucket per key, in memory (each gateway process limits on its own). */
export class TokenBuckets {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly opts: RateLimitOptions,
    private readonly now: () => number = Date.now,
  ) {}

  /** Takes one token; returns 0 when allowed, else the seconds until a token is available. */
  take(id: string): number {
    const t = this.now();
    const b = this.buckets.get(id) ?? { tokens: this.opts.capacity, at: t };
    b.tokens = Math.min(this.opts.capacity, b.tokens + ((t - b.at) / 1000) * this.opts.refillPerSecond);
    b.at = t;
    this.buckets.set(id, b);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    if (this.buckets.size > 10_000) this.prune(t);
    return Math.max(1, Math.ceil((1 - b.tokens) / this.opts.refillPerSecond));
  }

  private prune(t: number): void {
    const full = this.opts.capacity / this.opts.refillPerSecond;
    for (const [id, b] of this.buckets) if ((t - b.at) / 1000 > full) this.buckets.delete(id);
  }
}

/** 429 with Retry-After once a key has spent its bucket. */
export function rateLimit(buckets: TokenBuckets): RequestHandler {
  return (req, res, next) => {
    const id = req.principal ? `${req.principal.keyId ?? 'bootstrap'}` : `ip:${req.ip}`;
    const wait = buckets.take(id);
    if (wait === 0) return next();
    res.set('retry-after', String(wait));
    sendError(res, 429, 'rate_limited', `too many requests for this key; retry in ${wait} s`, {
      retryAfterSeconds: wait,
    });
  };
}
