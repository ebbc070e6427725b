import { Context } from '@temporalio/activity';
import { audit } from '../src/db/audit';
import { failure } from '../src/domain/errors';
import { idempotencyKey } from '../src/domain/ids';
import type { ErpSystem } from '../src/connectors/erp/types';
import { getGlRules, journalFor } from '../src/mapping/gl-rules';
import { getBatch, openBatch, updateBatch } from '../src/settlement/batches';
import {
  buildJournalLines,
  loadJournal,
  loadJournalGroups,
  markJournalPosted,
  storeJournal,
  toIsoDate,
  type StoredJournal,
} from '../src/settlement/journal';
import { loadErpPayments, matchSettlement, type MatchResult } from '../src/settlement/matching';
import { writeReconReport } from '../src/settlement/report';
import { stageSettlementBatch, stagedTotals, type StageCursor, type StageResult } from '../src/settlement/staging';
import { currentWorkflowId } from './context';
import { need, type ActivityDeps } from './deps';

/** Side effects of the settlement reconciliation: every figure stays in Postgres, results carry counts and totals. */
export function createSettlementActivities(deps: ActivityDeps) {
  const db = deps.db;
  const erp = (system: ErpSystem) => need(deps.erp, 'erp')(system);
  const heartland = () => need(deps.heartland, 'heartland');

  return {
    /**
     * Pages the batch's settled transactions into `settlement_lines`, heartbeating the page cursor after each page
     * is written; a retry after a crash resumes from the cursor in its heartbeat details.
     */
    async stageSettlementLines(a: {
      batchId: string;
      erp: ErpSystem;
      source?: string;
      pageSize?: number;
    }): Promise<StageResult> {
      const ctx = Context.current();
      const resume = ctx.info.heartbeatDetails as StageCursor | undefined;
      const startPage = resume ? resume.nextPage : 1;
      await openBatch(db, {
        batchId: a.batchId,
        erp: a.erp,
        source: a.source ?? 'heartland',
        workflowId: ctx.info.workflowExecution?.workflowId,
      });
      let pages = resume?.pagesDone ?? 0;
      if (startPage !== null) {
        if (resume) ctx.log.info('resuming settlement staging', { batchId: a.batchId, startPage });
        const done = await stageSettlementBatch(db, heartland(), {
          batchId: a.batchId,
          startPage,
          pageSize: a.pageSize,
          pagesDone: pages,
          onPage: (cursor) => ctx.heartbeat(cursor),
        });
        pages = done.pages;
      }
      const totals = await stagedTotals(db, a.batchId);
      if (totals.lines === 0) {
        throw failure('NotFound', `settlement batch ${a.batchId} has no settled transactions at Heartland`, {
          batchId: a.batchId,
        });
      }
      if (totals.currency === null) {
        throw failure('ValidationError', `settlement batch ${a.batchId} mixes currencies`, { batchId: a.batchId });
      }
      await updateBatch(db, a.batchId, {
        status: 'staged',
        currency: totals.currency,
        period_from: totals.periodFrom,
        period_to: totals.periodTo,
        pages,
        line_count: totals.lines,
        duplicate_count: totals.duplicates,
        net_minor: totals.netMinor,
      });
      return { ...totals, pages, startedAtPage: startPage ?? pages + 1 };
    },

    /** Loads the ERP's payments of the period into `settlement_erp_payments` (replacing an earlier load). */
    async loadSettlementErpPayments(a: {
      batchId: string;
      erp: ErpSystem;
      from: string;
      to: string;
    }): Promise<{ count: number; totalMinor: number }> {
      const ctx = Context.current();
      const loaded = await loadErpPayments(db, a.batchId, a.erp, erp(a.erp).listPayments({ from: a.from, to: a.to }), {
        onChunk: (n) => ctx.heartbeat({ loaded: n }),
      });
      await updateBatch(db, a.batchId, {
        status: 'loaded',
        erp_payment_count: loaded.count,
        erp_payment_minor: loaded.totalMinor,
      });
      return loaded;
    },

    /** Matches both sides in SQL into `recon_results`; returns counts and the variance. */
    async matchSettlement(a: { batchId: string }): Promise<MatchResult> {
      const m = await matchSettlement(db, a.batchId);
      await updateBatch(db, a.batchId, {
        status: m.needsReview ? 'needs-review' : 'matched',
        counts: m.counts,
        variance_minor: m.varianceMinor,
      });
      return m;
    },

    /** Records finance's decision on a variance (approve, or retry after fixing the ERP side) with an audit row. */
    async recordSettlementReview(a: {
      batchId: string;
      decision: 'approve' | 'retry';
      actor: string;
      note?: string;
      varianceMinor: number;
    }): Promise<void> {
      await db.transaction(async (trx) => {
        if (a.decision === 'approve') {
          await updateBatch(trx, a.batchId, {
            status: 'approved',
            approved_by: a.actor,
            approval_note: a.note ?? null,
            approved_at: new Date(),
          });
        }
        await audit(trx, {
          actor: a.actor,
          action: `settlement.${a.decision}`,
          target: a.batchId,
          after: { varianceMinor: a.varianceMinor, note: a.note ?? null },
        });
      });
    },

    /**
     * Builds the batch's one consolidated entry from SQL aggregates and the GL rules, checks that it balances
     * (JournalUnbalanced otherwise) and stores it in `journal_entries` / `journal_lines`.
     */
    async buildSettlementJournal(a: {
      batchId: string;
      erp: ErpSystem;
      glRulesVersion?: number | null;
      journalDate?: string;
      varianceApproved: boolean;
    }): Promise<StoredJournal> {
      const batch = await getBatch(db, a.batchId);
      if (!batch?.currency) throw failure('ValidationError', `settlement batch ${a.batchId} is not staged`);
      const gl = await getGlRules(db, a.glRulesVersion);
      const { groups, erpOnly } = await loadJournalGroups(db, a.batchId, gl.rules.taxRate);
      const built = buildJournalLines({
        batchId: a.batchId,
        currency: batch.currency,
        rules: gl.rules,
        groups,
        erpOnly,
        varianceApproved: a.varianceApproved,
      });
      const stored = await storeJournal(db, {
        batchId: a.batchId,
        erp: a.erp,
        currency: batch.currency,
        date: a.journalDate ?? toIsoDate(batch.period_to),
        journal: journalFor(gl.rules, 'settlement'),
        memo: `Heartland settlement batch ${a.batchId} (${batch.line_count} transactions)`,
        glRulesVersion: gl.version,
        built,
      });
      if (stored.status !== 'posted') await updateBatch(db, a.batchId, { status: 'journal-built' });
      return stored;
    },

    /**
     * Posts the stored entry once, with the batch id as its reference: the adapter looks the reference up in the
     * ERP before it writes, and `external_writes` keeps the key of this workflow's posting.
     */
    async postSettlementJournal(a: {
      batchId: string;
      erp: ErpSystem;
    }): Promise<{ erpJournalId: string; status: string; alreadyPosted: boolean }> {
      const j = await loadJournal(db, a.batchId);
      if (!j) throw failure('ValidationError', `settlement batch ${a.batchId} has no journal entry to post`);
      if (j.status === 'posted' && j.erpJournalId) {
        return { erpJournalId: j.erpJournalId, status: 'posted', alreadyPosted: true };
      }
      const workflowId = currentWorkflowId();
      const doc = await erp(a.erp).postJournal(j.input, {
        idempotencyKey: idempotencyKey(workflowId, 'postJournal'),
        workflowId,
      });
      await markJournalPosted(db, a.batchId, doc.erpId);
      await updateBatch(db, a.batchId, { status: 'posted', erp_journal_id: doc.erpId });
      return { erpJournalId: doc.erpId, status: doc.status, alreadyPosted: false };
    },

    /** Writes the JSON and CSV reconciliation reports into `recon_reports`. */
    async writeSettlementReport(a: { batchId: string }): Promise<{ jsonBytes: number; csvBytes: number }> {
      const sizes = await writeReconReport(db, a.batchId);
      await updateBatch(db, a.batchId, { status: 'reported' });
      return sizes;
    },

    /** The batches Heartland settled on a date (UTC), from the settlement report. */
    async listSettledBatches(a: { date: string; pageSize?: number }): Promise<string[]> {
      const ctx = Context.current();
      const ids = new Set<string>();
      for await (const page of heartland().settlementTransactions({
        fromSettlementDate: a.date,
        toSettlementDate: a.date,
        pageSize: a.pageSize ?? 1000,
      })) {
        for (const t of page.records) ids.add(t.batchId);
        ctx.heartbeat({ page: page.page });
      }
      return [...ids].sort();
    },
  };
}
