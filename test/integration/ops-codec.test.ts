import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import http from 'node:http';
import express from 'express';
import { Client, type WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { type NativeConnection, Worker } from '@temporalio/worker';
import { createActivities } from '../../activities';
import { AesGcmPayloadCodec, dataConverterFor, ENCRYPTED_ENCODING } from '../../src/codec';
import type { Db } from '../../src/db';
import { workflowIds } from '../../src/domain/ids';
import type { OrderInput } from '../../src/domain/orders';
import { codecRouter } from '../../src/gateway/codec-endpoint';
import { createApiKey, hashKey, revokeApiKey } from '../../src/gateway/ops/auth';
import type { FlowStatus } from '../../workflows/definitions';
import { orderToCash } from '../../workflows/order-to-cash';
import { createTestWorker, testClient, testDb, testNativeConnection, uniqueQueue } from '../support/env';

let db: Db;
let plainClient: Client;
let connection: NativeConnection;
let server: http.Server;
let base: string;
let viewerKey: string;
const oldKey = { id: 'k1', key: randomBytes(32) };
const newKey = { id: 'k2', key: randomBytes(32) };
const codec = new AesGcmPayloadCodec(newKey, [oldKey]);
const suffix = `${process.pid}-${Math.random().toString(36).slice(2, 7)}`;

// Personal data that must never appear in a history written with the codec on.
const NAME = 'Zelda Quintessa Marchetti';
const EMAIL = 'zelda.marchetti.ops@example.org';
const PHONE = '+1 555 867 5309';

beforeAll(async () => {
  db = testDb();
  plainClient = await testClient();
  connection = await testNativeConnection();
  viewerKey = (await createApiKey(db, { name: `codec-viewer-${suffix}`, role: 'viewer', createdBy: 'test' })).key;
  const app = express();
  app.use('/codec', codecRouter({ db, codec, config: { TEMPORAL_UI_URL: 'http://127.0.0.1:8233' } }));
  server = http.createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r));
  await connection?.close();
  await plainClient?.connection.close();
  await db?.destroy();
});

function order(queue: string): OrderInput {
  const orderId = `CODEC${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`.toUpperCase();
  return {
    source: 'codec-test',
    orderId,
    erp: 'odoo',
    currency: 'USD',
    orderDate: '2026-11-20',
    customer: { externalRef: `cust-${orderId}`, name: NAME, email: EMAIL, phone: PHONE },
    lines: [{ sku: 'SKU-1001', qty: 1, unitPriceMinor: 8999, taxMinor: 742 }],
    shippingMinor: 0,
    totalMinor: 1, // does not add up: `validate` parks the run with its dead letter
    payment: { token: `PMT_${orderId}`, brand: 'VISA', last4: '4242' },
    maxParkWait: '5 minutes',
    queues: { erp: `${queue}-erp`, heartland: `${queue}-heartland` },
  };
}

/** Every key, byte string (payload data and metadata) and other value of a history, as one searchable text. */
function historyText(value: unknown): string {
  const parts: string[] = [];
  const walk = (v: unknown) => {
    if (v instanceof Uint8Array) parts.push(Buffer.from(v).toString('utf8'));
    else if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        parts.push(k);
        walk(x);
      }
    } else if (v !== null && v !== undefined) parts.push(String(v));
  };
  walk(value);
  return parts.join('\n');
}

/**
 * Runs an order until it parks at `validate` with a worker and client using `dataConverter`, then ends it with
 * `finish` (default: terminate). `fromSource` bundles the workflows with the converter's failure converter.
 */
async function parkedRun(
  dataConverter: ReturnType<typeof dataConverterFor>,
  opts: { fromSource?: boolean; finish?: (h: WorkflowHandle) => Promise<unknown> } = {},
) {
  const taskQueue = uniqueQueue('ops-codec');
  const client = new Client({ connection: plainClient.connection, dataConverter });
  const activities = createActivities({ db });
  const worker: Worker = opts.fromSource
    ? await Worker.create({
        connection,
        taskQueue,
        workflowsPath: require.resolve('../../workflows'),
        activities,
        dataConverter,
      })
    : await createTestWorker(connection, { taskQueue, activities, dataConverter });
  const input = order(taskQueue);
  return worker.runUntil(async () => {
    const handle: WorkflowHandle = await client.workflow.start(orderToCash, {
      taskQueue,
      workflowId: workflowIds.order(input.source, input.orderId),
      args: [input],
    });
    const deadline = Date.now() + 60_000;
    let status: FlowStatus;
    for (;;) {
      status = (await handle.query('status')) as FlowStatus;
      if (status.parkedStep === 'validate') break;
      if (Date.now() > deadline) throw new Error('the run never parked');
      await new Promise((r) => setTimeout(r, 100));
    }
    const finished = await (opts.finish ?? ((h) => h.terminate('codec test done')))(handle);
    const history = await handle.fetchHistory();
    return { input, status, history, finished, workflowId: handle.workflowId };
  });
}

async function codecCall(op: 'encode' | 'decode', payloads: unknown, headers: Record<string, string>) {
  const res = await fetch(`${base}/codec/${op}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ payloads }),
  });
  return {
    status: res.status,
    headers: res.headers,
    body: (await res.json()) as { payloads: { metadata: Record<string, string>; data: string }[]; error?: string },
  };
}

const toWire = (p: { metadata?: Record<string, Uint8Array> | null; data?: Uint8Array | null }) => ({
  metadata: Object.fromEntries(
    Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
  ),
  data: Buffer.from(p.data ?? new Uint8Array()).toString('base64'),
});

describe('payload encryption', () => {
  let encrypted: Awaited<ReturnType<typeof parkedRun>>;

  beforeAll(async () => {
    encrypted = await parkedRun({ payloadCodecs: [codec] });
  });

  test('with the codec on, the history holds no plain personal data; without it, it does', async () => {
    const text = historyText(encrypted.history);
    expect(encrypted.status.parkedStep).toBe('validate');
    expect(text).toContain(ENCRYPTED_ENCODING);
    expect(text).toContain('encryption-key-id');
    for (const secret of [NAME, EMAIL, PHONE, 'Zelda', 'marchetti'])
      expect(text.toLowerCase()).not.toContain(secret.toLowerCase());
    const started = encrypted.history.events![0].workflowExecutionStartedEventAttributes!.input!.payloads![0];
    expect(Buffer.from(started.metadata!.encoding!).toString()).toBe(ENCRYPTED_ENCODING);
    expect(Buffer.from(started.metadata!['encryption-key-id']!).toString()).toBe('k2');

    // The control: the same run with the default converter shows the data in clear, so the search above can see it.
    const plain = await parkedRun({});
    expect(historyText(plain.history)).toContain(EMAIL);
    expect(historyText(plain.history)).toContain(NAME);
  });

  test('the codec endpoint decodes the history for an authenticated caller only', async () => {
    const payloads = encrypted.history.events![0].workflowExecutionStartedEventAttributes!.input!.payloads!.map(toWire);
    const none = await codecCall('decode', payloads, {});
    expect(none.status).toBe(401);
    expect(JSON.stringify(none.body)).not.toContain(EMAIL);
    expect((await codecCall('decode', payloads, { 'x-api-key': 'lb_wrong-key-of-plausible-length' })).status).toBe(401);

    const ok = await codecCall('decode', payloads, { authorization: `Bearer ${viewerKey}`, 'x-namespace': 'default' });
    expect(ok.status).toBe(200);
    expect(ok.body.payloads).toHaveLength(1);
    const decoded = ok.body.payloads[0];
    expect(Buffer.from(decoded.metadata.encoding, 'base64').toString()).toBe('json/plain');
    expect(JSON.parse(Buffer.from(decoded.data, 'base64').toString())).toEqual(encrypted.input);

    // Activity inputs in the history open too (the dead letter was recorded with the parked step's input).
    const scheduled = encrypted.history.events!.find(
      (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'recordDeadLetter',
    )!;
    const act = await codecCall(
      'decode',
      scheduled.activityTaskScheduledEventAttributes!.input!.payloads!.map(toWire),
      { 'x-api-key': viewerKey },
    );
    expect(Buffer.from(act.body.payloads[0].data, 'base64').toString()).toContain(EMAIL);
  });

  test('failure messages are encrypted too (activity and workflow failures), and a client with the key reads them', async () => {
    const reason = `${NAME} phoned to cancel`;
    const run = await parkedRun(
      dataConverterFor({ LB_PAYLOAD_KEY: newKey.key.toString('base64'), LB_PAYLOAD_KEY_ID: 'k2' }),
      {
        fromSource: true,
        finish: async (h) => {
          await h.executeUpdate('discard', { args: [{ actor: 'finance@test', reason }] });
          return h.result().catch((e: unknown) => e);
        },
      },
    );
    const dl = await db('dead_letters').where({ id: run.status.deadLetterId }).first();
    expect(dl.error_message.length).toBeGreaterThan(10);
    const text = historyText(run.history);
    expect(text).toContain('Encoded failure');
    for (const secret of [dl.error_message, reason, 'phoned to cancel', NAME]) expect(text).not.toContain(secret);
    expect(run.history.events!.at(-1)!.eventType).toBe(
      temporal.api.enums.v1.EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
    );
    // The client decodes the failure: the reason is back in clear for whoever holds the key.
    expect(run.finished).toMatchObject({ cause: { message: expect.stringContaining(reason) } });
  });

  test('encode and decode round-trip; unencrypted payloads pass through; an unknown key id is a 400', async () => {
    const plain = [
      {
        metadata: { encoding: Buffer.from('json/plain').toString('base64') },
        data: Buffer.from('{"a":1}').toString('base64'),
      },
    ];
    const enc = await codecCall('encode', plain, { 'x-api-key': viewerKey });
    expect(enc.status).toBe(200);
    expect(Buffer.from(enc.body.payloads[0].metadata.encoding, 'base64').toString()).toBe(ENCRYPTED_ENCODING);
    expect(Buffer.from(enc.body.payloads[0].data, 'base64').toString()).not.toContain('"a"');
    const dec = await codecCall('decode', enc.body.payloads, { 'x-api-key': viewerKey });
    expect(dec.body.payloads).toEqual(plain);
    expect((await codecCall('decode', plain, { 'x-api-key': viewerKey })).body.payloads).toEqual(plain);

    const foreign = await new AesGcmPayloadCodec({ id: 'k9', key: randomBytes(32) }).encode([
      { metadata: {}, data: Buffer.from('x') },
    ]);
    const bad = await codecCall('decode', foreign.map(toWire), { 'x-api-key': viewerKey });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toBe('codec_failed');
  });

  test('the endpoint built from LB_PAYLOAD_KEY opens the same history, and CORS admits the Temporal UI', async () => {
    const app = express();
    app.use(
      '/codec',
      codecRouter({
        db,
        config: {
          LB_PAYLOAD_KEY: newKey.key.toString('base64'),
          LB_PAYLOAD_KEY_ID: 'k2',
          TEMPORAL_UI_URL: 'http://127.0.0.1:8233',
        },
      }),
    );
    const s2 = http.createServer(app);
    await new Promise<void>((r) => s2.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(s2.address() as AddressInfo).port}/codec/decode`;
      const pre = await fetch(url, {
        method: 'OPTIONS',
        headers: {
          origin: 'http://localhost:8233',
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'authorization,content-type,x-namespace',
        },
      });
      expect(pre.status).toBe(204);
      expect(pre.headers.get('access-control-allow-origin')).toBe('http://localhost:8233');
      expect(pre.headers.get('access-control-allow-credentials')).toBe('true');
      expect(pre.headers.get('access-control-allow-headers')).toContain('authorization');
      const payloads =
        encrypted.history.events![0].workflowExecutionStartedEventAttributes!.input!.payloads!.map(toWire);
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': viewerKey, origin: 'http://127.0.0.1:8233' },
        body: JSON.stringify({ payloads }),
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('access-control-allow-origin')).toBe('http://127.0.0.1:8233');
      const body = (await res.json()) as { payloads: { data: string }[] };
      expect(Buffer.from(body.payloads[0].data, 'base64').toString()).toContain(EMAIL);
    } finally {
      s2.closeAllConnections();
      await new Promise((r) => s2.close(r));
    }
  });
});

describe('Temporal UI sessions: the UI sends a cookie, not an API key', () => {
  const UI = 'http://127.0.0.1:8233';
  const secret = async () =>
    (await codec.encode([{ metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from(`"${EMAIL}"`) }])).map(
      toWire,
    );
  const signIn = async (key: string) => {
    const res = await fetch(`${base}/codec/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ key }),
    });
    const cookie = res.headers.get('set-cookie') ?? '';
    return { res, cookie, token: /lb_codec=([^;]*)/.exec(cookie)?.[1] ?? '' };
  };
  /** What the Temporal UI does with "Include cross-origin credentials" on: a CORS request that carries the cookie. */
  const decodeWithCookie = async (token: string) => {
    const res = await fetch(`${base}/codec/decode`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie: `other=1; lb_codec=${token}`, origin: UI },
      body: JSON.stringify({ payloads: await secret() }),
    });
    return { res, body: (await res.json()) as { payloads?: { data: string }[]; message?: string } };
  };

  test('sign-in sets an HttpOnly cookie for /codec that decodes; the table holds only its hash; sign-out ends it', async () => {
    const name = `codec-ui-${suffix}`;
    const { key } = await createApiKey(db, { name, role: 'viewer', createdBy: 'test' });
    const { res, cookie, token } = await signIn(key);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ name, role: 'viewer' });
    expect(token).toMatch(/^lbs_[A-Za-z0-9_-]{43}$/);
    expect(cookie).toMatch(/Path=\/codec;/);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Lax/);
    const rows = await db('ui_sessions').where({ key_name: name });
    expect(rows).toHaveLength(1);
    expect(rows[0].token_hash).toBe(hashKey(token));
    expect(JSON.stringify(rows)).not.toContain(token);

    const pre = await fetch(`${base}/codec/decode`, {
      method: 'OPTIONS',
      headers: {
        origin: UI,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type',
      },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-credentials')).toBe('true');
    const ok = await decodeWithCookie(token);
    expect(ok.res.status).toBe(200);
    expect(ok.res.headers.get('access-control-allow-origin')).toBe(UI);
    expect(ok.res.headers.get('access-control-allow-credentials')).toBe('true');
    expect(Buffer.from(ok.body.payloads![0].data, 'base64').toString()).toBe(`"${EMAIL}"`);

    const out = await fetch(`${base}/codec/logout`, { method: 'POST', headers: { cookie: `lb_codec=${token}` } });
    expect(out.status).toBe(200);
    expect(out.headers.get('set-cookie')).toMatch(/lb_codec=; Path=\/codec; Max-Age=0/);
    const after = await decodeWithCookie(token);
    expect(after.res.status).toBe(401);
    expect(after.body.message).toMatch(/sign in again at \/codec\/login/);
    expect(await db('ui_sessions').where({ key_name: name })).toHaveLength(0);
    const audited = await db('audit_log').where({ actor: name }).orderBy('id').select('action');
    expect(audited.map((a) => a.action)).toEqual(['codec.session.open', 'codec.session.close']);
  });

  test('a session ends when its key is revoked or it expires; a bad key opens none', async () => {
    const name = `codec-ui-revoked-${suffix}`;
    const { key, row } = await createApiKey(db, { name, role: 'viewer', createdBy: 'test' });
    const a = await signIn(key);
    const b = await signIn(key);
    expect((await decodeWithCookie(a.token)).res.status).toBe(200);
    await db('ui_sessions')
      .where({ token_hash: hashKey(b.token) })
      .update({ expires_at: new Date(Date.now() - 1000) });
    expect((await decodeWithCookie(b.token)).res.status).toBe(401);
    await revokeApiKey(db, row.id, 'test');
    const revoked = await decodeWithCookie(a.token);
    expect(revoked.res.status).toBe(401);
    expect(revoked.res.headers.get('set-cookie')).toMatch(/Max-Age=0/);
    expect(JSON.stringify(revoked.body)).not.toContain(EMAIL);
    expect((await signIn(key)).res.status).toBe(401);

    const before = Number((await db('ui_sessions').count({ n: '*' }))[0].n);
    const bad = await signIn('lb_not-a-real-key-but-plausibly-long-enough');
    expect(bad.res.status).toBe(401);
    expect(bad.cookie).toBe('');
    expect((await signIn('')).res.status).toBe(401);
    expect(Number((await db('ui_sessions').count({ n: '*' }))[0].n)).toBe(before);
    expect((await decodeWithCookie('lbs_forged')).res.status).toBe(401);
  });

  test('the browser form signs in and tells how to point the Temporal UI at the endpoint', async () => {
    const form = await fetch(`${base}/codec/login`);
    expect(form.status).toBe(200);
    expect(await form.text()).toMatch(/<form method="post" action="login">/);
    const name = `codec-ui-<b>${suffix}</b>`;
    const { key } = await createApiKey(db, { name, role: 'finance', createdBy: 'test' });
    const res = await fetch(`${base}/codec/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ key }).toString(),
    });
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain(`codec-ui-&lt;b&gt;${suffix}&lt;/b&gt; (finance)`);
    expect(html).toContain(`<code>${base}/codec</code>`);
    expect(html).toContain('Include cross-origin credentials');
    expect(res.headers.get('set-cookie')).toMatch(/^lb_codec=lbs_/);
  });
});
