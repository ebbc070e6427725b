import { createDeadLetterActivities } from './dead-letters';
import type { ActivityDeps } from './deps';

export type { ActivityDeps } from './deps';

/** Every activity of Ledgerbridge, built over injected dependencies. */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createDeadLetterActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
