import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export { workflowIds, idempotencyKey } from '../src/domain/ids';

/** Task queues: one for workflows, one per external system so each vendor's rate limit is a worker option. */
export const TASK_QUEUE = 'ledgerbridge';
export const CONNECTOR_SYSTEMS = ['heartland', 'odoo', 'm3', 'p21', 'sagepro'] as const;
export type ConnectorSystem = (typeof CONNECTOR_SYSTEMS)[number];
export const connectorQueue = (system: ConnectorSystem) => `connector-${system}`;

/** Search attributes of the ops view in the Temporal UI (registered when the dev server starts). */
export const SA = {
  flow: defineSearchAttributeKey('LbFlow', SearchAttributeType.KEYWORD),
  source: defineSearchAttributeKey('LbSource', SearchAttributeType.KEYWORD),
  erp: defineSearchAttributeKey('LbErp', SearchAttributeType.KEYWORD),
  businessKey: defineSearchAttributeKey('LbBusinessKey', SearchAttributeType.KEYWORD),
  stage: defineSearchAttributeKey('LbStage', SearchAttributeType.KEYWORD),
  needsAttention: defineSearchAttributeKey('LbNeedsAttention', SearchAttributeType.BOOL),
  amountMinor: defineSearchAttributeKey('LbAmountMinor', SearchAttributeType.INT),
};

/** `name=Type` pairs for `temporal server start-dev --search-attribute`. */
export const SEARCH_ATTRIBUTE_ARGS: string[] = Object.values(SA).map(
  (k) => `${k.name}=${k.type === 'KEYWORD' ? 'Keyword' : k.type === 'BOOL' ? 'Bool' : 'Int'}`,
);

export interface SagaState {
  stepsDone: string[];
  compensationsRun: string[];
  compensationsFailed: { step: string; deadLetterId: string | null; error: string }[];
  pivotPassed: boolean;
}

export const sagaStateQuery = defineQuery<SagaState>('sagaState');

/** What the `status` query returns for every flow. */
export interface FlowStatus {
  flow: string;
  businessKey: string;
  stage: string;
  /** The step running now (or the last one run): finer than the stage, which groups steps for the ops filters. */
  step: string | null;
  stepsDone: string[];
  compensationsRun: string[];
  compensationsFailed: SagaState['compensationsFailed'];
  pivotPassed: boolean;
  currency: string | null;
  /** Named amounts in minor units (order total, authorized, captured, refunded, journal debits, variance, …). */
  amounts: Record<string, number>;
  deadLetterId: string | null;
  parkedStep: string | null;
  needsAttention: boolean;
  mappingVersion: number | null;
  /** completed | declined | cancelled | expired | discarded | needs-review | failed … */
  outcome: string | null;
}

export const statusQuery = defineQuery<FlowStatus>('status');

export const fulfilledSignal =
  defineSignal<[{ fulfilmentId?: string; lines?: { sku: string; qty: number }[] }?]>('fulfilled');
export const cancelSignal = defineSignal<[{ reason?: string }?]>('cancel');

export interface RetryRequest {
  actor: string;
  /** Corrected input for the failed step, merged over the original. */
  patch?: Record<string, unknown>;
  mappingVersion?: number;
}
export const retryUpdate = defineUpdate<{ accepted: boolean; step: string }, [RetryRequest]>('retry');
export const discardUpdate = defineUpdate<{ accepted: boolean }, [{ actor: string; reason: string }]>('discard');
export const approveUpdate = defineUpdate<{ accepted: boolean }, [{ actor: string; note?: string }]>('approve');
