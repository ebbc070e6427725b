import { existsSync, readFileSync } from 'node:fs';
import { Client, Connection } from '@temporalio/client';
import { createDb, withDatabase } from '../../src/db';
import { WEBHOOK_SOURCES, type WebhookSource } from '../../src/gateway/webhooks/secrets';
import { webhookKeptValues } from '../../src/gateway/webhooks/card-data';
import { keptValues, scrubPlan } from '../../src/domain/card-data-fields';
import { orderInputSchema, refundInputSchema } from '../../src/domain/orders';
import { detectCardData } from './pan-detector';

/**
 * The card number tests plant to prove it is refused, masked or found: the public Visa test number, built here so
 * that it is written once (a search of the tree for a PAN then finds this line only).
 */
export const TEST_PAN = ['4111', '1111', '1111', '1111'].join('');

/**
 * Public test card numbers (the brands' documented test PANs). Whatever field they arrive in, they are card data: they
 * never count as a known id, so a test that plants one in an id field is still caught.
 */
export const PUBLIC_TEST_PANS: ReadonlySet<string> = new Set([
  TEST_PAN,
  '4242424242424242',
  '4012888888881881',
  '4000056655665556',
  '4222222222222',
  '5555555555554444',
  '5105105105105100',
  '2223003122003222',
  '378282246310005',
  '371449635398431',
  '6011111111111117',
  '6011000990139424',
  '3530111333300000',
  '3566002020360505',
  '30569309025904',
  '36227206271667',
]);

/** The namespace the audit's own test plants card data in; the end-of-suite audit reads `default`. */
export const AUDIT_PROBE_NAMESPACE = 'lb-audit-probe';

/** Where card data was found; `found` is masked, so a finding is safe to print. */
export interface Finding {
  where: string;
  found: string[];
}

export interface AuditReport {
  findings: Finding[];
  scanned: { tables: number; rows: number; workflows: number; events: number; logLines: number };
  /**
   * Digit strings that are ids, not card numbers: the 13-19 digit runs in the fields that the webhook schemas parse
   * as ids, references, amounts or contact keys, of every event the gateway accepted (see knownIds).
   */
  knownIds: Set<string>;
}

function check(where: string, text: string, report: AuditReport): void {
  const found = detectCardData(text, { exempt: report.knownIds });
  if (found.length > 0) report.findings.push({ where, found });
}

function addKnownIds(report: AuditReport, kept: { value: string }[]): void {
  for (const k of kept) {
    for (const run of k.value.match(/[0-9]{13,19}/g) ?? []) if (!PUBLIC_TEST_PANS.has(run)) report.knownIds.add(run);
  }
}

/** The input schema of each flow, by the name dead letters give it. */
const FLOW_INPUTS = { order: orderInputSchema, refund: refundInputSchema } as const;

/**
 * Adds the known ids of a database to the report: in each accepted webhook and each dead letter's flow input, the
 * values that the event's or the flow's own schema marks as ids, references, amounts or contact keys (never what the
 * scrubber did or did not change), as their 13-19 digit runs. A public test card number is never a known id.
 */
export async function collectKnownIds(url: string, report: AuditReport): Promise<void> {
  const db = createDb(url, { poolMax: 1, quiet: true });
  try {
    if (await db.schema.hasTable('webhook_inbox')) {
      const rows = await db('webhook_inbox')
        .whereRaw('payload::text ~ ?', ['[0-9]{13}'])
        .select<{ source: string; event_type: string; payload: unknown }[]>('source', 'event_type', 'payload');
      for (const r of rows) {
        if (!(WEBHOOK_SOURCES as readonly string[]).includes(r.source)) continue;
        addKnownIds(report, webhookKeptValues(r.source as WebhookSource, r.event_type, r.payload));
      }
    }
    if (await db.schema.hasTable('dead_letters')) {
      const rows = await db('dead_letters')
        .whereRaw('context::text ~ ?', ['[0-9]{13}'])
        .select<{ flow: string; context: { flowInput?: unknown } | null }[]>('flow', 'context');
      for (const r of rows) flowInputIds(report, r.flow, r.context?.flowInput);
    }
  } finally {
    await db.destroy();
  }
}

/** Adds the known ids of a flow's input to the report. */
function flowInputIds(report: AuditReport, flow: string, input: unknown): void {
  const schema = FLOW_INPUTS[flow as keyof typeof FLOW_INPUTS];
  if (schema && input) addKnownIds(report, keptValues(input, scrubPlan(schema)));
}

/** Every text in a value: strings, big integers, and byte arrays (payload data) read as UTF-8. */
export function texts(v: unknown, out: string[], depth = 0): string[] {
  if (depth > 64 || v === null || v === undefined) return out;
  if (typeof v === 'string') out.push(v);
  else if (typeof v === 'number' || typeof v === 'bigint') out.push(String(v));
  else if (v instanceof Uint8Array) out.push(Buffer.from(v).toString('utf8'));
  else if (Array.isArray(v)) for (const x of v) texts(x, out, depth + 1);
  else if (typeof v === 'object') for (const x of Object.values(v)) texts(x, out, depth + 1);
  return out;
}

/** Scans every row of every table in the database's public schema. */
export async function auditDatabase(url: string, report: AuditReport): Promise<void> {
  const db = createDb(url, { poolMax: 1, quiet: true });
  try {
    const tables = await db('information_schema.tables')
      .where({ table_schema: 'public', table_type: 'BASE TABLE' })
      .pluck<string[]>('table_name');
    const dbName = new URL(url).pathname.slice(1);
    for (const table of tables) {
      report.scanned.tables++;
      const { rows: count } = await db.raw<{ rows: { n: string }[] }>(`SELECT count(*) AS n FROM ??`, [table]);
      report.scanned.rows += Number(count[0].n);
      // Only rows with 13 digits or more can hold a card number (non-ASCII digits included); the detector decides.
      const { rows } = await db.raw<{ rows: { row: string }[] }>(
        `SELECT t::text AS row FROM ?? t WHERE t::text ~ '[^\x01-\x7f]' OR regexp_count(t::text, '[0-9]') >= 13`,
        [table],
      );
      for (const r of rows) check(`${dbName}.${table}`, r.row, report);
    }
  } finally {
    await db.destroy();
  }
}

/** Fetches and scans the full history of every workflow run in the namespace, decoding payload data. */
export async function auditHistories(address: string, namespace: string, report: AuditReport): Promise<void> {
  const connection = await Connection.connect({ address });
  try {
    const client = new Client({ connection, namespace });
    const runs: { workflowId: string; runId: string }[] = [];
    for await (const w of client.workflow.list()) runs.push({ workflowId: w.workflowId, runId: w.runId });
    const next = { i: 0 };
    const fetchOne = async (): Promise<void> => {
      while (next.i < runs.length) {
        const { workflowId, runId } = runs[next.i++];
        const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
        report.scanned.workflows++;
        report.scanned.events += history.events?.length ?? 0;
        for (const t of texts(history, [])) check(`history ${workflowId}`, t, report);
      }
    };
    await Promise.all(Array.from({ length: 8 }, fetchOne));
  } finally {
    await connection.close();
  }
}

/** Scans a JSON-lines log file line by line. */
export function auditLogFile(file: string, report: AuditReport): void {
  if (!existsSync(file)) return;
  const lines = readFileSync(file, 'utf8').split('\n');
  lines.forEach((line, i) => {
    if (!line) return;
    report.scanned.logLines++;
    check(`log line ${i + 1}`, line, report);
  });
}

export function emptyReport(): AuditReport {
  return { findings: [], scanned: { tables: 0, rows: 0, workflows: 0, events: 0, logLines: 0 }, knownIds: new Set() };
}

/** The run's database and every database named after it (see ownTestDatabase). */
export async function runDatabases(mainUrl: string): Promise<string[]> {
  const main = decodeURIComponent(new URL(mainUrl).pathname.slice(1));
  const admin = createDb(withDatabase(mainUrl, 'postgres'), { poolMax: 1, quiet: true });
  try {
    const names = await admin('pg_database')
      .where('datname', main)
      .orWhere('datname', 'like', `${main.replace(/[\\_%]/g, '\\$&')}\\_%`)
      .pluck<string[]>('datname');
    return names.map((n) => withDatabase(mainUrl, n));
  } finally {
    await admin.destroy();
  }
}

/** The end-of-suite audit: every table of the run's databases, every history in `default`, and the captured logs. */
export async function auditRun(o: { databaseUrl: string; temporalAddress: string; logFile?: string }) {
  const report = emptyReport();
  const dbs = await runDatabases(o.databaseUrl);
  for (const url of dbs) await collectKnownIds(url, report);
  for (const url of dbs) await auditDatabase(url, report);
  await auditHistories(o.temporalAddress, 'default', report);
  if (o.logFile) auditLogFile(o.logFile, report);
  return report;
}

/** One line for the test output; the findings are masked. */
export function describeAudit(r: AuditReport): string {
  const s = r.scanned;
  const what = `${s.rows} rows in ${s.tables} tables, ${s.workflows} workflow histories (${s.events} events), ${s.logLines} log lines; ${r.knownIds.size} known ids exempt`;
  if (r.findings.length === 0) return `no card data in ${what}`;
  const shown = r.findings.slice(0, 20).map((f) => `  ${f.where}: ${f.found.join(', ')}`);
  return `card data found (${r.findings.length} places) in ${what}:\n${shown.join('\n')}`;
}
