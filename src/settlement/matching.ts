import type { Db } from '../db';
import type { ErpPaymentRecord } from '../connectors/erp/types';

/**
 * The ERP side of a batch and the matching of both sides, in SQL (`recon_results`).
 *
 * Which ERP payments take part: those of the period that carry a processor reference (a card payment) not already
 * settled in another batch, plus those without one whose `ref` equals a reference of this batch.
 *
 * Pairing: a line pairs with the ERP payment carrying its transaction id; lines and payments left over pair by
 * reference (payment `ref` = line reference) when the payment has no processor reference. Per line, the result is
 * `matched` (same signed amount), `amount_mismatch`, `missing_in_erp` (an unpaired sale) or `unlisted_refund` (an
 * unpaired refund: ERPs book card refunds as credit memos, which `listPayments` does not return; informational).
 * Per unpaired payment: `missing_at_heartland`. `duplicate` rows come on top: every further copy of a transaction id
 * in the feed, every further line with the same reference, type and amount, and every further ERP payment carrying
 * the same processor reference (those also count in the variance, as the ERP booked money that came once).
 *
 * Variance = Σ (Heartland − ERP) over paired lines − Σ ERP over payments Heartland does not have. Review is needed
 * when the variance is not zero or any line is missing in the ERP, mismatched, missing at Heartland or duplicated.
 */

export const RECON_KINDS = [
  'matched',
  'missing_in_erp',
  'missing_at_heartland',
  'amount_mismatch',
  'duplicate',
  'unlisted_refund',
] as const;
export type ReconKind = (typeof RECON_KINDS)[number];

export type ReconCounts = Record<ReconKind, number>;

export interface MatchResult {
  counts: ReconCounts;
  /** ERP payments that took part in the match. */
  erpCount: number;
  erpMinor: number;
  varianceMinor: number;
  needsReview: boolean;
}

const LOAD_SQL = `
INSERT INTO settlement_erp_payments (batch_id, erp, erp_id, ref, processor_ref, amount_minor, currency, pay_date, method)
SELECT ?::text, ?::text, erp_id, ref, nullif(processor_ref, ''), amount_minor, currency, pay_date, method
FROM json_to_recordset(?::json) AS t(erp_id text, ref text, processor_ref text, amount_minor bigint, currency text,
                                     pay_date date, method text)
ON CONFLICT (batch_id, erp_id) DO NOTHING`;

/**
 * Replaces the staged ERP payments of a batch with what `payments` yields, in chunks; returns count and total. A
 * chunk is written while the next one is read (so the ERP's next page is fetched meanwhile).
 */
export async function loadErpPayments(
  db: Db,
  batchId: string,
  erp: string,
  payments: AsyncIterable<ErpPaymentRecord>,
  opts: { chunk?: number; onChunk?: (loaded: number) => void } = {},
): Promise<{ count: number; totalMinor: number }> {
  const size = opts.chunk ?? 1000;
  await db('settlement_erp_payments').where({ batch_id: batchId }).delete();
  let buffer: Record<string, unknown>[] = [];
  let count = 0;
  let totalMinor = 0;
  let writing: Promise<void> = Promise.resolve();
  const flush = async () => {
    const rows = buffer;
    buffer = [];
    const loaded = count;
    await writing;
    if (rows.length === 0) return;
    writing = db.raw(LOAD_SQL, [batchId, erp, JSON.stringify(rows)]).then(() => opts.onChunk?.(loaded));
    // Surfaces at the next await of `writing`; until then it must not count as unhandled.
    writing.catch(() => undefined);
  };
  for await (const p of payments) {
    buffer.push({
      erp_id: p.erpId,
      ref: p.ref,
      processor_ref: p.processorRef ?? null,
      amount_minor: p.amountMinor,
      currency: p.currency,
      pay_date: p.date,
      method: p.method ?? null,
    });
    count++;
    totalMinor += p.amountMinor;
    if (buffer.length >= size) await flush();
  }
  await flush();
  await writing;
  await db.raw('ANALYZE settlement_erp_payments');
  return { count, totalMinor };
}

/** The matching, as one SQL script run in a transaction (temporary tables live until its commit). */
const MATCH_SQL = [
  `CREATE TEMP TABLE recon_pay ON COMMIT DROP AS
   SELECT p.* FROM settlement_erp_payments p
   WHERE p.batch_id = :batch
     AND ((p.processor_ref IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM settlement_lines o WHERE o.txn_id = p.processor_ref AND o.batch_id <> :batch))
          OR (p.processor_ref IS NULL
              AND EXISTS (SELECT 1 FROM settlement_lines l WHERE l.batch_id = :batch AND l.reference = p.ref)))`,
  // Temporary tables are never analysed by autovacuum; without statistics the planner may pick nested loops.
  `ANALYZE recon_pay`,
  // The first ERP payment per processor reference takes part in pairing; the others are ERP-side duplicates.
  `CREATE TEMP TABLE recon_pay_dup ON COMMIT DROP AS
   SELECT erp_id FROM (
     SELECT erp_id, row_number() OVER (PARTITION BY processor_ref ORDER BY erp_id) AS n
     FROM recon_pay WHERE processor_ref IS NOT NULL) x
   WHERE n > 1`,
  `CREATE TEMP TABLE recon_pair ON COMMIT DROP AS
   SELECT l.txn_id, p.erp_id, CAST('txn' AS text) AS matched_by
   FROM settlement_lines l
   JOIN recon_pay p ON p.processor_ref = l.txn_id
   WHERE l.batch_id = :batch AND NOT EXISTS (SELECT 1 FROM recon_pay_dup d WHERE d.erp_id = p.erp_id)`,
  `INSERT INTO recon_pair (txn_id, erp_id, matched_by)
   SELECT DISTINCT ON (erp_id) txn_id, erp_id, 'reference'
   FROM (
     SELECT DISTINCT ON (l.txn_id) l.txn_id, p.erp_id, l.txn_time
     FROM settlement_lines l
     JOIN recon_pay p ON p.processor_ref IS NULL AND p.ref = l.reference
     WHERE l.batch_id = :batch AND NOT EXISTS (SELECT 1 FROM recon_pair x WHERE x.txn_id = l.txn_id)
     ORDER BY l.txn_id, p.erp_id
   ) c
   ORDER BY erp_id, txn_time, txn_id`,
  `ANALYZE recon_pair`,
  `DELETE FROM recon_results WHERE batch_id = :batch`,
  // One row per Heartland line. ERP amounts are compared with the sign of the line (a refund is negative).
  `INSERT INTO recon_results (batch_id, kind, txn_id, type, brand, reference, erp_id, heartland_minor, erp_minor,
                              diff_minor, matched_by)
   SELECT :batch,
          CASE WHEN p.erp_id IS NULL THEN CASE WHEN l.type = 'REFUND' THEN 'unlisted_refund' ELSE 'missing_in_erp' END
               WHEN s.h = s.e THEN 'matched' ELSE 'amount_mismatch' END,
          l.txn_id, l.type, l.brand, l.reference, p.erp_id, s.h, s.e,
          CASE WHEN p.erp_id IS NULL THEN NULL ELSE s.h - s.e END, pr.matched_by
   FROM settlement_lines l
   LEFT JOIN recon_pair pr ON pr.txn_id = l.txn_id
   LEFT JOIN recon_pay p ON p.erp_id = pr.erp_id
   CROSS JOIN LATERAL (
     SELECT CASE WHEN l.type = 'REFUND' THEN -l.amount_minor ELSE l.amount_minor END AS h,
            CASE WHEN l.type = 'REFUND' THEN -abs(p.amount_minor) ELSE p.amount_minor END AS e
   ) s
   WHERE l.batch_id = :batch`,
  `INSERT INTO recon_results (batch_id, kind, erp_id, reference, erp_minor, diff_minor, detail)
   SELECT :batch, 'missing_at_heartland', p.erp_id, p.ref, p.amount_minor, -p.amount_minor,
          coalesce('processor ref ' || p.processor_ref, 'no processor ref')
   FROM recon_pay p
   WHERE NOT EXISTS (SELECT 1 FROM recon_pair pr WHERE pr.erp_id = p.erp_id)
     AND NOT EXISTS (SELECT 1 FROM recon_pay_dup d WHERE d.erp_id = p.erp_id)`,
  `INSERT INTO recon_results (batch_id, kind, txn_id, erp_id, reference, erp_minor, diff_minor, detail)
   SELECT :batch, 'duplicate', p.processor_ref, p.erp_id, p.ref, p.amount_minor, -p.amount_minor,
          'ERP payment repeats processor ref ' || p.processor_ref
   FROM recon_pay p JOIN recon_pay_dup d USING (erp_id)`,
  `INSERT INTO recon_results (batch_id, kind, txn_id, type, reference, heartland_minor, detail)
   SELECT :batch, 'duplicate', d.txn_id, d.type, d.reference, d.amount_minor,
          'transaction id repeated in the settlement feed (page ' || d.src_page || ', position ' || d.src_pos || ')'
   FROM settlement_line_duplicates d WHERE d.batch_id = :batch`,
  `INSERT INTO recon_results (batch_id, kind, txn_id, type, brand, reference, heartland_minor, detail)
   SELECT :batch, 'duplicate', txn_id, type, brand, reference, amount_minor,
          'reference repeated with the same type and amount (copy ' || n || ' of ' || total || ')'
   FROM (
     SELECT l.*, row_number() OVER w AS n, count(*) OVER (PARTITION BY l.reference, l.type, l.amount_minor) AS total
     FROM settlement_lines l
     WHERE l.batch_id = :batch AND l.reference IS NOT NULL
     WINDOW w AS (PARTITION BY l.reference, l.type, l.amount_minor ORDER BY l.txn_time, l.txn_id)
   ) x
   WHERE n > 1`,
];

/** Matches a staged batch against its staged ERP payments into `recon_results`; returns counts and the variance. */
export async function matchSettlement(db: Db, batchId: string): Promise<MatchResult> {
  return db.transaction(async (trx) => {
    for (const sql of MATCH_SQL) await trx.raw(sql, { batch: batchId });
    // The journal aggregation joins the batch's lines to these results: give the planner their real size.
    await trx.raw('ANALYZE recon_results');
    const { rows } = await trx.raw(
      `SELECT kind, count(*)::int AS n, coalesce(sum(diff_minor), 0)::bigint AS diff
       FROM recon_results WHERE batch_id = ? GROUP BY kind`,
      [batchId],
    );
    const counts = Object.fromEntries(RECON_KINDS.map((k) => [k, 0])) as ReconCounts;
    let varianceMinor = 0;
    for (const r of rows as { kind: ReconKind; n: number; diff: string }[]) {
      counts[r.kind] = r.n;
      // Feed duplicates and reference duplicates carry no diff: only ERP-side duplicates count in the variance.
      varianceMinor += Number(r.diff);
    }
    const erp = await trx.raw(
      `SELECT count(*)::int AS n, coalesce(sum(amount_minor), 0)::bigint AS total FROM recon_pay`,
    );
    const needsReview =
      varianceMinor !== 0 ||
      counts.missing_in_erp + counts.amount_mismatch + counts.missing_at_heartland + counts.duplicate > 0;
    return {
      counts,
      erpCount: erp.rows[0].n,
      erpMinor: Number(erp.rows[0].total),
      varianceMinor,
      needsReview,
    };
  });
}
