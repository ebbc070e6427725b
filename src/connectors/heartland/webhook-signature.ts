import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * GP API webhook signatures: `X-GP-Signature` is the lowercase sha512 hex of the exact raw body bytes followed by
 * the app key. Always verify over the bytes as received; re-serialised JSON may differ in spacing or key order.
 */

export const GP_SIGNATURE_HEADER = 'x-gp-signature';

/** The signature the GP API puts in `X-GP-Signature` for this raw body. */
export function gpSignature(rawBody: Buffer | string, appKey: string): string {
  return createHash('sha512')
    .update(typeof rawBody === 'string' ? Buffer.from(rawBody, 'utf8') : rawBody)
    .update(appKey, 'utf8')
    .digest('hex');
}

/** True when the header carries the signature of these raw bytes under appKey (constant-time comparison). */
export function verifyGpSignature(
  rawBody: Buffer,
  header: string | string[] | undefined | null,
  appKey: string,
): boolean {
  const value = Array.isArray(header) ? header[0] : header;
  if (typeof value !== 'string' || !appKey) return false;
  const got = Buffer.from(value.trim().toLowerCase(), 'utf8');
  const want = Buffer.from(gpSignature(rawBody, appKey), 'utf8');
  return got.length === want.length && timingSafeEqual(got, want);
}

/** Test signer: minified JSON body and the headers a GP webhook delivery carries. */
export function signGpWebhook(
  payload: unknown,
  appKey: string,
): { body: string; headers: { 'content-type': string; 'x-gp-signature': string } } {
  const body = JSON.stringify(payload);
  return { body, headers: { 'content-type': 'application/json', 'x-gp-signature': gpSignature(body, appKey) } };
}
