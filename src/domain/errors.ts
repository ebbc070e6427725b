import { ApplicationFailure } from '@temporalio/common';

/**
 * Every failure type Ledgerbridge raises, in one place. `retryable: false` types fail an activity at once;
 * the rest are retried by the activity's policy. Workflows and retry policies read from this list only.
 */
export const ERROR_TYPES = {
  // Retryable: the remote side may recover by itself.
  NetworkError: { retryable: true, description: 'connection refused, reset or DNS failure' },
  Timeout: { retryable: true, description: 'the request or the remote operation timed out' },
  RateLimited: { retryable: true, description: 'HTTP 429; the retry waits for Retry-After' },
  UpstreamUnavailable: { retryable: true, description: 'HTTP 5xx or a gateway error' },
  UpstreamConflict: { retryable: true, description: 'HTTP 409 where the API says a retry may succeed' },
  CircuitOpen: { retryable: true, description: 'the connector circuit breaker is open after repeated failures' },
  PartialFailure: { retryable: true, description: 'some records of a batch failed; the rest were written' },
  ImportPending: { retryable: true, description: 'a file import has not been acknowledged yet' },
  // Non-retryable: a human or a corrected input is needed.
  ValidationError: { retryable: false, description: 'the input does not satisfy its schema' },
  MappingNotFound: { retryable: false, description: 'no published mapping for this source and target' },
  GlAccountNotFound: { retryable: false, description: 'the ERP does not know the GL account' },
  AuthFailed: { retryable: false, description: 'authentication still fails after one token refresh' },
  Forbidden: { retryable: false, description: 'HTTP 403: the credentials lack a permission' },
  NotFound: { retryable: false, description: 'HTTP 404: the remote resource does not exist' },
  UpstreamRejected: { retryable: false, description: 'any other HTTP 4xx: the remote side rejected the request' },
  IdempotencyConflict: { retryable: false, description: 'an idempotency key was reused with a different body' },
  WriteUndone: {
    retryable: false,
    description: "the step's earlier write under this key was undone by compensation; redo it under a new workflow id",
  },
  SchemaMismatch: { retryable: false, description: 'a response does not have the shape the connector expects' },
  Declined: { retryable: false, description: 'the payment was declined by the issuer' },
  NotRefundable: { retryable: false, description: 'the refund exceeds the captured amount less refunds' },
  JournalUnbalanced: { retryable: false, description: 'debits and credits differ; the entry is not posted' },
  ImportRejected: { retryable: false, description: 'a file import was rejected by the ERP importer' },
  ConfigError: { retryable: false, description: 'a setting is missing or invalid' },
  // Workflow-level outcomes of a parked step.
  ParkTimeout: { retryable: false, description: 'a parked step waited its limit without a retry or discard' },
  Discarded: { retryable: false, description: 'a parked step was discarded by a person' },
  Cancelled: { retryable: false, description: 'the flow was cancelled before its pivot' },
  DeadLetterWriteFailed: {
    retryable: false,
    description: 'a failed undo could not be dead-lettered; the run fails with the dead letter in its failure details',
  },
} as const;

export type ErrorType = keyof typeof ERROR_TYPES;

export const errorTypes = Object.keys(ERROR_TYPES) as ErrorType[];

/** The types a retry policy must not retry: pass as `nonRetryableErrorTypes`. */
export const nonRetryableErrorTypes: string[] = errorTypes.filter((t) => !ERROR_TYPES[t].retryable);

export const retryableErrorTypes: string[] = errorTypes.filter((t) => ERROR_TYPES[t].retryable);

export function isRetryable(type: string | undefined | null): boolean {
  if (!type) return true;
  const known = (ERROR_TYPES as Record<string, { retryable: boolean }>)[type];
  return known ? known.retryable : true;
}

export interface FailureDetails {
  /** Vendor error code, e.g. GP API `error_code` or an Odoo exception name. */
  code?: string;
  /** Which connector and version raised it. */
  connector?: string;
  /** Which field, for validation and schema errors. */
  field?: string;
  [key: string]: unknown;
}

/** Builds an ApplicationFailure whose retryability comes from the taxonomy. */
export function failure(
  type: ErrorType,
  message: string,
  details?: FailureDetails,
  opts: { nextRetryDelayMs?: number; cause?: Error } = {},
): ApplicationFailure {
  return ApplicationFailure.create({
    type,
    message,
    nonRetryable: !ERROR_TYPES[type].retryable,
    details: details ? [details] : undefined,
    nextRetryDelay: opts.nextRetryDelayMs,
    cause: opts.cause,
  });
}

/** Throws a non-retryable ApplicationFailure of the given type. */
export function fail(type: ErrorType, message: string, details?: FailureDetails): never {
  throw failure(type, message, details);
}

/** The failure type of any error: ApplicationFailure.type, or walking `cause`. */
export function errorTypeOf(err: unknown): string | undefined {
  let e: unknown = err;
  for (let depth = 0; e && depth < 5; depth++) {
    const t = (e as { type?: unknown }).type;
    if (typeof t === 'string') return t;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/** The innermost message of an error chain (ActivityFailure wraps the ApplicationFailure). */
export function rootMessage(err: unknown): string {
  let e: unknown = err;
  let msg = err instanceof Error ? err.message : String(err);
  for (let depth = 0; e && depth < 5; depth++) {
    if (e instanceof Error && e.message) msg = e.message;
    e = (e as { cause?: unknown }).cause;
  }
  return msg;
}
