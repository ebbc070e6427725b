import { existsSync, readFileSync } from 'node:fs';
import { Client, Connection } from '@temporalio/client';
import { createDb, withDatabase } from '../../src/db';
import { findCardData } from '../../src/domain/card-data';

/**
 * The card number tests plant to prove it is refused, masked or found: the public Visa test number, built here so
 * that it is written once (a search of the tree for a PAN then finds this line only).
 */
export const TEST_PAN = ['4111', '1111', '1111', '1111'].join('');

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
}

function check(where: string, text: string, into: Finding[]): void {
  const found = findCardData(text);
  if (found.length > 0) into.push({ where, found });
}

/** Every text in a value: strings, big integers, and byte arrays (payload data) read as UTF-8. */
function texts(v: unknown, out: string[], depth = 0): string[] {
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
      // Only rows with a long digit run can hold a PAN or track data; Postgres narrows, findCardData decides.
      const { rows } = await db.raw<{ rows: { row: string }[] }>(`SELECT t::text AS row FROM ?? t WHERE t::text ~ ?`, [
        table,
        '[0-9]([ -]?[0-9]){12,}',
      ]);
      for (const r of rows) check(`${dbName}.${table}`, r.row, report.findings);
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
        for (const t of texts(history, [])) check(`history ${workflowId}`, t, report.findings);
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
    check(`log line ${i + 1}`, line, report.findings);
  });
}

export function emptyReport(): AuditReport {
  return { findings: [], scanned: { tables: 0, rows: 0, workflows: 0, events: 0, logLines: 0 } };
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
  for (const url of await runDatabases(o.databaseUrl)) await auditDatabase(url, report);
  await auditHistories(o.temporalAddress, 'default', report);
  if (o.logFile) auditLogFile(o.logFile, report);
  return report;
}

/** One line for the test output; the findings are masked. */
export function describeAudit(r: AuditReport): string {
  const s = r.scanned;
  const what = `${s.rows} rows in ${s.tables} tables, ${s.workflows} workflow histories (${s.events} events), ${s.logLines} log lines`;
  if (r.findings.length === 0) return `no card data in ${what}`;
  const shown = r.findings.slice(0, 20).map((f) => `  ${f.where}: ${f.found.join(', ')}`);
  return `card data found (${r.findings.length} places) in ${what}:\n${shown.join('\n')}`;
}
