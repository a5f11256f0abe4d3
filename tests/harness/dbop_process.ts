/**
 * dbop run as a user runs it: a separate process from `mod.ts` with the
 * permissions of `deno task start` (the compiled binary needs `deno compile`
 * to download its runtime, which machines without internet cannot, so tests
 * run the same entry point with `deno run` and say so).
 *
 * @module
 */

const ROOT = new URL("../../", import.meta.url).pathname;

/**
 * The Deno permissions of `deno task start`: the operator's. The compiled binary also has
 * the instance manager's write and ffi (`BINARY_PERMISSIONS` in lib/instance/install.ts).
 */
export const DBOP_PERMISSIONS = [
  "--allow-env",
  "--allow-read",
  "--allow-net",
  "--allow-run",
  "--allow-sys=hostname,osRelease,uid",
];

let announced = false;

/** A running dbop process with its output collected. */
export class DbopProcess {
  readonly child: Deno.ChildProcess;
  readonly startedAt = Date.now();
  #stdout = "";
  #stderr = "";
  readonly #done: Promise<void>;

  constructor(args: string[], options: { env?: Record<string, string>; clearEnv?: boolean } = {}) {
    if (!announced) {
      announced = true;
      Deno.stderr.writeSync(new TextEncoder().encode(
        "[dbop] running `deno run " + DBOP_PERMISSIONS.join(" ") +
          " mod.ts` (not the compiled binary: deno compile cannot download denort here)\n",
      ));
    }
    this.child = new Deno.Command(Deno.execPath(), {
      args: ["run", ...DBOP_PERMISSIONS, `${ROOT}mod.ts`, ...args],
      env: options.env,
      clearEnv: options.clearEnv,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const collect = async (stream: ReadableStream<Uint8Array>, into: "out" | "err") => {
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
        if (into === "out") this.#stdout += chunk;
        else this.#stderr += chunk;
      }
    };
    this.#done = Promise.all([collect(this.child.stdout, "out"), collect(this.child.stderr, "err")])
      .then(() => {});
  }

  /** What the process wrote to stdout so far. */
  get stdout(): string {
    return this.#stdout;
  }

  /** What the process wrote to stderr so far (logs). */
  get stderr(): string {
    return this.#stderr;
  }

  /** Waits for the exit; returns the code and how long after `signal` it came. */
  async exit(): Promise<{ code: number; stdout: string; stderr: string }> {
    const status = await this.child.status;
    await this.#done;
    return { code: status.code, stdout: this.#stdout, stderr: this.#stderr };
  }

  /** Sends `signal` and waits for the exit; returns the code and the ms it took. */
  async stop(signal: Deno.Signal = "SIGTERM"): Promise<{ code: number; ms: number }> {
    const at = Date.now();
    try {
      this.child.kill(signal);
    } catch {
      // Already exited.
    }
    const { code } = await this.exit();
    return { code, ms: Date.now() - at };
  }
}

/** Runs dbop to completion. */
export async function runDbop(
  args: string[],
  options: { env?: Record<string, string>; clearEnv?: boolean } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return await new DbopProcess(args, options).exit();
}
