import pino, { type Logger } from 'pino';
import { scrubText } from './domain/card-data';
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
 * card-data scrubber, so a PAN that slips into an error message never reaches a log.
 */
export function createLogger(
  opts: { level?: string; name?: string; destination?: pino.DestinationStream } = {},
): Logger {
  return pino(
    {
      name: opts.name ?? 'ledgerbridge',
      level: opts.level ?? process.env.LOG_LEVEL ?? 'info',
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
          return JSON.parse(scrubText(JSON.stringify(obj, errorReplacer))) as Record<string, unknown>;
        },
      },
    },
    opts.destination,
  );
}

export const logger = createLogger();
export type { Logger };
