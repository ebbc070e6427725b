import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { ApplicationFailure, WorkflowFailedError, type Client } from '@temporalio/client';
import type { NativeConnection, Worker } from '@temporalio/worker';
import { createActivities } from '../../activities';
import type { Db } from '../../src/db';
import { failure } from '../../src/domain/errors';
import { createHarnessActivities, ensureHarnessTable } from '../fixtures/harness-activities';
import { harnessSaga } from '../fixtures/harness-workflows';
import { createTestWorker, testClient, testDb, testNativeConnection, uniqueQueue } from '../support/env';

let db: Db;
let client: Client;
let connection: NativeConnection;

beforeAll(async () => {
  db = testDb();
  await ensureHarnessTable(db);
  client = await testClient();
  connection = await testNativeConnection();
});

afterAll(async () => {
  await connection.close();
  await client.connection.close();
  await db.destroy();
});

async function effects(workflowId: string) {
  return db('harness_effects').where('key', 'like', `${workflowId}/%`).orderBy('id').select('key', 'kind');
}

async function withWorker<T>(
  taskQueue: string,
  fn: (w: Worker) => Promise<T>,
  override: Record<string, (...args: never[]) => Promise<unknown>> = {},
): Promise<T> {
  const worker = await createTestWorker(connection, {
    taskQueue,
    activities: { ...createActivities({ db }), ...createHarnessActivities(db), ...override },
  });
  return worker.runUntil(fn(worker));
}

const wfId = (name: string) => `harness:${name}:${Date.now()}-${Math.random().toString(36).slice(2, 6)}`;

describe('saga helper on the real Temporal server', () => {
  test('success path runs every step once and compensates nothing', async () => {
    const taskQueue = uniqueQueue('saga-ok');
    const workflowId = wfId('ok');
    const state = await withWorker(taskQueue, () =>
      client.workflow.execute(harnessSaga, { taskQueue, workflowId, args: [{ steps: 4 }] }),
    );
    expect(state.stepsDone).toEqual(['step-1', 'step-2', 'step-3', 'step-4']);
    expect(state.compensationsRun).toEqual([]);
    expect(await effects(workflowId)).toEqual(
      [1, 2, 3, 4].map((n) => ({ key: `${workflowId}/step-${n}`, kind: 'do' })),
    );
  });

  test('failure at step 3 of 4 undoes step 2 then step 1, and the query reports it', async () => {
    const taskQueue = uniqueQueue('saga-fail');
    const workflowId = wfId('fail3');
    await withWorker(taskQueue, async () => {
      const handle = await client.workflow.start(harnessSaga, {
        taskQueue,
        workflowId,
        args: [{ steps: 4, failAt: 3 }],
      });
      const err = await handle.result().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(WorkflowFailedError);
      expect(((err as WorkflowFailedError).cause?.cause as { type?: string })?.type).toBe('ValidationError');
      const state = await handle.query('sagaState');
      expect(state).toMatchObject({ stepsDone: ['step-1', 'step-2'], compensationsFailed: [] });
      // Step 3's undo was registered before its call, so it runs first and finds nothing to undo.
      expect((state as { compensationsRun: string[] }).compensationsRun).toEqual(['step-3', 'step-2', 'step-1']);
    });
    expect(await effects(workflowId)).toEqual([
      { key: `${workflowId}/step-1`, kind: 'do' },
      { key: `${workflowId}/step-2`, kind: 'do' },
      { key: `${workflowId}/step-2`, kind: 'undo' },
      { key: `${workflowId}/step-1`, kind: 'undo' },
    ]);
    const writes = await db('external_writes').where({ workflow_id: workflowId, operation: 'doStep' }).orderBy('id');
    expect(writes.map((w) => w.status)).toEqual(['undone', 'undone']);
  });

  test('a compensation that fails lands in dead_letters with full context, and the original failure is rethrown', async () => {
    const taskQueue = uniqueQueue('saga-dlq');
    const workflowId = wfId('dlq');
    const err = await withWorker(taskQueue, () =>
      client.workflow
        .execute(harnessSaga, { taskQueue, workflowId, args: [{ steps: 3, failAt: 3, failUndoOf: [1] }] })
        .catch((e: unknown) => e),
    );
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect(((err as WorkflowFailedError).cause?.cause as { type?: string })?.type).toBe('ValidationError');
    const rows = await db('dead_letters').where({ workflow_id: workflowId });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      flow: 'harness',
      step: 'compensate:step-1',
      error_type: 'UpstreamRejected',
      status: 'open',
      input: { steps: 3, failAt: 3, failUndoOf: [1] },
    });
    expect(rows[0].error_message).toContain('refused to undo step 1');
    expect(rows[0].context).toMatchObject({
      originalErrorType: 'ValidationError',
      stepsDone: ['step-1', 'step-2'],
      compensationsRun: ['step-3', 'step-2'],
    });
    // Step 2 was still undone even though step 1's undo failed afterwards.
    expect((await effects(workflowId)).filter((e) => e.kind === 'undo')).toEqual([
      { key: `${workflowId}/step-2`, kind: 'undo' },
    ]);
  });

  test('a dead letter that cannot be written is not swallowed: the run fails with it in its failure details', async () => {
    const taskQueue = uniqueQueue('saga-dl-lost');
    const workflowId = wfId('dl-lost');
    // The dead-letter activity has used up its retries (Postgres refused the row, or was gone for the whole hour).
    const recordDeadLetter = async () => {
      throw failure('ValidationError', 'dead_letters refused the row');
    };
    const err = await withWorker(
      taskQueue,
      () =>
        client.workflow
          .execute(harnessSaga, { taskQueue, workflowId, args: [{ steps: 3, failAt: 3, failUndoOf: [1] }] })
          .catch((e: unknown) => e),
      { recordDeadLetter },
    );
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const failed = (err as WorkflowFailedError).cause as ApplicationFailure;
    expect(failed).toBeInstanceOf(ApplicationFailure);
    expect(failed.type).toBe('DeadLetterWriteFailed');
    expect(failed.message).toContain('step-1');
    // The dead letter that could not be written, whole, in the run's failure (and so in its history).
    expect(failed.details).toEqual([
      {
        deadLetter: expect.objectContaining({
          flow: 'harness',
          workflowId,
          step: 'compensate:step-1',
          errorType: 'UpstreamRejected',
          input: { steps: 3, failAt: 3, failUndoOf: [1] },
          context: expect.objectContaining({ originalErrorType: 'ValidationError', stepsDone: ['step-1', 'step-2'] }),
        }),
        writeError: 'dead_letters refused the row',
      },
    ]);
    // The original failure (step 3's activity failure) is its cause, and every other undo still ran.
    expect((failed.cause?.cause as ApplicationFailure | undefined)?.type).toBe('ValidationError');
    expect((await effects(workflowId)).filter((e) => e.kind === 'undo')).toEqual([
      { key: `${workflowId}/step-2`, kind: 'undo' },
    ]);
    expect(await db('dead_letters').where({ workflow_id: workflowId })).toEqual([]);
  });

  test('SIGKILL of the worker mid-step: a new worker completes the saga with each side effect exactly once', async () => {
    const taskQueue = uniqueQueue('saga-kill');
    const workflowId = wfId('kill');
    const child: ChildProcess = fork(path.join(__dirname, '..', 'fixtures', 'harness-worker.ts'), [], {
      execArgv: ['--import', 'tsx'],
      env: { ...process.env, HARNESS_QUEUE: taskQueue },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    try {
      await new Promise<void>((resolve, reject) => {
        child.once('message', () => resolve());
        child.once('exit', (code) => reject(new Error(`harness worker exited early (${code})`)));
      });
      const handle = await client.workflow.start(harnessSaga, {
        taskQueue,
        workflowId,
        args: [{ steps: 4, slowStep: 2, slowMs: 30_000 }],
      });
      // Wait until step 2 has written remotely but not yet been acknowledged, then kill the worker hard.
      const deadline = Date.now() + 30_000;
      while (!(await effects(workflowId)).some((e) => e.key.endsWith('/step-2'))) {
        if (Date.now() > deadline) throw new Error('step 2 never started');
        await new Promise((r) => setTimeout(r, 100));
      }
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));

      const state = await withWorker(taskQueue, () => handle.result());
      expect(state.stepsDone).toEqual(['step-1', 'step-2', 'step-3', 'step-4']);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    const rows = await effects(workflowId);
    expect(rows).toEqual([1, 2, 3, 4].map((n) => ({ key: `${workflowId}/step-${n}`, kind: 'do' })));
    const step2 = await db('external_writes')
      .where({ idempotency_key: `${workflowId}/step-2` })
      .first();
    expect(step2.status).toBe('done');
    expect(step2.attempts).toBeGreaterThanOrEqual(2); // the retry found the remote record instead of writing again
  });
});
