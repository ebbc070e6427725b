import { readdirSync, readFileSync } from 'node:fs';

const TICKS_PER_S = 100;

/** CPU seconds (user + system) a process has used so far, from /proc; null where /proc is not there. */
export function cpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_S;
  } catch {
    return null;
  }
}

/** CPU seconds used so far by every process whose command name is `comm` (e.g. all Postgres backends). */
export function cpuSecondsOf(comm: string): number {
  let total = 0;
  for (const entry of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === comm) total += cpuSeconds(Number(entry)) ?? 0;
    } catch {
      // the process ended while we looked
    }
  }
  return total;
}

/** Samples several processes' CPU time, so a phase's CPU use per component can be reported. */
export function cpuMeter(components: Record<string, () => number | null>) {
  const read = () => Object.fromEntries(Object.entries(components).map(([k, f]) => [k, f() ?? 0]));
  return {
    start() {
      const before = read();
      return () => {
        const after = read();
        return Object.fromEntries(Object.keys(components).map((k) => [k, after[k] - before[k]]));
      };
    },
  };
}
