import {
  ApplicationFailure,
  ParentClosePolicy,
  proxyActivities,
  setHandler,
  startChild,
  workflowInfo,
  type ActivityOptions,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { createActivities } from '../activities';
import { nonRetryableErrorTypes } from '../src/domain/errors';
import type {
  DailySettlementInput,
  DailySettlementResult,
  SettlementInput,
  SettlementResult,
  SettlementSummary,
} from '../src/settlement/types';
import { connectorQueue, statusQuery, workflowIds, type FlowStatus } from './definitions';
import { Flow } from './flow';

type Activities = ReturnType<typeof createActivities>;

const RETRY = {
  initialInterval: '1 second',
  backoffCoefficient: 2,
  maximumInterval: '1 minute',
  nonRetryableErrorTypes,
} as const;

/** Bookkeeping on our own Postgres (match, journal, report): on the workflow's own task queue. */
const local = proxyActivities<Activities>({
  startToCloseTimeout: '10 minutes',
  scheduleToCloseTimeout: '1 hour',
  retry: RETRY,
});

const LOAD: ActivityOptions = {
  startToCloseTimeout: '1 hour',
  scheduleToCloseTimeout: '3 hours',
  heartbeatTimeout: '2 minutes',
  retry: RETRY,
};

/** Posting waits for the ERP (Sage Pro acknowledges an import file asynchronously). */
const POST: ActivityOptions = {
  startToCloseTimeout: '2 minutes',
  scheduleToCloseTimeout: '30 minutes',
  retry: RETRY,
};

/** The status query of a settlement run: Flow's status plus the batch's counts, totals and variance. */
export type SettlementStatus = FlowStatus & { settlement: SettlementSummary };

/**
 * Settlement reconciliation of one Heartland batch (`settlement:<batchId>`): stage the batch's transactions, load
 * the ERP's payments of the period, match in SQL, build one consolidated journal entry, post it once (batch id as
 * its reference), write the report. A variance (or any exception) is an outcome: the run waits, with
 * LbStage/outcome `needs-review` and LbNeedsAttention, for `approve` (the variance goes to suspense) or `retry`
 * (load the ERP side again, e.g. after finance fixed it). A step failing without retry parks (see Flow).
 */
export async function settlementReconciliation(input: SettlementInput): Promise<SettlementResult> {
  const { batchId, erp } = input;
  const flow = new Flow({
    flow: 'settlement',
    businessKey: batchId,
    source: input.source ?? 'heartland',
    erp,
    input,
    maxParkWait: input.maxParkWait ?? '7 days',
  });
  const summary: SettlementSummary = {
    batchId,
    erp,
    trigger: input.trigger ?? 'on-demand',
    currency: null,
    period: { from: null, to: null },
    heartland: null,
    erpPayments: null,
    counts: null,
    varianceMinor: null,
    reviewRounds: 0,
    approval: null,
    journal: null,
    report: null,
  };
  setHandler(statusQuery, (): SettlementStatus => ({
    ...flow.status,
    pivotPassed: flow.saga.state.pivotPassed,
    settlement: summary,
  }));

  const gp = proxyActivities<Activities>({
    startToCloseTimeout: '2 hours',
    scheduleToCloseTimeout: '6 hours',
    heartbeatTimeout: input.stagingHeartbeatTimeout ?? '30 seconds',
    retry: RETRY,
    taskQueue: input.queues?.heartland ?? connectorQueue('heartland'),
  });
  const erpQueue = input.queues?.erp ?? connectorQueue(erp);
  const erpLoad = proxyActivities<Activities>({ ...LOAD, taskQueue: erpQueue });
  const erpPost = proxyActivities<Activities>({ ...POST, taskQueue: erpQueue });

  return flow.run(async () => {
    flow.stage('staging');
    const staged = await flow.step(
      'stageSettlementLines',
      { batchId, erp, source: input.source, pageSize: input.pageSize },
      (i) => gp.stageSettlementLines(i),
    );
    summary.currency = staged.currency;
    flow.status.currency = staged.currency;
    summary.period = { from: staged.periodFrom, to: staged.periodTo };
    summary.heartland = {
      lines: staged.lines,
      pages: staged.pages,
      duplicatesInFeed: staged.duplicates,
      salesCount: staged.salesCount,
      salesMinor: staged.salesMinor,
      refundsCount: staged.refundsCount,
      refundsMinor: staged.refundsMinor,
      feesMinor: staged.feesMinor,
      netMinor: staged.netMinor,
      depositMinor: staged.depositMinor,
      resumedFromPage: staged.startedAtPage,
    };
    flow.setAmount('sales', staged.salesMinor);
    flow.setAmount('refunds', staged.refundsMinor);
    flow.setAmount('fees', staged.feesMinor);
    flow.setAmount('deposit', staged.depositMinor);
    flow.setAmount('net', staged.netMinor, true);

    let period = input.period ?? { from: staged.periodFrom!, to: staged.periodTo! };
    for (;;) {
      flow.stage('loading-erp');
      const loaded = await flow.step('loadErpPayments', { batchId, erp, from: period.from, to: period.to }, (i) =>
        erpLoad.loadSettlementErpPayments(i),
      );
      flow.stage('matching');
      const match = await flow.step('matchSettlement', { batchId }, (i) => local.matchSettlement(i));
      summary.erpPayments = {
        count: loaded.count,
        totalMinor: loaded.totalMinor,
        matchedAgainst: match.erpCount,
        matchedMinor: match.erpMinor,
      };
      summary.counts = match.counts;
      summary.varianceMinor = match.varianceMinor;
      flow.setAmount('variance', match.varianceMinor);
      flow.setAmount('erpPayments', match.erpMinor);
      if (!match.needsReview) break;

      flow.stage('needs-review');
      flow.status.outcome = 'needs-review';
      const d = await flow.awaitReview('loadErpPayments', input.maxReviewWait ?? '14 days');
      if (!d) {
        // The run fails but stays flagged for attention: the batch was never reconciled.
        flow.status.outcome = 'expired';
        throw ApplicationFailure.create({
          type: 'ParkTimeout',
          nonRetryable: true,
          message: `settlement ${batchId}: variance ${match.varianceMinor} waited ${input.maxReviewWait ?? '14 days'} for approve or retry`,
        });
      }
      flow.status.outcome = null;
      const actor = d.kind === 'approve' ? d.actor : d.req.actor;
      const note = d.kind === 'approve' ? d.note : undefined;
      await local.recordSettlementReview({
        batchId,
        decision: d.kind,
        actor,
        note,
        varianceMinor: match.varianceMinor,
      });
      if (d.kind === 'approve') {
        summary.approval = { actor, note, varianceMinor: match.varianceMinor };
        break;
      }
      summary.reviewRounds++;
      const patched = d.req.patch?.period as { from?: string; to?: string } | undefined;
      if (patched?.from && patched.to) period = { from: patched.from, to: patched.to };
    }

    flow.stage('journal');
    const buildInput = {
      batchId,
      erp,
      glRulesVersion: input.glRulesVersion ?? null,
      journalDate: input.journalDate,
      varianceApproved: summary.approval !== null,
    };
    const build = (i: typeof buildInput) =>
      local.buildSettlementJournal({ ...i, glRulesVersion: flow.mappingVersion ?? i.glRulesVersion });
    let journal = await flow.step('buildJournal', buildInput, build);

    flow.stage('posting');
    const posted = await flow.step('postJournal', { batchId, erp }, async (i) => {
      // A retry may carry another GL rules version (e.g. an account mapped elsewhere): rebuild before posting.
      const wanted = flow.mappingVersion ?? input.glRulesVersion;
      if (wanted !== undefined && wanted !== journal.glRulesVersion) journal = await build(buildInput);
      return erpPost.postSettlementJournal(i);
    });
    flow.pivot();
    summary.journal = {
      entryId: journal.entryId,
      debitMinor: journal.debitMinor,
      creditMinor: journal.creditMinor,
      suspenseMinor: journal.suspenseMinor,
      lines: journal.lineCount,
      glRulesVersion: journal.glRulesVersion,
      erpJournalId: posted.erpJournalId,
    };
    flow.setAmount('journalDebits', journal.debitMinor);

    flow.stage('reporting');
    summary.report = await flow.step('writeReport', { batchId }, (i) => local.writeSettlementReport(i));
    flow.status.outcome = 'completed';
    return { ...summary, outcome: 'completed' as const };
  });
}

/** Starts one reconciliation per batch settled on each date; a batch that already has a run is skipped. */
async function reconcileDates(
  dates: string[],
  input: Pick<DailySettlementInput, 'erp' | 'queues' | 'maxReviewWait' | 'maxParkWait'>,
  trigger: SettlementInput['trigger'],
): Promise<Omit<DailySettlementResult, 'date'>> {
  const info = workflowInfo();
  const gp = proxyActivities<Activities>({
    startToCloseTimeout: '30 minutes',
    scheduleToCloseTimeout: '2 hours',
    heartbeatTimeout: '2 minutes',
    retry: RETRY,
    taskQueue: input.queues?.heartland ?? connectorQueue('heartland'),
  });
  const batches: string[] = [];
  const started: string[] = [];
  const skipped: string[] = [];
  for (const date of dates) {
    for (const batchId of await gp.listSettledBatches({ date })) {
      batches.push(batchId);
      try {
        await startChild(settlementReconciliation, {
          workflowId: workflowIds.settlement(batchId),
          taskQueue: info.taskQueue,
          args: [
            {
              batchId,
              erp: input.erp,
              trigger,
              queues: input.queues,
              maxReviewWait: input.maxReviewWait,
              maxParkWait: input.maxParkWait,
            },
          ],
          parentClosePolicy: ParentClosePolicy.ABANDON,
          // A batch reconciled before (by its webhook or an earlier run) is not reconciled again; a failed run is.
          workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY',
        });
        started.push(batchId);
      } catch (err) {
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
        skipped.push(batchId);
      }
    }
  }
  return { batches, started, skipped };
}

/** The daily schedule's workflow: reconciles every batch settled `lagDays` before the run (default yesterday, UTC). */
export async function settlementDaily(input: DailySettlementInput): Promise<DailySettlementResult> {
  const info = workflowInfo();
  const date = new Date(info.runStartTime.getTime() - (input.lagDays ?? 1) * 86_400_000).toISOString().slice(0, 10);
  return { date, ...(await reconcileDates([date], input, 'schedule')) };
}

/** On-demand reconciliation of a date range (at most 31 days): every batch settled from `from` to `to`, inclusive. */
export async function settlementRange(
  input: Omit<DailySettlementInput, 'lagDays'> & { from: string; to: string },
): Promise<Omit<DailySettlementResult, 'date'> & { from: string; to: string }> {
  const dates: string[] = [];
  const last = Date.parse(`${input.to}T00:00:00Z`);
  for (let t = Date.parse(`${input.from}T00:00:00Z`); t <= last && dates.length < 31; t += 86_400_000) {
    dates.push(new Date(t).toISOString().slice(0, 10));
  }
  return { from: input.from, to: input.to, ...(await reconcileDates(dates, input, 'on-demand')) };
}
