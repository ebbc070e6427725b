import { z } from 'zod';
import { failure, type ErrorType } from '../../../domain/errors';
import { scrubText } from '../../../domain/card-data';
import type { HttpClient } from '../../http';

/**
 * M3 MI programs over the ION API REST v2: one transaction (`/execute/{program}/{transaction}`, fields as query
 * parameters) or several (`/execute` bulk). Per-record errors arrive in `results[]` with HTTP 200 and are mapped here.
 */

export type MiFields = Record<string, string | number | undefined>;
export type MiRecord = Record<string, string>;

const resultSchema = z.object({
  transaction: z.string(),
  records: z.array(z.record(z.string(), z.coerce.string())).optional().default([]),
  errorMessage: z.string().optional(),
  errorCode: z.string().optional(),
  errorField: z.string().optional(),
});

/** The REST v2 response of a single or bulk execute. */
export const miResponseSchema = z.object({
  results: z.array(resultSchema),
  wasTerminated: z.boolean().optional(),
  nrOfSuccessfullTransactions: z.number().int(),
  nrOfFailedTransactions: z.number().int(),
});

export type MiResult = z.infer<typeof resultSchema>;

/** The taxonomy type of an MI error message (M3 codes vary by program; the message wording is stable). */
export function miErrorType(r: Pick<MiResult, 'errorMessage' | 'errorField'>, transaction: string): ErrorType {
  const m = r.errorMessage ?? '';
  if (/\baccount\b.*\bdoes not exist\b/i.test(m) || (r.errorField === 'AIT1' && /not exist/i.test(m)))
    return 'GlAccountNotFound';
  if (/locked|try again|temporar|timed? ?out/i.test(m)) return 'UpstreamUnavailable';
  if (/not balanced/i.test(m)) return 'JournalUnbalanced';
  if (/does not exist/i.test(m)) return /^(Get|Lst)/.test(transaction) ? 'NotFound' : 'ValidationError';
  if (/must be entered|too long|invalid|not a valid|must not|must be greater/i.test(m)) return 'ValidationError';
  return 'UpstreamRejected';
}

/** The ApplicationFailure for one failed MI result. */
export function miFailure(program: string, r: MiResult, extra: Record<string, unknown> = {}) {
  return failure(
    miErrorType(r, r.transaction),
    scrubText(`m3 ${program}/${r.transaction}: ${r.errorMessage ?? 'NOK'}`),
    {
      connector: 'm3',
      code: r.errorCode,
      field: r.errorField,
      ...extra,
    },
  );
}

/** Calls MI transactions through the shared HttpClient (auth, timeouts, breaker, classification). */
export class MiClient {
  constructor(
    private readonly http: HttpClient,
    private readonly tenant: string,
    private readonly company: { cono: string; divi: string },
  ) {}

  private get base(): string {
    return `/${encodeURIComponent(this.tenant)}/M3/m3api-rest/v2/execute`;
  }

  /** Runs one transaction and returns its result, error included (no throw on an MI error). */
  async execute(program: string, transaction: string, fields: MiFields = {}, maxrecs = 100): Promise<MiResult> {
    const query: Record<string, string> = {
      cono: this.company.cono,
      divi: this.company.divi,
      maxrecs: String(maxrecs),
    };
    for (const [k, v] of Object.entries(fields)) if (v !== undefined && v !== '') query[k] = String(v);
    const res = await this.http.request({
      method: 'POST',
      path: `${this.base}/${program}/${transaction}`,
      query,
      schema: miResponseSchema,
    });
    const r = res.results[0];
    if (!r)
      throw failure('SchemaMismatch', `m3 ${program}/${transaction}: the response has no result`, {
        connector: 'm3',
        field: 'results',
      });
    return r;
  }

  /** Runs one transaction; an MI error becomes an ApplicationFailure of the mapped type. */
  async call(program: string, transaction: string, fields: MiFields = {}, maxrecs = 100): Promise<MiRecord[]> {
    const r = await this.execute(program, transaction, fields, maxrecs);
    if (r.errorMessage) throw miFailure(program, r);
    return r.records;
  }

  /** Like `call`, but a "does not exist" answer is `null` instead of a failure. */
  async find(program: string, transaction: string, fields: MiFields): Promise<MiRecord | null> {
    const r = await this.execute(program, transaction, fields, 1);
    if (r.errorMessage) {
      if (/does not exist/i.test(r.errorMessage)) return null;
      throw miFailure(program, r);
    }
    return r.records[0] ?? null;
  }

  /** Sends several transactions of one program in one bulk request; results are in request order. */
  async bulk(program: string, transactions: { transaction: string; record: MiFields }[]): Promise<MiResult[]> {
    const res = await this.http.request({
      method: 'POST',
      path: this.base,
      body: {
        program,
        cono: Number(this.company.cono),
        divi: this.company.divi,
        excludeEmptyValues: false,
        rightTrimValues: true,
        maxReturnedRecords: 0,
        transactions: transactions.map((t) => ({
          transaction: t.transaction,
          record: Object.fromEntries(
            Object.entries(t.record)
              .filter(([, v]) => v !== undefined && v !== '')
              .map(([k, v]) => [k, String(v)]),
          ),
        })),
      },
      schema: miResponseSchema,
    });
    if (res.results.length !== transactions.length) {
      throw failure(
        'SchemaMismatch',
        `m3 ${program} bulk: ${transactions.length} transactions sent but ${res.results.length} results returned`,
        { connector: 'm3', field: 'results' },
      );
    }
    return res.results;
  }
}
