/**
 * dbop as the benchmark runs it: a separate process started exactly as a user
 * starts it with `deno task start` (the same `deno run` permissions, read from
 * deno.json), with its metrics and health endpoints on free local ports and
 * its logs in the run directory. The compiled binary is not used because
 * `deno compile` downloads its runtime, which this machine cannot. Memory is
 * read from `/proc/<pid>/status` of the child (RSS) and from its `/metrics`
 * (JS heap).
 *
 * @module
 */
import { parsePrometheus, type Sample, sumOf } from "./metrics.ts";

const ROOT = new URL("../", import.meta.url).pathname;

/** How to start dbop. */
export interface OperatorOptions {
  kubeconfig: string;
  /** `--max-concurrent-reconciles`. */
  workers: number;
  /** `--resync-period`, e.g. `60s`; dbop's default when undefined. */
  resyncPeriod?: string;
  /** Where stdout and stderr go. */
  logPath: string;
}

/** Memory of the process at one moment. */
export interface MemorySample {
  /** Resident set size from /proc (bytes). */
  rss: number;
  /** `nodejs_heap_size_used_bytes`. */
  heapUsed: number;
  /** `nodejs_heap_size_total_bytes`. */
  heapTotal: number;
}

/** The `deno run ... mod.ts run` words of the `start` task in deno.json. */
export async function startTaskWords(): Promise<string[]> {
  const config = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`));
  const words = String(config.tasks?.start ?? "").split(/\s+/).filter(Boolean);
  if (words[0] !== "deno" || words[1] !== "run" || !words.includes("mod.ts")) {
    throw new Error(`Cannot read the start task of deno.json: "${words.join(" ")}"`);
  }
  return words;
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A running dbop process; always {@linkcode OperatorProcess.stop} it. */
export class OperatorProcess {
  static readonly #running = new Set<OperatorProcess>();
  /** The command line as a user would type it in the repository. */
  readonly command: string;
  /** When the process was spawned (ms since the epoch). */
  readonly startedAt: number;
  readonly pid: number;
  readonly #child: Deno.ChildProcess;
  readonly #metricsUrl: string;
  readonly #healthUrl: string;
  readonly #logPath: string;
  readonly #exited: Promise<Deno.CommandStatus>;
  #exitedEarly = false;

  private constructor(words: string[], options: OperatorOptions) {
    const metricsPort = freePort();
    const healthPort = freePort();
    const args = [
      ...words,
      "--kubeconfig",
      options.kubeconfig,
      "--metrics-bind-address",
      `127.0.0.1:${metricsPort}`,
      "--health-probe-bind-address",
      `127.0.0.1:${healthPort}`,
      "--max-concurrent-reconciles",
      String(options.workers),
      ...(options.resyncPeriod ? ["--resync-period", options.resyncPeriod] : []),
      "--log-format",
      "json",
      "--log-level",
      "info",
    ];
    this.command = args.join(" ");
    this.#metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
    this.#healthUrl = `http://127.0.0.1:${healthPort}/readyz`;
    this.#logPath = options.logPath;
    this.startedAt = Date.now();
    this.#child = new Deno.Command(Deno.execPath(), {
      args: args.slice(1),
      cwd: ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.pid = this.#child.pid;
    this.#exited = this.#child.status.then((status) => {
      this.#exitedEarly = true;
      return status;
    });
  }

  /** Spawns dbop and starts copying its output to `options.logPath`. */
  static async start(options: OperatorOptions): Promise<OperatorProcess> {
    const operator = new OperatorProcess(await startTaskWords(), options);
    OperatorProcess.#running.add(operator);
    const log = await Deno.open(options.logPath, { create: true, append: true });
    const out = await Deno.open(options.logPath, { create: true, append: true });
    operator.#child.stdout.pipeTo(out.writable).catch(() => {});
    operator.#child.stderr.pipeTo(log.writable).catch(() => {});
    return operator;
  }

  /** The last lines of the log, for error messages. */
  async logTail(lines = 20): Promise<string> {
    const text = await Deno.readTextFile(this.#logPath).catch(() => "");
    return text.trimEnd().split("\n").slice(-lines).map((l) => l.slice(0, 300)).join("\n");
  }

  /** Throws (with the log's last lines) if the process has exited. */
  async assertRunning(): Promise<void> {
    await this.#failIfExited();
  }

  async #failIfExited(): Promise<void> {
    if (!this.#exitedEarly) return;
    const status = await this.#exited;
    throw new Error(`dbop exited with code ${status.code}: ${await this.logTail()}`);
  }

  /** Scrapes `/metrics`. */
  async metrics(): Promise<Sample[]> {
    await this.#failIfExited();
    const res = await fetch(this.#metricsUrl, { signal: AbortSignal.timeout(10_000) });
    return parsePrometheus(await res.text());
  }

  /** Sum of `controller_runtime_reconcile_total` over every result. */
  async reconciles(): Promise<number> {
    return sumOf(await this.metrics(), "controller_runtime_reconcile_total");
  }

  /** RSS from /proc and the JS heap from /metrics, now. */
  async memory(): Promise<MemorySample> {
    const status = await Deno.readTextFile(`/proc/${this.pid}/status`);
    const kb = Number(status.match(/^VmRSS:\s+(\d+)\s+kB/m)?.[1] ?? NaN);
    const samples = await this.metrics();
    return {
      rss: kb * 1024,
      heapUsed: sumOf(samples, "nodejs_heap_size_used_bytes"),
      heapTotal: sumOf(samples, "nodejs_heap_size_total_bytes"),
    };
  }

  /** Polls until `check` holds; returns when it first held (ms since the epoch). */
  async waitUntil(
    what: string,
    check: () => Promise<boolean>,
    options: { timeoutMs: number; intervalMs?: number },
  ): Promise<number> {
    const deadline = Date.now() + options.timeoutMs;
    while (Date.now() < deadline) {
      await this.#failIfExited();
      const at = Date.now();
      if (await check().catch(() => false)) return at;
      await sleep(options.intervalMs ?? 100);
    }
    throw new Error(`Timed out waiting for dbop: ${what}: ${await this.logTail(5)}`);
  }

  /** Waits until `/readyz` answers 200 (caches synced); returns when. */
  async waitReady(timeoutMs = 120_000): Promise<number> {
    return await this.waitUntil("/readyz to answer 200", async () => {
      const res = await fetch(this.#healthUrl, { signal: AbortSignal.timeout(2000) });
      await res.body?.cancel();
      return res.ok;
    }, { timeoutMs, intervalMs: 50 });
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process has exited. */
  async stop(graceMs = 15_000): Promise<void> {
    const signal = (name: Deno.Signal) => {
      try {
        this.#child.kill(name);
      } catch {
        // Already exited.
      }
    };
    signal("SIGTERM");
    const timer = setTimeout(() => signal("SIGKILL"), graceMs);
    await this.#exited;
    clearTimeout(timer);
    OperatorProcess.#running.delete(this);
  }

  /** Stops every dbop process this benchmark started and has not stopped yet (on interrupt). */
  static async stopAll(): Promise<void> {
    await Promise.all([...OperatorProcess.#running].map((operator) => operator.stop(5000)));
  }
}
