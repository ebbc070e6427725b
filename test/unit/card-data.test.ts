import fc from 'fast-check';
import { containsPan, findCardData, luhnValid, maskPan, scrub, scrubText } from '../../src/domain/card-data';
import { collectingLogger } from '../support/log-lines';
import { detectCardData } from '../support/pan-detector';

/** Builds a Luhn-valid number from a prefix and random digits (test data only, never a real card). */
function luhnComplete(body: string): string {
  for (let d = 0; d <= 9; d++) if (luhnValid(body + d)) return body + d;
  throw new Error('unreachable');
}

const panArb = fc
  .tuple(
    fc.constantFrom('4', '51', '37', '6011'),
    fc.integer({ min: 12, max: 18 }),
    fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 18, maxLength: 18 }),
  )
  .map(([prefix, len, digits]) => luhnComplete((prefix + digits.join('')).slice(0, len)));

describe('card data scrubbing', () => {
  test('Luhn check and masking', () => {
    expect(luhnValid(luhnComplete('4' + '1'.repeat(14)))).toBe(true);
    expect(luhnValid('4' + '1'.repeat(14) + '2')).toBe(false);
    expect(maskPan('4111 1111 1111 1111')).toBe('************1111');
  });

  test('any Luhn-valid 13-19 digit run in free text is masked to its last four', () => {
    fc.assert(
      fc.property(panArb, fc.string(), fc.string(), (pan, before, after) => {
        const text = `${before.replace(/\d/g, '')} note ${pan} ${after.replace(/\d/g, '')}`;
        const out = scrubText(text);
        expect(containsPan(out)).toBe(false);
        expect(out).toContain(pan.slice(-4));
      }),
    );
  });

  test('numbers typed with spaces or dashes are caught too; order ids that fail Luhn are kept', () => {
    const pan = luhnComplete('54'.repeat(7) + '5');
    const spaced = pan.replace(/(\d{4})(?=\d)/g, '$1 ');
    expect(scrubText(`card ${spaced}`)).not.toMatch(/\d{4} \d{4} \d{4}/);
    expect(scrubText('order 1234567890123')).toBe(
      luhnValid('1234567890123') ? 'order *********0123' : 'order 1234567890123',
    );
  });

  test('scrub() masks nested values and drops CVV and track fields', () => {
    const pan = luhnComplete('4' + '0'.repeat(14));
    const out = scrub({
      a: [{ note: `pan ${pan}` }],
      cvv: '123',
      track2: ';4000=2512?',
      card: { number: pan, last4: '0002' },
    });
    expect(JSON.stringify(out)).not.toContain(pan);
    expect(out.cvv).toBe('[removed]');
    expect(out.track2).toBe('[removed]');
    expect(out.card.last4).toBe('0002');
  });

  test('the logger never writes a PAN, whatever field it is in, and redacts secrets', () => {
    const { log, lines } = collectingLogger();
    const pan = luhnComplete('4' + '1'.repeat(14));
    log.info(
      { memo: `paid with ${pan}`, nested: { n: pan }, password: 'hunter2', HEARTLAND_APP_KEY: 'k' },
      `msg ${pan}`,
    );
    log.error(new Error(`declined ${pan}`));
    const all = lines.join('');
    expect(lines).toHaveLength(2);
    expect(containsPan(all)).toBe(false);
    expect(all).toContain('1111');
    expect(all).not.toContain('hunter2');
  });

  test('digits inside a longer token (hash, UUID, prefixed id) are left alone even when they pass Luhn', () => {
    const ids = [
      '8f9dbaa05a4f3b9d66342c1d57aa5538510795005782ab60',
      '01a23812-2016-7060-8870-710a3f10d123',
      'wc2-1796237061518',
    ];
    expect(ids.map((id) => id.match(/\d[\d-]{12,}\d/)![0].replace(/-/g, '')).some((d) => luhnValid(d))).toBe(true);
    for (const id of ids) expect(scrubText(`id ${id}.`)).toBe(`id ${id}.`);
    expect(scrubText('card:4111111111111111, (4111-1111-1111-1111)')).toBe('card:************1111, (************1111)');
  });

  test('card numbers in the forms people type or paste are masked, the text around them kept', () => {
    const nbsp = '\u00a0';
    const forms: [string, string][] = [
      ['full-width digits', 'card ４１１１ １１１１ １１１１ １１１１ thanks'],
      ['Arabic-Indic digits', 'card ٤١١١١١١١١١١١١١١١ thanks'],
      ['Devanagari digits, spaced', 'card ४१११ ११११ ११११ ११११ thanks'],
      ['mixed forms', 'card ４１11 1１11 ١١١١ 1111 thanks'],
      ['dots', 'card 4111.1111.1111.1111 thanks'],
      ['non-breaking spaces', `card 4111${nbsp}1111${nbsp}1111${nbsp}1111 thanks`],
      ['repeated spaces', 'card 4111   1111  1111    1111 thanks'],
      ['slashes', 'card 4111/1111/1111/1111 thanks'],
      ['ideographic spaces and full-width dashes', 'card ４１１１\u3000１１１１－１１１１－１１１１ thanks'],
      ['glued to a word', 'card4111111111111111 thanks'],
      ['glued to a prefix', 'cc#4111111111111111; no.4111-1111-1111-1111 thanks'],
      ['glued on both sides', 'pan4111111111111111exp thanks'],
      ['Amex grouping', 'card 3782 822463 10005 thanks'],
    ];
    for (const [what, text] of forms) {
      const out = scrubText(text);
      expect({ what, found: findCardData(out) }).toEqual({ what, found: [] });
      expect(out.slice(0, 2)).toBe(text.slice(0, 2));
      expect({ what, before: findCardData(text).length > 0 }).toEqual({ what, before: true });
      expect(out.endsWith(' thanks')).toBe(true);
      expect(out).toMatch(/\*{8,}(1111|0005)/);
    }
  });

  test('any Luhn-valid card number in any digit form, separator and glue is masked (property)', () => {
    const zero = { ascii: 0x30, fullwidth: 0xff10, arabic: 0x660, devanagari: 0x966, bengali: 0x9e6 };
    const formed = fc
      .tuple(
        panArb,
        fc.constantFrom(...Object.values(zero)),
        fc.constantFrom('', ' ', '  ', '-', '.', '/', '\u00a0', '\u2009', ' - ', '_', '\u3000'),
        fc.constantFrom(4, 4, 4, 3, 5, 6),
        fc.constantFrom('', 'card', 'visa#', 'pan:', 'No.', '(', 'x '),
        fc.constantFrom('', 'exp', ')', '.', ' ok'),
      )
      .map(([pan, z, sep, size, before, after]) => {
        const digits = [...pan].map((d) => String.fromCodePoint(z + Number(d))).join('');
        const groups = sep ? digits.match(new RegExp(`[^]{1,${size}}`, 'gu'))! : [digits];
        const lastOk = groups.length === 1 || groups.every((g) => [...g].length >= 2);
        return { pan, text: `note ${before}${(lastOk ? groups : [digits]).join(sep)}${after} end` };
      });
    fc.assert(
      fc.property(formed, ({ pan, text }) => {
        const out = scrubText(text);
        expect(findCardData(text)).toEqual([maskPan(pan)]);
        expect(findCardData(out)).toEqual([]);
        // The audit's own detector agrees, before and after.
        expect(detectCardData(text)).toEqual([maskPan(pan)]);
        expect(detectCardData(out)).toEqual([]);
        expect(out.startsWith('note ') && out.endsWith(' end')).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  test('findCardData names each PAN (masked) and each track block, and nothing else', () => {
    const text = `a 4111-1111-1111-1111 b 5555555555554444 c %B4111111111111111^DOE/J^2512? d 1764700000000 e 4111111111111112`;
    expect(findCardData(text)).toEqual(['************1111', '************4444', '[track data]']);
    expect(findCardData(scrubText(text))).toEqual([]);
  });
});
