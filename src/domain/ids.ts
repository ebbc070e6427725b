/**
 * Deterministic workflow ids and idempotency keys. The same business event always maps to the same id, so a
 * duplicate webhook or a retrigger lands on the same run, and the same external write carries the same key.
 * Imported by workflows: no Node built-ins here.
 */

const SAFE = /^[A-Za-z0-9._~@+=-]+$/;

function part(name: string, value: string): string {
  if (typeof value !== 'string' || value.length === 0) throw new Error(`${name} must be a non-empty string`);
  if (value.length > 200) throw new Error(`${name} is longer than 200 characters`);
  if (!SAFE.test(value)) {
    throw new Error(`${name} may only hold letters, digits and . _ ~ @ + = -, got ${JSON.stringify(value)}`);
  }
  return value;
}

export const workflowIds = {
  order: (source: string, orderId: string) => `order:${part('source', source)}:${part('orderId', orderId)}`,
  settlement: (batchId: string) => `settlement:${part('batchId', batchId)}`,
  refund: (source: string, refundId: string) => `refund:${part('source', source)}:${part('refundId', refundId)}`,
  sync: (flow: string, key: string) => `sync:${part('flow', flow)}:${part('key', key)}`,
};

export type FlowName = 'order' | 'settlement' | 'refund' | 'sync';

/** Splits a workflow id built above back into its flow and business key. */
export function parseWorkflowId(id: string): { flow: FlowName; source?: string; key: string } | undefined {
  const [flow, ...rest] = id.split(':');
  if (flow === 'settlement' && rest.length === 1) return { flow, key: rest[0] };
  if ((flow === 'order' || flow === 'refund' || flow === 'sync') && rest.length === 2) {
    return { flow, source: rest[0], key: rest[1] };
  }
  return undefined;
}

/**
 * The idempotency key of one external write: workflow id, step, and line (when a step writes many records).
 * Stable across retries, replays and retriggers of the same workflow id.
 */
export function idempotencyKey(workflowId: string, step: string, line?: string | number): string {
  if (!workflowId || !step) throw new Error('idempotencyKey needs a workflow id and a step');
  return line === undefined ? `${workflowId}/${step}` : `${workflowId}/${step}/${line}`;
}
