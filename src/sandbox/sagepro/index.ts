import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { FaultState } from '../faults';
import {
  ACK_COLUMNS,
  CUSTOMER_FIELDS,
  ERROR_COLUMNS,
  formatAmount,
  importBatch,
  LAYOUTS,
  parseAmount,
  TOTAL_COLUMN,
  type AckRow,
  type BatchType,
  type ImportError,
  type Row,
} from './importer';
import { docTotal, invoiceBalance, seedState, type SpState } from './state';

/**
 * Sage Pro ERP simulator. Sage Pro has no web API: integrations drop import files that its import routines read.
 * This simulator plays the importer on a drop folder; its `url` is `file://<dropDir>` and it has no HTTP port.
 *
 * Folders under the drop dir
 * - `inbox/`: the integration writes `<BATCHID>.csv` (records) and then `<BATCHID>.ctl` (control file) last. Only
 *   `*.ctl` files start a batch; names starting with `.` or ending in `.tmp` are ignored, so writers use a temp name
 *   and rename. Batches are taken in control-file mtime order, one at a time, every `pollMs` (default 100 ms).
 * - `ack/<BATCHID>.ack`: written when a batch was applied, after the exports were refreshed, so a reader that sees the
 *   ack also sees the new exports. CSV `BATCHID,RECNO,ACTION,REFNO,DOCNO,STATUS`, one row per document (per record
 *   for IC): RECNO is the first record of the document, DOCNO the Sage Pro number (customer, order, invoice, ...).
 * - `error/<BATCHID>.err`: written when a batch was rejected. CSV `BATCHID,RECNO,FIELD,CODE,MESSAGE`, one row per
 *   problem; RECNO 0 is the batch itself (control file, layout, count, total). A batch is all or nothing.
 * - `archive/`: where the importer moves a batch's files once it has answered (suffix `.1`, `.2` on name clashes).
 *   The answer (exports, then ack or error file) is always written before the files leave the inbox, so a client
 *   that sees neither an answer nor the control file in inbox/ or processing/ knows the batch was never taken.
 * - `processing/`: where a batch held by the `hang` fault stays, never acknowledged.
 * - `export/`: CSV exports the importer keeps current (written at start and after each applied batch, each by
 *   temp name and rename): customers, items, onhand, salesorders, invoices, receipts, journals, ictrans, glaccounts.
 *   Columns are listed in EXPORTS below; dates MM/DD/YYYY, amounts decimals with two places.
 *
 * Control file: CSV with header `BATCHID,BATCHTYPE,DATAFILE,RECORDCOUNT,CONTROLTOTAL` (extra columns ignored) and one
 * row. BATCHID must equal the file name, DATAFILE names the records file in inbox/, RECORDCOUNT the number of records,
 * CONTROLTOTAL the sum of the type's total column: SO and AR `EXTAMT`, CR `AMOUNT`, GL `DEBIT`, IC `QTY` (signed);
 * CU batches carry a count only and a total of 0.00.
 *
 * Import layouts (header row required, exactly these columns in this order; ACTION A = add, others below):
 * - CU customers: ACTION(A|U),CUSTNO,COMPANY,CONTACT,EMAIL,PHONE,ADDRESS1,ADDRESS2,CITY,STATE,ZIP,COUNTRY,EXTREF.
 *   A with blank CUSTNO assigns the next `C#####`; U updates CUSTNO and keeps the fields left blank.
 * - SO sales orders: ACTION(A|X),REFNO,SONO,CUSTNO,PONUM,ORDDATE,LINENO,ITEM,DESCRIP,QTYORD,PRICE,TAXAMT,EXTAMT.
 *   Consecutive A records with the same REFNO form one order; X cancels SONO (an invoiced order cannot be).
 * - AR invoices and credit memos: ACTION(A|P|V|X),REFNO,INVNO,DOCTYPE(I|C),CUSTNO,SONO,APPLYTO,INVDATE,LINENO,ITEM,
 *   DESCRIP,QTY,PRICE,TAXAMT,EXTAMT,REASON. A adds an unposted document (an invoice for SONO marks the order
 *   invoiced); P posts INVNO; V voids an invoice (refused while receipts are applied); X cancels an unposted memo.
 * - CR cash receipts: ACTION(A|V),REFNO,RECEIPTNO,CUSTNO,INVNO,PAYDATE,AMOUNT,PAYCODE,CHECKNO. A applies to a posted
 *   invoice (not above its balance); V voids RECEIPTNO. Pay codes: VISA MC AMEX DISC CARD CASH CHECK GIFT.
 * - GL journals: ACTION(A|V),REFNO,JOURNALNO,SOURCE,JEDATE,MEMO,LINENO,GLACCT,DEBIT,CREDIT,DESCRIP. Consecutive A
 *   records with the same REFNO form one entry, which must balance; V reverses JOURNALNO by posting a reversing
 *   entry (REVERSES = the original) and marking the original REVERSED.
 * - IC inventory adjustments: ACTION(A),REFNO,LINENO,ITEM,LOCTID,QTY,TRANDATE. QTY signed; on hand never below 0;
 *   an item with STOCKED = N (a service item such as SHIPPING) is refused with NOT_STOCKED.
 * Sales orders and invoices never allocate or relieve stock: on hand moves only through IC batches. The seeded items
 * are SKU-1001..1005 and SHIPPING ("Shipping", price 0, STOCKED = N, no on-hand rows), which SO and AR batches take as
 * a line like any item (order-to-cash sends shipping as a SHIPPING line).
 * EXTAMT must equal QTY x PRICE + TAXAMT. Status changes that are already in effect (cancel a cancelled order, void
 * a void receipt, ...) are accepted without change, so compensations may repeat.
 *
 * Rejections name the record and the field: BAD_DATE (anything but a real MM/DD/YYYY date), GL_ACCOUNT_NOT_FOUND
 * (4999 and 6199 are missing on purpose), CONTROL_TOTAL, RECORD_COUNT, BAD_LAYOUT, BAD_FORMAT, BAD_AMOUNT,
 * UNBALANCED, UNKNOWN_CUSTOMER, UNKNOWN_ITEM, UNKNOWN_DOCUMENT, INVALID_STATUS, OVERPAYMENT, NEGATIVE_ONHAND, ...
 * The importer does not remember batch ids: a batch dropped twice is imported twice, as a file importer would.
 *
 * Faults (no HTTP: set them on `faults` directly): `latencyMs` delays each batch; `error` rejects the next batch(es)
 * (`count`, or `rate`) with an INJECTED error file carrying `error.body.message` when given; `hang` holds the next
 * `count` batches in processing/ forever; `malformed` applies the next batch(es) but writes a garbled ack
 * (`truncated` or `garbage`); `drift` renames (`renameTo`) or drops an export column, `path` = `COLUMN` for every
 * export or `file.COLUMN` (e.g. `customers.EMAIL`), applied at the next poll and kept while set.
 */

export interface SageProSimulatorOptions {
  dropDir: string;
  pollMs?: number;
}

export interface SageProSimulator {
  url: string;
  port: number;
  dropDir: string;
  faults: FaultState;
  state: SpState;
  close(): Promise<void>;
}

const EXPORTS: Record<string, { columns: string[]; rows: (s: SpState) => Record<string, string | number>[] }> = {
  customers: {
    columns: ['CUSTNO', ...CUSTOMER_FIELDS],
    rows: (s) => s.customers.map((c) => ({ ...c })),
  },
  items: {
    columns: ['ITEM', 'ITMDESC', 'PRICE', 'STKUMID', 'STOCKED'],
    rows: (s) => s.items.map((i) => ({ ...i, PRICE: formatAmount(i.PRICE) })),
  },
  onhand: { columns: ['ITEM', 'LOCTID', 'ONHAND'], rows: (s) => s.onhand.map((o) => ({ ...o })) },
  salesorders: {
    columns: ['SONO', 'REFNO', 'CUSTNO', 'PONUM', 'ORDDATE', 'STATUS', 'TOTAL'],
    rows: (s) => s.orders.map(({ lines, ...o }) => ({ ...o, TOTAL: formatAmount(docTotal(lines)) })),
  },
  invoices: {
    columns: [
      'INVNO',
      'REFNO',
      'DOCTYPE',
      'CUSTNO',
      'SONO',
      'APPLYTO',
      'INVDATE',
      'STATUS',
      'REASON',
      'TOTAL',
      'BALANCE',
    ],
    rows: (s) =>
      s.invoices.map(({ lines, ...i }) => ({
        ...i,
        TOTAL: formatAmount(docTotal(lines)),
        BALANCE: formatAmount(invoiceBalance(s, { ...i, lines })),
      })),
  },
  receipts: {
    columns: ['RECEIPTNO', 'REFNO', 'CUSTNO', 'INVNO', 'PAYDATE', 'AMOUNT', 'PAYCODE', 'CHECKNO', 'STATUS'],
    rows: (s) => s.receipts.map((r) => ({ ...r, AMOUNT: formatAmount(r.AMOUNT) })),
  },
  journals: {
    columns: ['JOURNALNO', 'REFNO', 'SOURCE', 'JEDATE', 'MEMO', 'STATUS', 'REVERSES', 'DEBITS', 'CREDITS'],
    rows: (s) =>
      s.journals.map(({ lines, ...j }) => ({
        ...j,
        DEBITS: formatAmount(lines.reduce((a, l) => a + l.DEBIT, 0)),
        CREDITS: formatAmount(lines.reduce((a, l) => a + l.CREDIT, 0)),
      })),
  },
  ictrans: {
    columns: ['TRANNO', 'REFNO', 'LINENO', 'ITEM', 'LOCTID', 'QTY', 'TRANDATE'],
    rows: (s) => s.ictrans.map((t) => ({ ...t })),
  },
  glaccounts: { columns: ['GLACCT', 'DESCRIP'], rows: (s) => s.glAccounts.map((a) => ({ ...a })) },
};

/** One CSV field, quoted when it holds a comma, a quote or a line break. */
export function csvField(v: unknown): string {
  const s = v === null || v === undefined ? '' : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** CSV text with a header row and CRLF line ends. */
export function toCsv(columns: readonly string[], rows: Record<string, unknown>[]): string {
  return [columns.join(','), ...rows.map((r) => columns.map((c) => csvField(r[c])).join(','))].join('\r\n') + '\r\n';
}

/** Writes a file under a temp name and renames it, so a reader never sees half of it. */
async function writeAtomic(file: string, text: string): Promise<void> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(4).toString('hex')}.tmp`);
  await writeFile(tmp, text);
  await rename(tmp, file);
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}

class BatchRejected extends Error {
  constructor(readonly errors: ImportError[]) {
    super('batch rejected');
  }
}

/** Starts the Sage Pro importer on `dropDir` (created if missing); the seed replaces any earlier exports. */
export async function startSageProSimulator(opts: SageProSimulatorOptions): Promise<SageProSimulator> {
  const dropDir = path.resolve(opts.dropDir);
  const pollMs = opts.pollMs ?? 100;
  const dir = (d: string) => path.join(dropDir, d);
  for (const d of ['inbox', 'ack', 'error', 'archive', 'processing', 'export'])
    await mkdir(dir(d), { recursive: true });
  const faults = new FaultState();
  const state = seedState();
  let writtenDrift = '';

  const writeExports = async () => {
    const drift = faults.spec.drift;
    writtenDrift = JSON.stringify(drift ?? null);
    for (const [name, ex] of Object.entries(EXPORTS)) {
      let columns = [...ex.columns];
      let rows = ex.rows(state) as Record<string, unknown>[];
      if (drift) {
        const [file, col] = drift.path.includes('.') ? drift.path.split('.', 2) : [undefined, drift.path];
        if ((!file || file === name) && columns.includes(col)) {
          columns = drift.renameTo
            ? columns.map((c) => (c === col ? drift.renameTo! : c))
            : columns.filter((c) => c !== col);
          if (drift.renameTo) rows = rows.map((r) => ({ ...r, [drift.renameTo!]: r[col] }));
        }
      }
      await writeAtomic(path.join(dir('export'), `${name}.csv`), toCsv(columns, rows));
    }
  };

  const archive = async (files: string[]) => {
    for (const f of files) {
      const from = path.join(dir('inbox'), f);
      if (!(await exists(from))) continue;
      let to = path.join(dir('archive'), f);
      for (let n = 1; await exists(to); n++) to = path.join(dir('archive'), `${f}.${n}`);
      await rename(from, to);
    }
  };

  const reject = async (batchId: string, errors: ImportError[]) => {
    const rows = errors.map((e) => ({
      BATCHID: batchId,
      RECNO: e.recno,
      FIELD: e.field,
      CODE: e.code,
      MESSAGE: e.message,
    }));
    await writeAtomic(path.join(dir('error'), `${batchId}.err`), toCsv(ERROR_COLUMNS, rows));
  };

  const acknowledge = async (batchId: string, acks: AckRow[]) => {
    const rows = acks.map((a) => ({
      BATCHID: batchId,
      RECNO: a.recno,
      ACTION: a.action,
      REFNO: a.refno,
      DOCNO: a.docno,
      STATUS: 'OK',
    }));
    let text = toCsv(ACK_COLUMNS, rows);
    const m = faults.spec.malformed;
    if (m && m.count > 0) {
      m.count--;
      faults.stats.injected++;
      text =
        m.mode === 'truncated'
          ? text.slice(0, Math.max(1, Math.floor(text.length / 2)))
          : `\u0000\u00ff<<GARBLED ${randomBytes(6).toString('base64')}`;
    }
    await writeAtomic(path.join(dir('ack'), `${batchId}.ack`), text);
  };

  /** Reads and checks a control file and its data file; throws BatchRejected with every batch-level problem. */
  const readBatch = async (
    batchId: string,
    ctlFile: string,
  ): Promise<{ type: BatchType; rows: Row[]; dataFile: string }> => {
    const bad = (field: string, code: string, message: string) =>
      new BatchRejected([{ recno: 0, field, code, message }]);
    let ctl: Row[];
    try {
      ctl = parse(await readFile(ctlFile, 'utf8'), { columns: true, skip_empty_lines: true, bom: true });
    } catch (err) {
      throw bad('CONTROL', 'BAD_FORMAT', `control file is not valid CSV: ${(err as Error).message}`);
    }
    if (ctl.length !== 1) throw bad('CONTROL', 'BAD_FORMAT', `control file must hold one record, it has ${ctl.length}`);
    const c = ctl[0];
    for (const f of ['BATCHID', 'BATCHTYPE', 'DATAFILE', 'RECORDCOUNT', 'CONTROLTOTAL']) {
      if (!(f in c)) throw bad(f, 'BAD_LAYOUT', `control file has no ${f} column`);
    }
    if (c.BATCHID !== batchId)
      throw bad('BATCHID', 'BAD_VALUE', `BATCHID ${c.BATCHID} does not match the file name ${batchId}`);
    const type = c.BATCHTYPE as BatchType;
    if (!(type in LAYOUTS)) throw bad('BATCHTYPE', 'BAD_VALUE', `unknown BATCHTYPE '${c.BATCHTYPE}'`);
    const dataFile = c.DATAFILE;
    if (!dataFile || dataFile !== path.basename(dataFile) || !(await exists(path.join(dir('inbox'), dataFile)))) {
      throw bad('DATAFILE', 'MISSING_FILE', `data file '${dataFile}' is not in the inbox`);
    }
    let rows: Row[];
    let header: string[] = [];
    try {
      rows = parse(await readFile(path.join(dir('inbox'), dataFile), 'utf8'), {
        columns: (h: string[]) => (header = h),
        skip_empty_lines: true,
        bom: true,
      });
    } catch (err) {
      throw bad('DATAFILE', 'BAD_FORMAT', `data file is not valid CSV: ${(err as Error).message}`);
    }
    const layout = LAYOUTS[type] as readonly string[];
    const wrong = layout.find((col, i) => header[i] !== col) ?? header.find((h) => !layout.includes(h));
    if (wrong || header.length !== layout.length) {
      throw bad(wrong ?? 'DATAFILE', 'BAD_LAYOUT', `columns must be ${layout.join(',')}; got ${header.join(',')}`);
    }
    const errors: ImportError[] = [];
    const count = c.RECORDCOUNT.trim();
    if (!/^\d+$/.test(count) || Number(count) !== rows.length) {
      errors.push({
        recno: 0,
        field: 'RECORDCOUNT',
        code: 'RECORD_COUNT',
        message: `control file says ${count} records, the data file has ${rows.length}`,
      });
    }
    const totalCol = TOTAL_COLUMN[type];
    const expected = parseAmount(c.CONTROLTOTAL);
    const actual = totalCol ? rows.reduce((a, r) => a + (parseAmount(r[totalCol] ?? '') ?? 0), 0) : 0;
    if (expected === null || expected !== actual) {
      errors.push({
        recno: 0,
        field: 'CONTROLTOTAL',
        code: 'CONTROL_TOTAL',
        message:
          `control total '${c.CONTROLTOTAL}' does not match ` +
          `${totalCol ? `the sum of ${totalCol}` : 'a count-only batch'} (${formatAmount(actual)})`,
      });
    }
    if (errors.length) throw new BatchRejected(errors);
    return { type, rows, dataFile };
  };

  const processBatch = async (ctlName: string) => {
    const batchId = ctlName.slice(0, -'.ctl'.length);
    const ctlFile = path.join(dir('inbox'), ctlName);
    const record = (type: string, records: number, outcome: 'applied' | 'rejected' | 'held') =>
      state.batches.push({ batchId, type, records, outcome, at: new Date().toISOString() });
    const spec = faults.spec;
    if (spec.latencyMs) await new Promise((r) => setTimeout(r, spec.latencyMs));
    if (spec.hang && spec.hang.count > 0) {
      spec.hang.count--;
      faults.stats.injected++;
      await rename(ctlFile, path.join(dir('processing'), ctlName));
      const data = path.join(dir('inbox'), `${batchId}.csv`);
      if (await exists(data)) await rename(data, path.join(dir('processing'), `${batchId}.csv`));
      record('?', 0, 'held');
      return;
    }
    let files = [ctlName, `${batchId}.csv`];
    try {
      const e = spec.error;
      if (e && (e.count !== undefined ? e.count > 0 : Math.random() < (e.rate ?? 1))) {
        if (e.count !== undefined) e.count--;
        faults.stats.injected++;
        const msg = (e.body as { message?: string } | undefined)?.message ?? `injected import failure (${e.status})`;
        throw new BatchRejected([{ recno: 0, field: 'BATCH', code: 'INJECTED', message: msg }]);
      }
      const { type, rows, dataFile } = await readBatch(batchId, ctlFile);
      files = [ctlName, dataFile];
      const draft = structuredClone(state);
      const { errors, acks } = importBatch(draft, type, rows);
      if (errors.length) throw new BatchRejected(errors);
      const { batches: _keep, ...applied } = draft;
      Object.assign(state, applied);
      record(type, rows.length, 'applied');
      await writeExports();
      await acknowledge(batchId, acks);
      await archive(files);
    } catch (err) {
      if (!(err instanceof BatchRejected)) throw err;
      record('?', 0, 'rejected');
      await reject(batchId, err.errors);
      await archive(files);
    }
  };

  const tick = async () => {
    if (JSON.stringify(faults.spec.drift ?? null) !== writtenDrift) await writeExports();
    const names = (await readdir(dir('inbox'))).filter((n) => n.endsWith('.ctl') && !n.startsWith('.'));
    const withTimes = await Promise.all(
      names.map(async (n) => ({ n, t: (await stat(path.join(dir('inbox'), n))).mtimeMs })),
    );
    withTimes.sort((a, b) => a.t - b.t || a.n.localeCompare(b.n));
    for (const { n } of withTimes) {
      if (closed) return;
      await processBatch(n);
    }
  };

  await writeExports();
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  const loop = () => {
    running = tick()
      .catch((err: unknown) => {
        // A simulator bug must not stop the importer; it shows in the test output.
        process.stderr.write(`[sagepro simulator] ${(err as Error).stack ?? String(err)}\n`);
      })
      .finally(() => {
        running = undefined;
        if (!closed) timer = setTimeout(loop, pollMs);
      });
  };
  loop();

  return {
    url: `file://${dropDir}`,
    port: 0,
    dropDir,
    faults,
    state,
    close: async () => {
      closed = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}
