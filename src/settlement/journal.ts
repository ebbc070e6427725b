import type { Db } from '../db';
import type { ErpJournalInput, JournalLine } from '../connectors/erp/types';
import { failure } from '../domain/errors';
import { applyRate, money } from '../domain/money';
import { resolveAccount, type GlPurpose, type GlRuleSet } from '../mapping/gl-rules';

/**
 * The consolidated settlement journal: one entry per batch, built from SQL aggregates grouped by transaction type,
 * card brand, payment method and whether the ERP already holds the transaction (a paired ERP payment).
 *
 * Per group (dimensions `method` and `brand` on every line):
 * - cash: debit what the processor deposits, sales − refunds − fees (a negative deposit flips to a credit);
 * - fees: debit the card fees;
 * - sales the ERP holds: the ERP booked the invoice (AR, revenue, tax) and its card payment moved AR into card
 *   clearing, so the settlement credits clearing by the ERP's amount;
 * - refunds the ERP lists as payments: debit clearing by the ERP's amount;
 * - sales the ERP does not hold (POS sales): credit revenue net of tax and sales tax payable, the tax allocated per
 *   line from the tax-inclusive amount with the GL rules' integer rate (half away from zero, as `applyRate`);
 * - refunds the ERP does not list: a POS refund is a credit memo in the ERP (revenue and tax reversed against AR),
 *   so the card refund settles AR: debit AR;
 * - ERP payments Heartland does not have (and ERP duplicates): the ERP booked them into clearing, credit clearing;
 * - suspense: the variance (Σ Heartland − ERP over paired lines − ERP-only payments), present only once finance
 *   approved it. Without it the entry would not balance, so an unapproved variance is refused as JournalUnbalanced.
 * Lines with the same account and dimensions are netted; a negative net flips to the other side; zero lines are left
 * out. Debits must equal credits to the minor unit or nothing is stored or posted.
 */

export interface JournalGroup {
  type: 'SALE' | 'REFUND';
  brand: string;
  method: string;
  /** True when these lines are paired with ERP payments. */
  paired: boolean;
  count: number;
  /** Σ line amounts as the processor reports them (positive for sales and refunds). */
  grossMinor: number;
  feeMinor: number;
  /** Σ paired ERP amounts, as positive magnitudes (0 when unpaired). */
  erpMinor: number;
  /** Σ per-line tax of the tax-inclusive amounts (only used for unpaired lines). */
  taxMinor: number;
}

export interface ErpOnlyGroup {
  method: string;
  count: number;
  /** Σ amounts the ERP booked that Heartland did not settle. */
  amountMinor: number;
}

export interface BuiltJournalLine extends JournalLine {
  purpose: GlPurpose;
}

export interface BuiltJournal {
  lines: BuiltJournalLine[];
  debitMinor: number;
  creditMinor: number;
  /** Heartland − ERP: what the suspense line carries (credit when positive). */
  varianceMinor: number;
}

export interface TaxRate {
  numerator: number;
  denominator: number;
}

/**
 * The tax inside a tax-inclusive amount: amount × n / (d + n), rounded half away from zero, in integers. Minor units
 * of any currency (JPY included) go through the same arithmetic; the currency only names them.
 */
export function inclusiveTax(amountMinor: number, rate: TaxRate, currency = 'USD'): number {
  if (rate.numerator === 0) return 0;
  return applyRate(money(amountMinor, currency), rate.numerator, rate.denominator + rate.numerator).amountMinor;
}

/** A settlement line as the aggregation sees it (what `settlement_lines` joined to `recon_results` holds). */
export interface AggregatedLine {
  type: 'SALE' | 'REFUND';
  brand: string;
  method: string;
  amountMinor: number;
  feeMinor: number;
  /** The paired ERP amount (signed as the ERP lists it), or null when unpaired. */
  erpMinor: number | null;
}

/** The same grouping as the SQL of `loadJournalGroups`, in memory (tests and small batches). */
export function aggregateLines(lines: readonly AggregatedLine[], rate: TaxRate): JournalGroup[] {
  const groups = new Map<string, JournalGroup>();
  for (const l of lines) {
    const paired = l.erpMinor !== null;
    const key = `${l.type}|${l.brand}|${l.method}|${paired}`;
    let g = groups.get(key);
    if (!g) {
      g = {
        type: l.type,
        brand: l.brand,
        method: l.method,
        paired,
        count: 0,
        grossMinor: 0,
        feeMinor: 0,
        erpMinor: 0,
        taxMinor: 0,
      };
      groups.set(key, g);
    }
    g.count++;
    g.grossMinor += l.amountMinor;
    g.feeMinor += l.feeMinor;
    if (paired) g.erpMinor += Math.abs(l.erpMinor!);
    else g.taxMinor += inclusiveTax(l.amountMinor, rate);
  }
  return [...groups.values()];
}

const PURPOSE_ORDER: GlPurpose[] = ['cash', 'fees', 'clearing', 'ar', 'revenue', 'salesTax', 'refunds', 'suspense'];

const LABEL: Record<GlPurpose, string> = {
  cash: 'deposit',
  fees: 'card fees',
  clearing: 'card clearing',
  ar: 'refunds settled against credit memos',
  revenue: 'POS sales net of tax',
  salesTax: 'sales tax on POS sales',
  refunds: 'refunds',
  suspense: 'approved settlement variance',
};

/** Builds the balanced lines of a batch's entry, or throws JournalUnbalanced. */
export function buildJournalLines(input: {
  batchId: string;
  currency: string;
  rules: GlRuleSet;
  groups: readonly JournalGroup[];
  erpOnly?: readonly ErpOnlyGroup[];
  /** Finance approved the variance: it goes to the suspense account. */
  varianceApproved: boolean;
}): BuiltJournal {
  const buckets = new Map<string, { purpose: GlPurpose; account: string; dims: Record<string, string>; net: number }>();
  // `net` is debit-positive.
  const post = (
    purpose: GlPurpose,
    net: number,
    dims: Record<string, string>,
    ctx: { type?: string; brand?: string },
  ) => {
    if (net === 0) return;
    const account = resolveAccount(input.rules, purpose, { transactionType: ctx.type, cardBrand: ctx.brand });
    const key = `${purpose}|${account}|${JSON.stringify(dims)}`;
    const b = buckets.get(key) ?? { purpose, account, dims, net: 0 };
    b.net += net;
    buckets.set(key, b);
  };

  let varianceMinor = 0;
  for (const g of input.groups) {
    const sign = g.type === 'SALE' ? 1 : -1;
    const dims = { method: g.method, brand: g.brand };
    const ctx = { type: g.type, brand: g.brand };
    post('cash', sign * g.grossMinor - g.feeMinor, dims, ctx);
    post('fees', g.feeMinor, dims, ctx);
    if (g.paired) {
      post('clearing', -sign * g.erpMinor, dims, ctx);
      varianceMinor += sign * (g.grossMinor - g.erpMinor);
    } else if (g.type === 'SALE') {
      post('revenue', -(g.grossMinor - g.taxMinor), dims, ctx);
      post('salesTax', -g.taxMinor, dims, ctx);
    } else {
      post('ar', g.grossMinor, dims, ctx);
    }
  }
  for (const e of input.erpOnly ?? []) {
    post('clearing', -e.amountMinor, { method: e.method, brand: 'ERP-ONLY' }, {});
    varianceMinor -= e.amountMinor;
  }
  if (varianceMinor !== 0) {
    if (!input.varianceApproved) {
      throw failure(
        'JournalUnbalanced',
        `settlement ${input.batchId}: variance ${varianceMinor} ${input.currency} is not approved; ` +
          'without its suspense line the entry does not balance',
        { batchId: input.batchId, varianceMinor },
      );
    }
    post('suspense', -varianceMinor, {}, {});
  }

  const lines: BuiltJournalLine[] = [...buckets.values()]
    .filter((b) => b.net !== 0)
    .sort(
      (a, b) =>
        PURPOSE_ORDER.indexOf(a.purpose) - PURPOSE_ORDER.indexOf(b.purpose) ||
        (a.dims.method ?? '').localeCompare(b.dims.method ?? '') ||
        (a.dims.brand ?? '').localeCompare(b.dims.brand ?? '') ||
        a.account.localeCompare(b.account),
    )
    .map((b) => ({
      purpose: b.purpose,
      account: b.account,
      debitMinor: b.net > 0 ? b.net : 0,
      creditMinor: b.net < 0 ? -b.net : 0,
      description: [LABEL[b.purpose], b.dims.method, b.dims.brand].filter(Boolean).join(' '),
      dimensions: b.dims,
    }));
  let debitMinor = 0;
  let creditMinor = 0;
  for (const l of lines) {
    debitMinor += l.debitMinor;
    creditMinor += l.creditMinor;
  }
  if (!Number.isSafeInteger(debitMinor) || !Number.isSafeInteger(creditMinor) || debitMinor !== creditMinor) {
    throw failure(
      'JournalUnbalanced',
      `settlement ${input.batchId}: debits ${debitMinor} != credits ${creditMinor} ${input.currency}`,
      { batchId: input.batchId, debitMinor, creditMinor },
    );
  }
  return { lines, debitMinor, creditMinor, varianceMinor };
}

/** The journal groups of a matched batch, aggregated in SQL (per-line tax computed in SQL with integer math). */
export async function loadJournalGroups(
  db: Db,
  batchId: string,
  rate: TaxRate,
): Promise<{ groups: JournalGroup[]; erpOnly: ErpOnlyGroup[] }> {
  const d = rate.denominator + rate.numerator;
  // round(|a| × n / d) half up, with the sign of a: the same integers as applyRate.
  const tax = `sign(l.amount_minor) * ((abs(l.amount_minor) * ${rate.numerator} * 2 + ${d}) / (2 * ${d}))`;
  if (!Number.isSafeInteger(rate.numerator) || !Number.isSafeInteger(d) || rate.numerator < 0 || d <= 0) {
    throw failure('ValidationError', `invalid tax rate ${rate.numerator}/${rate.denominator}`);
  }
  const { rows } = await db.raw(
    `SELECT l.type, l.brand, l.method, (r.erp_id IS NOT NULL) AS paired, count(*)::int AS n,
            sum(l.amount_minor)::bigint AS gross, sum(l.fee_minor)::bigint AS fees,
            coalesce(sum(abs(r.erp_minor)), 0)::bigint AS erp,
            coalesce(sum(${rate.numerator === 0 ? '0' : tax}) FILTER (WHERE r.erp_id IS NULL), 0)::bigint AS tax
     FROM settlement_lines l
     LEFT JOIN recon_results r
       ON r.batch_id = l.batch_id AND r.txn_id = l.txn_id AND r.kind IN ('matched', 'amount_mismatch')
     WHERE l.batch_id = ?
     GROUP BY l.type, l.brand, l.method, (r.erp_id IS NOT NULL)
     ORDER BY 1, 2, 3, 4`,
    [batchId],
  );
  const erpOnly = await db.raw(
    `SELECT coalesce(p.method, 'unknown') AS method, count(*)::int AS n, sum(r.erp_minor)::bigint AS amount
     FROM recon_results r
     LEFT JOIN settlement_erp_payments p ON p.batch_id = r.batch_id AND p.erp_id = r.erp_id
     WHERE r.batch_id = ? AND r.erp_id IS NOT NULL AND r.kind IN ('missing_at_heartland', 'duplicate')
     GROUP BY 1 ORDER BY 1`,
    [batchId],
  );
  return {
    groups: rows.map((r: Record<string, string | number | boolean>) => ({
      type: r.type,
      brand: r.brand,
      method: r.method,
      paired: r.paired,
      count: r.n,
      grossMinor: Number(r.gross),
      feeMinor: Number(r.fees),
      erpMinor: Number(r.erp),
      taxMinor: Number(r.tax),
    })),
    erpOnly: erpOnly.rows.map((r: Record<string, string | number>) => ({
      method: String(r.method),
      count: Number(r.n),
      amountMinor: Number(r.amount),
    })),
  };
}

export interface StoredJournal {
  entryId: string;
  status: 'built' | 'posted';
  debitMinor: number;
  creditMinor: number;
  suspenseMinor: number;
  lineCount: number;
  glRulesVersion: number;
  erpJournalId: string | null;
}

/**
 * Stores the entry of a batch, replacing an earlier unposted one (a rebuild after a retry or a new mapping
 * version). A posted entry is never replaced: it is returned as it is.
 */
export async function storeJournal(
  db: Db,
  e: {
    batchId: string;
    erp: string;
    currency: string;
    date: string;
    journal: string;
    memo: string;
    glRulesVersion: number;
    built: BuiltJournal;
  },
): Promise<StoredJournal> {
  return db.transaction(async (trx) => {
    const existing = await trx('journal_entries').where({ ref: e.batchId }).forUpdate().first();
    if (existing?.status === 'posted') return toStored(existing, await lineCount(trx, existing.id));
    if (existing) await trx('journal_entries').where({ id: existing.id }).delete();
    const suspense = e.built.lines.filter((l) => l.purpose === 'suspense');
    const [row] = await trx('journal_entries')
      .insert({
        ref: e.batchId,
        batch_id: e.batchId,
        erp: e.erp,
        currency: e.currency,
        entry_date: e.date,
        journal: e.journal,
        memo: e.memo,
        gl_rules_version: e.glRulesVersion,
        debit_minor: e.built.debitMinor,
        credit_minor: e.built.creditMinor,
        suspense_minor: suspense.reduce((a, l) => a + l.creditMinor - l.debitMinor, 0),
        status: 'built',
      })
      .returning('*');
    if (e.built.lines.length) {
      await trx('journal_lines').insert(
        e.built.lines.map((l, i) => ({
          entry_id: row.id,
          line_no: i + 1,
          purpose: l.purpose,
          account: l.account,
          debit_minor: l.debitMinor,
          credit_minor: l.creditMinor,
          description: l.description ?? null,
          dimensions: JSON.stringify(l.dimensions ?? {}),
        })),
      );
    }
    return toStored(row, e.built.lines.length);
  });
}

async function lineCount(db: Db, entryId: string): Promise<number> {
  const r = await db('journal_lines').where({ entry_id: entryId }).count<{ n: string }[]>({ n: '*' });
  return Number(r[0].n);
}

function toStored(row: Record<string, unknown>, lines: number): StoredJournal {
  return {
    entryId: String(row.id),
    status: row.status as 'built' | 'posted',
    debitMinor: Number(row.debit_minor),
    creditMinor: Number(row.credit_minor),
    suspenseMinor: Number(row.suspense_minor),
    lineCount: lines,
    glRulesVersion: Number(row.gl_rules_version),
    erpJournalId: (row.erp_journal_id as string | null) ?? null,
  };
}

/** The stored entry of a batch as the ERP connector takes it, with its status. */
export async function loadJournal(
  db: Db,
  batchId: string,
): Promise<{ entryId: string; status: string; erpJournalId: string | null; input: ErpJournalInput } | undefined> {
  const e = await db('journal_entries').where({ ref: batchId }).first();
  if (!e) return undefined;
  const lines = await db('journal_lines').where({ entry_id: e.id }).orderBy('line_no');
  return {
    entryId: String(e.id),
    status: e.status,
    erpJournalId: e.erp_journal_id ?? null,
    input: {
      ref: e.ref,
      date: toIsoDate(e.entry_date),
      currency: e.currency,
      journal: e.journal ?? undefined,
      memo: e.memo,
      lines: lines.map((l: Record<string, unknown>) => ({
        account: String(l.account),
        debitMinor: Number(l.debit_minor),
        creditMinor: Number(l.credit_minor),
        description: (l.description as string | null) ?? undefined,
        dimensions: l.dimensions as Record<string, string>,
      })),
    },
  };
}

/** Marks the entry posted with the ERP's id. */
export async function markJournalPosted(db: Db, batchId: string, erpJournalId: string): Promise<void> {
  await db('journal_entries')
    .where({ ref: batchId })
    .update({ status: 'posted', erp_journal_id: erpJournalId, posted_at: db.fn.now() });
}

/** A `date` column as YYYY-MM-DD (pg returns a local-midnight Date for it). */
export function toIsoDate(v: unknown): string {
  if (typeof v === 'string') return v.slice(0, 10);
  const d = v as Date;
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}
