/**
 * Hands freed heap memory back to the kernel. glibc's malloc keeps what the
 * process has freed (under `deno run`, most of it from loading the modules at
 * start) in its arenas, where it stays resident while the manager
 * idles. `malloc_trim(0)` returns every free page of every arena.
 * The instance manager runs in every PostgreSQL pod, so it trims now and
 * then: ~6 MiB less RSS when idle (`deno task bench:instance`).
 *
 * @module
 */

/** Often enough to undo each burst of work soon after; one took 0.3 to 3 ms here. */
const TRIM_INTERVAL_MS = 10_000;

/** Trims glibc's malloc arenas every interval while running. */
export class MallocTrimmer {
  #libc: Deno.DynamicLibrary<{ malloc_trim: { parameters: ["usize"]; result: "i32" } }>;
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor() {
    this.#libc = Deno.dlopen("libc.so.6", {
      malloc_trim: { parameters: ["usize"], result: "i32" },
    });
  }

  /** Trims every {@linkcode TRIM_INTERVAL_MS} until stopped. */
  start(): void {
    this.#timer = setInterval(() => this.#libc.symbols.malloc_trim(0n), TRIM_INTERVAL_MS);
  }

  /** Stops trimming and closes libc. */
  stop(): void {
    clearInterval(this.#timer);
    this.#libc.close();
  }
}
