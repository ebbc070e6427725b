import { rmSync } from 'node:fs';
import { dropDatabase } from '../../src/db';

interface TestHandles {
  pg: { url: string; stop: () => Promise<void> };
  temporal: { stop: () => Promise<void> };
  tmp: string;
}

/** Stops the dev server, drops the test database and removes the temporary files. */
export default async function globalTeardown(): Promise<void> {
  const h = (globalThis as Record<string, unknown>).__lbTest as TestHandles | undefined;
  if (!h) return;
  await h.temporal.stop();
  await dropDatabase(h.pg.url).catch(() => undefined);
  await h.pg.stop();
  rmSync(h.tmp, { recursive: true, force: true });
}
