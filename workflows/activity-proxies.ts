import {
  ActivityFailure,
  ApplicationFailure,
  CancelledFailure,
  proxyActivities,
  proxyLocalActivities,
  TemporalFailure,
  TimeoutFailure,
  type ActivityOptions,
} from '@temporalio/workflow';
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

/**
 * Short steps that touch only our own process or Postgres (validation and mapping), run as local activities: no
 * task-queue round trip through the server, and their result is still recorded in the history.
 */
export const inline = asActivityFailures(
  proxyLocalActivities<Activities>({
    startToCloseTimeout: '10 seconds',
    scheduleToCloseTimeout: '1 minute',
    retry: { nonRetryableErrorTypes },
  }),
);

/**
 * A local activity's failure reaches the workflow unwrapped (sdk-core #449), where a normal activity's arrives as an
 * ActivityFailure: wrap it the same way, so that flows park and dead-letter both alike.
 */
function asActivityFailures<T extends object>(activities: T): T {
  return new Proxy(activities, {
    get(target, name) {
      const call = Reflect.get(target, name) as (...args: unknown[]) => Promise<unknown>;
      return async (...args: unknown[]) => {
        try {
          return await call(...args);
        } catch (err) {
          if (!(err instanceof TemporalFailure) || err instanceof ActivityFailure || err instanceof CancelledFailure)
            throw err;
          const retryState =
            err instanceof ApplicationFailure && err.nonRetryable
              ? 'NON_RETRYABLE_FAILURE'
              : err instanceof TimeoutFailure
                ? 'TIMEOUT'
                : 'MAXIMUM_ATTEMPTS_REACHED';
          throw new ActivityFailure('Local activity failed', String(name), undefined, retryState, undefined, err);
        }
      };
    },
  });
}

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
