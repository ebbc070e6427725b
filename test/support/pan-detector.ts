/**
 * The test audit's own card-number detector, written apart from the scrubber (src/domain/card-data.ts) so that a
 * blind spot of the scrubber is not a blind spot of the audit. It reads text one character at a time:
 * - every character is folded with NFKC, and every digit of every decimal numbering system that Intl knows (Arabic-
 *   Indic, Devanagari, full-width, …) counts as that digit;
 * - digits form groups; groups are joined by up to four separator characters, where a separator is anything that is
 *   not a letter, a digit, a line break or a character that delimits data (quotes, brackets, commas, colons, …);
 * - a card number is one group of 13-19 digits, or consecutive groups of 2-6 digits adding up to 13-19, that passes
 *   the Luhn check and starts with a card-network digit (2-6), whatever is glued to it, unless the letters glued to
 *   it are themselves glued to more digits (a hex hash or a UUID alternates letters and digits);
 * - track data is `%B` + 13-19 digits + `^`, or `;` + 13-19 digits + `=`.
 */

/** Digit value of every non-ASCII digit of the positional decimal numbering systems Intl formats. */
const DIGIT_VALUES: ReadonlyMap<string, number> = (() => {
  const out = new Map<string, number>();
  for (const system of Intl.supportedValuesOf('numberingSystem')) {
    let format: Intl.NumberFormat;
    try {
      format = new Intl.NumberFormat(`en-u-nu-${system}`, { useGrouping: false });
    } catch {
      continue;
    }
    const digits = Array.from({ length: 10 }, (_, d) => format.format(d));
    const positional =
      digits.every((d) => [...d].length === 1) &&
      new Set(digits).size === 10 &&
      format.format(1234567890) === [1, 2, 3, 4, 5, 6, 7, 8, 9, 0].map((d) => digits[d]).join('');
    if (!positional) continue;
    digits.forEach((d, v) => {
      if (!/[0-9]/.test(d)) out.set(d, v);
    });
  }
  return out;
})();

/** Characters that delimit data rather than group digits; a line break or a control character also ends a number. */
const DELIMITERS = new Set([...',;:"\'()[]{}<>=&?@!^$%#*']);

type Kind = 'digit' | 'letter' | 'separator' | 'break';

interface Char {
  kind: Kind;
  /** The digit's value, for a digit. */
  value?: number;
  /** The digit was written as an ASCII digit in the original text. */
  ascii?: boolean;
}

const ASCII_KINDS: Kind[] = Array.from({ length: 128 }, (_, c) => {
  const ch = String.fromCharCode(c);
  if (c >= 48 && c <= 57) return 'digit';
  if (/[A-Za-z]/.test(ch)) return 'letter';
  if ((c < 32 && c !== 9) || c === 127 || DELIMITERS.has(ch)) return 'break';
  return 'separator';
});

function classify(text: string): Char[] {
  const out: Char[] = [];
  if (!/[^\u0000-\u007f]/.test(text)) {
    // ASCII: NFKC changes nothing, so a table lookup per character is enough.
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      const kind = ASCII_KINDS[c];
      out.push(kind === 'digit' ? { kind, value: c - 48, ascii: true } : { kind });
    }
    return out;
  }
  for (const original of text) {
    const ascii = original >= '0' && original <= '9';
    for (const c of original.normalize('NFKC')) {
      if (c >= '0' && c <= '9') out.push({ kind: 'digit', value: c.charCodeAt(0) - 48, ascii });
      else if (DIGIT_VALUES.has(c)) out.push({ kind: 'digit', value: DIGIT_VALUES.get(c), ascii: false });
      else if (/\p{L}|\p{M}/u.test(c)) out.push({ kind: 'letter' });
      else if (/[\p{Cc}\p{Zl}\p{Zp}]/u.test(c) && c !== '\t') out.push({ kind: 'break' });
      else if (DELIMITERS.has(c)) out.push({ kind: 'break' });
      else out.push({ kind: 'separator' });
    }
  }
  return out;
}

function luhn(digits: number[]): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let n = digits[digits.length - 1 - i];
    if (i % 2 === 1) n = n * 2 > 9 ? n * 2 - 9 : n * 2;
    sum += n;
  }
  return sum % 10 === 0;
}

interface Group {
  start: number;
  end: number;
  digits: number[];
  ascii: boolean;
}

/** Letters glued to position `at` going in `step` direction, followed by a digit: inside an alphanumeric token. */
function tokenContinues(chars: Char[], at: number, step: 1 | -1): boolean {
  let i = at;
  while (i >= 0 && i < chars.length && chars[i].kind === 'letter') i += step;
  return i !== at && i >= 0 && i < chars.length && chars[i].kind === 'digit';
}

export interface DetectOptions {
  /** Digit strings that are known ids: found as one group of ASCII digits, they are not reported. */
  exempt?: ReadonlySet<string>;
}

/** Every card number (masked to its last four) and every track-data block in the text. */
export function detectCardData(text: string, opts: DetectOptions = {}): string[] {
  if (!/[^\u0000-\u007f]/.test(text) && (text.match(/[0-9]/g)?.length ?? 0) < 13) return [];
  const chars = classify(text);
  const found: string[] = [];

  // Track data: %B<13-19 digits>^ and ;<13-19 digits>=
  const folded = text.normalize('NFKC');
  if (/%B[0-9]{13,19}\^/.test(folded) || /;[0-9]{13,19}=/.test(folded)) found.push('[track data]');

  // Digit groups and the separators between them.
  const groups: Group[][] = [];
  let span: Group[] = [];
  let i = 0;
  while (i < chars.length) {
    if (chars[i].kind !== 'digit') {
      if (chars[i].kind !== 'separator') span = [];
      i++;
      continue;
    }
    const g: Group = { start: i, end: i, digits: [], ascii: true };
    while (i < chars.length && chars[i].kind === 'digit') {
      g.digits.push(chars[i].value!);
      g.ascii &&= chars[i].ascii!;
      i++;
    }
    g.end = i;
    let sep = 0;
    while (i + sep < chars.length && chars[i + sep].kind === 'separator') sep++;
    const joined = sep > 0 && sep <= 4 && i + sep < chars.length && chars[i + sep].kind === 'digit';
    if (span.length === 0) groups.push(span);
    span.push(g);
    if (!joined) span = [];
    i += sep;
  }

  for (const gs of groups) {
    let a = 0;
    while (a < gs.length) {
      let longest = -1;
      const digits: number[] = [];
      for (let b = a; b < gs.length && digits.length < 19; b++) {
        digits.push(...gs[b].digits);
        const window = gs.slice(a, b + 1);
        const shaped = window.length === 1 || window.every((g) => g.digits.length >= 2 && g.digits.length <= 6);
        if (digits.length < 13 || digits.length > 19 || !shaped) continue;
        if (digits[0] < 2 || digits[0] > 6 || !luhn(digits)) continue;
        if (tokenContinues(chars, gs[a].start - 1, -1) || tokenContinues(chars, gs[b].end, 1)) continue;
        if (window.length === 1 && window[0].ascii && opts.exempt?.has(digits.join(''))) continue;
        longest = b;
      }
      if (longest < 0) {
        a++;
        continue;
      }
      const pan = gs
        .slice(a, longest + 1)
        .flatMap((g) => g.digits)
        .join('');
      found.push(`${'*'.repeat(pan.length - 4)}${pan.slice(-4)}`);
      a = longest + 1;
    }
  }
  return found;
}
