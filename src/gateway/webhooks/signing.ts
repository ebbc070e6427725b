import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Webhook signatures that Ledgerbridge defines itself, with a test signer beside each verifier.
 *
 * ERP events (Odoo, Infor M3 / ION, Epicor P21): none of the three documents an outbound webhook signature, so the
 * ERP-side automation (an Odoo automated action, an ION event subscription, a P21 business rule) signs this way:
 *   X-Ledgerbridge-Timestamp: Unix time in whole seconds when the delivery was signed
 *   X-Ledgerbridge-Signature: lowercase hex HMAC-SHA256 over `${timestamp}.${rawBody}` (the exact raw bytes), keyed
 *                             by ODOO_WEBHOOK_SECRET / M3_WEBHOOK_SECRET / P21_WEBHOOK_SECRET
 * A delivery is accepted when the signature matches and the timestamp is within 5 minutes of now (either side).
 *
 * eCommerce (Shopify-style): X-Shopify-Hmac-Sha256 is the base64 HMAC-SHA256 of the raw body keyed by the app secret
 * (COMMERCE_WEBHOOK_SECRET). There is no timestamp to check; X-Shopify-Webhook-Id is the event id for dedup.
 */

export const ERP_SIGNATURE_HEADER = 'x-ledgerbridge-signature';
export const ERP_TIMESTAMP_HEADER = 'x-ledgerbridge-timestamp';
export const ERP_SIGNATURE_TOLERANCE_MS = 5 * 60 * 1000;
export const COMMERCE_SIGNATURE_HEADER = 'x-shopify-hmac-sha256';

export type SignatureFailure =
  'missing_signature' | 'missing_timestamp' | 'bad_timestamp' | 'stale_timestamp' | 'bad_signature' | 'not_configured';

export type SignatureResult = { ok: true } | { ok: false; reason: SignatureFailure };

type Headers = Record<string, string | string[] | undefined>;

function one(headers: Headers, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function sameBytes(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}

function erpHmac(rawBody: Buffer | string, secret: string, timestamp: string): string {
  return createHmac('sha256', secret)
    .update(`${timestamp}.`)
    .update(typeof rawBody === 'string' ? Buffer.from(rawBody, 'utf8') : rawBody)
    .digest('hex');
}

/** Test signer: the two headers an ERP event delivery of `rawBody` carries. */
export function signErpWebhook(
  rawBody: Buffer | string,
  secret: string,
  timestampSeconds: number = Math.floor(Date.now() / 1000),
): Record<string, string> {
  const ts = String(Math.floor(timestampSeconds));
  return { 'x-ledgerbridge-timestamp': ts, 'x-ledgerbridge-signature': erpHmac(rawBody, secret, ts) };
}

/** Verifies an ERP event delivery over its raw body: constant-time compare plus the 5-minute timestamp window. */
export function verifyErpSignature(
  rawBody: Buffer,
  headers: Headers,
  secret: string,
  nowMs: number = Date.now(),
): SignatureResult {
  const signature = one(headers, ERP_SIGNATURE_HEADER)?.trim().toLowerCase();
  if (!signature) return { ok: false, reason: 'missing_signature' };
  const ts = one(headers, ERP_TIMESTAMP_HEADER)?.trim();
  if (!ts) return { ok: false, reason: 'missing_timestamp' };
  if (!/^\d{1,12}$/.test(ts)) return { ok: false, reason: 'bad_timestamp' };
  if (Math.abs(nowMs - Number(ts) * 1000) > ERP_SIGNATURE_TOLERANCE_MS) return { ok: false, reason: 'stale_timestamp' };
  return sameBytes(signature, erpHmac(rawBody, secret, ts)) ? { ok: true } : { ok: false, reason: 'bad_signature' };
}

/** The Shopify-style signature of a raw body: base64 HMAC-SHA256 keyed by the app secret. */
export function commerceSignature(rawBody: Buffer | string, secret: string): string {
  return createHmac('sha256', secret)
    .update(typeof rawBody === 'string' ? Buffer.from(rawBody, 'utf8') : rawBody)
    .digest('base64');
}

/** Test signer: the headers a Shopify-style delivery carries (topic and webhook id included). */
export function signCommerceWebhook(
  rawBody: Buffer | string,
  secret: string,
  topic: string,
  webhookId: string,
): Record<string, string> {
  return {
    'content-type': 'application/json',
    'x-shopify-hmac-sha256': commerceSignature(rawBody, secret),
    'x-shopify-topic': topic,
    'x-shopify-webhook-id': webhookId,
  };
}

/** Verifies X-Shopify-Hmac-Sha256 over the raw body (constant-time). */
export function verifyCommerceSignature(rawBody: Buffer, headers: Headers, secret: string): SignatureResult {
  const signature = one(headers, COMMERCE_SIGNATURE_HEADER)?.trim();
  if (!signature) return { ok: false, reason: 'missing_signature' };
  return sameBytes(signature, commerceSignature(rawBody, secret))
    ? { ok: true }
    : { ok: false, reason: 'bad_signature' };
}
