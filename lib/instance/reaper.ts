/**
 * PID 1's duty in a container: adopt and reap orphans. When the postmaster
 * dies abruptly its backends outlive it briefly; once they exit they are
 * zombies of PID 1 (or of a child subreaper), and nobody else will collect
 * them. Deno reaps only the children it spawned, so the instance manager
 * marks itself a child subreaper (prctl PR_SET_CHILD_SUBREAPER, which makes
 * it the adopter even when it is not PID 1, as in tests) and collects zombie
 * children that Deno did not spawn, by pid. Children Deno spawned are left to
 * Deno, which waits on each of them itself.
 *
 * @module
 */

const PR_SET_CHILD_SUBREAPER = 36;
const P_ALL = 0;
const WNOHANG = 1;
const WEXITED = 4;
const WNOWAIT = 0x01000000;
/** Offset of `si_pid` in Linux's siginfo_t (after si_signo, si_errno, si_code and padding). */
const SI_PID_OFFSET = 16;
const SIGINFO_SIZE = 128;

/** Reaps adopted zombies while running. */
export class Reaper {
  #libc: Deno.DynamicLibrary<{
    prctl: { parameters: ["i32", "u64", "u64", "u64", "u64"]; result: "i32" };
    waitid: { parameters: ["i32", "i32", "buffer", "i32"]; result: "i32" };
    waitpid: { parameters: ["i32", "buffer", "i32"]; result: "i32" };
  }>;
  #timer: ReturnType<typeof setInterval> | undefined;
  #own: () => Set<number>;
  #onReaped: (count: number) => void;

  /** `own` gives the pids Deno spawned (still running or not yet waited on). */
  constructor(own: () => Set<number>, options: { onReaped?: (count: number) => void } = {}) {
    this.#onReaped = options.onReaped ?? (() => {});
    this.#libc = Deno.dlopen("libc.so.6", {
      prctl: { parameters: ["i32", "u64", "u64", "u64", "u64"], result: "i32" },
      waitid: { parameters: ["i32", "i32", "buffer", "i32"], result: "i32" },
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

  /**
   * Collects zombie children Deno did not spawn; returns how many. Peeks with
   * waitid(WNOWAIT), which leaves the zombie in place, and reaps by pid only what is
   * not Deno's; a zombie of Deno's ends this round (Deno collects it shortly).
   */
  reap(): number {
    const own = this.#own();
    let count = 0;
    for (;;) {
      const info = new Uint8Array(SIGINFO_SIZE);
      const found = this.#libc.symbols.waitid(P_ALL, 0, info, WEXITED | WNOHANG | WNOWAIT);
      const pid = new DataView(info.buffer).getInt32(SI_PID_OFFSET, true);
      if (found !== 0 || pid === 0 || own.has(pid)) break;
      if (this.#libc.symbols.waitpid(pid, new Uint8Array(4), WNOHANG) !== pid) break;
      count++;
    }
    if (count > 0) this.#onReaped(count);
    return count;
  }

  /** Stops reaping and closes libc. */
  stop(): void {
    clearInterval(this.#timer);
    this.#libc.close();
  }
}
