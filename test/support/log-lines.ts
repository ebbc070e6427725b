import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../src/logger';

/** A logger (info and above) whose JSON lines are collected in `lines` instead of written out. */
export function collectingLogger(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  return { log: createLogger({ level: 'info', destination: sink }), lines };
}
