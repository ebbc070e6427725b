import express, { type Request, type Response, type NextFunction, type Router } from 'express';
import { z } from 'zod';

/**
 * Fault injection shared by every simulator, configured with `POST /__faults` (JSON below) and cleared with
 * `DELETE /__faults`; `GET /__faults` shows the current set. Counted faults (`count`) apply to the next N matching
 * requests; `rate` faults apply at random with that probability. `paths` limits a fault to requests whose path
 * contains one of the strings. Faults never apply to `/__*` control routes.
 */
export const faultSpecSchema = z.object({
  latencyMs: z.number().int().min(0).max(120_000).optional(),
  error: z
    .object({
      status: z.number().int().min(400).max(599),
      body: z.unknown().optional(),
      rate: z.number().min(0).max(1).optional(),
      count: z.number().int().min(1).optional(),
      /** Only until this many ms after it was set (e.g. "5xx for 30 seconds"). */
      forMs: z.number().int().min(1).optional(),
    })
    .optional(),
  rateLimit: z.object({ count: z.number().int().min(1), retryAfterSeconds: z.number().int().min(0) }).optional(),
  expireTokens: z.boolean().optional(),
  hang: z.object({ count: z.number().int().min(1) }).optional(),
  malformed: z.object({ count: z.number().int().min(1), mode: z.enum(['truncated', 'garbage']) }).optional(),
  /** Schema drift: rename or remove a field (dot path into the JSON response; `*` matches every array element). */
  drift: z.object({ path: z.string().min(1), renameTo: z.string().optional() }).optional(),
  /** Partial batch failure: the next N batch requests fail this many records (simulator-specific). */
  partialFailure: z.object({ count: z.number().int().min(1), failRecords: z.number().int().min(1) }).optional(),
  paths: z.array(z.string()).optional(),
});

export type FaultSpec = z.infer<typeof faultSpecSchema>;

export class FaultState {
  spec: FaultSpec = {};
  private setAt = 0;
  /** Incremented on `expireTokens`; simulators reject tokens issued before the current epoch. */
  tokenEpoch = 0;
  readonly stats = { requests: 0, injected: 0 };
  private hangs: Response[] = [];

  set(spec: FaultSpec): void {
    if (spec.expireTokens) this.tokenEpoch++;
    this.spec = { ...spec, expireTokens: undefined };
    this.setAt = Date.now();
  }

  clear(): void {
    this.spec = {};
    for (const res of this.hangs.splice(0)) res.destroy();
  }

  private applies(req: Request): boolean {
    const paths = this.spec.paths;
    return !paths || paths.some((p) => req.originalUrl.includes(p));
  }

  /** Takes one partial-failure token for a batch request; returns how many records should fail (0 for none). */
  takePartialFailure(req: Request): number {
    const pf = this.spec.partialFailure;
    if (!pf || !this.applies(req) || pf.count <= 0) return 0;
    pf.count--;
    if (pf.count === 0) this.spec.partialFailure = undefined;
    return pf.failRecords;
  }

  middleware(): Router {
    const router = express.Router();
    router.post('/__faults', express.json(), (req, res) => {
      const parsed = faultSpecSchema.safeParse(req.body ?? {});
      if (!parsed.success) {
        res.status(400).json({ error: 'invalid fault spec', issues: parsed.error.issues });
        return;
      }
      this.set(parsed.data);
      res.json({ ok: true, faults: this.spec, tokenEpoch: this.tokenEpoch });
    });
    router.delete('/__faults', (_req, res) => {
      this.clear();
      res.json({ ok: true });
    });
    router.get('/__faults', (_req, res) => {
      res.json({ faults: this.spec, tokenEpoch: this.tokenEpoch, stats: this.stats });
    });
    router.use((req: Request, res: Response, next: NextFunction) => void this.inject(req, res, next));
    return router;
  }

  private async inject(req: Request, res: Response, next: NextFunction): Promise<void> {
    if (req.path.startsWith('/__')) return next();
    this.stats.requests++;
    const s = this.spec;
    if (!this.applies(req)) return next();
    if (s.latencyMs) await new Promise((r) => setTimeout(r, s.latencyMs));
    if (s.hang && s.hang.count > 0) {
      s.hang.count--;
      this.stats.injected++;
      this.hangs.push(res);
      return; // never answers; the client's timeout must fire
    }
    if (s.rateLimit && s.rateLimit.count > 0) {
      s.rateLimit.count--;
      this.stats.injected++;
      res.set('Retry-After', String(s.rateLimit.retryAfterSeconds));
      res.status(429).json({ error_code: 'TOO_MANY_REQUESTS', detailed_error_description: 'rate limit exceeded' });
      return;
    }
    const e = s.error;
    if (e && (!e.forMs || Date.now() - this.setAt < e.forMs)) {
      const counted = e.count !== undefined;
      const hit = counted ? e.count! > 0 : Math.random() < (e.rate ?? 1);
      if (hit) {
        if (counted) e.count!--;
        this.stats.injected++;
        res.status(e.status).json(e.body ?? { error: `injected ${e.status}` });
        return;
      }
    }
    if (s.malformed && s.malformed.count > 0) {
      s.malformed.count--;
      this.stats.injected++;
      const mode = s.malformed.mode;
      res.json = ((body: unknown) => {
        const text = JSON.stringify(body);
        res.type('application/json');
        res.send(
          mode === 'truncated'
            ? text.slice(0, Math.max(1, Math.floor(text.length / 2)))
            : '<html>502 Bad Gateway</html>',
        );
        return res;
      }) as Response['json'];
    } else if (s.drift) {
      const drift = s.drift;
      const original = res.json.bind(res);
      res.json = ((body: unknown) =>
        original(applyDrift(body, drift.path.split('.'), drift.renameTo))) as Response['json'];
    }
    next();
  }
}

/** Renames or removes the field at a dot path; `*` walks every element of an array. */
export function applyDrift(body: unknown, path: string[], renameTo?: string): unknown {
  if (body === null || typeof body !== 'object') return body;
  const [head, ...rest] = path;
  if (Array.isArray(body)) {
    return head === '*' ? body.map((b) => applyDrift(b, rest, renameTo)) : body;
  }
  const obj = { ...(body as Record<string, unknown>) };
  if (rest.length === 0) {
    if (head in obj) {
      const v = obj[head];
      delete obj[head];
      if (renameTo) obj[renameTo] = v;
    }
    return obj;
  }
  if (head in obj) obj[head] = applyDrift(obj[head], rest, renameTo);
  return obj;
}
