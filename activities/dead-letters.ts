import { Context } from '@temporalio/activity';
import { closeDeadLetter, insertDeadLetter, type DeadLetterInput } from '../src/db/dead-letters';
import type { ActivityDeps } from './deps';

/** Dead-letter bookkeeping shared by every flow. */
export function createDeadLetterActivities(deps: ActivityDeps) {
  return {
    /** Writes a dead letter (card data scrubbed) and returns its id. */
    async recordDeadLetter(dl: DeadLetterInput): Promise<string> {
      const id = await insertDeadLetter(deps.db, dl);
      Context.current().log.warn('dead letter recorded', { deadLetterId: id, step: dl.step, errorType: dl.errorType });
      return id;
    },

    /** Closes a dead letter as replayed or discarded (no-op when it is no longer open). */
    async closeDeadLetter(a: { id: string; status: 'replayed' | 'discarded'; actor: string; reason?: string }) {
      return closeDeadLetter(deps.db, a.id, a.status, a.actor, a.reason);
    },
  };
}
