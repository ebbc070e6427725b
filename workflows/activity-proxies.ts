import { proxyActivities, type ActivityOptions } from '@temporalio/workflow';
import type { createActivities } from '../activities';
import { nonRetryableErrorTypes } from '../src/domain/errors';
import { connectorQueue, type ConnectorSystem } from './definitions';

export type Activities = ReturnType<typeof createActivities>;

/** Connector calls: retried with backoff for up to 10 minutes (an ERP down for a while), then the step parks. */
const CONNECTOR_ACTIVITY: ActivityOptions = {
  startToCloseTimeout: '30 seconds',
  scheduleToCloseTimeout: '10 minutes',
  retry: {
    initialInterval: '500 milliseconds',
    backoffCoefficient: 2,
    maximumInterval: '10 seconds',
    nonRetryableErrorTypes,
  },
};

/** Bookkeeping activities on the workflow's own queue (validation, our own Postgres). */
export const local = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  scheduleToCloseTimeout: '5 minutes',
  retry: { nonRetryableErrorTypes },
});

/** Activities on the ERP's and Heartland's connector queues (or the overrides a flow's input carries). */
export function connectorProxies(erp: ConnectorSystem, queues?: { erp?: string; heartland?: string }) {
  return {
    erpActs: proxyActivities<Activities>({ ...CONNECTOR_ACTIVITY, taskQueue: queues?.erp ?? connectorQueue(erp) }),
    gp: proxyActivities<Activities>({
      ...CONNECTOR_ACTIVITY,
      taskQueue: queues?.heartland ?? connectorQueue('heartland'),
    }),
  };
}
