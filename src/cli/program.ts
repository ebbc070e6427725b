import os from 'node:os';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { SingleBar, Presets } from 'cli-progress';
import { CliError, EXIT, OpsApi } from './api';

/**
 * The `ledgerbridge` command. Every command but `sandbox` (and `keys create|revoke --direct`, the bootstrap path)
 * talks to the gateway's ops API over HTTP: LEDGERBRIDGE_URL (default http://127.0.0.1:3000) and
 * LEDGERBRIDGE_API_KEY. `--json` prints the API's answer as JSON. Exit codes: 0 ok, 1 failure, 2 usage, 3 auth,
 * 4 not found, 5 conflict.
 */

export interface CliIo {
  out: (s: string) => void;
  err: (s: string) => void;
  env: NodeJS.ProcessEnv;
  /** Whether stderr is a terminal (the progress bar draws only there). */
  tty: boolean;
}

interface Globals {
  url: string;
  apiKey?: string;
  json?: boolean;
}

const BULK_CHUNK = 25;

/** The database commands, loaded only when used: they pull in knex. */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const direct = () => require('./direct') as typeof import('./direct');

/**
 * The sandbox command, loaded only when used, by a plain require the compiler does not follow: the simulators are
 * development code, left out of the production build (tsconfig.build.json) and image.
 */
function sandboxCommand(): { runSandbox: (io: CliIo, json: boolean) => Promise<void> } {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('./sandbox-command');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw e;
    throw new CliError(
      'the simulators are not part of this build (production image); run them from a checkout',
      EXIT.failure,
    );
  }
}

function intArg(name: string, min = 1, max = Number.MAX_SAFE_INTEGER) {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(`${name} must be an integer ${min}..${max}`);
    return n;
  };
}

function dateArg(v: string): string {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(v) || Number.isNaN(Date.parse(`${v}T00:00:00Z`))) {
    throw new InvalidArgumentError('must be a date YYYY-MM-DD');
  }
  return v;
}

function jsonObjectArg(v: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(v);
  } catch {
    throw new InvalidArgumentError('must be a JSON object');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new InvalidArgumentError('must be a JSON object');
  return parsed as Record<string, unknown>;
}

const FILTER_KEYS = [
  'flow',
  'source',
  'erp',
  'stage',
  'businessKey',
  'needsAttention',
  'status',
  'workflowType',
] as const;

function collectFilter(v: string, prev: Record<string, string> = {}): Record<string, string> {
  const i = v.indexOf('=');
  if (i <= 0) throw new InvalidArgumentError('a filter is key=value');
  const key = v.slice(0, i).replace(/-(\w)/g, (_m, c: string) => c.toUpperCase());
  if (!(FILTER_KEYS as readonly string[]).includes(key)) {
    throw new InvalidArgumentError(`unknown filter ${key}; one of ${FILTER_KEYS.join(', ')}`);
  }
  return { ...prev, [key]: v.slice(i + 1) };
}

/** Adds the run filter options shared by `runs list` and `retrigger`. */
function withFilterOptions(cmd: Command): Command {
  return cmd
    .option('--flow <flow>', 'LbFlow (order, refund, settlement, …)')
    .option('--source <source>', 'LbSource')
    .option('--erp <erp>', 'LbErp')
    .option('--stage <stage>', 'LbStage')
    .option('--business-key <key>', 'LbBusinessKey (order, batch or refund id)')
    .option('--needs-attention', 'only runs with LbNeedsAttention=true')
    .addOption(
      new Option('--status <status>', 'execution status').choices([
        'Running',
        'Completed',
        'Failed',
        'Canceled',
        'Terminated',
        'ContinuedAsNew',
        'TimedOut',
      ]),
    )
    .option('--filter <key=value>', 'any filter as key=value (repeatable)', collectFilter);
}

type FilterOpts = {
  flow?: string;
  source?: string;
  erp?: string;
  stage?: string;
  businessKey?: string;
  needsAttention?: boolean;
  status?: string;
  filter?: Record<string, string>;
};

/** The run filter of the options, with typed values. */
function filterOf(o: FilterOpts): Record<string, string | boolean> {
  const f: Record<string, string | boolean> = { ...(o.filter ?? {}) };
  for (const k of ['flow', 'source', 'erp', 'stage', 'businessKey', 'status'] as const)
    if (o[k] !== undefined) f[k] = o[k]!;
  if (o.needsAttention) f.needsAttention = true;
  if (typeof f.needsAttention === 'string') {
    if (!['true', 'false'].includes(f.needsAttention))
      throw new CliError('needsAttention is true or false', EXIT.usage);
    f.needsAttention = f.needsAttention === 'true';
  }
  return f;
}

function table(rows: Record<string, unknown>[], columns: string[]): string {
  if (rows.length === 0) return '(none)';
  const cell = (v: unknown) =>
    v === null || v === undefined ? '-' : typeof v === 'object' ? JSON.stringify(v) : String(v);
  const widths = columns.map((c) => Math.min(60, Math.max(c.length, ...rows.map((r) => cell(r[c]).length))));
  const line = (vals: string[]) =>
    vals
      .map((v, i) => v.slice(0, 60).padEnd(widths[i]))
      .join('  ')
      .trimEnd();
  return [line(columns), ...rows.map((r) => line(columns.map((c) => cell(r[c]))))].join('\n');
}

/** Builds the program; `run` resolves to the exit code. */
export function buildProgram(io: CliIo): { program: Command; exitCode: () => number } {
  let exit: number = EXIT.ok;
  const program = new Command('ledgerbridge');
  program
    .description('Ledgerbridge operations: runs, reconciliations, retriggers, dead letters, API keys, sandbox')
    .option('--url <url>', 'gateway base URL (LEDGERBRIDGE_URL)', io.env.LEDGERBRIDGE_URL ?? 'http://127.0.0.1:3000')
    .option('--api-key <key>', 'API key (LEDGERBRIDGE_API_KEY; prefer the variable: arguments show in ps)')
    .option('--json', 'print JSON')
    .showHelpAfterError('(add --help for usage)')
    .configureOutput({ writeOut: (s) => io.out(s.replace(/\n$/, '')), writeErr: (s) => io.err(s.replace(/\n$/, '')) })
    .exitOverride();

  const globals = (cmd: Command): Globals => cmd.optsWithGlobals<Globals>();
  const api = (cmd: Command) => {
    const g = globals(cmd);
    return new OpsApi({ baseUrl: g.url, apiKey: g.apiKey ?? io.env.LEDGERBRIDGE_API_KEY });
  };
  const print = (cmd: Command, data: unknown, human: () => string) =>
    io.out(globals(cmd).json ? JSON.stringify(data, null, 2) : human());

  program
    .command('reconcile')
    .description('start a settlement reconciliation for a batch or a date range (idempotent)')
    .option('--batch <id>', 'Heartland batch id')
    .option('--from <date>', 'first day (YYYY-MM-DD)', dateArg)
    .option('--to <date>', 'last day (YYYY-MM-DD)', dateArg)
    .addOption(new Option('--erp <erp>', 'ERP (default: the gateway LB_ERP)').choices(['odoo', 'm3', 'p21', 'sagepro']))
    .option('--gl-rules-version <n>', 'GL rules version', intArg('--gl-rules-version'))
    .action(
      async (
        o: { batch?: string; from?: string; to?: string; erp?: string; glRulesVersion?: number },
        cmd: Command,
      ) => {
        const range = o.from !== undefined || o.to !== undefined;
        if (!o.batch && !range) throw new CliError('give --batch ID, or --from DATE --to DATE', EXIT.usage);
        if (o.batch && range) throw new CliError('give --batch or a date range, not both', EXIT.usage);
        if (range && (!o.from || !o.to)) throw new CliError('a date range needs --from and --to', EXIT.usage);
        const body = o.batch
          ? { batchId: o.batch, erp: o.erp, glRulesVersion: o.glRulesVersion }
          : { from: o.from, to: o.to, erp: o.erp, glRulesVersion: o.glRulesVersion };
        const r = await api(cmd).call<{
          workflowId: string;
          runId: string;
          created: boolean;
          status: string;
          uiUrl: string;
        }>('POST', '/reconciliations', { body });
        print(cmd, r.body, () =>
          r.body.created
            ? `started ${r.body.workflowId} (run ${r.body.runId})\n${r.body.uiUrl}`
            : `already exists: ${r.body.workflowId} (run ${r.body.runId}, ${r.body.status})\n${r.body.uiUrl}`,
        );
      },
    );

  const runs = program.command('runs').description('list and inspect runs');
  withFilterOptions(runs.command('list').description('list runs (Temporal visibility), newest first'))
    .option('--page-size <n>', 'runs per page (max 1000)', intArg('--page-size', 1, 1000), 50)
    .option('--page-token <token>', 'nextPageToken of a previous page')
    .action(async (o: FilterOpts & { pageSize: number; pageToken?: string }, cmd: Command) => {
      const query: Record<string, string | number | boolean | undefined> = {
        ...filterOf(o),
        pageSize: o.pageSize,
        pageToken: o.pageToken,
      };
      const r = await api(cmd).call<{ runs: Record<string, unknown>[]; nextPageToken: string | null; query: string }>(
        'GET',
        '/runs',
        { query },
      );
      print(cmd, r.body, () => {
        const t = table(r.body.runs, ['workflowId', 'status', 'flow', 'stage', 'needsAttention', 'startTime']);
        return r.body.nextPageToken ? `${t}\nmore: --page-token ${r.body.nextPageToken}` : t;
      });
    });
  runs
    .command('show')
    .description('one run: status, stage, parked step, open dead letters, Temporal UI link')
    .argument('<workflowId>')
    .action(async (id: string, _o: unknown, cmd: Command) => {
      const r = await api(cmd).call<
        Record<string, unknown> & {
          flowStatus: Record<string, unknown> | null;
          openDeadLetters: Record<string, unknown>[];
        }
      >('GET', `/runs/${encodeURIComponent(id)}`);
      print(cmd, r.body, () => {
        const b = r.body;
        const fs = b.flowStatus;
        const lines = [
          `${b.workflowId}  run ${b.runId}`,
          `  type ${b.type}, ${b.status}, started ${b.startTime}${b.closeTime ? `, closed ${b.closeTime}` : ''}`,
          fs
            ? `  stage ${fs.stage}, outcome ${fs.outcome ?? '-'}, needs attention ${fs.needsAttention}, parked step ${fs.parkedStep ?? '-'}`
            : `  status query: ${b.flowStatusError}`,
          fs ? `  steps done: ${(fs.stepsDone as string[]).join(', ') || '-'}` : '',
          `  open dead letters: ${b.openDeadLetters.map((d) => `${d.id} (${d.step}: ${d.errorType})`).join(', ') || '-'}`,
          `  ${b.uiUrl}`,
        ];
        return lines.filter(Boolean).join('\n');
      });
    });

  withFilterOptions(
    program
      .command('retrigger')
      .description('retrigger one run, or every parked/failed run matching a filter (with a progress bar)')
      .argument('[workflowId]'),
  )
    .option('--dry-run', 'list what would be retriggered')
    .option('--limit <n>', 'at most this many runs (max 5000)', intArg('--limit', 1, 5000), 5000)
    .option('--patch <json>', 'corrected input merged over the failed step input', jsonObjectArg)
    .option('--mapping-version <n>', 'mapping version for the retried step', intArg('--mapping-version'))
    .option('--reason <text>', 'why (kept in the audit log)')
    .action(
      async (
        id: string | undefined,
        o: FilterOpts & {
          dryRun?: boolean;
          limit: number;
          patch?: Record<string, unknown>;
          mappingVersion?: number;
          reason?: string;
        },
        cmd: Command,
      ) => {
        const client = api(cmd);
        const filter = filterOf(o);
        const extra = { patch: o.patch, mappingVersion: o.mappingVersion, reason: o.reason };
        if (id) {
          if (Object.keys(filter).length) throw new CliError('give a workflow id or filters, not both', EXIT.usage);
          if (o.dryRun)
            throw new CliError('--dry-run works with filters; `runs show` tells what one run would do', EXIT.usage);
          const r = await client.call<{ action: string; runId: string; step: string | null; uiUrl: string }>(
            'POST',
            `/runs/${encodeURIComponent(id)}/retrigger`,
            { body: extra },
          );
          print(cmd, r.body, () =>
            r.body.action === 'retry-update'
              ? `${id}: retry sent, step ${r.body.step ?? '-'} runs again (run ${r.body.runId})`
              : `${id}: started again as run ${r.body.runId}\n${r.body.uiUrl}`,
          );
          return;
        }
        if (Object.keys(filter).length === 0)
          throw new CliError('give a workflow id, or at least one filter', EXIT.usage);
        type Plan = {
          matched: number;
          truncated: boolean;
          query: string | null;
          candidates: { workflowId: string; runId: string; status: string; action: string; step: string | null }[];
          skipped: { workflowId: string; reason: string }[];
        };
        const plan = (
          await client.call<Plan>('POST', '/runs/retrigger', {
            body: { filter, dryRun: true, limit: o.limit },
            timeoutMs: 600_000,
          })
        ).body;
        if (o.dryRun) {
          print(cmd, plan, () =>
            [
              `${plan.candidates.length} run(s) would be retriggered${plan.truncated ? ` (limit ${o.limit} reached)` : ''}:`,
              table(plan.candidates, ['workflowId', 'status', 'action', 'step']),
              ...(plan.skipped.length
                ? [`skipped ${plan.skipped.length}:`, table(plan.skipped, ['workflowId', 'reason'])]
                : []),
            ].join('\n'),
          );
          return;
        }
        const ids = plan.candidates.map((c) => c.workflowId);
        const bar =
          !globals(cmd).json && io.tty
            ? new SingleBar({ stream: process.stderr, clearOnComplete: false }, Presets.shades_classic)
            : undefined;
        bar?.start(ids.length, 0);
        const results: {
          workflowId: string;
          ok: boolean;
          action: string | null;
          runId: string | null;
          error: string | null;
        }[] = [];
        for (let i = 0; i < ids.length; i += BULK_CHUNK) {
          const chunk = ids.slice(i, i + BULK_CHUNK);
          const r = await client.call<{ results: typeof results; skipped: { workflowId: string; reason: string }[] }>(
            'POST',
            '/runs/retrigger',
            { body: { workflowIds: chunk, ...extra }, timeoutMs: 600_000 },
          );
          results.push(...r.body.results);
          for (const sk of r.body.skipped)
            results.push({ workflowId: sk.workflowId, ok: false, action: null, runId: null, error: sk.reason });
          bar?.update(Math.min(ids.length, i + chunk.length));
        }
        bar?.stop();
        const failed = results.filter((r) => !r.ok);
        const summary = {
          matched: plan.matched,
          retriggered: results.length - failed.length,
          failed: failed.length,
          results,
        };
        print(cmd, summary, () =>
          [
            `retriggered ${summary.retriggered} of ${ids.length} run(s)`,
            ...(failed.length ? [`failed ${failed.length}:`, table(failed, ['workflowId', 'error'])] : []),
          ].join('\n'),
        );
        if (failed.length) exit = EXIT.failure;
      },
    );

  const dlq = program.command('dlq').description('dead letters: list, show, replay, discard');
  dlq
    .command('list')
    .addOption(
      new Option('--status <status>', 'dead letter status')
        .choices(['open', 'replayed', 'discarded', 'all'])
        .default('open'),
    )
    .option('--flow <flow>', 'flow')
    .option('--workflow-id <id>', 'workflow id')
    .option('--limit <n>', 'at most this many (max 500)', intArg('--limit', 1, 500), 50)
    .option('--before <id>', 'page: ids below this one')
    .action(
      async (
        o: { status: string; flow?: string; workflowId?: string; limit: number; before?: string },
        cmd: Command,
      ) => {
        const r = await api(cmd).call<{ deadLetters: Record<string, unknown>[]; nextCursor: string | null }>(
          'GET',
          '/dead-letters',
          {
            query: { status: o.status, flow: o.flow, workflowId: o.workflowId, limit: o.limit, before: o.before },
          },
        );
        print(cmd, r.body, () => {
          const t = table(r.body.deadLetters, ['id', 'status', 'flow', 'workflowId', 'step', 'errorType', 'createdAt']);
          return r.body.nextCursor ? `${t}\nmore: --before ${r.body.nextCursor}` : t;
        });
      },
    );
  dlq
    .command('show')
    .argument('<id>')
    .action(async (id: string, _o: unknown, cmd: Command) => {
      const r = await api(cmd).call<Record<string, unknown> & { run: Record<string, unknown> | null }>(
        'GET',
        `/dead-letters/${encodeURIComponent(id)}`,
      );
      print(cmd, r.body, () => {
        const b = r.body;
        return [
          `dead letter ${b.id} (${b.status}) of ${b.workflowId}, step ${b.step}`,
          `  ${b.errorType}: ${b.errorMessage}`,
          `  created ${b.createdAt}${b.actedBy ? `, ${b.status} by ${b.actedBy}${b.reason ? ` (${b.reason})` : ''}` : ''}`,
          b.run
            ? `  run ${b.run.runId}: ${b.run.status}${b.run.parkedHere ? ', parked on this dead letter' : ''}\n  ${b.run.uiUrl}`
            : '  run: gone',
          `  input: ${JSON.stringify(b.input)}`,
        ].join('\n');
      });
    });
  dlq
    .command('replay')
    .argument('<id>')
    .option('--patch <json>', 'corrected input merged over the failed step input', jsonObjectArg)
    .option('--mapping-version <n>', 'mapping version for the retried step', intArg('--mapping-version'))
    .action(async (id: string, o: { patch?: Record<string, unknown>; mappingVersion?: number }, cmd: Command) => {
      const r = await api(cmd).call<{ action: string; runId: string; workflowId: string }>(
        'POST',
        `/dead-letters/${encodeURIComponent(id)}/replay`,
        {
          body: { patch: o.patch, mappingVersion: o.mappingVersion },
        },
      );
      print(
        cmd,
        r.body,
        () => `dead letter ${id} replayed (${r.body.action}) on ${r.body.workflowId} run ${r.body.runId}`,
      );
    });
  dlq
    .command('discard')
    .argument('<id>')
    .requiredOption('--reason <text>', 'why it is discarded (kept with the dead letter and in the audit log)')
    .action(async (id: string, o: { reason: string }, cmd: Command) => {
      const r = await api(cmd).call<{ action: string; workflowId: string }>(
        'POST',
        `/dead-letters/${encodeURIComponent(id)}/discard`,
        {
          body: { reason: o.reason },
        },
      );
      print(cmd, r.body, () => `dead letter ${id} discarded (${r.body.action}) on ${r.body.workflowId}`);
    });

  program
    .command('report')
    .description('the reconciliation report of a batch')
    .argument('<batchId>')
    .addOption(new Option('--format <format>', 'json or csv').choices(['json', 'csv']).default('json'))
    .action(async (batchId: string, o: { format: string }, cmd: Command) => {
      const r = await api(cmd).call<unknown>('GET', `/reports/reconciliations/${encodeURIComponent(batchId)}`, {
        query: { format: o.format },
      });
      io.out(typeof r.body === 'string' ? r.body.replace(/\n$/, '') : JSON.stringify(r.body, null, 2));
    });

  program
    .command('audit')
    .description('the audit log, newest first')
    .option('--actor <name>', 'key name')
    .option('--action <action>', 'e.g. run.retrigger')
    .option('--target <target>', 'workflow id, dead letter id, key id…')
    .option('--limit <n>', 'at most this many (max 500)', intArg('--limit', 1, 500), 50)
    .action(async (o: { actor?: string; action?: string; target?: string; limit: number }, cmd: Command) => {
      const r = await api(cmd).call<{ entries: Record<string, unknown>[] }>('GET', '/audit', { query: o });
      print(cmd, r.body, () => table(r.body.entries, ['id', 'at', 'actor', 'action', 'target']));
    });

  const keys = program.command('keys').description('API keys (admin)');
  const isDirect = (o: { direct?: boolean }, cmd: Command) =>
    o.direct || (!globals(cmd).apiKey && !io.env.LEDGERBRIDGE_API_KEY && !!io.env.DATABASE_URL);
  keys
    .command('create')
    .description('create a key; it is printed once. --direct writes to DATABASE_URL (bootstrap, no gateway needed)')
    .requiredOption('--name <name>', 'who or what uses the key')
    .addOption(
      new Option('--role <role>', 'role').choices(['viewer', 'operator', 'finance', 'admin']).makeOptionMandatory(),
    )
    .option('--direct', 'write to the database at DATABASE_URL instead of calling the gateway')
    .action(async (o: { name: string; role: string; direct?: boolean }, cmd: Command) => {
      let created: Record<string, unknown> & { key: string };
      if (isDirect(o, cmd)) {
        created = await direct().createKeyDirect(io.env, o.name, o.role, `cli:${os.userInfo().username}`);
      } else {
        created = (
          await api(cmd).call<Record<string, unknown> & { key: string }>('POST', '/keys', {
            body: { name: o.name, role: o.role },
          })
        ).body;
      }
      print(
        cmd,
        created,
        () => `key ${created.id} (${created.name}, ${created.role}) created. It is shown only now:\n${created.key}`,
      );
    });
  keys
    .command('revoke')
    .argument('<id>')
    .option('--direct', 'write to the database at DATABASE_URL instead of calling the gateway')
    .action(async (id: string, o: { direct?: boolean }, cmd: Command) => {
      let revoked: Record<string, unknown>;
      if (isDirect(o, cmd)) {
        revoked = await direct().revokeKeyDirect(io.env, id, `cli:${os.userInfo().username}`);
      } else {
        revoked = (await api(cmd).call<Record<string, unknown>>('DELETE', `/keys/${encodeURIComponent(id)}`)).body;
      }
      print(cmd, revoked, () => `key ${revoked.id} (${revoked.name}) revoked`);
    });
  keys.command('list').action(async (_o: unknown, cmd: Command) => {
    const r = await api(cmd).call<{ keys: Record<string, unknown>[] }>('GET', '/keys');
    print(cmd, r.body, () =>
      table(r.body.keys, ['id', 'name', 'role', 'keyPrefix', 'createdBy', 'createdAt', 'lastUsedAt']),
    );
  });

  program
    .command('whoami')
    .description('the key in use and its role')
    .action(async (_o: unknown, cmd: Command) => {
      const r = await api(cmd).call<{ name: string; role: string }>('GET', '/whoami');
      print(cmd, r.body, () => `${r.body.name} (${r.body.role})`);
    });

  program
    .command('sandbox')
    .description('start every simulator on its default port until Ctrl-C')
    .action(async (_o: unknown, cmd: Command) => {
      await sandboxCommand().runSandbox(io, !!globals(cmd).json);
    });

  return { program, exitCode: () => exit };
}

/** Runs the CLI on argv (without node and script) and resolves to the exit code; never throws. */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const { program, exitCode } = buildProgram(io);
  const json = argv.includes('--json');
  try {
    if (argv.length === 0) {
      program.outputHelp();
      return EXIT.usage;
    }
    await program.parseAsync(argv, { from: 'user' });
    return exitCode();
  } catch (e) {
    if (e instanceof CommanderError) {
      // help and version end with 0; every other commander error is a usage error it has already printed.
      return e.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    const err = e instanceof CliError ? e : new CliError((e as Error).message, EXIT.failure);
    if (json)
      io.err(
        JSON.stringify({
          error: err.code ?? 'error',
          message: err.message,
          status: err.status ?? null,
          exitCode: err.exitCode,
        }),
      );
    else io.err(`error: ${err.message}`);
    return err.exitCode;
  }
}
