import { createDeadLetterActivities } from './dead-letters';
import { createOrderToCashActivities } from './order-to-cash';
import { createRefundActivities } from './refund';
import { createSettlementActivities } from './settlement';
import type { ActivityDeps } from './deps';

export type { ActivityDeps } from './deps';

/** Every activity of Ledgerbridge, built over injected dependencies. */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createDeadLetterActivities(deps),
    ...createOrderToCashActivities(deps),
    ...createRefundActivities(deps),
    ...createSettlementActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
