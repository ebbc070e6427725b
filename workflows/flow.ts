import {
  ActivityFailure,
  ApplicationFailure,
  condition,
  log,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Duration } from '@temporalio/common';
import type { createActivities } from '../activities';
import { errorTypeOf, rootMessage } from '../src/domain/errors';
import { Saga } from './saga';
import {
  approveUpdate,
  discardUpdate,
  retryUpdate,
  SA,
  statusQuery,
  type FlowStatus,
  type RetryRequest,
} from './definitions';

const bookkeeping = proxyActivities<ReturnType<typeof createActivities>>({
  startToCloseTimeout: '30 seconds',
  scheduleToCloseTimeout: '1 hour',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

export interface FlowOptions {
  flow: string;
  businessKey: string;
  source?: string;
  erp?: string;
  currency?: string;
  amountMinor?: number;
  /** The workflow input, stored (scrubbed) with any dead letter. */
  input: unknown;
  /** The stage the run starts in (`started` unless the flow names its first stage up front). */
  initialStage?: string;
  /** How long a parked step waits for `retry` or `discard` before the run fails (its dead letter stays open). */
  maxParkWait: Duration;
}

export type Decision =
  | { kind: 'retry'; req: RetryRequest }
  | { kind: 'discard'; actor: string; reason: string }
  | { kind: 'approve'; actor: string; note?: string };

/**
 * One flow run: its saga (compensation stack), its ops view (status query and search attributes) and the parking of
 * failed steps. A step whose activity fails without retry (or runs out of retries) is dead-lettered and the run waits,
 * with LbNeedsAttention=true, for a `retry` update (re-runs that step only, with an optional input patch or mapping
 * version) or a `discard` update (fails the step with type Discarded, so the saga compensates when before its pivot).
 */
export class Flow {
  readonly saga: Saga;
  readonly status: FlowStatus;
  /** What the run waits on: a parked step (retry or discard) or a review of an outcome (approve or retry). */
  private waiting?: { mode: 'parked' | 'review'; step: string };
  private decision?: Decision;

  constructor(private readonly opts: FlowOptions) {
    this.saga = new Saga(opts.flow, opts.input);
    this.status = {
      flow: opts.flow,
      businessKey: opts.businessKey,
      stage: opts.initialStage ?? 'started',
      step: null,
      stepsDone: this.saga.state.stepsDone,
      compensationsRun: this.saga.state.compensationsRun,
      compensationsFailed: this.saga.state.compensationsFailed,
      pivotPassed: false,
      currency: opts.currency ?? null,
      amounts: {},
      deadLetterId: null,
      parkedStep: null,
      needsAttention: false,
      mappingVersion: null,
      outcome: null,
    };
    setHandler(statusQuery, () => ({ ...this.status, pivotPassed: this.saga.state.pivotPassed }));
    setHandler(
      retryUpdate,
      (req) => {
        const step = this.waiting!.step;
        this.decision = { kind: 'retry', req };
        return { accepted: true, step };
      },
      {
        validator: (req: RetryRequest) => (
          this.assertWaiting(),
          req?.actor ? undefined : fail('a retry needs an actor')
        ),
      },
    );
    setHandler(
      discardUpdate,
      ({ actor, reason }) => {
        this.decision = { kind: 'discard', actor, reason };
        return { accepted: true };
      },
      {
        validator: ({ reason }) => (
          this.assertWaiting('parked'),
          reason ? undefined : fail('a discard needs a reason')
        ),
      },
    );
    setHandler(
      approveUpdate,
      ({ actor, note }) => {
        this.decision = { kind: 'approve', actor, note };
        return { accepted: true };
      },
      {
        validator: ({ actor }) => (
          this.assertWaiting('review'),
          actor ? undefined : fail('an approval needs an actor')
        ),
      },
    );
    upsertSearchAttributes([
      { key: SA.flow, value: opts.flow },
      { key: SA.businessKey, value: opts.businessKey },
      { key: SA.stage, value: this.status.stage },
      { key: SA.needsAttention, value: false },
      ...(opts.source ? [{ key: SA.source, value: opts.source }] : []),
      ...(opts.erp ? [{ key: SA.erp, value: opts.erp }] : []),
      ...(opts.amountMinor !== undefined ? [{ key: SA.amountMinor, value: opts.amountMinor }] : []),
    ]);
  }

  private assertWaiting(mode?: 'parked' | 'review'): void {
    if (!this.waiting || this.decision) throw new Error('this run is not waiting for a decision');
    if (mode && this.waiting.mode !== mode) {
      throw new Error(
        mode === 'parked' ? 'nothing is parked in this run' : 'nothing is waiting for review in this run',
      );
    }
  }

  /**
   * Waits, flagged for attention, for a person to review an outcome (e.g. a settlement variance): resolves with
   * `approve` or `retry` (re-run from `step`), or undefined when `maxWait` ran out.
   */
  async awaitReview(step: string, maxWait: Duration): Promise<Exclude<Decision, { kind: 'discard' }> | undefined> {
    this.waiting = { mode: 'review', step };
    this.decision = undefined;
    this.setAttention(true);
    try {
      await condition(() => this.decision !== undefined, maxWait);
      const d = this.decision as Exclude<Decision, { kind: 'discard' }> | undefined;
      if (d) this.setAttention(false);
      return d;
    } finally {
      this.waiting = undefined;
      this.decision = undefined;
    }
  }

  /** Moves the run to a new stage (shown in the status query and as LbStage). */
  stage(stage: string): void {
    this.status.stage = stage;
    upsertSearchAttributes([{ key: SA.stage, value: stage }]);
  }

  setAmount(name: string, amountMinor: number, searchable = false): void {
    this.status.amounts[name] = amountMinor;
    if (searchable) upsertSearchAttributes([{ key: SA.amountMinor, value: amountMinor }]);
  }

  get mappingVersion(): number | null {
    return this.status.mappingVersion;
  }

  /** Marks the pivot: later failures recover forward (park and retry), never compensate. */
  pivot(): void {
    this.saga.pivot();
    this.status.pivotPassed = true;
  }

  /**
   * Runs one step with parking. `undo` (when given) is registered before the first attempt. `input` is what a
   * `retry` update may patch; the step function receives the current (possibly patched) input.
   */
  async step<I extends object, T>(
    name: string,
    input: I,
    action: (input: I) => Promise<T>,
    undo?: () => Promise<unknown>,
  ): Promise<T> {
    if (undo) this.saga.addCompensation(name, undo);
    this.status.step = name;
    let current = input;
    for (;;) {
      try {
        const result = await action(current);
        this.saga.state.stepsDone.push(name);
        return result;
      } catch (err) {
        if (!(err instanceof ActivityFailure)) throw err;
        current = await this.park(name, current, err);
      }
    }
  }

  private async park<I extends object>(step: string, input: I, err: ActivityFailure): Promise<I> {
    const info = workflowInfo();
    const errorType =
      errorTypeOf(err.cause) ?? (err.retryState ? `RetriesExhausted:${err.retryState}` : 'ActivityFailed');
    const message = rootMessage(err);
    log.warn('step parked', { step, errorType, error: message });
    const deadLetterId = await bookkeeping.recordDeadLetter({
      flow: this.opts.flow,
      workflowId: info.workflowId,
      runId: info.runId,
      step,
      input,
      context: { stage: this.status.stage, stepsDone: [...this.status.stepsDone], flowInput: this.opts.input },
      errorType,
      errorMessage: message,
      attempts: 1,
    });
    this.waiting = { mode: 'parked', step };
    this.decision = undefined;
    this.status.deadLetterId = deadLetterId;
    this.status.parkedStep = step;
    this.setAttention(true);
    const decided = await condition(() => this.decision !== undefined, this.opts.maxParkWait);
    const decision = this.decision as Exclude<Decision, { kind: 'approve' }> | undefined;
    this.decision = undefined;
    this.waiting = undefined;
    if (!decided || !decision) {
      throw ApplicationFailure.create({
        type: 'ParkTimeout',
        nonRetryable: true,
        message: `step ${step} waited ${String(this.opts.maxParkWait)} without a retry or discard; dead letter ${deadLetterId} stays open`,
      });
    }
    this.status.parkedStep = null;
    this.setAttention(false);
    if (decision.kind === 'discard') {
      await bookkeeping.closeDeadLetter({
        id: deadLetterId,
        status: 'discarded',
        actor: decision.actor,
        reason: decision.reason,
      });
      this.status.outcome = 'discarded';
      throw ApplicationFailure.create({
        type: 'Discarded',
        nonRetryable: true,
        message: `step ${step} discarded by ${decision.actor}: ${decision.reason}`,
      });
    }
    await bookkeeping.closeDeadLetter({ id: deadLetterId, status: 'replayed', actor: decision.req.actor });
    if (decision.req.mappingVersion !== undefined) this.status.mappingVersion = decision.req.mappingVersion;
    return decision.req.patch ? { ...input, ...decision.req.patch } : input;
  }

  /** Sets LbNeedsAttention (and the status query's flag). */
  setAttention(on: boolean): void {
    this.status.needsAttention = on;
    upsertSearchAttributes([{ key: SA.needsAttention, value: on }]);
  }

  /** Ends the run early with a business outcome (declined, cancelled, expired): undoes what was done, as data. */
  async end(outcome: string, reason: string): Promise<void> {
    log.info('flow ended early', { outcome, reason });
    await this.saga.compensate(ApplicationFailure.create({ type: 'Cancelled', message: reason, nonRetryable: true }));
    this.status.outcome = outcome;
  }

  /** Runs the flow body: compensates before the pivot on failure, records the outcome, and ends the stage. */
  async run<T>(body: () => Promise<T>): Promise<T> {
    try {
      const result = await this.saga.run(body);
      this.stage(this.status.outcome && this.status.outcome !== 'completed' ? this.status.outcome : 'completed');
      return result;
    } catch (err) {
      this.status.outcome ??= 'failed';
      this.stage(this.saga.state.compensationsRun.length > 0 ? 'compensated' : 'failed');
      throw err;
    }
  }
}

function fail(message: string): never {
  throw new Error(message);
}
