/**
 * Card-data scrubbing of free text. Ledgerbridge never stores or logs a PAN, CVV or track data: a card number in a
 * free-text value is masked to its last four digits before it reaches a log line, a table or a workflow payload.
 * Which values are free text and which are ids is the schema's call (card-data-fields.ts); this module only looks
 * at text. Pure functions, safe in workflows.
 *
 * A card number is found however a person typed or pasted it: digits in any Unicode form (full-width, Arabic-Indic,
 * circled; NFKC plus the decimal-digit property), grouped with any separator people use (spaces of any kind and
 * repeated, dashes, dots, slashes, underscores), or glued to a word ("card4111…"). Digits inside a token that
 * alternates letters and digits (a hex hash, a UUID) are not a card number.
 */

/** Magnetic-stripe track 1 / track 2 shapes (matched on the normalised text). */
const TRACK = /%B\d{13,19}\^[^?]{0,80}\?|;\d{13,19}=\d{4,}[^?]{0,40}\?/g;
/**
 * Digit groups joined by runs of at most four separators (spaces of any kind, dashes, dots, slashes, underscores,
 * bars, tildes, middle dots, bullets), on the normalised text.
 */
const DIGIT_SPAN = /\d+(?:[\p{Zs}\t\p{Pd}./\\_|~·•]{1,4}\d+)*/gu;
/** The ASCII form of DIGIT_SPAN with 13 digits or more: what pure-ASCII text must contain to hold a card number. */
const ASCII_CANDIDATE = /\d(?:[ \t\-./\\_|~]{0,4}\d){12}/;
/** Groups of a typed number are short (4-4-4-4, 4-6-5); a longer group next to another is a different number. */
const GROUP_MIN = 2;
const GROUP_MAX = 6;
/** Keys whose value is dropped whole: CVV and track data are never kept, not even masked. */
const DROPPED_KEYS = /^(cvv2?|cvc2?|cid|csc|security_?code|track_?[12]?|track_?data|magstripe)$/i;
/** Keys named like a card number: any long digit run in them is masked, Luhn-valid or not. */
const CARD_NUMBER_KEYS =
  /^(pan|primary_?account_?number|card_?(number|num|no)|cc_?(number|num|no)|credit_?card_?(number|num|no)?|cardnumber)$/i;

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

const ND = /\p{Nd}/u;

/** The value of a Unicode decimal digit: every script lays its digits out as runs of ten, zero first. */
function digitValue(ch: string): number {
  const cp = ch.codePointAt(0)!;
  let start = cp;
  while (start > 0 && ND.test(String.fromCodePoint(start - 1))) start--;
  return (cp - start) % 10;
}

/** Text with every digit as ASCII and compatibility forms folded (NFKC), and where each character came from. */
interface Normalised {
  text: string;
  /** For each UTF-16 unit of `text`: the start and end of its source character in the original. */
  from: number[];
  to: number[];
}

function normalise(text: string): Normalised {
  if (/^[\u0000-\u007f]*$/.test(text)) return { text, from: [], to: [] };
  let out = '';
  const from: number[] = [];
  const to: number[] = [];
  let i = 0;
  for (const ch of text) {
    let n = ch.normalize('NFKC');
    if (/[^\u0000-\u007f]/.test(n)) n = n.replace(/\p{Nd}/gu, (d) => String(digitValue(d)));
    for (let k = 0; k < n.length; k++) {
      from.push(i);
      to.push(i + ch.length);
    }
    out += n;
    i += ch.length;
  }
  return { text: out, from, to };
}

/** The original range of normalised [start, end). */
function origin(n: Normalised, start: number, end: number): [number, number] {
  return n.from.length === 0 ? [start, end] : [n.from[start], n.to[end - 1]];
}

const LETTER = /\p{L}/u;

/**
 * Whether the digits at [start, end) sit inside a token that alternates letters and digits (a hex hash, a UUID, a
 * base-36 id): the letters next to them are themselves next to more digits. Digits glued to a plain word are not.
 */
function insideToken(t: string, start: number, end: number): boolean {
  let i = start - 1;
  while (i >= 0 && LETTER.test(t[i])) i--;
  if (i < start - 1 && i >= 0 && /\d/.test(t[i])) return true;
  let j = end;
  while (j < t.length && LETTER.test(t[j])) j++;
  return j > end && j < t.length && /\d/.test(t[j]);
}

interface Hit {
  start: number;
  end: number;
  digits: string;
}

/** Card numbers in normalised text: a run of 13-19 digits, or short groups joined by separators, that is a PAN. */
function panHits(t: string): Hit[] {
  const hits: Hit[] = [];
  for (const m of t.matchAll(DIGIT_SPAN)) {
    const groups: Hit[] = [];
    for (const g of m[0].matchAll(/\d+/g)) {
      const start = m.index! + g.index!;
      groups.push({ start, end: start + g[0].length, digits: g[0] });
    }
    // From each group, the longest window that is a card number (a shorter one inside it would leave digits).
    for (let i = 0; i < groups.length;) {
      let found: Hit | undefined;
      let digits = '';
      for (let j = i; j < groups.length && digits.length < 19; j++) {
        digits += groups[j].digits;
        const window = groups.slice(i, j + 1);
        const shaped = j === i || window.every((g) => g.digits.length >= GROUP_MIN && g.digits.length <= GROUP_MAX);
        if (digits.length >= 13 && shaped && isPan(digits) && !insideToken(t, groups[i].start, groups[j].end)) {
          found = { start: groups[i].start, end: groups[j].end, digits };
        }
      }
      if (found) {
        hits.push(found);
        const end = found.end;
        i = groups.findIndex((g) => g.start >= end);
        if (i < 0) break;
      } else i++;
    }
  }
  return hits;
}

/**
 * Cheap test before the real scan: could the text hold a card number or track data at all? Any non-ASCII text may
 * (full-width digits, other spaces); ASCII text needs 13 digits joined by nothing but separators.
 */
export function mayHoldCardNumber(text: string): boolean {
  return /[^\u0000-\u007f]/.test(text) || ASCII_CANDIDATE.test(text);
}

/** Where card data is in normalised text: each card number outside track data, then each track-data block. */
function cardDataHits(t: string): (Hit & { with: string; track?: true })[] {
  const tracks = [...t.matchAll(TRACK)].map((m) => ({
    start: m.index!,
    end: m.index! + m[0].length,
    digits: '',
    with: '[track data removed]',
    track: true as const,
  }));
  const inTrack = (h: Hit) => tracks.some((c) => h.start < c.end && h.end > c.start);
  const pans = panHits(t)
    .filter((h) => !inTrack(h))
    .map((h) => ({ ...h, with: maskPan(h.digits) }));
  return [...pans, ...tracks];
}

/** Every PAN (masked, so the answer is safe to print) and track-data block found in the text. */
export function findCardData(text: string): string[] {
  if (!mayHoldCardNumber(text)) return [];
  return cardDataHits(normalise(text).text).map((h) => (h.track ? '[track data]' : h.with));
}

/** True when the text holds a card number in any of the forms above, or track data. */
export function containsPan(text: string): boolean {
  return findCardData(text).length > 0;
}

/** Masks every card number and track-data block in a string; the rest of the text is left as it was. */
export function scrubText(text: string): string {
  if (!mayHoldCardNumber(text)) return text;
  const n = normalise(text);
  const cuts = cardDataHits(n.text).sort((a, b) => a.start - b.start);
  if (cuts.length === 0) return text;
  let out = '';
  let at = 0;
  for (const c of cuts) {
    const [s, e] = origin(n, c.start, c.end);
    out += text.slice(at, s) + c.with;
    at = e;
  }
  return out + text.slice(at);
}

/** Masks a value held in a field named like a card number: any run of nine or more digits keeps its last four. */
function scrubCardNumberField(text: string): string {
  const n = normalise(text);
  const digits = n.text.replace(/\D/g, '');
  return digits.length >= 9 ? maskPan(digits) : scrubText(text);
}

/** What a field named like card data becomes: CVV and track data dropped, a card number masked; else undefined. */
export function scrubCardField(key: string, value: unknown, parentKey?: string): { value: unknown } | undefined {
  if (DROPPED_KEYS.test(key)) return { value: '[removed]' };
  const cardNumber = CARD_NUMBER_KEYS.test(key) || (key === 'number' && /card/i.test(parentKey ?? ''));
  if (!cardNumber) return undefined;
  if (typeof value === 'string') return { value: scrubCardNumberField(value) };
  if (typeof value === 'number') return { value: scrubCardNumberField(String(value)) };
  return undefined;
}

/** A JSON number that is a PAN (an integer above 10^12 that passes the check) as its masked string. */
function scrubNumber(value: number): number | string {
  if (!Number.isSafeInteger(value) || value <= 1e12) return value;
  const s = String(value);
  return isPan(s) ? maskPan(s) : value;
}

/**
 * Deep-copies a JSON-like value as free text with card data removed: card numbers masked in every string, a JSON
 * number that is a PAN masked, fields named like a CVV or track data dropped, fields named like a card number masked.
 */
export function scrub<T>(value: T, depth = 0, parentKey?: string): T {
  if (depth > 32) return value;
  if (typeof value === 'string') return scrubText(value) as T;
  if (typeof value === 'number') return scrubNumber(value) as T;
  if (Array.isArray(value)) return value.map((v) => scrub(v, depth + 1, parentKey)) as T;
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      const card = scrubCardField(k, v, parentKey);
      out[k] = card ? card.value : scrub(v, depth + 1, k);
    }
    return out as T;
  }
  return value;
}

/** Whether a key is named like card data (a CVV, track data or a card number). */
export function isCardDataKey(key: string, parentKey?: string): boolean {
  return DROPPED_KEYS.test(key) || CARD_NUMBER_KEYS.test(key) || (key === 'number' && /card/i.test(parentKey ?? ''));
}
