import fc from 'fast-check';
import { ApplicationFailure } from '@temporalio/common';
import { idempotencyKey, parseWorkflowId, workflowIds } from '../../src/domain/ids';
import {
  ERROR_TYPES,
  errorTypeOf,
  fail,
  failure,
  isRetryable,
  nonRetryableErrorTypes,
  retryableErrorTypes,
} from '../../src/domain/errors';

const idPart = fc.stringMatching(/^[A-Za-z0-9._~@+=-]{1,40}$/);

describe('workflow ids', () => {
  test('builders are deterministic and parse back', () => {
    fc.assert(
      fc.property(idPart, idPart, (source, key) => {
        expect(workflowIds.order(source, key)).toBe(`order:${source}:${key}`);
        expect(parseWorkflowId(workflowIds.order(source, key))).toEqual({ flow: 'order', source, key });
        expect(parseWorkflowId(workflowIds.refund(source, key))).toEqual({ flow: 'refund', source, key });
        expect(parseWorkflowId(workflowIds.settlement(key))).toEqual({ flow: 'settlement', key });
      }),
    );
  });

  test('ids refuse separators and empty parts so two events can never share an id by accident', () => {
    expect(() => workflowIds.order('shop', 'a:b')).toThrow(/orderId may only hold/);
    expect(() => workflowIds.settlement('')).toThrow(/non-empty/);
    expect(() => workflowIds.refund('pos', 'x'.repeat(201))).toThrow(/longer than 200/);
  });

  test('idempotency keys combine workflow id, step and line', () => {
    expect(idempotencyKey('order:shop:1', 'capture')).toBe('order:shop:1/capture');
    expect(idempotencyKey('settlement:B1', 'post-journal', 3)).toBe('settlement:B1/post-journal/3');
    expect(() => idempotencyKey('', 'x')).toThrow();
  });
});

describe('error taxonomy', () => {
  test('nonRetryableErrorTypes is exactly the non-retryable half of the one list', () => {
    const all = Object.keys(ERROR_TYPES);
    expect([...nonRetryableErrorTypes, ...retryableErrorTypes].sort()).toEqual([...all].sort());
    for (const t of [
      'ValidationError',
      'MappingNotFound',
      'GlAccountNotFound',
      'AuthFailed',
      'Declined',
      'SchemaMismatch',
    ]) {
      expect(nonRetryableErrorTypes).toContain(t);
    }
    for (const t of ['NetworkError', 'Timeout', 'RateLimited', 'UpstreamUnavailable'])
      expect(retryableErrorTypes).toContain(t);
  });

  test('failure() sets type, retryability, details and Retry-After delay', () => {
    const f = failure('RateLimited', 'slow down', { connector: 'odoo', code: '429' }, { nextRetryDelayMs: 7000 });
    expect(f).toBeInstanceOf(ApplicationFailure);
    expect(f.type).toBe('RateLimited');
    expect(f.nonRetryable).toBe(false);
    expect(f.details).toEqual([{ connector: 'odoo', code: '429' }]);
    expect(f.nextRetryDelay).toBe(7000);
    const g = failure('GlAccountNotFound', 'account 4999');
    expect(g.nonRetryable).toBe(true);
  });

  test('fail() throws a non-retryable typed failure, and errorTypeOf walks causes', () => {
    let caught: unknown;
    try {
      fail('ValidationError', 'amount missing', { field: 'amount' });
    } catch (e) {
      caught = e;
    }
    expect((caught as ApplicationFailure).nonRetryable).toBe(true);
    const wrapped = Object.assign(new Error('activity failed'), { cause: caught });
    expect(errorTypeOf(wrapped)).toBe('ValidationError');
    expect(isRetryable('ValidationError')).toBe(false);
    expect(isRetryable('Timeout')).toBe(true);
    expect(isRetryable('SomethingUnknown')).toBe(true);
  });
});
