/**
 * One container of an emulated pod: its process (started through
 * {@linkcode LocalPod}), restarts by the pod's `restartPolicy` with a short
 * doubling backoff (0.5 s up to 8 s, instead of the kubelet's 10 s up to
 * 5 min, so tests stay quick), its readiness and liveness probes, and the
 * `containerStatuses` entry all of that adds up to. Stopping is the
 * runtime's: SIGTERM to the process, SIGKILL to its process group after the
 * grace period.
 *
 * @module
 */
import type { V1Container, V1ContainerState, V1ContainerStatus } from "@kubernetes/client-node";
import type { LocalPod } from "../local_pod.ts";
import type { ServerProcess } from "../postgres.ts";
import { Prober } from "./probes.ts";

/** The pod's `restartPolicy` (for init containers, `Always` acts as `OnFailure`). */
export type RestartPolicy = "Always" | "OnFailure" | "Never";

/** What a container needs from its pod. */
export interface ContainerHost {
  pod: LocalPod;
  podIP: string;
  /** Label for log lines, `namespace/name`. */
  podKey: string;
  log(line: string): void;
  /** Called whenever the container's status changes. */
  changed(): void;
  /** Grace period for a liveness restart, in milliseconds. */
  graceMs: number;
}

const BACKOFF_BASE_MS = 500;
const BACKOFF_MAX_MS = 8_000;

/** Now, to the second, as the API's timestamps are. */
function now(): Date {
  return new Date(Math.floor(Date.now() / 1000) * 1000);
}

/** A container's processes over its lifetime in the pod. */
export class ContainerRunner {
  readonly spec: V1Container;
  restartCount = 0;
  #host: ContainerHost;
  #state: V1ContainerState = { waiting: { reason: "ContainerCreating" } };
  #lastState: V1ContainerState = {};
  #process?: ServerProcess;
  #outputs: ServerProcess[] = [];
  #readiness?: Prober;
  #liveness?: Prober;
  #stopping = false;
  #done = false;
  #wake?: () => void;

  constructor(spec: V1Container, host: ContainerHost) {
    this.spec = spec;
    this.#host = host;
  }

  /** Whether the container runs and its readiness probe (if any) passes. */
  get ready(): boolean {
    return this.#state.running !== undefined && (this.#readiness?.result ?? true);
  }

  /** Whether it exited successfully (for init containers and pod phases). */
  get succeeded(): boolean {
    return this.#state.terminated?.exitCode === 0;
  }

  /** Whether it is done for good: terminated and not going to be restarted. */
  get finished(): boolean {
    return this.#state.terminated !== undefined && this.#done;
  }

  /** The process it runs now, if any. */
  get pid(): number | undefined {
    return this.#state.running ? this.#process?.pid : undefined;
  }

  /** Everything its processes printed, restarts included. */
  logs(): string {
    return this.#outputs.map((p) => p.output()).join("");
  }

  /** Reports a container that cannot start (e.g. an unknown image), as the kubelet would. */
  fail(reason: string, message: string): void {
    this.#state = { waiting: { reason, message } };
    this.#host.changed();
  }

  /** The `containerStatuses` entry. */
  status(): V1ContainerStatus {
    return {
      name: this.spec.name,
      image: this.spec.image ?? "",
      imageID: "",
      ...(this.#process ? { containerID: `local://${this.#process.pid}` } : {}),
      ready: this.ready,
      restartCount: this.restartCount,
      started: this.#state.running !== undefined,
      state: this.#state,
      lastState: this.#lastState,
    };
  }

  /**
   * Runs the container until it is done: restarted by `policy` while not stopping. An init
   * container (`untilSuccess`) is done at its first successful exit.
   */
  async run(policy: RestartPolicy, options: { untilSuccess?: boolean } = {}): Promise<void> {
    while (!this.#stopping) {
      const code = await this.#runOnce();
      const restart = options.untilSuccess
        ? code !== 0 && policy !== "Never"
        : policy === "Always" || (policy === "OnFailure" && code !== 0);
      if (!restart || this.#stopping) break;
      const delayMs = Math.min(BACKOFF_BASE_MS * 2 ** this.restartCount, BACKOFF_MAX_MS);
      this.#lastState = this.#state;
      this.#state = {
        waiting: {
          reason: "CrashLoopBackOff",
          message: `back-off ${delayMs} ms restarting failed container`,
        },
      };
      this.#host.changed();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delayMs);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      if (this.#stopping) break;
      this.restartCount++;
    }
    this.#done = true;
    this.#host.changed();
  }

  async #runOnce(): Promise<number> {
    const host = this.#host;
    let process: ServerProcess;
    try {
      process = host.pod.start(this.spec.name);
    } catch (error) {
      // What containerd reports for a process that cannot be started.
      const message = error instanceof Error ? error.message : String(error);
      this.#state = { terminated: { exitCode: 128, reason: "StartError", message } };
      host.log(`pod ${host.podKey} container ${this.spec.name} cannot start: ${message}`);
      host.changed();
      return 128;
    }
    this.#process = process;
    this.#outputs.push(process);
    const startedAt = now();
    this.#state = { running: { startedAt } };
    host.log(
      `started pod ${host.podKey} container ${this.spec.name} as pid ${process.pid} on ${host.podIP}` +
        (this.restartCount > 0 ? ` (restart ${this.restartCount})` : ""),
    );
    this.#startProbes(process);
    host.changed();
    const status = await process.exited;
    await this.#stopProbes();
    // A process killed by a signal reports 128 + its number, as container runtimes do.
    const exitCode = status.code;
    this.#state = {
      terminated: {
        exitCode,
        reason: exitCode === 0 ? "Completed" : "Error",
        startedAt,
        finishedAt: now(),
        containerID: `local://${process.pid}`,
      },
    };
    host.log(
      `pod ${host.podKey} container ${this.spec.name} (pid ${process.pid}) exited with ${exitCode}`,
    );
    host.changed();
    return exitCode;
  }

  #startProbes(process: ServerProcess): void {
    const host = this.#host;
    const target = {
      podIP: host.podIP,
      ports: this.spec.ports ?? [],
      exec: (argv: string[], timeoutMs: number) =>
        host.pod.exec(this.spec.name, argv, { timeoutMs }),
    };
    if (this.spec.readinessProbe) {
      this.#readiness = new Prober(this.spec.readinessProbe, target, {
        initial: false,
        onResult: (ready) => {
          host.log(`pod ${host.podKey} container ${this.spec.name} readiness: ${ready}`);
          host.changed();
        },
      });
    }
    if (this.spec.livenessProbe) {
      this.#liveness = new Prober(this.spec.livenessProbe, target, {
        initial: true,
        onResult: (alive) => {
          if (alive) return;
          host.log(`pod ${host.podKey} container ${this.spec.name} failed its liveness probe`);
          process.terminate(host.graceMs);
        },
      });
    }
  }

  async #stopProbes(): Promise<void> {
    await this.#readiness?.stop();
    await this.#liveness?.stop();
    this.#readiness = this.#liveness = undefined;
  }

  /** Starts nothing more: no restart, and none after a back-off it waits in. */
  halt(): void {
    this.#stopping = true;
    this.#wake?.();
  }

  /** Stops it for good: no restarts; SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs: number): Promise<void> {
    this.halt();
    if (this.#state.running && this.#process) await this.#process.terminate(graceMs);
  }
}
