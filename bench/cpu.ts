/**
 * Who used the two cores: CPU time (user + system) of each process the
 * benchmark started (the control-plane components, dbop) and of the benchmark
 * itself, read from `/proc/<pid>/stat` before and after a phase.
 *
 * @module
 */

/** Clock ticks per second of /proc times (USER_HZ, 100 on Linux). */
const TICKS_PER_SECOND = 100;

/** User plus system CPU seconds from the text of `/proc/<pid>/stat`. */
export function parseProcStat(text: string): number {
  // The command name (field 2) is in parentheses and may hold spaces: split after it.
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return (utime + stime) / TICKS_PER_SECOND;
}

function cpuSeconds(pid: number): number {
  try {
    return parseProcStat(Deno.readTextFileSync(`/proc/${pid}/stat`));
  } catch {
    return NaN;
  }
}

/** The command name of a process (`/proc/<pid>/comm`). */
export function processName(pid: number): string {
  try {
    return Deno.readTextFileSync(`/proc/${pid}/comm`).trim();
  } catch {
    return String(pid);
  }
}

/** CPU seconds per named process. */
export class CpuMeter {
  readonly #pids = new Map<string, number>();

  /** Follows `pid` under `name` (replacing an earlier process of that name). */
  watch(name: string, pid: number): void {
    this.#pids.set(name, pid);
  }

  /** CPU seconds used so far, by name. */
  snapshot(): Record<string, number> {
    return Object.fromEntries([...this.#pids].map(([name, pid]) => [name, cpuSeconds(pid)]));
  }
}

/** CPU seconds used between two snapshots, by name, largest first; one decimal. */
export function cpuUsed(
  before: Record<string, number>,
  after: Record<string, number>,
): Record<string, number> {
  const used = Object.entries(after)
    .map(([name, seconds]) => [name, seconds - (before[name] ?? 0)] as const)
    .filter(([, seconds]) => Number.isFinite(seconds))
    .sort((a, b) => b[1] - a[1]);
  return Object.fromEntries(used.map(([name, s]) => [name, Math.round(s * 10) / 10]));
}
