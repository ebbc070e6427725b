import {
  ScheduleAlreadyRunning,
  ScheduleOverlapPolicy,
  type Client,
  type ScheduleHandle,
  type ScheduleOptions,
  type WorkflowHandleWithFirstExecutionRunId,
} from '@temporalio/client';
import { workflowIds } from '../domain/ids';
import { TASK_QUEUE } from '../../workflows/definitions';
import type { DailySettlementInput, SettlementInput } from './types';

export interface DailySettlementScheduleOptions extends DailySettlementInput {
  /** Default `settlement-daily-<erp>`. */
  scheduleId?: string;
  /** Workflow task queue (default `ledgerbridge`). */
  taskQueue?: string;
  /** UTC hour and minute of the daily run (default 06:00, after Heartland's overnight funding). */
  hour?: number;
  minute?: number;
  timeZone?: string;
  paused?: boolean;
}

function scheduleOptions(o: DailySettlementScheduleOptions): ScheduleOptions {
  const { scheduleId, taskQueue, hour, minute, timeZone, paused, ...wf } = o;
  return {
    scheduleId: scheduleId ?? `settlement-daily-${o.erp}`,
    spec: { calendars: [{ hour: hour ?? 6, minute: minute ?? 0 }], timezone: timeZone ?? 'UTC' },
    action: {
      type: 'startWorkflow',
      workflowType: 'settlementDaily',
      workflowId: workflowIds.sync('settlement-daily', o.erp),
      taskQueue: taskQueue ?? TASK_QUEUE,
      args: [wf satisfies DailySettlementInput],
    },
    // A run that is still going (a slow GP report) makes the next one wait instead of racing it.
    policies: { overlap: ScheduleOverlapPolicy.BUFFER_ONE, catchupWindow: '1 day' },
    state: { paused: paused ?? false, note: 'Ledgerbridge: daily settlement reconciliation safety net' },
  };
}

/**
 * Creates the daily settlement schedule, or brings an existing one (same id) to these options. Idempotent: call it
 * on every start.
 */
export async function ensureDailySettlementSchedule(
  client: Client,
  opts: DailySettlementScheduleOptions,
): Promise<ScheduleHandle> {
  const options = scheduleOptions(opts);
  try {
    return await client.schedule.create(options);
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
    const handle = client.schedule.getHandle(options.scheduleId);
    await handle.update((prev) => ({
      ...prev,
      spec: options.spec,
      action: options.action,
      policies: options.policies,
    }));
    return handle;
  }
}

/**
 * Starts the reconciliation of a batch (webhook or on demand). The workflow id is `settlement:<batchId>`; a run
 * already going for it is returned instead of a second one.
 */
export async function startSettlementReconciliation(
  client: Client,
  input: SettlementInput,
  opts: { taskQueue?: string } = {},
): Promise<WorkflowHandleWithFirstExecutionRunId> {
  return client.workflow.start('settlementReconciliation', {
    taskQueue: opts.taskQueue ?? TASK_QUEUE,
    workflowId: workflowIds.settlement(input.batchId),
    args: [input],
    workflowIdConflictPolicy: 'USE_EXISTING',
  });
}
