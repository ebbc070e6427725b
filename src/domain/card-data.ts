/**
 * Card-data scrubbing. Ledgerbridge never stores or logs a PAN, CVV or track data: anything that looks like one
 * is masked to its last four digits before it reaches a log line, a table or a workflow payload.
 * Pure functions, safe in workflows.
 */

/**
 * Runs of 13 to 19 digits, optionally separated by single spaces or dashes (as people type card numbers), that stand
 * on their own: digits inside a longer token (a hex hash, a UUID, an id like `wc2-1796237061518`) are not a card
 * number, and masking them would corrupt the id.
 */
const PAN_CANDIDATE = /(?<![A-Za-z0-9]-?)(?:\d[ -]?){12,18}\d(?!-?[A-Za-z0-9])/g;
/** Magnetic-stripe track 1 / track 2 shapes. */
const TRACK = /%B\d{13,19}\^[^?]{0,80}\?|;\d{13,19}=\d{4,}[^?]{0,40}\?/g;
const SENSITIVE_KEYS =
  /^(pan|card_?number|cardnumber|number|cvv2?|cvc2?|cid|security_?code|track_?[12]?|track_?data)$/i;

export function luhnValid(digits: string): boolean {
  if (!/^\d{13,19}$/.test(digits)) return false;
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let n = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      n *= 2;
      if (n > 9) n -= 9;
    }
    sum += n;
  }
  return sum % 10 === 0;
}

/** A PAN: Luhn-valid, 13-19 digits, with a card-network first digit (2-6), so epoch-millisecond timestamps are not. */
export function isPan(digits: string): boolean {
  return /^[2-6]/.test(digits) && luhnValid(digits);
}

/** Masks a PAN to `************1234` style (keeps only the last four). */
export function maskPan(digits: string): string {
  const d = digits.replace(/\D/g, '');
  return `${'*'.repeat(Math.max(0, d.length - 4))}${d.slice(-4)}`;
}

/** Every PAN (masked, so the answer is safe to print) and track-data block found in the text. */
export function findCardData(text: string): string[] {
  const found: string[] = [];
  for (const m of text.matchAll(PAN_CANDIDATE)) if (isPan(m[0].replace(/[ -]/g, ''))) found.push(maskPan(m[0]));
  return found.concat((text.match(TRACK) ?? []).map(() => '[track data]'));
}

/** True when the text holds a Luhn-valid run of 13 to 19 digits (with or without separators) or track data. */
export function containsPan(text: string): boolean {
  return findCardData(text).length > 0;
}

/** Masks every PAN-like run and track-data block in a string. */
export function scrubText(text: string): string {
  return text
    .replace(TRACK, '[track data removed]')
    .replace(PAN_CANDIDATE, (m) => (isPan(m.replace(/[ -]/g, '')) ? maskPan(m) : m));
}

/**
 * Deep-copies a JSON-like value with card data removed: PAN-like strings masked anywhere, and fields named like
 * a CVV or track data dropped entirely. A `number` field that holds a PAN is masked, not dropped.
 */
export function scrub<T>(value: T, depth = 0): T {
  if (depth > 32) return value;
  if (typeof value === 'string') return scrubText(value) as T;
  if (typeof value === 'number' && Number.isSafeInteger(value) && value > 1e12) {
    const s = String(value);
    return (isPan(s) ? maskPan(s) : value) as T;
  }
  if (Array.isArray(value)) return value.map((v) => scrub(v, depth + 1)) as T;
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (SENSITIVE_KEYS.test(k) && /^(cvv2?|cvc2?|cid|security_?code|track.*)$/i.test(k)) {
        out[k] = '[removed]';
      } else {
        out[k] = scrub(v, depth + 1);
      }
    }
    return out as T;
  }
  return value;
}
