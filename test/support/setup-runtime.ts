import { appendFileSync } from 'node:fs';
import { DefaultLogger, Runtime, type LogEntry } from '@temporalio/worker';

const capture = process.env.LB_LOG_CAPTURE;
const shown = new Set(['WARN', 'ERROR']);

/** Warnings and errors reach the console; with LB_LOG_CAPTURE every entry from info up also goes to the audit file. */
function write(entry: LogEntry): void {
  const line = JSON.stringify(entry, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v));
  if (capture) appendFileSync(capture, `${line}\n`);
  if (shown.has(entry.level)) process.stderr.write(`${line}\n`);
}

// Runtime.install may run once per process.
try {
  Runtime.install({ logger: new DefaultLogger(capture ? 'INFO' : 'WARN', write) });
} catch {
  // already installed by an earlier test file in this jest worker
}
