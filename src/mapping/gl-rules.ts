import { z } from 'zod';
import type { Db } from '../db';

/**
 * GL rules: which account a posting goes to, chosen by purpose, transaction type and card brand; which ERP journal a
 * payment method posts to; and the sales-tax rate used to allocate tax per line. Versions are immutable rows of
 * `gl_rule_versions`; exactly one is published. The mapping engine (a later module) will edit these through the same
 * table, so flows only ever call `resolveAccount` / `journalFor` on a loaded version.
 */
export const GL_PURPOSES = ['cash', 'clearing', 'ar', 'revenue', 'refunds', 'salesTax', 'fees', 'suspense'] as const;
export type GlPurpose = (typeof GL_PURPOSES)[number];

export const glRuleSchema = z.object({
  purpose: z.enum(GL_PURPOSES),
  transactionType: z.enum(['SALE', 'REFUND', '*']).default('*'),
  cardBrand: z.string().min(1).default('*'),
  account: z.string().min(1),
});

export const glRuleSetSchema = z.object({
  accounts: z.object({
    cash: z.string().min(1),
    clearing: z.string().min(1),
    ar: z.string().min(1),
    revenue: z.string().min(1),
    refunds: z.string().min(1),
    salesTax: z.string().min(1),
    fees: z.string().min(1),
    suspense: z.string().min(1),
  }),
  rules: z.array(glRuleSchema).default([]),
  journalsByMethod: z.record(z.string(), z.string()).default({}),
  defaultJournal: z.string().min(1),
  /** Sales tax as an integer ratio (825/10000 = 8.25 %); amounts are tax-inclusive at the POS. */
  taxRate: z.object({ numerator: z.number().int().min(0), denominator: z.number().int().positive() }),
});

export type GlRule = z.infer<typeof glRuleSchema>;
export type GlRuleSet = z.infer<typeof glRuleSetSchema>;

/** The default chart (version 1), matching the simulators' charts of accounts. */
export const DEFAULT_GL_RULES: GlRuleSet = glRuleSetSchema.parse({
  accounts: {
    cash: '1010',
    clearing: '1030',
    ar: '1200',
    revenue: '4000',
    refunds: '4010',
    salesTax: '2200',
    fees: '6100',
    suspense: '1999',
  },
  rules: [],
  journalsByMethod: { card: 'CARD', cash: 'CASH', bank: 'BANK' },
  defaultJournal: 'MISC',
  taxRate: { numerator: 825, denominator: 10000 },
});

/** The account for a purpose: the most specific matching rule (type and brand beat wildcards), else the default. */
export function resolveAccount(
  set: GlRuleSet,
  purpose: GlPurpose,
  ctx: { transactionType?: string; cardBrand?: string } = {},
): string {
  let best: { score: number; account: string } | undefined;
  for (const r of set.rules) {
    if (r.purpose !== purpose) continue;
    const typeOk = r.transactionType === '*' || r.transactionType === ctx.transactionType;
    const brandOk = r.cardBrand === '*' || r.cardBrand === ctx.cardBrand;
    if (!typeOk || !brandOk) continue;
    const score = (r.transactionType === '*' ? 0 : 2) + (r.cardBrand === '*' ? 0 : 1);
    if (!best || score > best.score) best = { score, account: r.account };
  }
  return best?.account ?? set.accounts[purpose];
}

/** The ERP journal for a payment method (`card:VISA` looks up `card:VISA`, then `card`). */
export function journalFor(set: GlRuleSet, method: string): string {
  return set.journalsByMethod[method] ?? set.journalsByMethod[method.split(':')[0]] ?? set.defaultJournal;
}

export interface GlRuleVersion {
  version: number;
  rules: GlRuleSet;
  status: 'published' | 'retired' | 'draft';
}

export async function getGlRules(db: Db, version?: number | null): Promise<GlRuleVersion> {
  const q = db('gl_rule_versions');
  const row = version ? await q.where({ version }).first() : await q.where({ status: 'published' }).first();
  if (!row) throw new Error(version ? `GL rules version ${version} does not exist` : 'no published GL rules');
  return { version: row.version, rules: glRuleSetSchema.parse(row.rules), status: row.status };
}

/** Stores a new immutable version and publishes it, retiring the previous one, in one transaction. */
export async function publishGlRules(db: Db, rules: GlRuleSet, actor: string, note?: string): Promise<number> {
  const parsed = glRuleSetSchema.parse(rules);
  return db.transaction(async (trx) => {
    await trx('gl_rule_versions').where({ status: 'published' }).update({ status: 'retired' });
    const [row] = await trx('gl_rule_versions')
      .insert({
        rules: JSON.stringify(parsed),
        status: 'published',
        created_by: actor,
        note: note ?? null,
        published_at: trx.fn.now(),
      })
      .returning(['version']);
    return row.version as number;
  });
}
