import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import type { Readable } from 'node:stream';
import { CsvError, parse } from 'csv-parse/sync';
import { failure } from '../../domain/errors';
import { exponentOf, formatDecimal, money, parseDecimal } from '../../domain/money';
import { checkBalance } from '../erp/common';
import type { ErpJournalInput, JournalLine } from '../erp/types';

/**
 * Heartland Payroll export files. Heartland Payroll has no API; it exports flat CSV files, and this module reads one
 * pay run per file, validates every row and the file totals, and builds the payroll journal.
 *
 * File layout (UTF-8, optional BOM, comma separated, RFC 4180 quoting, one header line):
 *   employee_id, employee_name, pay_date, gross, ded_<CODE>..., tax_<CODE>..., er_tax_<CODE>..., net
 * - `ded_<CODE>`: a deduction withheld from the employee (401K, MED, GARN, ...);
 *   `tax_<CODE>`: an employee tax withheld (FIT, SS, MED, SIT, ...);
 *   `er_tax_<CODE>`: an employer tax (SS, MED, FUTA, SUTA, ...), which does not reduce net pay.
 *   CODE is letters, digits and `_`, case-insensitive (kept upper case). Column order is free; any other column is
 *   an error. An empty code cell means 0.
 * - Amounts are plain decimals in the currency (2 decimals for USD: `2500.00`, `2500`, `2500.5`); no currency signs,
 *   no thousands separators, never negative.
 * - `pay_date` is `YYYY-MM-DD` or `MM/DD/YYYY`; every row of a file has the same pay date (one pay run per file).
 * - Each employee appears once. Per row: gross - sum(ded_*) - sum(tax_*) = net, to the cent.
 * - The last record is the totals row: `employee_id` = `TOTAL`, `employee_name` = the number of employee rows,
 *   `pay_date` empty or the pay date, and every amount column holding that column's sum.
 * Errors are reported with `row` = the line number in the file (the header is line 1; a quoted field spanning lines
 * reports its last line); `row` 0 means the file as a whole. Any error rejects the whole file with one non-retryable
 * ValidationError listing them all: there is never a partial result.
 */

export const PAYROLL_CONNECTOR = 'heartland-payroll';
export const PAYROLL_FIXED_COLUMNS = ['employee_id', 'employee_name', 'pay_date', 'gross', 'net'] as const;
export const PAYROLL_TOTAL_MARKER = 'TOTAL';
/** Larger files are refused rather than buffered (a pay run of 100k employees is well under this). */
export const PAYROLL_MAX_BYTES = 50 * 1024 * 1024;

export type AmountsByCode = Record<string, number>;

export interface PayrollRow {
  /** Line number in the file. */
  row: number;
  employeeId: string;
  employeeName: string;
  payDate: string;
  grossMinor: number;
  deductions: AmountsByCode;
  employeeTaxes: AmountsByCode;
  employerTaxes: AmountsByCode;
  netMinor: number;
}

export interface PayrollTotals {
  employeeCount: number;
  grossMinor: number;
  deductions: AmountsByCode;
  employeeTaxes: AmountsByCode;
  employerTaxes: AmountsByCode;
  netMinor: number;
}

export interface PayrollExport {
  source: string;
  /** sha256 of the file bytes: the same file always yields the same journal ref. */
  sha256: string;
  currency: string;
  payDate: string;
  codes: { deductions: string[]; employeeTaxes: string[]; employerTaxes: string[] };
  rows: PayrollRow[];
  totals: PayrollTotals;
}

export interface PayrollIssue {
  row: number;
  column?: string;
  message: string;
}

type ColumnKind = 'employee_id' | 'employee_name' | 'pay_date' | 'gross' | 'net' | 'ded' | 'tax' | 'er_tax';
interface Column {
  index: number;
  name: string;
  kind: ColumnKind;
  code?: string;
}

const CODE = /^[A-Z0-9][A-Z0-9_]*$/;

function classifyColumn(raw: string, index: number): Column | string {
  const name = raw.trim();
  const lower = name.toLowerCase();
  if ((PAYROLL_FIXED_COLUMNS as readonly string[]).includes(lower))
    return { index, name: lower, kind: lower as ColumnKind };
  for (const [prefix, kind] of [
    ['er_tax_', 'er_tax'],
    ['ded_', 'ded'],
    ['tax_', 'tax'],
  ] as const) {
    if (lower.startsWith(prefix)) {
      const code = name.slice(prefix.length).toUpperCase();
      if (!CODE.test(code)) return `column ${JSON.stringify(name)} has an invalid code (letters, digits and _ only)`;
      return { index, name: `${prefix}${code}`, kind, code };
    }
  }
  return `unknown column ${JSON.stringify(name)} (expected ${PAYROLL_FIXED_COLUMNS.join(', ')}, ded_<CODE>, tax_<CODE>, er_tax_<CODE>)`;
}

/** Parses `YYYY-MM-DD` or `MM/DD/YYYY` into ISO `YYYY-MM-DD`; undefined when it is not a real calendar date. */
export function parsePayDate(text: string): string | undefined {
  let y: number, m: number, d: number;
  let match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (match) [y, m, d] = [Number(match[1]), Number(match[2]), Number(match[3])];
  else if ((match = /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/.exec(text))) {
    [m, d, y] = [Number(match[1]), Number(match[2]), Number(match[3])];
  } else return undefined;
  if (y < 1900 || y > 2999 || m < 1 || m > 12 || d < 1) return undefined;
  const days = new Date(Date.UTC(y, m, 0)).getUTCDate();
  if (d > days) return undefined;
  return `${String(y).padStart(4, '0')}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`;
}

async function readSource(source: string | Buffer | Readable): Promise<{ bytes: Buffer; name: string }> {
  if (Buffer.isBuffer(source)) return { bytes: source, name: 'buffer' };
  if (typeof source === 'string') {
    const st = await stat(source);
    if (st.size > PAYROLL_MAX_BYTES) tooLarge(basename(source));
    return { bytes: await readFile(source), name: basename(source) };
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of source) {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += b.length;
    if (size > PAYROLL_MAX_BYTES) {
      source.destroy();
      tooLarge('stream');
    }
    chunks.push(b);
  }
  return { bytes: Buffer.concat(chunks), name: 'stream' };
}

function tooLarge(name: string): never {
  throw failure('ValidationError', `payroll export ${name} is larger than ${PAYROLL_MAX_BYTES} bytes`, {
    connector: PAYROLL_CONNECTOR,
    errors: [{ row: 0, message: 'file too large' }],
  });
}

function reject(source: string, issues: PayrollIssue[]): never {
  const shown = issues.slice(0, 20).map((i) => `row ${i.row}${i.column ? ` ${i.column}` : ''}: ${i.message}`);
  const more = issues.length > shown.length ? `; and ${issues.length - shown.length} more` : '';
  throw failure(
    'ValidationError',
    `payroll export ${source} rejected with ${issues.length} error(s): ${shown.join('; ')}${more}`,
    { connector: PAYROLL_CONNECTOR, source, errorCount: issues.length, errors: issues.slice(0, 1000) },
  );
}

const sumCodes = (m: AmountsByCode) => Object.values(m).reduce((a, b) => a + b, 0);

/**
 * Reads and validates one Heartland Payroll export (a path, a Buffer or a stream). Throws a non-retryable
 * ValidationError listing every problem with its row number; returns only a fully valid file.
 */
export async function readPayrollExport(
  source: string | Buffer | Readable,
  opts: { currency?: string; sourceName?: string } = {},
): Promise<PayrollExport> {
  const currency = opts.currency ?? 'USD';
  const exp = exponentOf(currency);
  const { bytes, name: defaultName } = await readSource(source);
  const name = opts.sourceName ?? defaultName;
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const fmt = (minor: number) => formatDecimal(money(minor, currency));

  let records: { record: string[]; info: { lines: number } }[];
  try {
    records = parse(bytes, {
      bom: true,
      info: true,
      relax_column_count: true,
      skip_empty_lines: true,
      skip_records_with_empty_values: true,
      trim: true,
    }) as unknown as { record: string[]; info: { lines: number } }[];
  } catch (err) {
    if (err instanceof CsvError) {
      const line = (err as CsvError & { lines?: number }).lines ?? 0;
      reject(name, [{ row: line, message: `not a readable CSV file: ${err.message}` }]);
    }
    throw err;
  }
  if (records.length === 0) reject(name, [{ row: 0, message: 'the file is empty' }]);

  // Header: every column must be known; without a valid header no row can be read.
  const headerIssues: PayrollIssue[] = [];
  const columns: Column[] = [];
  const seen = new Set<string>();
  records[0].record.forEach((raw, index) => {
    const col = classifyColumn(raw, index);
    if (typeof col === 'string') headerIssues.push({ row: records[0].info.lines, message: col });
    else if (seen.has(col.name))
      headerIssues.push({ row: records[0].info.lines, column: col.name, message: 'duplicate column' });
    else {
      seen.add(col.name);
      columns.push(col);
    }
  });
  for (const req of PAYROLL_FIXED_COLUMNS) {
    if (!seen.has(req))
      headerIssues.push({ row: records[0].info.lines, column: req, message: 'required column is missing' });
  }
  if (headerIssues.length > 0) reject(name, headerIssues);

  const width = records[0].record.length;
  const col = (kind: ColumnKind) => columns.find((c) => c.kind === kind)!;
  const codeCols = (kind: 'ded' | 'tax' | 'er_tax') =>
    columns.filter((c) => c.kind === kind).sort((a, b) => a.code!.localeCompare(b.code!));
  const dedCols = codeCols('ded');
  const taxCols = codeCols('tax');
  const erCols = codeCols('er_tax');
  const amountCols = [col('gross'), ...dedCols, ...taxCols, ...erCols, col('net')];

  const issues: PayrollIssue[] = [];
  const rows: PayrollRow[] = [];
  const firstRowOf = new Map<string, number>();
  /** Column sums; a column with an unreadable cell gets no sum, so its total is not checked twice. */
  const sums = new Map<string, number | undefined>(amountCols.map((c) => [c.name, 0]));
  let payDate: string | undefined;
  let totals: { row: number; cells: string[] } | undefined;
  let employeeRows = 0;

  const amount = (cells: string[], c: Column, line: number, required: boolean): number | undefined => {
    const text = cells[c.index] ?? '';
    if (text === '') {
      if (!required) return 0;
      issues.push({ row: line, column: c.name, message: 'amount is missing' });
      return undefined;
    }
    const m = /^([+-])?(\d+)(?:\.(\d+))?$/.exec(text);
    if (!m || (m[3] ?? '').length > exp) {
      issues.push({
        row: line,
        column: c.name,
        message: `${JSON.stringify(text)} is not an amount with at most ${exp} decimals`,
      });
      return undefined;
    }
    const v = parseDecimal(text, currency).amountMinor;
    if (v < 0) {
      issues.push({ row: line, column: c.name, message: `amount ${text} is negative` });
      return undefined;
    }
    return v;
  };

  for (const { record: cells, info } of records.slice(1)) {
    const line = info.lines;
    const id = cells[col('employee_id').index] ?? '';
    if (totals) {
      issues.push({ row: line, message: `data after the ${PAYROLL_TOTAL_MARKER} row on line ${totals.row}` });
      continue;
    }
    const isTotal = id.toUpperCase() === PAYROLL_TOTAL_MARKER;
    if (!isTotal) employeeRows++;
    if (cells.length !== width) {
      issues.push({ row: line, message: `expected ${width} fields like the header, found ${cells.length}` });
      // The row's cells cannot be trusted, so no column total can be checked against the rows.
      for (const c of amountCols) sums.set(c.name, undefined);
      if (!isTotal) continue;
    }
    if (isTotal) {
      totals = { row: line, cells };
      continue;
    }

    const rowStart = issues.length;
    if (id === '') issues.push({ row: line, column: 'employee_id', message: 'employee id is missing' });
    else if (firstRowOf.has(id)) {
      issues.push({
        row: line,
        column: 'employee_id',
        message: `employee ${id} already appears on line ${firstRowOf.get(id)}`,
      });
    } else firstRowOf.set(id, line);
    const employeeName = cells[col('employee_name').index] ?? '';
    if (employeeName === '') issues.push({ row: line, column: 'employee_name', message: 'employee name is missing' });

    const dateText = cells[col('pay_date').index] ?? '';
    const date = dateText === '' ? undefined : parsePayDate(dateText);
    if (dateText === '') issues.push({ row: line, column: 'pay_date', message: 'pay date is missing' });
    else if (!date) {
      issues.push({
        row: line,
        column: 'pay_date',
        message: `${JSON.stringify(dateText)} is not a date (YYYY-MM-DD or MM/DD/YYYY)`,
      });
    } else if (payDate === undefined) payDate = date;
    else if (date !== payDate) {
      issues.push({
        row: line,
        column: 'pay_date',
        message: `pay date ${date} differs from ${payDate}: one pay run per file`,
      });
    }

    const values = new Map<string, number | undefined>();
    for (const c of amountCols) {
      const v = amount(cells, c, line, c.kind === 'gross' || c.kind === 'net');
      values.set(c.name, v);
      const s = sums.get(c.name);
      sums.set(c.name, s === undefined || v === undefined ? undefined : s + v);
    }
    const byCode = (cols: Column[]) => Object.fromEntries(cols.map((c) => [c.code!, values.get(c.name) ?? 0]));
    const row: PayrollRow = {
      row: line,
      employeeId: id,
      employeeName,
      payDate: date ?? '',
      grossMinor: values.get('gross') ?? 0,
      deductions: byCode(dedCols),
      employeeTaxes: byCode(taxCols),
      employerTaxes: byCode(erCols),
      netMinor: values.get('net') ?? 0,
    };
    if (amountCols.every((c) => values.get(c.name) !== undefined)) {
      const ded = sumCodes(row.deductions);
      const tax = sumCodes(row.employeeTaxes);
      const expected = row.grossMinor - ded - tax;
      if (expected !== row.netMinor) {
        issues.push({
          row: line,
          column: 'net',
          message:
            `gross ${fmt(row.grossMinor)} - deductions ${fmt(ded)} - employee taxes ${fmt(tax)} = ${fmt(expected)}, ` +
            `but net is ${fmt(row.netMinor)}`,
        });
      }
    }
    if (issues.length === rowStart) rows.push(row);
  }

  const lastLine = records[records.length - 1].info.lines;
  if (employeeRows === 0) issues.push({ row: 0, message: 'the file has no employee rows' });
  if (!totals) {
    issues.push({ row: 0, message: `the file has no ${PAYROLL_TOTAL_MARKER} row after line ${lastLine}` });
  } else {
    const t = totals;
    const count = t.cells[col('employee_name').index] ?? '';
    if (!/^\d+$/.test(count) || Number(count) !== employeeRows) {
      issues.push({
        row: t.row,
        column: 'employee_name',
        message: `the ${PAYROLL_TOTAL_MARKER} row says ${JSON.stringify(count)} employees, the file has ${employeeRows}`,
      });
    }
    const tDate = t.cells[col('pay_date').index] ?? '';
    if (tDate !== '' && payDate !== undefined && parsePayDate(tDate) !== payDate) {
      issues.push({
        row: t.row,
        column: 'pay_date',
        message: `the ${PAYROLL_TOTAL_MARKER} row's date ${tDate} is not ${payDate}`,
      });
    }
    for (const c of amountCols) {
      const v = amount(t.cells, c, t.row, true);
      const s = sums.get(c.name);
      if (v !== undefined && s !== undefined && v !== s) {
        issues.push({
          row: t.row,
          column: c.name,
          message: `total ${fmt(v)} does not match the sum of the rows, ${fmt(s)}`,
        });
      }
    }
  }
  if (issues.length > 0)
    reject(
      name,
      issues.sort((a, b) => a.row - b.row),
    );

  const totalByCode = (cols: Column[]) => Object.fromEntries(cols.map((c) => [c.code!, sums.get(c.name)!]));
  return {
    source: name,
    sha256,
    currency,
    payDate: payDate!,
    codes: {
      deductions: dedCols.map((c) => c.code!),
      employeeTaxes: taxCols.map((c) => c.code!),
      employerTaxes: erCols.map((c) => c.code!),
    },
    rows,
    totals: {
      employeeCount: rows.length,
      grossMinor: sums.get('gross')!,
      deductions: totalByCode(dedCols),
      employeeTaxes: totalByCode(taxCols),
      employerTaxes: totalByCode(erCols),
      netMinor: sums.get('net')!,
    },
  };
}

export interface PayrollAccountMap {
  /** Debit: gross wages. */
  wagesExpense: string;
  /** Debit: employer taxes. The shared chart has no separate account, so this defaults to 6000 on its own lines. */
  employerTaxExpense: string;
  /** Credit: deductions withheld (benefits, 401k, garnishments). */
  deductionLiabilities: string;
  /** Credit: employee taxes withheld and employer taxes owed. */
  taxLiabilities: string;
  /** Credit: net pay. */
  cash: string;
  /** Per-code overrides, e.g. { '401K': '2120' }. */
  deductionAccounts?: Record<string, string>;
  /** Per-code overrides of the tax liability account (employee and employer side of the code). */
  taxLiabilityAccounts?: Record<string, string>;
  /** Per-code overrides of the employer tax expense account. */
  employerTaxExpenseAccounts?: Record<string, string>;
}

export const DEFAULT_PAYROLL_ACCOUNTS: PayrollAccountMap = Object.freeze({
  wagesExpense: '6000',
  employerTaxExpense: '6000',
  deductionLiabilities: '2100',
  taxLiabilities: '2110',
  cash: '1010',
});

/**
 * Throws unless the journal has two or more lines, each one-sided on an account (ValidationError), and debits equal
 * credits (JournalUnbalanced): the same check the ERP adapters make before posting (src/connectors/erp/common.ts).
 */
export function assertJournalBalanced(j: ErpJournalInput): void {
  checkBalance('payroll', j);
}

/**
 * Builds the payroll journal of a validated export: debit wages expense (gross) and employer tax expense; credit
 * deduction liabilities, tax liabilities (employee withholding and employer taxes, one line per code) and cash (net).
 * Zero lines are left out. The ref defaults to `payroll:<payDate>:<sha256 prefix>`, so one file posts once.
 */
export function buildPayrollJournal(
  exp: PayrollExport,
  opts: { accounts?: Partial<PayrollAccountMap>; ref?: string; memo?: string; journal?: string } = {},
): ErpJournalInput {
  const a: PayrollAccountMap = { ...DEFAULT_PAYROLL_ACCOUNTS, ...opts.accounts };
  const t = exp.totals;
  const lines: JournalLine[] = [];
  const push = (
    account: string,
    side: 'debit' | 'credit',
    minor: number,
    description: string,
    dims: Record<string, string>,
  ) => {
    if (minor === 0) return;
    lines.push({
      account,
      debitMinor: side === 'debit' ? minor : 0,
      creditMinor: side === 'credit' ? minor : 0,
      description,
      dimensions: { source: 'heartland-payroll', payDate: exp.payDate, ...dims },
    });
  };
  push(a.wagesExpense, 'debit', t.grossMinor, 'Gross wages', { kind: 'gross' });
  for (const code of exp.codes.employerTaxes) {
    const acct = a.employerTaxExpenseAccounts?.[code] ?? a.employerTaxExpense;
    push(acct, 'debit', t.employerTaxes[code], `Employer tax ${code} expense`, { kind: 'employer_tax', code });
  }
  for (const code of exp.codes.deductions) {
    const acct = a.deductionAccounts?.[code] ?? a.deductionLiabilities;
    push(acct, 'credit', t.deductions[code], `Deduction ${code} withheld`, { kind: 'deduction', code });
  }
  for (const code of exp.codes.employeeTaxes) {
    const acct = a.taxLiabilityAccounts?.[code] ?? a.taxLiabilities;
    push(acct, 'credit', t.employeeTaxes[code], `Employee tax ${code} withheld`, { kind: 'employee_tax', code });
  }
  for (const code of exp.codes.employerTaxes) {
    const acct = a.taxLiabilityAccounts?.[code] ?? a.taxLiabilities;
    push(acct, 'credit', t.employerTaxes[code], `Employer tax ${code} payable`, { kind: 'employer_tax', code });
  }
  push(a.cash, 'credit', t.netMinor, 'Net pay', { kind: 'net' });

  const journal: ErpJournalInput = {
    ref: opts.ref ?? `payroll:${exp.payDate}:${exp.sha256.slice(0, 16)}`,
    date: exp.payDate,
    currency: exp.currency,
    ...(opts.journal ? { journal: opts.journal } : {}),
    memo: opts.memo ?? `Heartland Payroll ${exp.payDate} (${t.employeeCount} employees, ${exp.source})`,
    lines,
  };
  if (t.grossMinor === 0) {
    throw failure('ValidationError', `payroll export ${exp.source}: gross pay is zero, nothing to post`, {
      connector: PAYROLL_CONNECTOR,
      errors: [{ row: 0, message: 'gross pay is zero' }],
    });
  }
  assertJournalBalanced(journal);
  return journal;
}

/** Reads, validates and turns one export file into its balanced payroll journal. */
export async function payrollJournalFromExport(
  source: string | Buffer | Readable,
  opts: { currency?: string; sourceName?: string; accounts?: Partial<PayrollAccountMap>; ref?: string } = {},
): Promise<{ export: PayrollExport; journal: ErpJournalInput }> {
  const exp = await readPayrollExport(source, opts);
  return { export: exp, journal: buildPayrollJournal(exp, opts) };
}
