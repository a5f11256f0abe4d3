/**
 * PID 1's duty in a container: adopt and reap orphans. When the postmaster
 * dies abruptly its backends outlive it briefly; once they exit they are
 * zombies of PID 1 (or of a child subreaper), and nobody else will collect
 * them. Deno reaps only the children it spawned, so the instance manager
 * marks itself a child subreaper (prctl PR_SET_CHILD_SUBREAPER, which makes
 * it the adopter even when it is not PID 1, as in tests) and collects zombie
 * children that Deno did not spawn, by pid, with waitpid(WNOHANG). Children
 * Deno spawned are left to Deno, which waits on each of them itself.
 *
 * @module
 */

const PR_SET_CHILD_SUBREAPER = 36;
const WNOHANG = 1;

/** Reaps adopted zombies while running. */
export class Reaper {
  #libc: Deno.DynamicLibrary<{
    prctl: { parameters: ["i32", "u64", "u64", "u64", "u64"]; result: "i32" };
    waitpid: { parameters: ["i32", "buffer", "i32"]; result: "i32" };
  }>;
  #timer: ReturnType<typeof setInterval> | undefined;
  #own: () => Set<number>;
  /** How many orphans were reaped. */
  reaped = 0;

  /** `own` gives the pids Deno spawned (still running or not yet waited on). */
  constructor(own: () => Set<number>) {
    this.#libc = Deno.dlopen("libc.so.6", {
      prctl: { parameters: ["i32", "u64", "u64", "u64", "u64"], result: "i32" },
      waitpid: { parameters: ["i32", "buffer", "i32"], result: "i32" },
    });
    this.#own = own;
  }

  /** Becomes a subreaper and reaps every `intervalMs`. */
  start(intervalMs = 1_000): void {
    if (this.#libc.symbols.prctl(PR_SET_CHILD_SUBREAPER, 1n, 0n, 0n, 0n) !== 0) {
      throw new Error("prctl(PR_SET_CHILD_SUBREAPER) failed");
    }
    this.#timer = setInterval(() => this.reap(), intervalMs);
  }

  /** Collects the zombie children Deno did not spawn; returns how many. */
  reap(): number {
    const own = this.#own();
    let count = 0;
    for (const pid of zombieChildren(Deno.pid)) {
      if (own.has(pid)) continue;
      if (this.#libc.symbols.waitpid(pid, new Uint8Array(4), WNOHANG) === pid) count++;
    }
    this.reaped += count;
    return count;
  }

  /** Stops reaping and closes libc. */
  stop(): void {
    clearInterval(this.#timer);
    this.#libc.close();
  }
}

/** Pids of the zombie children of `parent`, from /proc. */
export function zombieChildren(parent: number): number[] {
  const pids: number[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    let stat: string;
    try {
      stat = Deno.readTextFileSync(`/proc/${entry.name}/stat`);
    } catch {
      continue;
    }
    const [state, ppid] = parseProcStat(stat);
    if (state === "Z" && ppid === parent) pids.push(Number(entry.name));
  }
  return pids;
}

/** State and parent pid from a /proc/<pid>/stat line (the command name may hold spaces). */
export function parseProcStat(stat: string): [string, number] {
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return [fields[0], Number(fields[1])];
}
