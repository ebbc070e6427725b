/**
 * Sample Heartland Payroll export files for tests and the demo: a generator of valid pay runs (deterministic from a
 * seed) and one broken file per validation rule, each with the row and column the reader must report. The layout is
 * the one documented in src/connectors/heartland/payroll-export.ts. Heartland Payroll has no API, so this "simulator"
 * is a file writer: point HEARTLAND_PAYROLL_DIR at the folder it writes.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { applyRate, formatDecimal, money, parseDecimal } from '../../domain/money';

export interface SamplePayrollRow {
  employeeId: string;
  employeeName: string;
  payDate: string;
  grossMinor: number;
  deductions: Record<string, number>;
  employeeTaxes: Record<string, number>;
  employerTaxes: Record<string, number>;
  /** Defaults to gross - deductions - employee taxes. */
  netMinor?: number;
}

const FIRST = ['Jane', 'John', 'Maria', 'Alex', 'Priya', 'Sam', 'Chen', 'Olga', 'Luis', 'Amara', 'Noah', 'Eva'];
const LAST = ['Doe', 'Smith', 'Garcia', "O'Brien", 'Patel', 'Nguyen', 'Kowalski', 'Okafor', 'Martin', 'Rossi'];

/** Mulberry32: a tiny seeded PRNG, so the same seed always writes the same file. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pct = (gross: number, basisPoints: number) => applyRate(money(gross, 'USD'), basisPoints, 10_000).amountMinor;

/** A plausible US pay run: FIT/SS/MED/SIT withheld, 401K and health deductions, SS/MED/FUTA/SUTA employer taxes. */
export function samplePayrollRows(opts: { seed?: number; count?: number; payDate?: string } = {}): SamplePayrollRow[] {
  const rnd = prng(opts.seed ?? 42);
  const count = opts.count ?? 8;
  const payDate = opts.payDate ?? '2024-03-15';
  return Array.from({ length: count }, (_, i) => {
    const gross = 120_000 + Math.floor(rnd() * 480_000); // 1,200.00 .. 6,000.00
    const first = FIRST[Math.floor(rnd() * FIRST.length)];
    const last = LAST[Math.floor(rnd() * LAST.length)];
    return {
      employeeId: `E${String(1001 + i)}`,
      // Some names carry a comma, so the writer's quoting is exercised.
      employeeName: i % 3 === 0 ? `${last}, ${first}` : `${first} ${last}`,
      payDate,
      grossMinor: gross,
      deductions: { '401K': rnd() < 0.6 ? pct(gross, 500) : 0, MED: rnd() < 0.7 ? 12_000 : 0 },
      employeeTaxes: { FIT: pct(gross, 1200), SS: pct(gross, 620), MED: pct(gross, 145), SIT: pct(gross, 400) },
      employerTaxes: { SS: pct(gross, 620), MED: pct(gross, 145), FUTA: pct(gross, 60), SUTA: pct(gross, 270) },
    };
  });
}

const netOf = (r: SamplePayrollRow) =>
  r.netMinor ??
  r.grossMinor -
    Object.values(r.deductions).reduce((a, b) => a + b, 0) -
    Object.values(r.employeeTaxes).reduce((a, b) => a + b, 0);

function csvField(v: string): string {
  return /[",\r\n]/.test(v) || v !== v.trim() ? `"${v.replace(/"/g, '""')}"` : v;
}

export interface CsvLayout {
  deductions: string[];
  employeeTaxes: string[];
  employerTaxes: string[];
}

/** The header and cells of a set of rows (codes in the order first seen). */
export function payrollTable(rows: SamplePayrollRow[]): { header: string[]; cells: string[][]; layout: CsvLayout } {
  const codes = (pick: (r: SamplePayrollRow) => Record<string, number>) => [
    ...new Set(rows.flatMap((r) => Object.keys(pick(r)))),
  ];
  const layout = {
    deductions: codes((r) => r.deductions),
    employeeTaxes: codes((r) => r.employeeTaxes),
    employerTaxes: codes((r) => r.employerTaxes),
  };
  const header = [
    'employee_id',
    'employee_name',
    'pay_date',
    'gross',
    ...layout.deductions.map((c) => `ded_${c}`),
    ...layout.employeeTaxes.map((c) => `tax_${c}`),
    ...layout.employerTaxes.map((c) => `er_tax_${c}`),
    'net',
  ];
  const d = (minor: number) => formatDecimal(money(minor, 'USD'));
  const cells = rows.map((r) => [
    r.employeeId,
    r.employeeName,
    r.payDate,
    d(r.grossMinor),
    ...layout.deductions.map((c) => d(r.deductions[c] ?? 0)),
    ...layout.employeeTaxes.map((c) => d(r.employeeTaxes[c] ?? 0)),
    ...layout.employerTaxes.map((c) => d(r.employerTaxes[c] ?? 0)),
    d(netOf(r)),
  ]);
  return { header, cells, layout };
}

/** A cell's amount in minor units; a deliberately broken cell counts as 0 so the totals stay the unbroken ones. */
function minorOf(cell: string | undefined): number {
  try {
    return parseDecimal(cell ?? '', 'USD').amountMinor;
  } catch {
    return 0;
  }
}

/** The TOTAL row of a table: employee count, then each amount column's sum. */
export function totalsRow(header: string[], cells: string[][]): string[] {
  return header.map((h, i) => {
    if (h === 'employee_id') return 'TOTAL';
    if (h === 'employee_name') return String(cells.length);
    if (h === 'pay_date') return '';
    const sum = cells.reduce((a, row) => a + minorOf(row[i]), 0);
    return formatDecimal(money(sum, 'USD'));
  });
}

/** Renders CSV text (CRLF line ends, as the Heartland export does) from a header and rows. */
export function toCsv(lines: string[][]): string {
  return lines.map((l) => l.map(csvField).join(',')).join('\r\n') + '\r\n';
}

/** A valid export file for the rows, totals row included. */
export function formatPayrollCsv(rows: SamplePayrollRow[]): string {
  const { header, cells } = payrollTable(rows);
  return toCsv([header, ...cells, totalsRow(header, cells)]);
}

export interface BrokenSample {
  csv: string;
  /** What the reader must report: the line and (where there is one) the column. */
  expect: { row: number; column?: string; message: RegExp }[];
}

/** Every rule the reader checks, each broken once in an otherwise valid 5-employee file. */
export const BROKEN_PAYROLL_KINDS = [
  'net_mismatch',
  'bad_date',
  'mixed_pay_date',
  'missing_employee_id',
  'duplicate_employee',
  'missing_name',
  'bad_amount',
  'too_many_decimals',
  'negative_amount',
  'missing_gross',
  'wrong_field_count',
  'totals_mismatch',
  'totals_count_mismatch',
  'missing_totals',
  'data_after_totals',
  'unknown_column',
  'missing_column',
  'no_employees',
  'unclosed_quote',
] as const;
export type BrokenPayrollKind = (typeof BROKEN_PAYROLL_KINDS)[number];

/** A file broken in exactly one way, with the error(s) the reader must report for it. */
export function brokenPayrollCsv(kind: BrokenPayrollKind): BrokenSample {
  const rows = samplePayrollRows({ seed: 7, count: 5 });
  const { header, cells } = payrollTable(rows);
  const col = (name: string) => header.indexOf(name);
  // Line numbers: header 1, employees 2..6, TOTAL 7.
  const good = () => toCsv([header, ...cells, totalsRow(header, cells)]);
  const withCell = (r: number, name: string, value: string, recomputeTotals = false) => {
    const c = cells.map((row) => [...row]);
    c[r][col(name)] = value;
    return toCsv([header, ...c, totalsRow(header, recomputeTotals ? c : cells)]);
  };
  switch (kind) {
    case 'net_mismatch': {
      const c = cells.map((row) => [...row]);
      c[1][col('net')] = formatDecimal(money(minorOf(c[1][col('net')]) + 1, 'USD'));
      return {
        csv: toCsv([header, ...c, totalsRow(header, c)]),
        expect: [{ row: 3, column: 'net', message: /but net is/ }],
      };
    }
    case 'bad_date':
      return {
        csv: withCell(2, 'pay_date', '2024-02-30'),
        expect: [{ row: 4, column: 'pay_date', message: /not a date/ }],
      };
    case 'mixed_pay_date':
      return {
        csv: withCell(3, 'pay_date', '03/22/2024'),
        expect: [{ row: 5, column: 'pay_date', message: /differs/ }],
      };
    case 'missing_employee_id':
      return { csv: withCell(0, 'employee_id', ''), expect: [{ row: 2, column: 'employee_id', message: /missing/ }] };
    case 'duplicate_employee':
      return {
        csv: withCell(4, 'employee_id', cells[1][col('employee_id')]),
        expect: [{ row: 6, column: 'employee_id', message: /already appears on line 3/ }],
      };
    case 'missing_name':
      return {
        csv: withCell(2, 'employee_name', ''),
        expect: [{ row: 4, column: 'employee_name', message: /missing/ }],
      };
    case 'bad_amount': {
      const g = cells[1][col('gross')];
      const withSep = g.length > 6 ? `${g.slice(0, g.length - 6)},${g.slice(-6)}` : `$${g}`;
      return { csv: withCell(1, 'gross', withSep), expect: [{ row: 3, column: 'gross', message: /not an amount/ }] };
    }
    case 'too_many_decimals':
      return {
        csv: withCell(0, 'tax_FIT', '10.005'),
        expect: [{ row: 2, column: 'tax_FIT', message: /at most 2 decimals/ }],
      };
    case 'negative_amount':
      return {
        csv: withCell(3, 'er_tax_FUTA', '-5.00'),
        expect: [{ row: 5, column: 'er_tax_FUTA', message: /negative/ }],
      };
    case 'missing_gross':
      return { csv: withCell(2, 'gross', ''), expect: [{ row: 4, column: 'gross', message: /missing/ }] };
    case 'wrong_field_count': {
      const c = cells.map((row) => [...row]);
      c[2] = [...c[2], 'extra'];
      return {
        csv: toCsv([header, ...c, totalsRow(header, cells)]),
        expect: [{ row: 4, message: new RegExp(`expected ${header.length} fields`) }],
      };
    }
    case 'totals_mismatch': {
      const t = totalsRow(header, cells);
      t[col('tax_SS')] = formatDecimal(money(minorOf(t[col('tax_SS')]) - 100, 'USD'));
      return {
        csv: toCsv([header, ...cells, t]),
        expect: [{ row: 7, column: 'tax_SS', message: /does not match the sum/ }],
      };
    }
    case 'totals_count_mismatch': {
      const t = totalsRow(header, cells);
      t[col('employee_name')] = '6';
      return {
        csv: toCsv([header, ...cells, t]),
        expect: [{ row: 7, column: 'employee_name', message: /says "6" employees/ }],
      };
    }
    case 'missing_totals':
      return { csv: toCsv([header, ...cells]), expect: [{ row: 0, message: /no TOTAL row/ }] };
    case 'data_after_totals':
      return {
        csv: toCsv([header, ...cells.slice(0, 4), totalsRow(header, cells.slice(0, 4)), cells[4]]),
        expect: [{ row: 7, message: /data after the TOTAL row on line 6/ }],
      };
    case 'unknown_column': {
      const h = [...header.slice(0, -1), 'bonus', 'net'];
      const c = cells.map((row) => [...row.slice(0, -1), '0.00', row[row.length - 1]]);
      return { csv: toCsv([h, ...c, totalsRow(h, c)]), expect: [{ row: 1, message: /unknown column "bonus"/ }] };
    }
    case 'missing_column': {
      const drop = col('net');
      const h = header.filter((_, i) => i !== drop);
      const c = cells.map((row) => row.filter((_, i) => i !== drop));
      return {
        csv: toCsv([h, ...c, totalsRow(h, c)]),
        expect: [{ row: 1, column: 'net', message: /required column/ }],
      };
    }
    case 'no_employees':
      return { csv: toCsv([header, totalsRow(header, [])]), expect: [{ row: 0, message: /no employee rows/ }] };
    case 'unclosed_quote': {
      // A quote opened in the TOTAL row's first field is never closed.
      const text = good().split('\r\n');
      text[6] = `"${text[6]}`;
      return {
        csv: text.slice(0, 7).join('\r\n'),
        expect: [{ row: 7, message: /not a readable CSV file: Quote Not Closed/ }],
      };
    }
  }
}

/** Writes a good pay run (and optionally every broken sample) into `dir`; returns the file paths. */
export async function writePayrollSamples(
  dir: string,
  opts: { seed?: number; count?: number; payDate?: string; broken?: boolean } = {},
): Promise<{ good: string; broken: Partial<Record<BrokenPayrollKind, string>> }> {
  await mkdir(dir, { recursive: true });
  const payDate = opts.payDate ?? '2024-03-15';
  const good = join(dir, `heartland-payroll-${payDate}.csv`);
  await writeFile(good, formatPayrollCsv(samplePayrollRows({ seed: opts.seed, count: opts.count, payDate })));
  const broken: Partial<Record<BrokenPayrollKind, string>> = {};
  if (opts.broken ?? true) {
    for (const kind of BROKEN_PAYROLL_KINDS) {
      const file = join(dir, `broken-${kind}.csv`);
      await writeFile(file, brokenPayrollCsv(kind).csv);
      broken[kind] = file;
    }
  }
  return { good, broken };
}

// `node --import tsx src/sandbox/payroll/index.ts <dir>` writes the samples for the demo.
if (require.main === module) {
  const out = process.argv[2] ?? 'payroll-samples';
  writePayrollSamples(out).then(
    (r) => process.stdout.write(`${JSON.stringify(r, null, 2)}\n`),
    (err: unknown) => {
      process.stderr.write(`${String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
