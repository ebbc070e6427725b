import fc from 'fast-check';
import { DEFAULT_GL_RULES, glRuleSetSchema, type GlRuleSet } from '../../src/mapping/gl-rules';
import { applyRate, money } from '../../src/domain/money';
import {
  aggregateLines,
  buildJournalLines,
  inclusiveTax,
  type AggregatedLine,
  type BuiltJournal,
  type ErpOnlyGroup,
} from '../../src/settlement/journal';

const rules = DEFAULT_GL_RULES;
const RATE = rules.taxRate; // 825 / 10000

function line(
  type: 'SALE' | 'REFUND',
  brand: string,
  amountMinor: number,
  feeMinor: number,
  erpMinor: number | null = null,
): AggregatedLine {
  return { type, brand, method: 'card', amountMinor, feeMinor, erpMinor };
}

function build(lines: AggregatedLine[], opts: { approved?: boolean; erpOnly?: ErpOnlyGroup[]; set?: GlRuleSet } = {}) {
  const set = opts.set ?? rules;
  return buildJournalLines({
    batchId: 'BAT_UNIT',
    currency: 'USD',
    rules: set,
    groups: aggregateLines(lines, set.taxRate),
    erpOnly: opts.erpOnly,
    varianceApproved: opts.approved ?? false,
  });
}

const byPurpose = (j: BuiltJournal, purpose: string) => j.lines.filter((l) => l.purpose === purpose);
const net = (j: BuiltJournal, purpose: string) =>
  byPurpose(j, purpose).reduce((a, l) => a + l.debitMinor - l.creditMinor, 0);

function expectWellFormed(j: BuiltJournal): void {
  let debit = 0;
  let credit = 0;
  for (const l of j.lines) {
    expect(Number.isSafeInteger(l.debitMinor) && Number.isSafeInteger(l.creditMinor)).toBe(true);
    expect(l.debitMinor >= 0 && l.creditMinor >= 0).toBe(true);
    expect(l.debitMinor > 0 !== l.creditMinor > 0).toBe(true);
    debit += l.debitMinor;
    credit += l.creditMinor;
  }
  expect(debit).toBe(credit);
  expect(j.debitMinor).toBe(debit);
  expect(j.creditMinor).toBe(credit);
}

describe('inclusive tax per line', () => {
  test('is the tax inside a tax-inclusive amount, rounded half away from zero', () => {
    // 10825 at 8.25 % inclusive is exactly 825 of tax.
    expect(inclusiveTax(10_825, RATE)).toBe(825);
    // 1000 × 825 / 10825 = 76.21… → 76; 1006 → 76.67 → 77.
    expect(inclusiveTax(1000, RATE)).toBe(76);
    expect(inclusiveTax(1006, RATE)).toBe(77);
    expect(inclusiveTax(1000, { numerator: 0, denominator: 1 })).toBe(0);
    expect(inclusiveTax(1000, { numerator: 825, denominator: 10_000 }, 'JPY')).toBe(76);
  });

  test('the SQL formula sign(a)·⌊(|a|·n·2 + d) / 2d⌋ gives the same integers as applyRate', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -10_000_000_000, max: 10_000_000_000 }),
        fc.integer({ min: 0, max: 5000 }),
        fc.integer({ min: 1, max: 100_000 }),
        (a, n, den) => {
          const d = BigInt(den + n);
          const abs = BigInt(Math.abs(a));
          const sql = Number(((abs * BigInt(n) * 2n + d) / (2n * d)) * BigInt(Math.sign(a)));
          const expected = n === 0 ? 0 : applyRate(money(a, 'USD'), n, den + n).amountMinor;
          expect(sql === 0 ? 0 : sql).toBe(expected === 0 ? 0 : expected);
        },
      ),
    );
  });
});

describe('consolidated settlement journal', () => {
  test('paired sales clear card clearing, POS sales book revenue and tax, unlisted refunds settle AR', () => {
    const j = build([
      line('SALE', 'VISA', 10_000, 320, 10_000),
      line('SALE', 'VISA', 5_000, 175, 5_000),
      line('SALE', 'MC', 10_825, 344),
      line('REFUND', 'VISA', 2_000, 0),
    ]);
    expectWellFormed(j);
    expect(j.varianceMinor).toBe(0);
    expect(j.lines.map((l) => [l.purpose, l.account, l.debitMinor, l.creditMinor, l.dimensions])).toEqual([
      ['cash', '1010', 10_481, 0, { method: 'card', brand: 'MC' }],
      ['cash', '1010', 12_505, 0, { method: 'card', brand: 'VISA' }],
      ['fees', '6100', 344, 0, { method: 'card', brand: 'MC' }],
      ['fees', '6100', 495, 0, { method: 'card', brand: 'VISA' }],
      ['clearing', '1030', 0, 15_000, { method: 'card', brand: 'VISA' }],
      ['ar', '1200', 2_000, 0, { method: 'card', brand: 'VISA' }],
      ['revenue', '4000', 0, 10_000, { method: 'card', brand: 'MC' }],
      ['salesTax', '2200', 0, 825, { method: 'card', brand: 'MC' }],
    ]);
    expect(j.debitMinor).toBe(25_825);
  });

  test('refunds larger than sales flip cash to the credit side and still balance', () => {
    const j = build([
      line('SALE', 'VISA', 1_000, 59),
      line('REFUND', 'VISA', 7_500, 0),
      line('REFUND', 'AMEX', 300, 0),
    ]);
    expectWellFormed(j);
    const cash = byPurpose(j, 'cash');
    expect(cash.find((l) => l.dimensions?.brand === 'VISA')).toMatchObject({ debitMinor: 0, creditMinor: 6_559 });
    expect(cash.find((l) => l.dimensions?.brand === 'AMEX')).toMatchObject({ debitMinor: 0, creditMinor: 300 });
    expect(net(j, 'ar')).toBe(7_800);
    expect(net(j, 'revenue') + net(j, 'salesTax')).toBe(-1_000);
  });

  test('a JPY batch (no minor digits) balances with integer tax per line', () => {
    const lines = [
      line('SALE', 'VISA', 1_082, 61),
      line('SALE', 'VISA', 1_082, 61),
      line('SALE', 'VISA', 1_082, 61),
      line('SALE', 'MC', 99_999, 2_930),
      line('REFUND', 'MC', 120_000, 0),
    ];
    const j = buildJournalLines({
      batchId: 'BAT_JPY',
      currency: 'JPY',
      rules,
      groups: aggregateLines(lines, RATE),
      varianceApproved: false,
    });
    expectWellFormed(j);
    expect(-net(j, 'salesTax')).toBe(3 * inclusiveTax(1_082, RATE, 'JPY') + inclusiveTax(99_999, RATE, 'JPY'));
    // Allocated per line (82 × 3 + 7621), not computed on the total (7868.55 → 7869).
    expect(-net(j, 'salesTax')).toBe(7_867);
    expect(net(j, 'cash')).toBe(3 * 1_082 + 99_999 - 120_000 - 3 * 61 - 2_930);
  });

  test('a variance is refused until approved, then it goes to suspense', () => {
    const lines = [line('SALE', 'VISA', 10_000, 320, 9_950), line('SALE', 'MC', 2_000, 88, 2_000)];
    const erpOnly = [{ method: 'card', count: 1, amountMinor: 700 }];
    expect(() => build(lines, { erpOnly })).toThrow(expect.objectContaining({ type: 'JournalUnbalanced' }));
    const j = build(lines, { erpOnly, approved: true });
    expectWellFormed(j);
    expect(j.varianceMinor).toBe(50 - 700);
    expect(byPurpose(j, 'suspense')).toEqual([
      expect.objectContaining({ account: '1999', debitMinor: 650, creditMinor: 0 }),
    ]);
    expect(net(j, 'clearing')).toBe(-(9_950 + 2_000 + 700));
  });

  test('GL rules choose accounts per brand and transaction type', () => {
    const set = glRuleSetSchema.parse({
      ...rules,
      rules: [
        { purpose: 'clearing', cardBrand: 'AMEX', account: '1031' },
        { purpose: 'fees', account: '6199' },
      ],
    });
    const j = build([line('SALE', 'AMEX', 5_000, 200, 5_000), line('SALE', 'VISA', 5_000, 175, 5_000)], { set });
    expectWellFormed(j);
    expect(byPurpose(j, 'clearing').map((l) => [l.account, l.dimensions?.brand])).toEqual([
      ['1031', 'AMEX'],
      ['1030', 'VISA'],
    ]);
    expect(new Set(byPurpose(j, 'fees').map((l) => l.account))).toEqual(new Set(['6199']));
  });
});

const BRANDS = ['VISA', 'MC', 'AMEX', 'DISC'] as const;
const arbLine = fc.record({
  type: fc.constantFrom('SALE' as const, 'REFUND' as const),
  brand: fc.constantFrom(...BRANDS),
  amountMinor: fc.integer({ min: 1, max: 5_000_000 }),
  feeMinor: fc.integer({ min: 0, max: 20_000 }),
  paired: fc.boolean(),
  erpDelta: fc.oneof(fc.constant(0), fc.integer({ min: -5_000, max: 5_000 })),
});

describe('journal properties (fast-check)', () => {
  test('any batch in USD, JPY or KWD balances to the minor unit once its variance is approved', () => {
    fc.assert(
      fc.property(
        fc.array(arbLine, { minLength: 1, maxLength: 60 }),
        fc.constantFrom('USD', 'JPY', 'KWD'),
        fc.record({ numerator: fc.integer({ min: 0, max: 2_500 }), denominator: fc.constantFrom(100, 1000, 10_000) }),
        fc.array(fc.integer({ min: 1, max: 100_000 }), { maxLength: 3 }),
        fc.boolean(),
        (raw, currency, taxRate, erpOnlyAmounts, approved) => {
          const set = { ...rules, taxRate };
          const lines: AggregatedLine[] = raw.map((r) => {
            const erpAbs = Math.max(1, r.amountMinor + r.erpDelta);
            return {
              type: r.type,
              brand: r.brand,
              method: 'card',
              amountMinor: r.amountMinor,
              feeMinor: r.type === 'SALE' ? r.feeMinor : 0,
              erpMinor: r.paired ? (r.type === 'SALE' ? erpAbs : -erpAbs) : null,
            };
          });
          const erpOnly = erpOnlyAmounts.map((amountMinor) => ({ method: 'card', count: 1, amountMinor }));
          let expectedVariance = 0 - erpOnlyAmounts.reduce((a, b) => a + b, 0);
          for (const l of lines) {
            if (l.erpMinor !== null) {
              const sign = l.type === 'SALE' ? 1 : -1;
              expectedVariance += sign * (l.amountMinor - Math.abs(l.erpMinor));
            }
          }
          const run = () =>
            buildJournalLines({
              batchId: 'BAT_PROP',
              currency,
              rules: set,
              groups: aggregateLines(lines, taxRate),
              erpOnly,
              varianceApproved: approved,
            });
          if (expectedVariance !== 0 && !approved) {
            expect(run).toThrow(expect.objectContaining({ type: 'JournalUnbalanced' }));
            return;
          }
          const j = run();
          expectWellFormed(j);
          expect(j.varianceMinor).toBe(expectedVariance);
          // The deposit: sales − refunds − fees.
          const deposit = lines.reduce(
            (a, l) => a + (l.type === 'SALE' ? l.amountMinor : -l.amountMinor) - l.feeMinor,
            0,
          );
          expect(net(j, 'cash')).toBe(deposit);
          // Tax: the sum of each unpaired sale's own tax.
          const tax = lines
            .filter((l) => l.type === 'SALE' && l.erpMinor === null)
            .reduce((a, l) => a + inclusiveTax(l.amountMinor, taxRate, currency), 0);
          expect(net(j, 'salesTax') + tax).toBe(0);
          expect(net(j, 'suspense') + expectedVariance).toBe(0);
        },
      ),
      { numRuns: 300 },
    );
  });
});
