import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Heartland Retail webhook signing. The vendor does not document a payload signature, so Ledgerbridge defines one
 * (and the sandbox simulator implements it):
 *   X-Heartland-Timestamp: Unix time in whole seconds when the delivery was signed
 *   X-Heartland-Signature: lowercase hex HMAC-SHA256, keyed with the subscription secret, over
 *                          `${timestamp}.${rawBody}` (the exact raw body bytes, never re-serialised JSON)
 * A delivery is accepted when the signature matches and the timestamp is within 5 minutes of now (either side),
 * which bounds replays; duplicates inside the window are dropped by the webhook inbox on the envelope id.
 */

export const RETAIL_SIGNATURE_HEADER = 'x-heartland-signature';
export const RETAIL_TIMESTAMP_HEADER = 'x-heartland-timestamp';
export const RETAIL_SIGNATURE_TOLERANCE_MS = 5 * 60 * 1000;

export type HeaderBag =
  Record<string, string | string[] | number | undefined> | { get(name: string): string | null | undefined };

export type RetailSignatureResult =
  | { ok: true; timestamp: number }
  | {
      ok: false;
      reason: 'missing_signature' | 'missing_timestamp' | 'bad_timestamp' | 'stale_timestamp' | 'bad_signature';
    };

function header(headers: HeaderBag, name: string): string | undefined {
  if (typeof (headers as { get?: unknown }).get === 'function') {
    return (headers as { get(n: string): string | null | undefined }).get(name) ?? undefined;
  }
  const bag = headers as Record<string, string | string[] | number | undefined>;
  for (const [k, v] of Object.entries(bag)) {
    if (k.toLowerCase() !== name) continue;
    if (Array.isArray(v)) return v[0];
    return v === undefined ? undefined : String(v);
  }
  return undefined;
}

function hmacHex(rawBody: Buffer | string, secret: string, timestamp: string): string {
  return createHmac('sha256', secret)
    .update(`${timestamp}.`)
    .update(typeof rawBody === 'string' ? Buffer.from(rawBody, 'utf8') : rawBody)
    .digest('hex');
}

/** Test signer: the two headers a Heartland Retail delivery of `rawBody` carries. */
export function signRetailWebhook(
  rawBody: Buffer | string,
  secret: string,
  timestampSeconds: number = Math.floor(Date.now() / 1000),
): Record<string, string> {
  const ts = String(Math.floor(timestampSeconds));
  return { 'X-Heartland-Timestamp': ts, 'X-Heartland-Signature': hmacHex(rawBody, secret, ts) };
}

/** Verifies a Heartland Retail delivery over its raw body (constant-time; several secrets allow rotation). */
export function verifyRetailSignature(
  rawBody: Buffer,
  headers: HeaderBag,
  secret: string | readonly string[],
  nowMs: number = Date.now(),
): RetailSignatureResult {
  const signature = header(headers, RETAIL_SIGNATURE_HEADER)?.trim().toLowerCase();
  if (!signature) return { ok: false, reason: 'missing_signature' };
  const tsText = header(headers, RETAIL_TIMESTAMP_HEADER)?.trim();
  if (!tsText) return { ok: false, reason: 'missing_timestamp' };
  if (!/^\d{1,12}$/.test(tsText)) return { ok: false, reason: 'bad_timestamp' };
  const timestamp = Number(tsText);
  if (Math.abs(nowMs - timestamp * 1000) > RETAIL_SIGNATURE_TOLERANCE_MS)
    return { ok: false, reason: 'stale_timestamp' };
  const given = Buffer.from(signature, 'utf8');
  let match = false;
  for (const s of typeof secret === 'string' ? [secret] : secret) {
    if (!s) continue;
    const expected = Buffer.from(hmacHex(rawBody, s, tsText), 'utf8');
    // Every secret is compared, so the time taken does not reveal which one matched.
    if (expected.length === given.length && timingSafeEqual(expected, given)) match = true;
  }
  return match ? { ok: true, timestamp } : { ok: false, reason: 'bad_signature' };
}
