/**
 * Input, result and status shapes of the settlement reconciliation workflow. Imported by the workflow bundle, so
 * types only (no runtime imports).
 */
import type { ErpSystem } from '../connectors/erp/types';
import type { ReconCounts } from './matching';

export type SettlementTrigger = 'webhook' | 'schedule' | 'on-demand';

export interface SettlementInput {
  batchId: string;
  erp: ErpSystem;
  /** Where the batch comes from (default heartland). */
  source?: string;
  trigger?: SettlementTrigger;
  /** The ERP payments' period (YYYY-MM-DD); default: the dates of the batch's transactions. */
  period?: { from: string; to: string };
  /** The journal's date; default: the last transaction date of the batch. */
  journalDate?: string;
  /** GL rules version; default: the published one (a `retry` may carry another as `mappingVersion`). */
  glRulesVersion?: number;
  /** GP settlement report page size (at most 1000). */
  pageSize?: number;
  /** How long a parked step waits for `retry` or `discard` (default 7 days). */
  maxParkWait?: string;
  /** How long a variance waits for `approve` or `retry` (default 14 days). */
  maxReviewWait?: string;
  /** Heartbeat timeout of the staging activity (default 30 seconds). */
  stagingHeartbeatTimeout?: string;
  /** Task queue overrides (tests use unique names); defaults `connector-heartland` and `connector-<erp>`. */
  queues?: { heartland?: string; erp?: string };
}

export interface SettlementSummary {
  batchId: string;
  erp: ErpSystem;
  trigger: SettlementTrigger;
  currency: string | null;
  period: { from: string | null; to: string | null };
  heartland: {
    lines: number;
    pages: number;
    duplicatesInFeed: number;
    salesCount: number;
    salesMinor: number;
    refundsCount: number;
    refundsMinor: number;
    feesMinor: number;
    netMinor: number;
    depositMinor: number;
    resumedFromPage: number;
  } | null;
  erpPayments: { count: number; totalMinor: number; matchedAgainst: number; matchedMinor: number } | null;
  counts: ReconCounts | null;
  varianceMinor: number | null;
  /** How many times finance sent the run back to load the ERP side again. */
  reviewRounds: number;
  approval: { actor: string; note?: string; varianceMinor: number } | null;
  journal: {
    entryId: string;
    debitMinor: number;
    creditMinor: number;
    suspenseMinor: number;
    lines: number;
    glRulesVersion: number;
    erpJournalId: string | null;
  } | null;
  report: { jsonBytes: number; csvBytes: number } | null;
}

export interface SettlementResult extends SettlementSummary {
  outcome: 'completed';
}

export interface DailySettlementInput {
  erp: ErpSystem;
  /** Reconcile the batches settled this many days before the run (default 1: yesterday, UTC). */
  lagDays?: number;
  /** Passed on to every reconciliation it starts. */
  queues?: SettlementInput['queues'];
  maxReviewWait?: string;
  maxParkWait?: string;
}

export interface DailySettlementResult {
  date: string;
  batches: string[];
  started: string[];
  /** Batches that already had a run (a webhook or an earlier schedule run started them). */
  skipped: string[];
}
