import {
  ApplicationFailure,
  CancellationScope,
  log,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { createActivities } from '../activities';
import { errorTypeOf, rootMessage } from '../src/domain/errors';
import { sagaStateQuery, type SagaState } from './definitions';

const { recordDeadLetter } = proxyActivities<ReturnType<typeof createActivities>>({
  startToCloseTimeout: '30 seconds',
  scheduleToCloseTimeout: '1 hour',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

type DeadLetter = Parameters<typeof recordDeadLetter>[0];

interface Compensation {
  step: string;
  undo: () => Promise<unknown>;
}

/**
 * The compensation stack of a saga. Register an undo *before* the call it undoes, so a crash between the call and
 * the registration can never leave money moved without a way back. On failure the undos run newest first inside a
 * non-cancellable scope; an undo that still fails after its activity's retries is dead-lettered, never swallowed,
 * and the original failure is rethrown. A dead letter that cannot be written (its activity's retries used up) is not
 * dropped either: the remaining undos still run, then the run fails as DeadLetterWriteFailed with every unwritten
 * dead letter in the failure's details (kept in the history) and the original failure as its cause. After `pivot()`
 * the saga no longer compensates: later steps recover forward.
 */
export class Saga {
  readonly state: SagaState = { stepsDone: [], compensationsRun: [], compensationsFailed: [], pivotPassed: false };
  private readonly stack: Compensation[] = [];

  constructor(
    private readonly flow: string,
    private readonly input?: unknown,
  ) {
    setHandler(sagaStateQuery, () => this.state);
  }

  /** Pushes the undo for `step`; call it before the step runs. */
  addCompensation(step: string, undo: () => Promise<unknown>): void {
    this.stack.push({ step, undo });
  }

  /** Runs one step, registering its undo first when it has one. */
  async step<T>(name: string, action: () => Promise<T>, undo?: () => Promise<unknown>): Promise<T> {
    if (undo) this.addCompensation(name, undo);
    const result = await action();
    this.state.stepsDone.push(name);
    return result;
  }

  /** Marks the point of no return: money has moved, and failures after it are recovered forward. */
  pivot(): void {
    this.state.pivotPassed = true;
    this.stack.length = 0;
  }

  /**
   * Runs the registered undos newest first; failed undos are dead-lettered. Throws only DeadLetterWriteFailed, after
   * every undo has run, when a dead letter could not be written.
   */
  async compensate(cause: unknown): Promise<void> {
    const unwritten: { deadLetter: DeadLetter; writeError: string }[] = [];
    await CancellationScope.nonCancellable(async () => {
      while (this.stack.length > 0) {
        const c = this.stack.pop()!;
        try {
          await c.undo();
          this.state.compensationsRun.push(c.step);
        } catch (err) {
          const info = workflowInfo();
          const message = rootMessage(err);
          log.error('compensation failed; dead-lettering', { step: c.step, error: message });
          const deadLetter: DeadLetter = {
            flow: this.flow,
            workflowId: info.workflowId,
            runId: info.runId,
            step: `compensate:${c.step}`,
            input: this.input,
            context: {
              originalError: rootMessage(cause),
              originalErrorType: errorTypeOf(cause) ?? 'unknown',
              stepsDone: [...this.state.stepsDone],
              compensationsRun: [...this.state.compensationsRun],
              pendingCompensations: this.stack.map((s) => s.step),
            },
            errorType: errorTypeOf(err) ?? 'CompensationFailed',
            errorMessage: message,
            attempts: info.attempt,
          };
          const deadLetterId = await recordDeadLetter(deadLetter).catch((dlErr: unknown) => {
            log.error('dead letter could not be written', { step: c.step, error: rootMessage(dlErr) });
            unwritten.push({ deadLetter, writeError: rootMessage(dlErr) });
            return null;
          });
          this.state.compensationsFailed.push({ step: c.step, deadLetterId, error: message });
        }
      }
    });
    if (unwritten.length > 0) {
      throw ApplicationFailure.create({
        type: 'DeadLetterWriteFailed',
        nonRetryable: true,
        message: `undo of ${unwritten.map((u) => u.deadLetter.step.replace(/^compensate:/, '')).join(', ')} failed and its dead letter could not be written (${unwritten[0].writeError}); the dead letters are in this failure's details`,
        details: unwritten,
        cause: cause instanceof Error ? cause : undefined,
      });
    }
  }

  /** Runs the body; on failure before the pivot, compensates and rethrows the original failure. */
  async run<T>(body: (saga: Saga) => Promise<T>): Promise<T> {
    try {
      return await body(this);
    } catch (err) {
      if (!this.state.pivotPassed) await this.compensate(err);
      throw err;
    }
  }
}
