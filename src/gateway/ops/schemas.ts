import { extendZodWithOpenApi } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { glRuleSetSchema } from '../../mapping/gl-rules';

/**
 * Every request and response body of the ops API and the codec endpoint. The same schemas validate requests at run
 * time and generate the OpenAPI document (src/gateway/openapi.ts), so the two cannot drift apart.
 */
extendZodWithOpenApi(z);

export const ROLES = ['viewer', 'operator', 'finance', 'admin'] as const;
export type Role = (typeof ROLES)[number];
export const roleSchema = z.enum(ROLES).openapi('Role', {
  description:
    'viewer reads; operator also starts reconciliations; finance also retriggers runs and works dead ' +
    'letters; admin also manages API keys and mappings',
});

export const errorSchema = z
  .object({
    error: z.string().openapi({ example: 'not_found' }),
    message: z.string(),
    details: z.unknown().optional(),
  })
  .openapi('Error');

const ERP = ['odoo', 'm3', 'p21', 'sagepro'] as const;
export const EXECUTION_STATUSES = [
  'Running',
  'Completed',
  'Failed',
  'Canceled',
  'Terminated',
  'ContinuedAsNew',
  'TimedOut',
] as const;

/**
 * A filter value. It ends up quoted inside a visibility query, so quotes, backslashes and control characters are
 * refused outright: the dev server's SQLite visibility treats `\` inconsistently inside literals, and no business
 * key, flow, stage or system name ever holds one.
 */
export const FILTER_VALUE = /^[A-Za-z0-9 ._~@+=:/#,()-]{1,200}$/;
const filterText = z
  .string()
  .min(1)
  .max(200)
  .regex(FILTER_VALUE, 'may hold letters, digits, spaces and ._~@+=:/#,()- only');
const isoDate = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'must be YYYY-MM-DD')
  .refine((d) => !Number.isNaN(Date.parse(`${d}T00:00:00Z`)), 'is not a date');
const boolText = z.enum(['true', 'false']).transform((v) => v === 'true');
const workflowIdText = z.string().min(1).max(400);

/** Filters on the ops search attributes (all optional, combined with AND). */
export const runFilterSchema = z
  .object({
    flow: filterText.optional().openapi({ description: 'LbFlow, e.g. order, refund, settlement' }),
    source: filterText.optional().openapi({ description: 'LbSource' }),
    erp: filterText.optional().openapi({ description: 'LbErp' }),
    stage: filterText.optional().openapi({ description: 'LbStage' }),
    businessKey: filterText.optional().openapi({ description: 'LbBusinessKey (order, batch or refund id)' }),
    needsAttention: z.boolean().optional().openapi({ description: 'LbNeedsAttention' }),
    status: z.enum(EXECUTION_STATUSES).optional().openapi({ description: 'Temporal execution status' }),
    workflowType: filterText.optional(),
  })
  .strict()
  .openapi('RunFilter');
export type RunFilter = z.infer<typeof runFilterSchema>;

export const runListQuerySchema = z.object({
  flow: filterText.optional(),
  source: filterText.optional(),
  erp: filterText.optional(),
  stage: filterText.optional(),
  businessKey: filterText.optional(),
  needsAttention: boolText.optional().openapi({ type: 'string', enum: ['true', 'false'] }),
  status: z.enum(EXECUTION_STATUSES).optional(),
  workflowType: filterText.optional(),
  pageSize: z.coerce.number().int().min(1).max(1000).default(50),
  pageToken: z.string().max(4096).optional().openapi({ description: 'nextPageToken of the previous page' }),
});

export const runSummarySchema = z
  .object({
    workflowId: z.string(),
    runId: z.string(),
    type: z.string(),
    status: z.string().openapi({ example: 'Running' }),
    taskQueue: z.string(),
    startTime: z.string().openapi({ format: 'date-time' }),
    closeTime: z.string().nullable(),
    flow: z.string().nullable(),
    source: z.string().nullable(),
    erp: z.string().nullable(),
    businessKey: z.string().nullable(),
    stage: z.string().nullable(),
    needsAttention: z.boolean().nullable(),
    amountMinor: z.number().int().nullable(),
    uiUrl: z.string().openapi({ description: 'deep link into the Temporal UI' }),
  })
  .openapi('RunSummary');
export type RunSummary = z.infer<typeof runSummarySchema>;

export const runListSchema = z
  .object({
    runs: z.array(runSummarySchema),
    nextPageToken: z.string().nullable(),
    query: z.string().openapi({ description: 'the visibility query that was run' }),
  })
  .openapi('RunList');

export const flowStatusSchema = z
  .looseObject({
    flow: z.string(),
    businessKey: z.string(),
    stage: z.string(),
    stepsDone: z.array(z.string()),
    compensationsRun: z.array(z.string()),
    pivotPassed: z.boolean(),
    currency: z.string().nullable(),
    amounts: z.record(z.string(), z.number()),
    deadLetterId: z.string().nullable(),
    parkedStep: z.string().nullable(),
    needsAttention: z.boolean(),
    mappingVersion: z.number().nullable(),
    outcome: z.string().nullable(),
  })
  .openapi('FlowStatus', { description: 'the `status` query of the run (settlement runs add `settlement`)' });

export const deadLetterSchema = z
  .object({
    id: z.string(),
    flow: z.string(),
    workflowId: z.string(),
    runId: z.string().nullable(),
    step: z.string(),
    input: z.unknown().openapi({ description: 'the step input, card data scrubbed' }),
    context: z.unknown(),
    errorType: z.string(),
    errorMessage: z.string(),
    attempts: z.number().int(),
    status: z.enum(['open', 'replayed', 'discarded']),
    actedBy: z.string().nullable(),
    reason: z.string().nullable(),
    actedAt: z.string().nullable(),
    createdAt: z.string(),
  })
  .openapi('DeadLetter');
export type DeadLetter = z.infer<typeof deadLetterSchema>;

export const runDetailSchema = runSummarySchema
  .extend({
    historyLength: z.number().int(),
    flowStatus: flowStatusSchema.nullable(),
    flowStatusError: z.string().nullable().openapi({ description: 'why the status query gave no answer' }),
    openDeadLetters: z.array(deadLetterSchema),
  })
  .openapi('RunDetail');

export const workflowIdParams = z.object({
  workflowId: workflowIdText.openapi({
    param: { description: 'workflow id, URL-encoded' },
    example: 'order:shop:1001',
  }),
});

/** Longest date range one reconciliation request may cover. */
export const MAX_RANGE_DAYS = 31;

export const startReconciliationSchema = z
  .object({
    batchId: z
      .string()
      .regex(/^[A-Za-z0-9._~@+=-]{1,200}$/)
      .optional(),
    from: isoDate.optional(),
    to: isoDate.optional(),
    erp: z.enum(ERP).optional().openapi({ description: 'default: LB_ERP' }),
    glRulesVersion: z.number().int().positive().optional(),
    pageSize: z.number().int().min(1).max(1000).optional(),
  })
  .strict()
  .superRefine((b, ctx) => {
    const range = b.from !== undefined || b.to !== undefined;
    if (b.batchId === undefined && !range) ctx.addIssue({ code: 'custom', message: 'give batchId, or from and to' });
    if (b.batchId !== undefined && range)
      ctx.addIssue({ code: 'custom', message: 'give batchId or a date range, not both' });
    if (range && (b.from === undefined || b.to === undefined)) {
      ctx.addIssue({ code: 'custom', path: [b.from ? 'to' : 'from'], message: 'a date range needs from and to' });
    }
    if (b.from && b.to && b.from > b.to) ctx.addIssue({ code: 'custom', path: ['to'], message: 'to is before from' });
    if (b.from && b.to && Date.parse(b.to) - Date.parse(b.from) > (MAX_RANGE_DAYS - 1) * 86_400_000) {
      ctx.addIssue({ code: 'custom', path: ['to'], message: `a range covers at most ${MAX_RANGE_DAYS} days` });
    }
  })
  .openapi('StartReconciliation');

export const reconciliationStartedSchema = z
  .object({
    workflowId: z.string(),
    runId: z.string(),
    created: z.boolean().openapi({ description: 'false when a run with this id already existed (answer 200)' }),
    status: z.string(),
    uiUrl: z.string(),
  })
  .openapi('ReconciliationStarted');

export const retriggerBodySchema = z
  .object({
    patch: z
      .record(z.string(), z.unknown())
      .optional()
      .openapi({ description: 'corrected input merged over the failed step input (parked) or the run input (ended)' }),
    mappingVersion: z.number().int().positive().optional(),
    reason: z.string().max(1000).optional(),
  })
  .strict()
  .openapi('RetriggerRequest');

export const RETRIGGER_ACTIONS = ['retry-update', 'new-run'] as const;
export const retriggerResultSchema = z
  .object({
    workflowId: z.string(),
    action: z.enum(RETRIGGER_ACTIONS).openapi({
      description:
        'retry-update: the parked run resumes its failed step; new-run: an ended run starts again with the ' +
        'same id and input (external_writes turn steps that were done into no-ops)',
    }),
    previousRunId: z.string(),
    runId: z.string(),
    step: z.string().nullable(),
    uiUrl: z.string(),
  })
  .openapi('RetriggerResult');
export type RetriggerResult = z.infer<typeof retriggerResultSchema>;

export const MAX_BULK = 5000;
export const bulkRetriggerSchema = z
  .object({
    filter: runFilterSchema.optional(),
    workflowIds: z.array(workflowIdText).min(1).max(MAX_BULK).optional(),
    dryRun: z.boolean().default(false),
    limit: z.number().int().min(1).max(MAX_BULK).default(MAX_BULK),
    patch: z.record(z.string(), z.unknown()).optional(),
    mappingVersion: z.number().int().positive().optional(),
    reason: z.string().max(1000).optional(),
  })
  .strict()
  .refine((b) => (b.filter === undefined) !== (b.workflowIds === undefined), 'give either filter or workflowIds')
  .openapi('BulkRetriggerRequest');

export const bulkCandidateSchema = z
  .object({
    workflowId: z.string(),
    runId: z.string(),
    status: z.string(),
    action: z.enum(RETRIGGER_ACTIONS),
    step: z.string().nullable(),
  })
  .openapi('RetriggerCandidate');

export const bulkRetriggerResultSchema = z
  .object({
    dryRun: z.boolean(),
    query: z.string().nullable(),
    matched: z.number().int(),
    truncated: z.boolean().openapi({ description: 'more runs matched than the limit' }),
    candidates: z.array(bulkCandidateSchema),
    skipped: z.array(z.object({ workflowId: z.string(), reason: z.string() })),
    results: z.array(
      z.object({
        workflowId: z.string(),
        ok: z.boolean(),
        action: z.enum(RETRIGGER_ACTIONS).nullable(),
        runId: z.string().nullable(),
        error: z.string().nullable(),
      }),
    ),
  })
  .openapi('BulkRetriggerResult');

export const deadLetterListQuerySchema = z.object({
  status: z.enum(['open', 'replayed', 'discarded', 'all']).default('open'),
  flow: filterText.optional(),
  workflowId: workflowIdText.optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  before: z.coerce.number().int().positive().optional().openapi({ description: 'cursor: ids below this one' }),
});

export const deadLetterListSchema = z
  .object({ deadLetters: z.array(deadLetterSchema), nextCursor: z.string().nullable() })
  .openapi('DeadLetterList');

export const deadLetterIdParams = z.object({ id: z.string().regex(/^\d{1,18}$/, 'must be a dead letter id') });

export const deadLetterDetailSchema = deadLetterSchema
  .extend({
    run: z
      .object({
        runId: z.string(),
        status: z.string(),
        parkedHere: z.boolean().openapi({ description: 'the run is waiting on this dead letter' }),
        uiUrl: z.string(),
      })
      .nullable(),
  })
  .openapi('DeadLetterDetail');

export const replayBodySchema = z
  .object({
    patch: z.record(z.string(), z.unknown()).optional(),
    mappingVersion: z.number().int().positive().optional(),
  })
  .strict()
  .openapi('ReplayRequest');

export const replayResultSchema = z
  .object({
    deadLetterId: z.string(),
    workflowId: z.string(),
    action: z.enum(RETRIGGER_ACTIONS),
    runId: z.string(),
  })
  .openapi('ReplayResult');

export const discardBodySchema = z
  .object({ reason: z.string().trim().min(1).max(1000) })
  .strict()
  .openapi('DiscardRequest');

export const discardResultSchema = z
  .object({
    deadLetterId: z.string(),
    workflowId: z.string(),
    action: z.enum(['discard-update', 'closed']).openapi({
      description:
        'discard-update: the parked run was told to discard its step; closed: the run had ended, the ' +
        'dead letter was closed',
    }),
  })
  .openapi('DiscardResult');

export const reportParams = z.object({ batchId: z.string().min(1).max(200) });
export const reportQuerySchema = z.object({ format: z.enum(['json', 'csv']).default('json') });
export const reconReportSchema = z
  .looseObject({
    batchId: z.string(),
    currency: z.string().nullable(),
    varianceMinor: z.number().nullable(),
    counts: z.record(z.string(), z.number()),
    exceptions: z.array(z.record(z.string(), z.unknown())),
  })
  .openapi('ReconciliationReport');

export const auditQuerySchema = z.object({
  actor: filterText.optional(),
  action: filterText.optional(),
  target: filterText.optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  before: z.coerce.number().int().positive().optional(),
});

export const auditEntrySchema = z
  .object({
    id: z.string(),
    actor: z.string(),
    action: z.string(),
    target: z.string().nullable(),
    before: z.unknown(),
    after: z.unknown(),
    requestId: z.string().nullable(),
    at: z.string(),
  })
  .openapi('AuditEntry');

export const auditListSchema = z
  .object({ entries: z.array(auditEntrySchema), nextCursor: z.string().nullable() })
  .openapi('AuditList');

export const apiKeySchema = z
  .object({
    id: z.string(),
    name: z.string(),
    role: roleSchema,
    keyPrefix: z.string(),
    createdBy: z.string(),
    createdAt: z.string(),
    lastUsedAt: z.string().nullable(),
    revokedAt: z.string().nullable(),
  })
  .openapi('ApiKey');

export const createKeySchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9._@-]{1,100}$/, 'letters, digits and . _ @ - only'),
    role: roleSchema,
  })
  .strict()
  .openapi('CreateApiKey');

export const createdKeySchema = apiKeySchema
  .extend({ key: z.string().openapi({ description: 'the key itself: shown once, store it now' }) })
  .openapi('CreatedApiKey');

export const keyListSchema = z.object({ keys: z.array(apiKeySchema) }).openapi('ApiKeyList');
export const keyIdParams = z.object({ id: z.string().regex(/^\d{1,18}$/, 'must be a key id') });

export const whoAmISchema = z
  .object({ name: z.string(), role: roleSchema, keyId: z.string().nullable() })
  .openapi('WhoAmI');

export const glRulesVersionSchema = z
  .object({
    version: z.number().int(),
    status: z.string(),
    rules: glRuleSetSchema,
    createdBy: z.string(),
    note: z.string().nullable(),
    createdAt: z.string(),
    publishedAt: z.string().nullable(),
  })
  .openapi('GlRulesVersion');
export const glRulesListSchema = z
  .object({ versions: z.array(glRulesVersionSchema.omit({ rules: true })) })
  .openapi('GlRulesVersionList');
export const glRulesVersionParams = z.object({ version: z.coerce.number().int().positive() });
export const publishGlRulesSchema = z
  .object({ rules: glRuleSetSchema, note: z.string().max(1000).optional() })
  .strict()
  .openapi('PublishGlRules');
export const publishedGlRulesSchema = z.object({ version: z.number().int() }).openapi('PublishedGlRules');

/** The Temporal UI remote codec protocol: payloads with base64 metadata values and data. */
export const codecPayloadsSchema = z
  .object({
    payloads: z
      .array(
        z.object({
          metadata: z.record(z.string(), z.string()).default({}),
          data: z.string().default(''),
        }),
      )
      .max(10_000),
  })
  .openapi('CodecPayloads');

/** Sign-in of a Temporal UI browser session at the codec endpoint (JSON, or the same field from a form). */
export const codecLoginSchema = z.object({ key: z.string().trim().min(1).max(200) }).openapi('CodecLogin');
export const codecSessionSchema = z
  .object({ name: z.string(), role: roleSchema, expiresAt: z.string().openapi({ format: 'date-time' }) })
  .openapi('CodecSession');
