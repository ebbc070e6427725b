import type { Db } from '../db';
import { exponentOf } from '../domain/money';

/**
 * The reconciliation report of a batch, written by SQL straight into `recon_reports` (a 100,000-line batch never
 * passes through the worker's memory):
 * - JSON (machine-readable, amounts in minor units): batch, period, Heartland and ERP totals, counts per result kind,
 *   variance and approval, the journal entry with its lines, and every result that is not `matched`;
 * - CSV (for finance, amounts as decimals in the batch currency): one row per result, matched ones included. Text
 *   cells that a spreadsheet would run as a formula (leading = + - @) are prefixed with an apostrophe.
 */

export type ReportFormat = 'json' | 'csv';

export const CSV_COLUMNS = [
  'kind',
  'txn_id',
  'type',
  'brand',
  'reference',
  'erp_id',
  'heartland_amount',
  'erp_amount',
  'difference',
  'matched_by',
  'detail',
] as const;

/** SQL text of a CSV cell for a text expression. */
function csvText(expr: string): string {
  return `CASE WHEN ${expr} IS NULL THEN ''
    WHEN ${expr} ~ '^[=+@-]' THEN '"''' || replace(${expr}, '"', '""') || '"'
    WHEN ${expr} ~ '[",\r\n]' THEN '"' || replace(${expr}, '"', '""') || '"'
    ELSE ${expr} END`;
}

/** SQL text of a decimal rendering of a minor-unit bigint expression with `exp` decimals. */
function csvAmount(expr: string, exp: number): string {
  if (exp === 0) return `coalesce(CAST(${expr} AS text), '')`;
  const scale = 10 ** exp;
  return `CASE WHEN ${expr} IS NULL THEN '' ELSE
    (CASE WHEN ${expr} < 0 THEN '-' ELSE '' END) || CAST(abs(${expr}) / ${scale} AS text) || '.' ||
    lpad(CAST(abs(${expr}) % ${scale} AS text), ${exp}, '0') END`;
}

const JSON_SQL = `
SELECT json_build_object(
  'batchId', b.batch_id,
  'source', b.source,
  'erp', b.erp,
  'status', b.status,
  'currency', b.currency,
  'period', json_build_object('from', b.period_from, 'to', b.period_to),
  'generatedAt', now(),
  'heartland', (
    SELECT json_build_object(
      'lines', count(*),
      'duplicatesInFeed', (SELECT count(*) FROM settlement_line_duplicates d WHERE d.batch_id = :batch),
      'salesCount', count(*) FILTER (WHERE type = 'SALE'),
      'salesMinor', coalesce(sum(amount_minor) FILTER (WHERE type = 'SALE'), 0),
      'refundsCount', count(*) FILTER (WHERE type = 'REFUND'),
      'refundsMinor', coalesce(sum(amount_minor) FILTER (WHERE type = 'REFUND'), 0),
      'feesMinor', coalesce(sum(fee_minor), 0),
      'byBrand', (
        SELECT coalesce(json_object_agg(brand, t), '{}') FROM (
          SELECT brand, json_build_object(
            'salesMinor', coalesce(sum(amount_minor) FILTER (WHERE type = 'SALE'), 0),
            'refundsMinor', coalesce(sum(amount_minor) FILTER (WHERE type = 'REFUND'), 0),
            'feesMinor', coalesce(sum(fee_minor), 0)) AS t
          FROM settlement_lines WHERE batch_id = :batch GROUP BY brand) x))
    FROM settlement_lines WHERE batch_id = :batch),
  'erpPayments', json_build_object('count', b.erp_payment_count, 'totalMinor', b.erp_payment_minor),
  'counts', (
    SELECT coalesce(json_object_agg(kind, n), '{}')
    FROM (SELECT kind, count(*) AS n FROM recon_results WHERE batch_id = :batch GROUP BY kind) x),
  'varianceMinor', b.variance_minor,
  'approval', CASE WHEN b.approved_by IS NULL THEN NULL ELSE
    json_build_object('by', b.approved_by, 'at', b.approved_at, 'note', b.approval_note) END,
  'journal', (
    SELECT json_build_object(
      'ref', e.ref, 'status', e.status, 'erpJournalId', e.erp_journal_id, 'date', e.entry_date,
      'journal', e.journal, 'glRulesVersion', e.gl_rules_version, 'debitMinor', e.debit_minor,
      'creditMinor', e.credit_minor, 'suspenseMinor', e.suspense_minor,
      'lines', (
        SELECT json_agg(json_build_object(
          'lineNo', jl.line_no, 'purpose', jl.purpose, 'account', jl.account, 'debitMinor', jl.debit_minor,
          'creditMinor', jl.credit_minor, 'description', jl.description, 'dimensions', jl.dimensions)
          ORDER BY jl.line_no)
        FROM journal_lines jl WHERE jl.entry_id = e.id))
    FROM journal_entries e WHERE e.ref = :batch),
  'exceptions', (
    SELECT coalesce(json_agg(json_build_object(
      'kind', kind, 'txnId', txn_id, 'type', type, 'brand', brand, 'reference', reference, 'erpId', erp_id,
      'heartlandMinor', heartland_minor, 'erpMinor', erp_minor, 'diffMinor', diff_minor, 'matchedBy', matched_by,
      'detail', detail) ORDER BY id), '[]')
    FROM recon_results WHERE batch_id = :batch AND kind <> 'matched')
) AS body
FROM settlement_batches b WHERE b.batch_id = :batch`;

function csvSql(exp: number): string {
  const row = [
    csvText('kind'),
    csvText('txn_id'),
    csvText('type'),
    csvText('brand'),
    csvText('reference'),
    csvText('erp_id'),
    csvAmount('heartland_minor', exp),
    csvAmount('erp_minor', exp),
    csvAmount('diff_minor', exp),
    csvText('matched_by'),
    csvText('detail'),
  ].join(` || ',' || `);
  return `
SELECT '${CSV_COLUMNS.join(',')}' || chr(10) || coalesce(string_agg(${row}, chr(10) ORDER BY id), '') || chr(10) AS body
FROM recon_results WHERE batch_id = :batch`;
}

const UPSERT = `
INSERT INTO recon_reports (batch_id, format, content_type, body) VALUES (:batch, :format, :type, :body)
ON CONFLICT (batch_id, format) DO UPDATE SET body = excluded.body, content_type = excluded.content_type,
  created_at = now()`;

/** Writes (or rewrites) the JSON and CSV reports of a batch; returns their sizes in bytes. */
export async function writeReconReport(db: Db, batchId: string): Promise<{ jsonBytes: number; csvBytes: number }> {
  const batch = await db('settlement_batches').where({ batch_id: batchId }).first();
  if (!batch) throw new Error(`settlement batch ${batchId} is unknown`);
  const exp = batch.currency ? exponentOf(batch.currency) : 2;
  return db.transaction(async (trx) => {
    // Both bodies are built and stored inside Postgres: INSERT … SELECT, no round trip through the worker.
    const json = await trx.raw(
      `WITH r AS (${JSON_SQL}) ${UPSERT.replace(':body', 'CAST((SELECT body FROM r) AS text)')} RETURNING length(body) AS n`,
      { batch: batchId, format: 'json', type: 'application/json' },
    );
    const csv = await trx.raw(
      `WITH r AS (${csvSql(exp)}) ${UPSERT.replace(':body', '(SELECT body FROM r)')} RETURNING length(body) AS n`,
      { batch: batchId, format: 'csv', type: 'text/csv' },
    );
    return { jsonBytes: Number(json.rows[0].n), csvBytes: Number(csv.rows[0].n) };
  });
}

/** A stored report of a batch, for the ops API; undefined when none was written. */
export async function getReconReport(
  db: Db,
  batchId: string,
  format: ReportFormat,
): Promise<{ contentType: string; body: string; createdAt: Date } | undefined> {
  const row = await db('recon_reports').where({ batch_id: batchId, format }).first();
  if (!row) return undefined;
  return { contentType: row.content_type, body: row.body, createdAt: row.created_at };
}
