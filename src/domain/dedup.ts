/**
 * Customer dedup keys: normalised email, normalised phone and a fuzzy name score. Pure functions (used by activities
 * and by the sync flows).
 */

export function normalizeEmail(email: string | undefined | null): string | undefined {
  const e = email?.trim().toLowerCase();
  return e && /^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(e) ? e : undefined;
}

/** Digits only; a leading NANP country code 1 on an 11-digit number is dropped so +1 (555) 010-2000 = 555.010.2000. */
export function normalizePhone(phone: string | undefined | null): string | undefined {
  const d = (phone ?? '').replace(/\D/g, '');
  if (d.length < 7) return undefined;
  return d.length === 11 && d.startsWith('1') ? d.slice(1) : d;
}

function bigrams(s: string): string[] {
  const t = s
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^a-z0-9]+/g, ' ')
    .trim()
    .split(' ')
    .sort()
    .join(' ');
  const out: string[] = [];
  for (let i = 0; i < t.length - 1; i++) out.push(t.slice(i, i + 2));
  return out;
}

/** Sørensen–Dice similarity over character bigrams of the sorted name tokens (0..1; word order ignored). */
export function nameSimilarity(a: string, b: string): number {
  const x = bigrams(a);
  const y = bigrams(b);
  if (x.length === 0 || y.length === 0) return a.trim().toLowerCase() === b.trim().toLowerCase() ? 1 : 0;
  const counts = new Map<string, number>();
  for (const g of x) counts.set(g, (counts.get(g) ?? 0) + 1);
  let overlap = 0;
  for (const g of y) {
    const n = counts.get(g) ?? 0;
    if (n > 0) {
      overlap++;
      counts.set(g, n - 1);
    }
  }
  return (2 * overlap) / (x.length + y.length);
}

export interface DedupCandidate {
  erpId: string;
  name: string;
  email?: string;
  phone?: string;
  externalRef?: string;
}

export type MatchReason = 'external-ref' | 'email' | 'phone+name';

/**
 * Picks the existing customer that a new one duplicates: same external ref; else same normalised email; else same
 * normalised phone with a similar name (score >= 0.6). Returns undefined when none is a duplicate.
 */
export function findDuplicate(
  incoming: { externalRef?: string; name: string; email?: string; phone?: string },
  candidates: DedupCandidate[],
): { candidate: DedupCandidate; reason: MatchReason } | undefined {
  const ref = incoming.externalRef;
  const byRef = ref ? candidates.find((c) => c.externalRef === ref) : undefined;
  if (byRef) return { candidate: byRef, reason: 'external-ref' };
  const email = normalizeEmail(incoming.email);
  const byEmail = email ? candidates.find((c) => normalizeEmail(c.email) === email) : undefined;
  if (byEmail) return { candidate: byEmail, reason: 'email' };
  const phone = normalizePhone(incoming.phone);
  const byPhone = phone
    ? candidates.find((c) => normalizePhone(c.phone) === phone && nameSimilarity(c.name, incoming.name) >= 0.6)
    : undefined;
  return byPhone ? { candidate: byPhone, reason: 'phone+name' } : undefined;
}

/**
 * The locks of a customer's find-or-create in one ERP: its external ref, and the normalised email and phone that
 * findDuplicate matches on. Two orders of one person under two external refs (an account and a guest checkout
 * whose email differs only in case) share a lock, so the second finds the customer the first created.
 */
export function customerLockKeys(
  erp: string,
  source: string,
  c: { externalRef: string; email?: string; phone?: string },
): string[] {
  const email = normalizeEmail(c.email);
  const phone = normalizePhone(c.phone);
  return [
    `customer:${erp}:${source}:${c.externalRef}`,
    ...(email ? [`customer:${erp}:email:${email}`] : []),
    ...(phone ? [`customer:${erp}:phone:${phone}`] : []),
  ];
}
