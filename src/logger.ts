import pino, { type Logger } from 'pino';
import { scrubText } from './domain/card-data';
import { scrubOwnRecord } from './domain/own-records';
import { SECRET_KEYS } from './config';

const REDACT = [
  ...SECRET_KEYS.map((k) => k),
  ...SECRET_KEYS.map((k) => `*.${k}`),
  'password',
  '*.password',
  'secret',
  '*.secret',
  'token',
  '*.token',
  'authorization',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
  'app_key',
  '*.app_key',
  'api_key',
  '*.api_key',
];

function errorReplacer(_key: string, value: unknown): unknown {
  if (!(value instanceof Error)) return value;
  const { name, message, stack } = value;
  return { ...(value as unknown as Record<string, unknown>), type: name, message, stack };
}

/**
 * The process logger: JSON lines, secrets redacted by key, and every message and string field passed through the
 * card-data scrubber, so a PAN that slips into an error message never reaches a log. Fields named as ids
 * (own-records.ts: order ids, workflow ids, …) are written as they are.
 */
export function createLogger(
  opts: { level?: string; name?: string; destination?: pino.DestinationStream } = {},
): Logger {
  const level = opts.level ?? process.env.LOG_LEVEL ?? 'info';
  const capture = opts.destination ? undefined : captured(level);
  return pino(
    {
      name: opts.name ?? 'ledgerbridge',
      level: capture?.level ?? level,
      redact: { paths: REDACT, censor: '<redacted>' },
      hooks: {
        logMethod(args, method) {
          const cleaned: unknown[] = args.map((a) => (typeof a === 'string' ? scrubText(a) : a));
          // pino takes the message from a lone Error itself; give it the scrubbed one instead.
          if (args[0] instanceof Error) {
            cleaned[0] = { err: args[0] };
            if (typeof args[1] !== 'string') cleaned.splice(1, 0, scrubText(args[0].message));
          }
          method.apply(this, cleaned as Parameters<typeof method>);
        },
      },
      formatters: {
        log(obj) {
          return scrubOwnRecord(JSON.parse(JSON.stringify(obj, errorReplacer)) as Record<string, unknown>);
        },
      },
    },
    opts.destination ?? capture?.stream,
  );
}

let captureFile: pino.DestinationStream | undefined;

/**
 * With LB_LOG_CAPTURE set (the test suite sets it), every logger also writes info and above to that file, even one
 * asked to be silent, so the suite's card-data audit reads back everything that would have been logged.
 */
function captured(level: string): { level: string; stream: pino.DestinationStream } | undefined {
  const file = process.env.LB_LOG_CAPTURE;
  if (!file) return undefined;
  captureFile ??= pino.destination({ dest: file, append: true, sync: true });
  if (level === 'silent') return { level: 'info', stream: captureFile };
  const streams = [
    { level: level as pino.Level, stream: pino.destination(1) },
    { level: 'info' as pino.Level, stream: captureFile },
  ];
  const lowest = pino.levels.values[level] < pino.levels.values.info ? level : 'info';
  return { level: lowest, stream: pino.multistream(streams) };
}

export const logger = createLogger();
export type { Logger };
