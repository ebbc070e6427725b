import { TEST_PAN } from './pan-audit';

/** Appends the Luhn check digit to `body`. */
export function luhnComplete(body: string): string {
  let sum = 0;
  for (let i = 0; i < body.length; i++) {
    let n = Number(body[body.length - 1 - i]);
    if (i % 2 === 0) n = n * 2 > 9 ? n * 2 - 9 : n * 2;
    sum += n;
  }
  return body + String((10 - (sum % 10)) % 10);
}

/**
 * An id that a naive scrubber takes for a card number: `length` digits, Luhn-valid, starting with a card-network digit.
 * `seed` makes it unique per test run and per use.
 */
export function luhnId(length: number, seed: string | number): string {
  const run = [...`${Date.now()}${process.pid}`].reverse().join('');
  const body = `4${String(seed).replace(/\D/g, '')}${run}${'7'.repeat(length)}`.slice(0, length - 1);
  return luhnComplete(body);
}

/**
 * The planted card number as people type or paste it: with spaces, dashes, dots, slashes, non-breaking and repeated
 * spaces, in full-width and Arabic-Indic digits, glued to a word or a prefix. Each names its form.
 */
export function typedForms(pan: string = TEST_PAN): { form: string; text: string }[] {
  const groups = pan.match(/.{1,4}/g)!;
  const digits = (zero: number) => [...pan].map((d) => String.fromCodePoint(zero + Number(d))).join('');
  return [
    { form: 'spaces', text: groups.join(' ') },
    { form: 'dashes', text: groups.join('-') },
    { form: 'dots', text: groups.join('.') },
    { form: 'slashes', text: groups.join('/') },
    { form: 'non-breaking spaces', text: groups.join('\u00a0') },
    { form: 'repeated spaces', text: groups.join('   ') },
    { form: 'full-width digits', text: digits(0xff10) },
    {
      form: 'full-width, ideographic spaces',
      text: digits(0xff10)
        .match(/.{1,4}/gu)!
        .join('\u3000'),
    },
    { form: 'Arabic-Indic digits', text: digits(0x660) },
    { form: 'glued to a word', text: `card${pan}` },
    { form: 'glued to a prefix', text: `#${pan}exp` },
  ];
}
