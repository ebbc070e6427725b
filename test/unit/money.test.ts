import fc from 'fast-check';
import {
  add,
  allocate,
  applyRate,
  convert,
  exponentOf,
  formatDecimal,
  money,
  MoneyError,
  negate,
  parseDecimal,
  split,
  subtract,
  sum,
} from '../../src/domain/money';

const currencies = fc.constantFrom('USD', 'EUR', 'JPY', 'KWD', 'BHD', 'CLF', 'GBP');
const amount = fc.integer({ min: -1e12, max: 1e12 });

describe('money', () => {
  test('exponents follow ISO 4217, including zero- and three-decimal currencies', () => {
    expect(exponentOf('USD')).toBe(2);
    expect(exponentOf('JPY')).toBe(0);
    expect(exponentOf('KWD')).toBe(3);
    expect(() => exponentOf('XXX1')).toThrow(MoneyError);
    expect(() => money(1, 'ABC')).toThrow(/unknown ISO 4217 currency/);
  });

  test('floats and unsafe integers are refused', () => {
    expect(() => money(1.5, 'USD')).toThrow(/safe integer/);
    expect(() => money(Number.MAX_SAFE_INTEGER + 2, 'USD')).toThrow(/safe integer/);
  });

  test('parseDecimal reads strings digit by digit and refuses extra precision', () => {
    expect(parseDecimal('100.00', 'USD').amountMinor).toBe(10000);
    expect(parseDecimal('0.1', 'USD').amountMinor).toBe(10);
    expect(parseDecimal('-3.5', 'USD').amountMinor).toBe(-350);
    expect(parseDecimal('1200', 'JPY').amountMinor).toBe(1200);
    expect(parseDecimal('1.234', 'KWD').amountMinor).toBe(1234);
    expect(() => parseDecimal('1.5', 'JPY')).toThrow(/more than 0 decimal places/);
    expect(() => parseDecimal('1.001', 'USD')).toThrow(/more than 2 decimal places/);
    expect(() => parseDecimal('1e3', 'USD')).toThrow(/not a decimal amount/);
  });

  test('format and parse round-trip for every currency exponent', () => {
    fc.assert(
      fc.property(amount, currencies, (a, c) => {
        const m = money(a, c);
        expect(parseDecimal(formatDecimal(m), c)).toEqual(m);
      }),
    );
    expect(formatDecimal(money(5, 'USD'))).toBe('0.05');
    expect(formatDecimal(money(-1234, 'KWD'))).toBe('-1.234');
    expect(formatDecimal(money(1200, 'JPY'))).toBe('1200');
  });

  test('100.00 split three ways is 33.34 + 33.33 + 33.33', () => {
    expect(split(money(10000, 'USD'), 3).map((m) => m.amountMinor)).toEqual([3334, 3333, 3333]);
    expect(split(money(-10000, 'USD'), 3).map((m) => m.amountMinor)).toEqual([-3334, -3333, -3333]);
  });

  test('allocation never loses or invents a minor unit, and each part is within one unit of its exact share', () => {
    fc.assert(
      fc.property(
        amount,
        currencies,
        fc.array(fc.integer({ min: 0, max: 1000 }), { minLength: 1, maxLength: 12 }),
        (a, c, w) => {
          fc.pre(w.some((x) => x > 0));
          const parts = allocate(money(a, c), w);
          expect(parts.reduce((s, p) => s + p.amountMinor, 0)).toBe(a);
          const total = w.reduce((x, y) => x + y, 0);
          parts.forEach((p, i) => {
            const exact = (a * w[i]) / total;
            expect(Math.abs(p.amountMinor - exact)).toBeLessThan(1 + 1e-6 * Math.abs(a));
            if (w[i] === 0) expect(p.amountMinor).toBe(0);
          });
        },
      ),
    );
  });

  test('add, subtract, negate and sum are exact and refuse mixed currencies', () => {
    fc.assert(
      fc.property(amount, amount, currencies, (a, b, c) => {
        const x = money(a, c);
        const y = money(b, c);
        expect(subtract(add(x, y), y)).toEqual(x);
        expect(add(x, negate(x)).amountMinor).toBe(0);
        expect(sum([x, y], c).amountMinor).toBe(a + b);
      }),
    );
    expect(() => add(money(1, 'USD'), money(1, 'EUR'))).toThrow(/currency mismatch/);
    expect(() => sum([money(1, 'USD')], 'JPY')).toThrow(/currency mismatch/);
  });

  test('rates round half away from zero with integer arithmetic', () => {
    expect(applyRate(money(1000, 'USD'), 825, 10000).amountMinor).toBe(83); // 82.5 -> 83
    expect(applyRate(money(-1000, 'USD'), 825, 10000).amountMinor).toBe(-83);
    expect(applyRate(money(999, 'USD'), 1, 3).amountMinor).toBe(333);
    fc.assert(
      fc.property(amount, fc.integer({ min: 0, max: 100000 }), (a, bps) => {
        const r = applyRate(money(a, 'USD'), bps, 10000).amountMinor;
        expect(Math.abs(r - (a * bps) / 10000)).toBeLessThanOrEqual(0.5 + 1e-6 * Math.abs(a));
      }),
    );
  });

  test('conversion respects both exponents (USD cents to JPY yen, JPY to KWD fils)', () => {
    expect(convert(money(10000, 'USD'), 'JPY', 150, 1)).toEqual(money(15000, 'JPY')); // $100 at 150 = ¥15000
    expect(convert(money(15000, 'JPY'), 'KWD', 1, 500)).toEqual(money(30000, 'KWD')); // ¥15000 / 500 = 30.000 KWD
  });
});
