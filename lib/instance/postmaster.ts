/**
 * The PostgreSQL server as a child of the instance manager: started in the
 * foreground with the operator's configuration files and this pod's paths, its output going to the
 * container's, probed with pg_isready on its own socket, and stopped with a
 * fast shutdown (SIGINT: clients are disconnected, never waited for) that
 * escalates to an immediate shutdown (SIGQUIT) and then SIGKILL when the
 * bound passes, so a pod's deletion always finishes in time.
 *
 * @module
 */
import { type Clock, sleepWith, systemClock } from "../runtime/clock.ts";
import { spawnTracked } from "./commands.ts";

/** How to start one server. */
export interface PostmasterOptions {
  pgdata: string;
  /** Directory of the operator's postgresql.conf and pg_hba.conf. */
  configDir: string;
  /** Directory of tls.crt and tls.key, when TLS is on. */
  tlsDir?: string;
  socketDir: string;
  port: number;
  /** `listen_addresses`: the pod's IP, so each instance binds only its own address. */
  listen: string;
  /** More `-c name=value` settings, e.g. `primary_conninfo` of a standby. */
  settings?: Record<string, string>;
}

/** A running postmaster. */
export class Postmaster {
  readonly pid: number;
  /** Resolves when the postmaster has exited. */
  readonly exited: Promise<Deno.CommandStatus>;
  #status: Deno.CommandStatus | undefined;
  #options: PostmasterOptions;

  private constructor(child: Deno.ChildProcess, options: PostmasterOptions) {
    this.pid = child.pid;
    this.#options = options;
    this.exited = child.status.then((status) => this.#status = status);
  }

  /** Starts `postgres` in the foreground. */
  static start(options: PostmasterOptions): Postmaster {
    // The configuration holds no path: the pod's paths are known here.
    const settings: Record<string, string> = {
      config_file: `${options.configDir}/postgresql.conf`,
      hba_file: `${options.configDir}/pg_hba.conf`,
      ident_file: `${options.configDir}/pg_ident.conf`,
      listen_addresses: options.listen,
      port: String(options.port),
      unix_socket_directories: options.socketDir,
    };
    if (options.tlsDir) {
      settings.ssl_cert_file = `${options.tlsDir}/tls.crt`;
      settings.ssl_key_file = `${options.tlsDir}/tls.key`;
    }
    Object.assign(settings, options.settings);
    const args = ["-D", options.pgdata];
    for (const [name, value] of Object.entries(settings)) args.push("-c", `${name}=${value}`);
    const child = spawnTracked(
      new Deno.Command("postgres", { args, stdin: "null", stdout: "inherit", stderr: "inherit" }),
    );
    return new Postmaster(child, options);
  }

  /** Whether the postmaster has exited. */
  get running(): boolean {
    return this.#status === undefined;
  }

  /** Whether the server accepts connections on its socket now. */
  async accepting(): Promise<boolean> {
    const child = spawnTracked(
      new Deno.Command("pg_isready", {
        args: ["-q", "-h", this.#options.socketDir, "-p", String(this.#options.port), "-t", "2"],
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }),
    );
    return (await child.status).code === 0;
  }

  /** Waits until the server accepts connections; false when it exited or `signal` aborted. */
  async waitAccepting(
    signal: AbortSignal,
    options: { clock?: Clock; pollMs?: number } = {},
  ): Promise<boolean> {
    const clock = options.clock ?? systemClock;
    while (this.running && !signal.aborted) {
      if (await this.accepting()) return true;
      await sleepWith(clock, options.pollMs ?? 200, signal).catch(() => {});
    }
    return false;
  }

  /** Sends `signal` to the postmaster, unless it has exited. */
  kill(signal: Deno.Signal): void {
    if (!this.running) return;
    try {
      Deno.kill(this.pid, signal);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }

  /**
   * Fast shutdown within `timeoutMs`, then immediate shutdown, then SIGKILL; resolves
   * with how it ended once the postmaster has exited. When `hurry` aborts during the fast
   * shutdown, at most `hurryMs` more are given to it: a switchover's longer bound must not
   * outlast the pod's grace period when the pod is deleted meanwhile.
   */
  async stop(
    timeoutMs: number,
    options: { clock?: Clock; hurry?: AbortSignal; hurryMs?: number } = {},
  ): Promise<"fast" | "immediate" | "killed"> {
    const clock = options.clock ?? systemClock;
    const steps: [Deno.Signal, number, "fast" | "immediate" | "killed"][] = [
      ["SIGINT", timeoutMs, "fast"],
      ["SIGQUIT", 5_000, "immediate"],
      ["SIGKILL", 5_000, "killed"],
    ];
    for (const [signal, waitMs, outcome] of steps) {
      if (!this.running) break;
      this.kill(signal);
      const timeout = new AbortController();
      const waits = [this.exited, sleepWith(clock, waitMs, timeout.signal).catch(() => {})];
      const { hurry, hurryMs } = options;
      if (signal === "SIGINT" && hurry && hurryMs !== undefined && hurryMs < waitMs) {
        waits.push(
          aborted(hurry, timeout.signal)
            .then(() => sleepWith(clock, hurryMs, timeout.signal)).catch(() => {}),
        );
      }
      await Promise.race(waits);
      timeout.abort();
      if (!this.running) return outcome;
    }
    await this.exited;
    return "fast";
  }
}

/** Resolves when `signal` aborts; rejects when `cancel` aborts first (its listener removed). */
function aborted(signal: AbortSignal, cancel: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const done = () => {
      signal.removeEventListener("abort", done);
      cancel.removeEventListener("abort", done);
      if (signal.aborted) resolve();
      else reject(cancel.reason);
    };
    signal.addEventListener("abort", done);
    cancel.addEventListener("abort", done);
  });
}
