import { randomBytes } from 'node:crypto';
import { readFile, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'csv-parse/sync';

/**
 * Sage Pro import layouts and file helpers of the adapter. The layouts are the ones the importer reads (documented
 * in src/sandbox/sagepro/index.ts, which plays the importer); the adapter keeps its own copy because production
 * talks to the real Sage Pro, not to the simulator.
 */

// prettier-ignore
export const LAYOUTS = {
  CU: [
    'ACTION', 'CUSTNO', 'COMPANY', 'CONTACT', 'EMAIL', 'PHONE', 'ADDRESS1', 'ADDRESS2', 'CITY', 'STATE', 'ZIP',
    'COUNTRY', 'EXTREF',
  ],
  SO: [
    'ACTION', 'REFNO', 'SONO', 'CUSTNO', 'PONUM', 'ORDDATE', 'LINENO', 'ITEM', 'DESCRIP', 'QTYORD', 'PRICE', 'TAXAMT',
    'EXTAMT',
  ],
  AR: [
    'ACTION', 'REFNO', 'INVNO', 'DOCTYPE', 'CUSTNO', 'SONO', 'APPLYTO', 'INVDATE', 'LINENO', 'ITEM', 'DESCRIP', 'QTY',
    'PRICE', 'TAXAMT', 'EXTAMT', 'REASON',
  ],
  CR: ['ACTION', 'REFNO', 'RECEIPTNO', 'CUSTNO', 'INVNO', 'PAYDATE', 'AMOUNT', 'PAYCODE', 'CHECKNO'],
  GL: ['ACTION', 'REFNO', 'JOURNALNO', 'SOURCE', 'JEDATE', 'MEMO', 'LINENO', 'GLACCT', 'DEBIT', 'CREDIT', 'DESCRIP'],
  IC: ['ACTION', 'REFNO', 'LINENO', 'ITEM', 'LOCTID', 'QTY', 'TRANDATE'],
} as const;

export type BatchType = keyof typeof LAYOUTS;

/** The column summed into CONTROLTOTAL; CU batches carry a record count only (total 0.00). */
export const TOTAL_COLUMN: Record<BatchType, string | null> = {
  CU: null,
  SO: 'EXTAMT',
  AR: 'EXTAMT',
  CR: 'AMOUNT',
  GL: 'DEBIT',
  IC: 'QTY',
};

export const CONTROL_COLUMNS = ['BATCHID', 'BATCHTYPE', 'DATAFILE', 'RECORDCOUNT', 'CONTROLTOTAL'] as const;
export const ACK_COLUMNS = ['BATCHID', 'RECNO', 'ACTION', 'REFNO', 'DOCNO', 'STATUS'] as const;
export const ERROR_COLUMNS = ['BATCHID', 'RECNO', 'FIELD', 'CODE', 'MESSAGE'] as const;

export type Row = Record<string, string | number>;

function csvField(v: unknown): string {
  const s = v === null || v === undefined ? '' : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** CSV text with a header row and CRLF line ends. */
export function toCsv(columns: readonly string[], rows: Row[]): string {
  return [columns.join(','), ...rows.map((r) => columns.map((c) => csvField(r[c])).join(','))].join('\r\n') + '\r\n';
}

/** Parses CSV with a header row; returns the header and the records. Throws on malformed CSV. */
export function parseCsv(text: string): { header: string[]; rows: Record<string, string>[] } {
  let header: string[] = [];
  const rows = parse(text, {
    columns: (h: string[]) => (header = h),
    skip_empty_lines: true,
    bom: true,
  }) as Record<string, string>[];
  return { header, rows };
}

/** Writes a file under a dot-prefixed temp name in the same folder and renames it, so no reader sees half of it. */
export async function writeAtomic(file: string, text: string): Promise<void> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(4).toString('hex')}.tmp`);
  await writeFile(tmp, text);
  await rename(tmp, file);
}

/** Whether a file or folder exists. */
export async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}

/** The file's text, or undefined when it does not exist. */
export async function readIfExists(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** ISO `YYYY-MM-DD` to Sage Pro's `MM/DD/YYYY`, by position only: the importer judges whether the day exists. */
export function toSageDate(iso: string): string | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(iso);
  return m ? `${m[2]}/${m[3]}/${m[1]}` : undefined;
}

/** Sage Pro's `MM/DD/YYYY` to ISO `YYYY-MM-DD`. */
export function fromSageDate(v: string): string | undefined {
  const m = /^(\d{2})\/(\d{2})\/(\d{4})$/.exec(v.trim());
  return m ? `${m[3]}-${m[1]}-${m[2]}` : undefined;
}
