import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import fc from 'fast-check';
import {
  assertJournalBalanced,
  buildPayrollJournal,
  payrollJournalFromExport,
  readPayrollExport,
  type PayrollIssue,
} from '../../src/connectors/heartland/payroll-export';
import type { ErpJournalInput } from '../../src/connectors/erp/types';
import { formatDecimal, money, parseDecimal } from '../../src/domain/money';
import {
  BROKEN_PAYROLL_KINDS,
  brokenPayrollCsv,
  formatPayrollCsv,
  payrollTable,
  samplePayrollRows,
  toCsv,
  totalsRow,
  writePayrollSamples,
  type SamplePayrollRow,
} from '../../src/sandbox/payroll';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(process.env.LB_TEST_TMP ?? tmpdir(), 'payroll-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function failureOf(p: Promise<unknown>): Promise<ApplicationFailure> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(ApplicationFailure);
    return err as ApplicationFailure;
  }
  throw new Error('expected the call to fail');
}

const issuesOf = (f: ApplicationFailure) => (f.details?.[0] as { errors: PayrollIssue[] }).errors;

function sides(j: ErpJournalInput) {
  const debit = j.lines.reduce((a, l) => a + l.debitMinor, 0);
  const credit = j.lines.reduce((a, l) => a + l.creditMinor, 0);
  const byAccount: Record<string, number> = {};
  for (const l of j.lines) byAccount[l.account] = (byAccount[l.account] ?? 0) + l.debitMinor - l.creditMinor;
  return { debit, credit, byAccount };
}

describe('payroll export: happy path', () => {
  test('a sample file on disk becomes a balanced journal with the default accounts', async () => {
    const { good, broken } = await writePayrollSamples(dir, { seed: 3, count: 12, payDate: '2024-04-12' });
    expect(Object.keys(broken)).toHaveLength(BROKEN_PAYROLL_KINDS.length);
    const { export: exp, journal } = await payrollJournalFromExport(good);

    expect(exp).toMatchObject({ source: 'heartland-payroll-2024-04-12.csv', payDate: '2024-04-12', currency: 'USD' });
    expect(exp.rows).toHaveLength(12);
    expect(exp.rows[0].row).toBe(2);
    expect(exp.codes).toEqual({
      deductions: ['401K', 'MED'],
      employeeTaxes: ['FIT', 'MED', 'SIT', 'SS'],
      employerTaxes: ['FUTA', 'MED', 'SS', 'SUTA'],
    });
    const rows = samplePayrollRows({ seed: 3, count: 12, payDate: '2024-04-12' });
    const gross = rows.reduce((a, r) => a + r.grossMinor, 0);
    const sumOf = (pick: (r: SamplePayrollRow) => Record<string, number>) =>
      rows.reduce((a, r) => a + Object.values(pick(r)).reduce((x, y) => x + y, 0), 0);
    const ded = sumOf((r) => r.deductions);
    const eeTax = sumOf((r) => r.employeeTaxes);
    const erTax = sumOf((r) => r.employerTaxes);
    expect(exp.totals.grossMinor).toBe(gross);
    expect(exp.totals.netMinor).toBe(gross - ded - eeTax);

    const { debit, credit, byAccount } = sides(journal);
    expect(debit).toBe(credit);
    expect(debit).toBe(gross + erTax);
    expect(byAccount).toEqual({
      '6000': gross + erTax,
      '2100': -ded,
      '2110': -(eeTax + erTax),
      '1010': -(gross - ded - eeTax),
    });
    expect(journal).toMatchObject({ date: '2024-04-12', currency: 'USD' });
    expect(journal.ref).toBe(`payroll:2024-04-12:${exp.sha256.slice(0, 16)}`);
    expect(journal.lines.find((l) => l.description === 'Employer tax FUTA payable')).toMatchObject({
      account: '2110',
      creditMinor: exp.totals.employerTaxes.FUTA,
      dimensions: { kind: 'employer_tax', code: 'FUTA' },
    });
    expect(journal.lines.every((l) => l.debitMinor > 0 || l.creditMinor > 0)).toBe(true);
  });

  test('a Buffer and a stream of the same bytes give the same journal (and the same ref)', async () => {
    const csv = formatPayrollCsv(samplePayrollRows({ seed: 11, count: 6 }));
    const file = join(dir, 'stream.csv');
    await writeFile(file, csv);
    const a = await payrollJournalFromExport(Buffer.from(csv));
    const b = await payrollJournalFromExport(createReadStream(file), { sourceName: 'stream.csv' });
    expect(b.export.source).toBe('stream.csv');
    expect(b.journal.ref).toBe(a.journal.ref);
    expect(b.journal.lines).toEqual(a.journal.lines);
    const other = await payrollJournalFromExport(Buffer.from(csv.replace(/\r\n/g, '\n')));
    expect(other.journal.ref).not.toBe(a.journal.ref);
  });

  test('US dates, a BOM, lower-case codes, empty code cells and an account map', async () => {
    const rows = samplePayrollRows({ seed: 5, count: 3 });
    const { header, cells } = payrollTable(rows);
    const h = header.map((c) => (c.startsWith('ded_') ? c.toLowerCase() : c));
    const c = cells.map((r) => r.map((v, i) => (header[i] === 'pay_date' ? '03/15/2024' : v)));
    // An empty 401K cell means 0, so net grows by what the cell held.
    const minor = (text: string) => parseDecimal(text, 'USD').amountMinor;
    const [net, k401] = [header.indexOf('net'), header.indexOf('ded_401K')];
    c[0][net] = formatDecimal(money(minor(c[0][net]) + minor(c[0][k401]), 'USD'));
    c[0][k401] = '';
    const csv = '\uFEFF' + toCsv([h, ...c, totalsRow(header, c)]);
    const exp = await readPayrollExport(Buffer.from(csv));
    expect(exp.payDate).toBe('2024-03-15');
    expect(exp.codes.deductions).toEqual(['401K', 'MED']);
    expect(exp.rows[0].deductions['401K']).toBe(0);

    const journal = buildPayrollJournal(exp, {
      accounts: {
        employerTaxExpense: '6010',
        deductionAccounts: { '401K': '2120' },
        taxLiabilityAccounts: { FUTA: '2115' },
      },
      ref: 'payroll:custom',
      journal: 'PAYROLL',
    });
    const { debit, credit, byAccount } = sides(journal);
    expect(debit).toBe(credit);
    expect(Object.keys(byAccount).sort()).toEqual(['1010', '2100', '2110', '2115', '2120', '6000', '6010']);
    expect(byAccount['6010']).toBe(Object.values(exp.totals.employerTaxes).reduce((a, b) => a + b, 0));
    expect(byAccount['2115']).toBe(-exp.totals.employerTaxes.FUTA);
    expect(journal).toMatchObject({ ref: 'payroll:custom', journal: 'PAYROLL' });
  });

  test('property: any valid pay run yields a journal that balances to the cent', async () => {
    const amount = fc.integer({ min: 0, max: 2_000_000 });
    const rowArb = fc
      .record({
        gross: fc.integer({ min: 1, max: 5_000_000 }),
        ded: fc.dictionary(fc.constantFrom('401K', 'MED', 'GARN', 'HSA'), amount, { maxKeys: 4 }),
        tax: fc.dictionary(fc.constantFrom('FIT', 'SS', 'MED', 'SIT', 'LOCAL'), amount, { maxKeys: 5 }),
        er: fc.dictionary(fc.constantFrom('SS', 'MED', 'FUTA', 'SUTA'), amount, { maxKeys: 4 }),
      })
      .filter(({ gross, ded, tax }) => {
        const withheld = [...Object.values(ded), ...Object.values(tax)].reduce((a, b) => a + b, 0);
        return withheld <= gross;
      });
    await fc.assert(
      fc.asyncProperty(fc.array(rowArb, { minLength: 1, maxLength: 25 }), async (runs) => {
        const rows: SamplePayrollRow[] = runs.map((r, i) => ({
          employeeId: `E${i + 1}`,
          employeeName: `Employee ${i + 1}`,
          payDate: '2024-06-28',
          grossMinor: r.gross,
          deductions: r.ded,
          employeeTaxes: r.tax,
          employerTaxes: r.er,
        }));
        const { export: exp, journal } = await payrollJournalFromExport(Buffer.from(formatPayrollCsv(rows)));
        const { debit, credit, byAccount } = sides(journal);
        const gross = rows.reduce((a, r) => a + r.grossMinor, 0);
        const er = rows.reduce((a, r) => a + Object.values(r.employerTaxes).reduce((x, y) => x + y, 0), 0);
        expect(debit).toBe(credit);
        expect(debit).toBe(gross + er);
        expect(-(byAccount['1010'] ?? 0)).toBe(exp.totals.netMinor);
        expect(exp.rows).toHaveLength(rows.length);
      }),
      { numRuns: 150 },
    );
  });
});

describe('payroll export: validation errors carry their row numbers', () => {
  test.each(BROKEN_PAYROLL_KINDS)('%s', async (kind) => {
    const sample = brokenPayrollCsv(kind);
    const file = join(dir, `case-${kind}.csv`);
    await writeFile(file, sample.csv);
    const f = await failureOf(readPayrollExport(file));
    expect(f.type).toBe('ValidationError');
    expect(f.nonRetryable).toBe(true);
    const issues = issuesOf(f);
    expect(issues).toHaveLength(sample.expect.length);
    sample.expect.forEach((want, i) => {
      expect(issues[i].row).toBe(want.row);
      expect(issues[i].column).toBe(want.column);
      expect(issues[i].message).toMatch(want.message);
      expect(f.message).toContain(`row ${want.row}`);
    });
    expect(f.message).toContain(`case-${kind}.csv`);
  });

  test('several errors in one file are all listed, in row order, and nothing is returned', async () => {
    const rows = samplePayrollRows({ seed: 9, count: 6 });
    const { header, cells } = payrollTable(rows);
    const c = cells.map((r) => [...r]);
    c[4][header.indexOf('pay_date')] = '13/01/2024';
    c[1][header.indexOf('employee_name')] = '';
    c[2][header.indexOf('gross')] = 'abc';
    const f = await failureOf(readPayrollExport(Buffer.from(toCsv([header, ...c, totalsRow(header, cells)]))));
    expect(issuesOf(f).map((i) => [i.row, i.column])).toEqual([
      [3, 'employee_name'],
      [4, 'gross'],
      [6, 'pay_date'],
    ]);
    expect(f.message).toMatch(/rejected with 3 error\(s\)/);
  });

  test('an unbalanced journal is refused with JournalUnbalanced', async () => {
    const exp = await readPayrollExport(Buffer.from(formatPayrollCsv(samplePayrollRows({ count: 3 }))));
    const f = await failureOf(
      (async () => buildPayrollJournal({ ...exp, totals: { ...exp.totals, netMinor: exp.totals.netMinor + 1 } }))(),
    );
    expect(f.type).toBe('JournalUnbalanced');
    expect(f.nonRetryable).toBe(true);
    expect(f.message).toMatch(/debits \d+\.\d\d != credits \d+\.\d\d USD/);
    const journal = buildPayrollJournal(exp);
    const oneSided = { ...journal, lines: [...journal.lines, { account: '1999', debitMinor: 5, creditMinor: 5 }] };
    expect(() => assertJournalBalanced(oneSided)).toThrow(/must be a debit or a credit/);
    expect(() => assertJournalBalanced(journal)).not.toThrow();
  });

  test('the written broken samples are the same files the generator describes', async () => {
    const { broken } = await writePayrollSamples(join(dir, 'again'), { broken: true });
    const text = await readFile(broken.net_mismatch!, 'utf8');
    expect(text).toBe(brokenPayrollCsv('net_mismatch').csv);
    const f = await failureOf(readPayrollExport(broken.net_mismatch!));
    expect(issuesOf(f)[0]).toMatchObject({ row: 3, column: 'net' });
  });
});
