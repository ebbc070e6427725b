import fc from 'fast-check';
import { Writable } from 'node:stream';
import { containsPan, findCardData, luhnValid, maskPan, scrub, scrubText } from '../../src/domain/card-data';
import { createLogger } from '../../src/logger';

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
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, cb) {
        lines.push(chunk.toString());
        cb();
      },
    });
    const log = createLogger({ level: 'info', destination: sink });
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

  test('findCardData names each PAN (masked) and each track block, and nothing else', () => {
    const text = `a 4111-1111-1111-1111 b 5555555555554444 c %B4111111111111111^DOE/J^2512? d 1764700000000 e 4111111111111112`;
    expect(findCardData(text)).toEqual(['************1111', '************4444', '[track data]']);
    expect(findCardData(scrubText(text))).toEqual([]);
  });
});
