import type { Client } from '@temporalio/client';
import type { Db } from '../db';

export interface DependencyHealth {
  ok: boolean;
  latencyMs: number;
  error?: string;
}

async function timed(fn: () => Promise<unknown>, timeoutMs: number): Promise<DependencyHealth> {
  const started = Date.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      fn(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    return { ok: true, latencyMs: Date.now() - started };
  } catch (e) {
    return { ok: false, latencyMs: Date.now() - started, error: (e as Error).message };
  } finally {
    clearTimeout(timer);
  }
}

/** Checks Postgres and Temporal side by side; each is reported on its own. */
export async function checkHealth(deps: { db: Db; temporal: Client; namespace: string }, timeoutMs = 2000) {
  const [postgres, temporal] = await Promise.all([
    timed(() => deps.db.raw('SELECT 1'), timeoutMs),
    timed(() => deps.temporal.workflowService.describeNamespace({ namespace: deps.namespace }), timeoutMs),
  ]);
  return { status: postgres.ok && temporal.ok ? 'ok' : 'unavailable', postgres, temporal } as const;
}
