import { runCli } from './program';

/** Entry point of `bin/ledgerbridge`. */
void runCli(process.argv.slice(2), {
  out: (s) => process.stdout.write(`${s}\n`),
  err: (s) => process.stderr.write(`${s}\n`),
  env: process.env,
  tty: !!process.stderr.isTTY,
}).then((code) => {
  process.exitCode = code;
});
