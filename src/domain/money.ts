/**
 * Money as integer minor units plus an ISO 4217 currency. No floats: amounts are safe integers, decimal strings
 * are parsed digit by digit, and allocation distributes remainders so that parts always add up to the whole.
 * This module is imported by workflows, so it must stay free of Node built-ins and I/O.
 */

/** ISO 4217 minor-unit exponents for currencies whose exponent is not 2. */
const EXPONENT_OVERRIDES: Record<string, number> = {
  BIF: 0, CLP: 0, DJF: 0, GNF: 0, ISK: 0, JPY: 0, KMF: 0, KRW: 0, PYG: 0, RWF: 0, UGX: 0, UYI: 0, VND: 0,
  VUV: 0, XAF: 0, XOF: 0, XPF: 0,
  BHD: 3, IQD: 3, JOD: 3, KWD: 3, LYD: 3, OMR: 3, TND: 3,
  CLF: 4, UYW: 4,
}; // prettier-ignore

/** Active ISO 4217 codes with exponent 2 (the common case). */
const TWO_DECIMAL = (
  'AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BRL BSD BTN BWP BYN BZD CAD CDF CHF CNY ' +
  'COP CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS ' +
  'INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR ' +
  'MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD ' +
  'SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD UYU UZS VES WST XCD YER ZAR ZMW ZWG'
).split(' ');

export const CURRENCY_EXPONENTS: Readonly<Record<string, number>> = Object.freeze({
  ...Object.fromEntries(TWO_DECIMAL.map((c) => [c, 2])),
  ...EXPONENT_OVERRIDES,
});

export interface Money {
  readonly amountMinor: number;
  readonly currency: string;
}

export class MoneyError extends Error {
  override name = 'MoneyError';
}

export function isCurrency(code: string): boolean {
  return Object.prototype.hasOwnProperty.call(CURRENCY_EXPONENTS, code);
}

export function exponentOf(currency: string): number {
  const e = CURRENCY_EXPONENTS[currency];
  if (e === undefined) throw new MoneyError(`unknown ISO 4217 currency: ${JSON.stringify(currency)}`);
  return e;
}

function checkAmount(amountMinor: number): void {
  if (!Number.isSafeInteger(amountMinor)) {
    throw new MoneyError(`amount must be a safe integer of minor units, got ${amountMinor}`);
  }
}

export function money(amountMinor: number, currency: string): Money {
  checkAmount(amountMinor);
  exponentOf(currency);
  return Object.freeze({ amountMinor, currency });
}

export function zero(currency: string): Money {
  return money(0, currency);
}

function sameCurrency(a: Money, b: Money): void {
  if (a.currency !== b.currency) throw new MoneyError(`currency mismatch: ${a.currency} vs ${b.currency}`);
}

export function add(a: Money, b: Money): Money {
  sameCurrency(a, b);
  return money(a.amountMinor + b.amountMinor, a.currency);
}

export function subtract(a: Money, b: Money): Money {
  sameCurrency(a, b);
  return money(a.amountMinor - b.amountMinor, a.currency);
}

export function negate(a: Money): Money {
  return money(a.amountMinor === 0 ? 0 : -a.amountMinor, a.currency);
}

export function sum(items: readonly Money[], currency: string): Money {
  let total = 0;
  for (const m of items) {
    if (m.currency !== currency) throw new MoneyError(`currency mismatch: ${m.currency} vs ${currency}`);
    total += m.amountMinor;
  }
  return money(total, currency);
}

export function equals(a: Money, b: Money): boolean {
  return a.currency === b.currency && a.amountMinor === b.amountMinor;
}

/**
 * Parses a decimal string ("100.00", "-3.5", "1200") into minor units without floating point.
 * More fractional digits than the currency allows is an error, not a silent rounding.
 */
export function parseDecimal(text: string, currency: string): Money {
  const exp = exponentOf(currency);
  const m = /^([+-])?(\d+)(?:\.(\d+))?$/.exec(text.trim());
  if (!m) throw new MoneyError(`not a decimal amount: ${JSON.stringify(text)}`);
  const [, sign, whole, frac = ''] = m;
  if (frac.length > exp) {
    throw new MoneyError(`${JSON.stringify(text)} has more than ${exp} decimal places for ${currency}`);
  }
  const digits = (whole + frac.padEnd(exp, '0')).replace(/^0+(?=\d)/, '');
  const value = Number(digits);
  if (!Number.isSafeInteger(value)) throw new MoneyError(`amount too large: ${text}`);
  return money(sign === '-' && value !== 0 ? -value : value, currency);
}

/** Formats minor units as a plain decimal string in the currency's exponent ("1234.50", "1200", "1.234"). */
export function formatDecimal(m: Money): string {
  const exp = exponentOf(m.currency);
  const neg = m.amountMinor < 0;
  const digits = String(Math.abs(m.amountMinor)).padStart(exp + 1, '0');
  const out = exp === 0 ? digits : `${digits.slice(0, -exp)}.${digits.slice(-exp)}`;
  return neg ? `-${out}` : out;
}

/**
 * Splits an amount by integer weights with the largest-remainder method: parts sum to the whole exactly,
 * and leftover minor units go to the earliest parts with the largest remainders (100.00 / 3 → 33.34, 33.33, 33.33).
 */
export function allocate(m: Money, weights: readonly number[]): Money[] {
  if (weights.length === 0) throw new MoneyError('allocate needs at least one weight');
  for (const w of weights) {
    if (!Number.isSafeInteger(w) || w < 0) throw new MoneyError(`weights must be non-negative integers, got ${w}`);
  }
  const totalWeight = weights.reduce((a, b) => a + b, 0);
  if (totalWeight === 0) throw new MoneyError('weights must not all be zero');
  const total = BigInt(m.amountMinor);
  const tw = BigInt(totalWeight);
  const sign = total < 0n ? -1n : 1n;
  const abs = total * sign;
  const shares = weights.map((w) => (abs * BigInt(w)) / tw);
  const remainders = weights.map((w, i) => ({ i, r: (abs * BigInt(w)) % tw }));
  let left = abs - shares.reduce((a, b) => a + b, 0n);
  remainders.sort((a, b) => (b.r > a.r ? 1 : b.r < a.r ? -1 : a.i - b.i));
  for (const { i } of remainders) {
    if (left === 0n) break;
    shares[i] += 1n;
    left -= 1n;
  }
  return shares.map((s) => money(Number(s * sign), m.currency));
}

/** Splits an amount into n near-equal parts that sum to the whole. */
export function split(m: Money, parts: number): Money[] {
  if (!Number.isSafeInteger(parts) || parts < 1) throw new MoneyError(`parts must be a positive integer, got ${parts}`);
  return allocate(m, new Array<number>(parts).fill(1));
}

/**
 * Multiplies by a rate given as a ratio of integers (e.g. 825 / 10000 for 8.25 %), rounding half away from zero.
 * Used for tax and fee computations without floats.
 */
export function applyRate(m: Money, numerator: number, denominator: number): Money {
  if (!Number.isSafeInteger(numerator) || !Number.isSafeInteger(denominator) || denominator <= 0) {
    throw new MoneyError('rate must be integer numerator / positive integer denominator');
  }
  const p = BigInt(m.amountMinor) * BigInt(numerator);
  const d = BigInt(denominator);
  const sign = p < 0n ? -1n : 1n;
  const abs = p * sign;
  const q = abs / d;
  const r = abs % d;
  const rounded = r * 2n >= d ? q + 1n : q;
  return money(Number(rounded * sign), m.currency);
}

/** Converts between currencies with an integer-ratio rate, respecting both exponents. */
export function convert(m: Money, to: string, rateNumerator: number, rateDenominator: number): Money {
  const shift = exponentOf(to) - exponentOf(m.currency);
  const scale = 10 ** Math.abs(shift);
  const num = shift >= 0 ? rateNumerator * scale : rateNumerator;
  const den = shift >= 0 ? rateDenominator : rateDenominator * scale;
  return money(applyRate(m, num, den).amountMinor, to);
}
