import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { createDb, dropDatabase, ensureDatabase, withDatabase } from '../../src/db';
import { createLogger } from '../../src/logger';
import { luhnId, typedForms } from '../support/card-numbers';
import { testDatabaseUrl, testTemporalAddress } from '../support/env';
import {
  AUDIT_PROBE_NAMESPACE,
  auditDatabase,
  collectKnownIds,
  auditHistories,
  auditLogFile,
  emptyReport,
  TEST_PAN,
  type AuditReport,
} from '../support/pan-audit';

// The end-of-suite audit (globalTeardown) must find card data wherever it is left; these plant some where the
// suite's own audit does not look (a database outside the run, a namespace of its own) and check it is caught.
const PAN = TEST_PAN.replace(/(\d{4})(?=\d)/g, '$1 '); // spaced, as a person types it
const MASKED = '************1111';
// Long digit runs that are not PANs: an epoch-millisecond timestamp and a Luhn-invalid order number.
const NOT_PANS = ['1764700000000', '4111111111111112'];

const whereFound = (r: AuditReport) => r.findings.map((f) => f.where);

describe('card-data audit', () => {
  it('finds a PAN in any table of a database, masked in its report, and nothing in digit runs that are not PANs', async () => {
    const url = withDatabase(testDatabaseUrl(), `lb_probe_${process.pid}_${Date.now().toString(36)}`);
    await ensureDatabase(url);
    const db = createDb(url, { poolMax: 1, quiet: true });
    try {
      await db.schema.createTable('notes', (t) => {
        t.increments('id');
        t.jsonb('body');
      });
      await db.schema.createTable('clean', (t) => t.text('body'));
      await db('notes').insert([{ body: { text: `call back, card ${PAN}` } }, { body: { text: `card ${MASKED}` } }]);
      await db('clean').insert(NOT_PANS.map((body) => ({ body })));
      const report = emptyReport();
      await auditDatabase(url, report);
      expect(report.scanned).toMatchObject({ tables: 2, rows: 4 });
      expect(report.findings).toEqual([{ where: expect.stringMatching(/\.notes$/), found: [MASKED] }]);
      expect(JSON.stringify(report)).not.toContain(PAN.slice(0, 9));
    } finally {
      await db.destroy();
      await dropDatabase(url);
    }
  });

  it('finds a card number in every form people type it; a known id is exempt only where the schema puts it', async () => {
    const url = withDatabase(testDatabaseUrl(), `lb_probe_${process.pid}_${Date.now().toString(36)}_forms`);
    await ensureDatabase(url);
    const db = createDb(url, { poolMax: 1, quiet: true });
    const orderId = luhnId(13, 1);
    const typedId = luhnId(16, 2);
    try {
      await db.schema.createTable('notes', (t) => {
        t.increments('id');
        t.text('body');
      });
      await db.schema.createTable('webhook_inbox', (t) => {
        t.text('source');
        t.text('event_type');
        t.jsonb('payload');
      });
      const forms = typedForms();
      await db('notes').insert(forms.map((f) => ({ body: `call back, ${f.text} thanks` })));
      // An order id that passes the Luhn check, where the schema says it is an id; the test card number and another
      // Luhn-valid number only in free text; the test card number as a line id (public test numbers never exempt).
      await db('webhook_inbox').insert({
        source: 'commerce',
        event_type: 'orders/create',
        payload: {
          id: orderId,
          note: `typed ${typedId}`,
          line_items: [{ id: TEST_PAN, sku: 'SKU-1' }],
        },
      });
      await db('notes').insert({ body: `order ${orderId} shipped` });
      const report = emptyReport();
      await collectKnownIds(url, report);
      expect([...report.knownIds]).toEqual([orderId]);
      await auditDatabase(url, report);
      const found = report.findings.filter((f) => f.where.endsWith('.notes'));
      expect(found).toHaveLength(forms.length);
      const inbox = report.findings.filter((f) => f.where.endsWith('.webhook_inbox'));
      expect(inbox.map((f) => f.found.sort())).toEqual([[MASKED, `************${typedId.slice(-4)}`].sort()]);
    } finally {
      await db.destroy();
      await dropDatabase(url);
    }
  });

  it('finds a PAN in a workflow history, in the start input and in a signal', async () => {
    const connection = await Connection.connect({ address: testTemporalAddress() });
    const client = new Client({ connection, namespace: AUDIT_PROBE_NAMESPACE });
    const id = `probe-${process.pid}-${Date.now().toString(36)}`;
    const start = (suffix: string, arg: unknown) =>
      client.workflow.start('neverRuns', { taskQueue: 'nobody-polls', workflowId: `${id}-${suffix}`, args: [arg] });
    try {
      await start('clean', { note: `card ${MASKED}`, at: Number(NOT_PANS[0]) });
      const input = await start('input', { note: `card ${PAN.replace(/ /g, '')}` });
      const signalled = await start('signal', { note: 'nothing yet' });
      await signalled.signal('note', { track: `;${PAN.replace(/ /g, '')}=25121010000000000000?` });
      let report = emptyReport();
      for (let tries = 0; report.scanned.workflows < 3 && tries < 100; tries++) {
        report = emptyReport();
        await auditHistories(testTemporalAddress(), AUDIT_PROBE_NAMESPACE, report);
        if (report.scanned.workflows < 3) await new Promise((r) => setTimeout(r, 100));
      }
      expect(report.scanned.workflows).toBe(3);
      expect(whereFound(report).sort()).toEqual([`history ${id}-input`, `history ${id}-signal`]);
      await input.terminate('probe done');
      await signalled.terminate('probe done');
    } finally {
      await connection.close();
    }
  });

  it('reads back what every logger wrote, even a silent one, with card data already masked', () => {
    const capture = process.env.LB_LOG_CAPTURE;
    expect(capture).toBeTruthy();
    const marker = `audit-probe-${Date.now().toString(36)}`;
    createLogger({ level: 'silent' }).warn({ note: `paid with ${PAN}` }, marker);
    const line = readFileSync(capture!, 'utf8')
      .split('\n')
      .find((l) => l.includes(marker));
    expect(line).toContain(MASKED);
    expect(line).not.toContain(PAN);
    const report = emptyReport();
    auditLogFile(capture!, report);
    expect(report.scanned.logLines).toBeGreaterThan(0);
    expect(whereFound(report)).toEqual([]);

    const planted = path.join(mkdtempSync(path.join(os.tmpdir(), 'lb-audit-')), 'planted.jsonl');
    writeFileSync(planted, [`{"msg":"ok ${MASKED}"}`, `{"msg":"card ${PAN}"}`, ''].join('\n'));
    const found = emptyReport();
    auditLogFile(planted, found);
    expect(found.findings).toEqual([{ where: 'log line 2', found: [MASKED] }]);
  });
});
