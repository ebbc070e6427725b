import { EventEmitter } from 'node:events';
import type { Db } from '../../db';
import { mayHoldCardNumber } from '../../domain/card-data';
import type { Issue } from './schemas';

export interface InboxRow {
  source: string;
  eventId: string;
  eventType: string;
  /** The payload as JSON text, card data already scrubbed. */
  payloadJson: string;
}

export type InsertResult = { duplicate: false; id: string } | { duplicate: true };

/** In-process wake-up: the router says "new rows", a dispatcher in the same process polls at once. */
export const inboxEvents = new EventEmitter();
inboxEvents.setMaxListeners(100);

interface Pending {
  row: InboxRow;
  resolve: (r: InsertResult) => void;
  reject: (e: unknown) => void;
}

/**
 * Writes accepted webhooks to `webhook_inbox` with group commit: while `maxConcurrent` INSERTs are in flight, new
 * rows queue and go out together in one multi-row INSERT … ON CONFLICT DO NOTHING, so under load one commit (one
 * fsync) covers many webhooks, and with no load a row is written alone at once. Every caller still waits for the
 * commit of its own row before it answers. One INSERT in flight is the default: measured with bench:webhooks on two
 * cores, it gave the best throughput ratio and p99 (more in flight means smaller batches and more commits, and the
 * gateway spends its CPU on them instead of on requests).
 */
export class InboxWriter {
  private queue: Pending[] = [];
  private inFlight = 0;

  constructor(
    private readonly db: Db,
    private readonly opts: { maxConcurrent?: number; maxBatch?: number } = {},
  ) {}

  /** Inserts one row; resolves once it is committed (or found to be a duplicate of an earlier one). */
  insert(row: InboxRow): Promise<InsertResult> {
    return new Promise((resolve, reject) => {
      this.queue.push({ row, resolve, reject });
      this.kick();
    });
  }

  private kick(): void {
    while (this.inFlight < (this.opts.maxConcurrent ?? 1) && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.opts.maxBatch ?? 256);
      this.inFlight++;
      void this.flush(batch).finally(() => {
        this.inFlight--;
        this.kick();
      });
    }
  }

  private async flush(batch: Pending[]): Promise<void> {
    // One row per (source, event id) goes to the database; later copies in the same batch are duplicates.
    const first = new Map<string, Pending>();
    const copies: Pending[] = [];
    for (const p of batch) {
      const key = `${p.row.source}\u0000${p.row.eventId}`;
      if (first.has(key)) copies.push(p);
      else first.set(key, p);
    }
    const unique = [...first.values()];
    try {
      const inserted = await this.write(unique.map((p) => p.row));
      for (const p of unique) {
        const id = inserted.get(`${p.row.source}\u0000${p.row.eventId}`);
        p.resolve(id ? { duplicate: false, id } : { duplicate: true });
      }
      for (const p of copies) p.resolve({ duplicate: true });
      if (inserted.size > 0) inboxEvents.emit('inserted', inserted.size);
    } catch (e) {
      if (unique.length === 1) {
        for (const p of batch) p.reject(e);
        return;
      }
      // One bad row must not fail its neighbours: write them one by one.
      for (const p of unique) {
        try {
          const inserted = await this.write([p.row]);
          const id = inserted.get(`${p.row.source}\u0000${p.row.eventId}`);
          p.resolve(id ? { duplicate: false, id } : { duplicate: true });
          if (id) inboxEvents.emit('inserted', 1);
        } catch (err) {
          p.reject(err);
        }
      }
      for (const p of copies) p.resolve({ duplicate: true });
    }
  }

  private async write(rows: InboxRow[]): Promise<Map<string, string>> {
    // Four array parameters whatever the batch size: binding 4 values per row cost the gateway more CPU than this.
    const res = await this.db.raw(
      `INSERT INTO webhook_inbox (source, event_id, event_type, payload)
       SELECT * FROM unnest(?::text[], ?::text[], ?::text[], ?::jsonb[])
       ON CONFLICT (source, event_id) DO NOTHING RETURNING id, source, event_id`,
      [
        rows.map((r) => r.source),
        rows.map((r) => r.eventId),
        rows.map((r) => r.eventType),
        rows.map((r) => r.payloadJson),
      ],
    );
    const out = new Map<string, string>();
    for (const r of res.rows as { id: string | number; source: string; event_id: string }[]) {
      out.set(`${r.source}\u0000${r.event_id}`, String(r.id));
    }
    return out;
  }
}

const BAD_TEXT = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const MAX_DEPTH = 32;

/**
 * What Postgres jsonb (and the card-data scrubber) cannot take: a NUL character or a lone UTF-16 surrogate in any
 * string or key, or nesting deeper than 32 levels (the scrubber stops there, so deeper data would go unscrubbed).
 */
export function storableIssues(value: unknown, path: string[] = [], depth = 0): Issue[] {
  const at = () => path.join('.') || '(root)';
  if (typeof value === 'string')
    return BAD_TEXT.test(value) ? [{ path: at(), message: 'contains a NUL character or an unpaired surrogate' }] : [];
  if (value === null || typeof value !== 'object') return [];
  if (depth >= MAX_DEPTH) return [{ path: at(), message: `nested deeper than ${MAX_DEPTH} levels` }];
  const out: Issue[] = [];
  const entries = Array.isArray(value) ? value.map((v, i) => [String(i), v] as const) : Object.entries(value);
  for (const [k, v] of entries) {
    if (BAD_TEXT.test(k))
      out.push({
        path: [...path, JSON.stringify(k)].join('.'),
        message: 'key contains a NUL character or an unpaired surrogate',
      });
    else out.push(...storableIssues(v, [...path, k], depth + 1));
    if (out.length >= 20) break;
  }
  return out;
}

/**
 * Cheap pre-check on the raw JSON text: only a `\u` escape can produce a NUL or a lone surrogate (raw control
 * characters are invalid JSON and UTF-8 decoding never yields a surrogate), and nesting needs that many brackets.
 */
export function mayBeUnstorable(text: string): boolean {
  if (text.includes('\\u')) return true;
  let open = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x7b || c === 0x5b) open++;
  }
  return open >= MAX_DEPTH;
}

/**
 * Cheap pre-check before the card-data scrub: digits that could form a card number (card-data.ts), track-data
 * markers, a key named like a CVV, track or card-number field, or any `\u` escape (which could spell either).
 * Without any of these the scrub would change nothing.
 */
export function mayHoldCardData(text: string): boolean {
  return (
    text.includes('\\u') ||
    mayHoldCardNumber(text) ||
    /%B\d|;\d|cvv|cvc|cid|csc|security_?code|track|magstripe|pan|card|cc_?n|"number"/i.test(text)
  );
}
