import type { Db } from '../db';
import type { GpSettlementTransaction, HeartlandGateway, Page } from '../connectors/heartland/gp-types';

/**
 * Staging of a settlement batch: the GP settlement report is paged into `settlement_lines`, one multi-row
 * INSERT … ON CONFLICT DO NOTHING per page, so memory holds one page (plus the next one, fetched while the current
 * one is written) whatever the batch size.
 *
 * Duplicates: a transaction id that the feed carries twice keeps its first line; every further copy is recorded in
 * `settlement_line_duplicates` with its feed position (page, position). A page fetched again after a resume
 * conflicts with lines of the same position and is not a duplicate. This relies on the report's stable order
 * (ascending by time created), which is what the GP API documents for `order_by=TIME_CREATED`.
 */

/** What the staging heartbeats and resumes from. */
export interface StageCursor {
  /** The page to fetch next; null when the last page was written. */
  nextPage: number | null;
  pagesDone: number;
}

export interface StagedTotals {
  lines: number;
  duplicates: number;
  salesCount: number;
  salesMinor: number;
  refundsCount: number;
  refundsMinor: number;
  feesMinor: number;
  /** Sales minus refunds. */
  netMinor: number;
  /** What the processor deposits: net minus fees. */
  depositMinor: number;
  currency: string | null;
  /** Transaction dates (UTC), the period of the ERP side. */
  periodFrom: string | null;
  periodTo: string | null;
}

export interface StageResult extends StagedTotals {
  pages: number;
  /** The page this attempt started from (greater than 1 after a resume). */
  startedAtPage: number;
}

const INPUT = `SELECT ?::text AS batch_id, t.* FROM json_to_recordset(?::json) AS t(
    txn_id text, type text, status text, amount_minor bigint, fee_minor bigint, currency text, brand text,
    card_last4 text, reference text, deposit_id text, txn_time timestamptz, src_page int, src_pos int)`;

const INSERT_LINES = `
INSERT INTO settlement_lines (batch_id, txn_id, type, status, amount_minor, fee_minor, currency, method, brand,
                              card_last4, reference, deposit_id, txn_time, src_page, src_pos)
SELECT batch_id, txn_id, type, status, amount_minor, fee_minor, currency, 'card', brand,
       card_last4, reference, deposit_id, txn_time, src_page, src_pos
FROM (${INPUT}) input
ON CONFLICT (batch_id, txn_id) DO NOTHING`;

// Run only for a page that had conflicts. A conflicting row whose line sits at the same feed position is a page
// fetched again (after a resume, or written by the attempt that crashed); any other is a duplicate in the feed.
const INSERT_DUPLICATES = `
INSERT INTO settlement_line_duplicates (batch_id, src_page, src_pos, txn_id, type, amount_minor, reference)
SELECT i.batch_id, i.src_page, i.src_pos, i.txn_id, i.type, i.amount_minor, i.reference
FROM (${INPUT}) i
WHERE NOT EXISTS (SELECT 1 FROM settlement_lines l
                  WHERE l.batch_id = i.batch_id AND l.txn_id = i.txn_id
                    AND l.src_page = i.src_page AND l.src_pos = i.src_pos)
ON CONFLICT DO NOTHING`;

function rowOf(t: GpSettlementTransaction, page: number, pos: number) {
  return {
    txn_id: t.id,
    type: t.type,
    status: t.status,
    amount_minor: t.amountMinor,
    fee_minor: t.feeMinor,
    currency: t.currency,
    brand: t.brand,
    card_last4: t.cardLast4,
    reference: t.reference || null,
    deposit_id: t.depositId,
    txn_time: t.timeCreated,
    src_page: page,
    src_pos: pos,
  };
}

/** Writes one page of settlement transactions; returns how many lines were new and how many were duplicates. */
export async function insertSettlementPage(
  db: Db,
  batchId: string,
  page: Page<GpSettlementTransaction>,
): Promise<{ inserted: number; duplicates: number }> {
  if (page.records.length === 0) return { inserted: 0, duplicates: 0 };
  const rows = page.records.map((t, i) => rowOf(t, page.page, i));
  const json = JSON.stringify(rows);
  const ins = await db.raw(INSERT_LINES, [batchId, json]);
  const inserted: number = ins.rowCount;
  if (inserted === rows.length) return { inserted, duplicates: 0 };
  const dups = await db.raw(INSERT_DUPLICATES, [batchId, json]);
  return { inserted, duplicates: dups.rowCount };
}

/**
 * Pages the batch from `startPage` on, writing each page and reporting the cursor after it is written (the caller
 * heartbeats it). The next page is requested while the current one is written.
 */
export async function stageSettlementBatch(
  db: Db,
  gateway: HeartlandGateway,
  opts: {
    batchId: string;
    startPage?: number;
    pageSize?: number;
    pagesDone?: number;
    onPage?: (cursor: StageCursor, page: Page<GpSettlementTransaction>) => void;
  },
): Promise<{ pages: number }> {
  const it = gateway
    .settlementTransactions({ batchId: opts.batchId, startPage: opts.startPage ?? 1, pageSize: opts.pageSize })
    [Symbol.asyncIterator]();
  let pagesDone = opts.pagesDone ?? 0;
  let pending = it.next();
  for (;;) {
    const r = await pending;
    if (r.done) break;
    const page = r.value;
    pending = page.nextPage === null ? Promise.resolve({ done: true, value: undefined }) : it.next();
    // A failed prefetch surfaces when it is awaited; until then it must not count as unhandled.
    pending.catch(() => undefined);
    await insertSettlementPage(db, opts.batchId, page);
    pagesDone++;
    opts.onPage?.({ nextPage: page.nextPage, pagesDone }, page);
  }
  return { pages: pagesDone };
}

/** Totals of the staged lines, computed in SQL. */
export async function stagedTotals(db: Db, batchId: string): Promise<StagedTotals> {
  // Fresh statistics after a bulk load: without them the planner takes a new batch for a handful of rows and the
  // batch-wide joins of matching and journal building degrade to nested loops (quadratic at 100,000 lines).
  await db.raw('ANALYZE settlement_lines');
  const { rows } = await db.raw(
    `SELECT count(*)::int AS lines,
            count(*) FILTER (WHERE type = 'SALE')::int AS sales_count,
            coalesce(sum(amount_minor) FILTER (WHERE type = 'SALE'), 0)::bigint AS sales_minor,
            count(*) FILTER (WHERE type = 'REFUND')::int AS refunds_count,
            coalesce(sum(amount_minor) FILTER (WHERE type = 'REFUND'), 0)::bigint AS refunds_minor,
            coalesce(sum(fee_minor), 0)::bigint AS fees_minor,
            min(currency) AS currency,
            count(DISTINCT currency)::int AS currencies,
            to_char(min(txn_time AT TIME ZONE 'UTC'), 'YYYY-MM-DD') AS period_from,
            to_char(max(txn_time AT TIME ZONE 'UTC'), 'YYYY-MM-DD') AS period_to,
            (SELECT count(*) FROM settlement_line_duplicates d WHERE d.batch_id = ?)::int AS duplicates
       FROM settlement_lines WHERE batch_id = ?`,
    [batchId, batchId],
  );
  const r = rows[0];
  const salesMinor = Number(r.sales_minor);
  const refundsMinor = Number(r.refunds_minor);
  const feesMinor = Number(r.fees_minor);
  return {
    lines: r.lines,
    duplicates: r.duplicates,
    salesCount: r.sales_count,
    salesMinor,
    refundsCount: r.refunds_count,
    refundsMinor,
    feesMinor,
    netMinor: salesMinor - refundsMinor,
    depositMinor: salesMinor - refundsMinor - feesMinor,
    currency: r.currencies > 1 ? null : r.currency,
    periodFrom: r.period_from,
    periodTo: r.period_to,
  };
}
