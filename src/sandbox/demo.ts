import type { Client } from '@temporalio/client';
import type { Config } from '../config';
import type { Db } from '../db';
import { workflowIds } from '../domain/ids';
import { signCommerceWebhook, SANDBOX_WEBHOOK_SECRETS } from '../gateway/webhooks';
import { DEFAULT_GL_RULES, getGlRules, publishGlRules } from '../mapping/gl-rules';
import { createConnectors } from '../connectors/factory';
import type { Sandbox } from './index';

/**
 * Demo traffic for `npm start` in sandbox mode: the simulators send signed webhooks to the gateway, exactly as the
 * real systems would, and the flows run end to end. It shows two orders completing, one declined order compensated,
 * a partial refund, a batch close that reconciles, and a second batch that parks on a missing GL account (a GL rules
 * version that maps card fees to 6199, which the ERP chart lacks), with the CLI commands that fix it.
 */
export interface DemoDeps {
  gatewayUrl: string;
  uiUrl: string;
  namespace: string;
  sandbox: Sandbox;
  client: Client;
  db: Db;
  config: Config;
  say: (line: string) => void;
}

async function commerce(deps: DemoDeps, topic: string, id: string, body: unknown): Promise<void> {
  const raw = JSON.stringify(body);
  const headers = signCommerceWebhook(raw, SANDBOX_WEBHOOK_SECRETS.commerce, topic, id);
  const res = await fetch(`${deps.gatewayUrl}/webhooks/commerce`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: raw,
  });
  if (res.status >= 300) throw new Error(`commerce webhook ${topic} ${id}: HTTP ${res.status} ${await res.text()}`);
}

function shopifyOrder(id: string, token: string, email: string, name: string) {
  return {
    id,
    name: `#${id}`,
    email,
    created_at: new Date().toISOString(),
    currency: 'USD',
    total_price: '108.40',
    line_items: [
      {
        id: 1,
        sku: 'SKU-1001',
        title: 'Trail Runner Shoe',
        quantity: 1,
        price: '89.99',
        tax_lines: [{ price: '7.42' }],
      },
      { id: 2, sku: 'SKU-1004', title: 'Water Bottle', quantity: 1, price: '10.99', tax_lines: [] },
    ],
    customer: { id: `c-${email}`, email, first_name: name.split(' ')[0], last_name: name.split(' ')[1] ?? 'Demo' },
    note_attributes: [{ name: 'payment_token', value: token }],
  };
}

async function waitFor(deps: DemoDeps, workflowId: string, stages: string[], timeoutMs = 90_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const s = (await deps.client.workflow.getHandle(workflowId).query('status')) as { stage: string };
      if (stages.includes(s.stage)) return s.stage;
    } catch {
      // not started yet: the dispatcher moves the webhook from the inbox to Temporal
    }
    if (Date.now() > deadline) return 'still running';
    await new Promise((r) => setTimeout(r, 300));
  }
}

const link = (deps: DemoDeps, workflowId: string) =>
  `${deps.uiUrl}/namespaces/${deps.namespace}/workflows/${encodeURIComponent(workflowId)}`;

async function closeBatch(deps: DemoDeps, label: string): Promise<string> {
  const gp = createConnectors(deps.config, deps.db).heartland;
  const close = await gp.closeBatch(deps.sandbox.heartlandGp.state.openBatchId, {
    idempotencyKey: `demo-close-${label}-${Date.now()}`,
  });
  const event = deps.sandbox.heartlandGp.batchCloseEvent(close as unknown as Record<string, unknown>);
  await deps.sandbox.heartlandGp.sendWebhook(`${deps.gatewayUrl}/webhooks/heartland`, event);
  return close.batchId;
}

/** Runs the demo once; every step is reported with a Temporal UI link. */
export async function runDemo(deps: DemoDeps): Promise<void> {
  const { say } = deps;
  const stamp = Date.now().toString(36);
  say('demo: sending signed webhooks from the simulators (LB_DEMO=off turns this off)');

  const orders = [
    { id: `D${stamp}A`, token: `PMT_DEMO_${stamp}_A`, email: 'ada.lovelace@example.com', name: 'Ada Lovelace' },
    { id: `D${stamp}B`, token: `PMT_DEMO_${stamp}_B`, email: 'GRACE.HOPPER@example.com', name: 'Grace Hopper' },
    { id: `D${stamp}C`, token: `PMT_DEMO_${stamp}_DECLINE`, email: 'alan.turing@example.com', name: 'Alan Turing' },
  ];
  for (const o of orders)
    await commerce(deps, 'orders/create', `${o.id}-create`, shopifyOrder(o.id, o.token, o.email, o.name));
  for (const o of orders.slice(0, 2))
    await commerce(deps, 'orders/fulfilled', `${o.id}-fulfilled`, shopifyOrder(o.id, o.token, o.email, o.name));
  for (const o of orders) {
    const id = workflowIds.order('commerce', o.id);
    const stage = await waitFor(deps, id, ['completed', 'declined', 'compensated', 'failed']);
    say(
      `  order ${o.id}: ${stage === 'declined' ? 'card declined, sales order cancelled (compensated)' : stage}  ${link(deps, id)}`,
    );
  }

  const refundId = `DR${stamp}`;
  await commerce(deps, 'refunds/create', `${refundId}-create`, {
    id: refundId,
    order_id: orders[0].id,
    created_at: new Date().toISOString(),
    note: 'partial refund: scuffed box',
    restock: false,
    transactions: [{ amount: '10.00', kind: 'refund', currency: 'USD' }],
  });
  const refundWf = workflowIds.refund('commerce', refundId);
  say(
    `  partial refund ${refundId} of order ${orders[0].id}: ${await waitFor(deps, refundWf, ['completed', 'failed'])}  ${link(deps, refundWf)}`,
  );

  const batch1 = await closeBatch(deps, '1');
  const settle1 = workflowIds.settlement(batch1);
  say(
    `  batch ${batch1} closed: ${await waitFor(deps, settle1, ['completed', 'needs-review', 'failed'])}  ${link(deps, settle1)}`,
  );

  // An integration engineer publishes a GL rules version with a typo: card fees to 6199, which the ERP does not have.
  const current = await getGlRules(deps.db);
  const goodVersion = current.version;
  await publishGlRules(
    deps.db,
    {
      ...DEFAULT_GL_RULES,
      ...current.rules,
      rules: [...current.rules.rules, { purpose: 'fees', transactionType: '*', cardBrand: '*', account: '6199' }],
    },
    'demo',
    'demo: card fees mapped to 6199 (missing in the ERP chart)',
  );
  const more = [
    { id: `D${stamp}E`, token: `PMT_DEMO_${stamp}_E`, email: 'edsger.dijkstra@example.com', name: 'Edsger Dijkstra' },
  ];
  for (const o of more) {
    await commerce(deps, 'orders/create', `${o.id}-create`, shopifyOrder(o.id, o.token, o.email, o.name));
    await commerce(deps, 'orders/fulfilled', `${o.id}-fulfilled`, shopifyOrder(o.id, o.token, o.email, o.name));
    await waitFor(deps, workflowIds.order('commerce', o.id), ['completed', 'failed']);
  }
  const batch2 = await closeBatch(deps, '2');
  const settle2 = workflowIds.settlement(batch2);
  const parkedStage = await waitFor(deps, settle2, ['posting', 'completed', 'needs-review', 'failed']);
  // Put the good mapping back as the published one, so later traffic is not affected by the demo's typo.
  await publishGlRules(deps.db, current.rules, 'demo', `demo: restore GL rules of version ${goodVersion}`);
  let deadLetterId: string | null = null;
  for (let i = 0; i < 100 && !deadLetterId; i++) {
    const s = (await deps.client.workflow.getHandle(settle2).query('status')) as { deadLetterId: string | null };
    deadLetterId = s.deadLetterId;
    if (!deadLetterId) await new Promise((r) => setTimeout(r, 300));
  }
  say(
    `  batch ${batch2} closed: ${deadLetterId ? `parked on a missing GL account (dead letter ${deadLetterId})` : parkedStage}  ${link(deps, settle2)}`,
  );
  say('demo: done. In the Temporal UI, filter with  LbFlow="settlement" AND LbNeedsAttention=true');
  if (deadLetterId) {
    say(
      'fix the parked batch with the CLI (an API key with the finance role; LB_ADMIN_API_KEY or `ledgerbridge keys create`):',
    );
    say(`  ledgerbridge dlq show ${deadLetterId}`);
    say(
      `  ledgerbridge dlq replay ${deadLetterId} --mapping-version ${goodVersion}   # re-post with the good GL rules`,
    );
    say(`  ledgerbridge runs show ${settle2}`);
    say(`  ledgerbridge report ${batch2}`);
  }
}
