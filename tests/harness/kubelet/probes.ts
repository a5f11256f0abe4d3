/**
 * Container probes as the kubelet runs them: `exec` (a command in the
 * container, success on exit code 0), `tcpSocket` (a connection opens) and
 * `httpGet` over plain HTTP (a status from 200 to 399), every
 * `periodSeconds` after `initialDelaySeconds`, each attempt bounded by
 * `timeoutSeconds`, the result flipping only after `successThreshold` or
 * `failureThreshold` attempts in a row. HTTPS probes and gRPC probes are not
 * emulated.
 *
 * @module
 */
import type { V1ContainerPort, V1Probe } from "@kubernetes/client-node";
import type { CommandResult } from "../postgres.ts";

/** What a probe acts on: the pod's IP, the container's ports, and a way to exec in it. */
export interface ProbeTarget {
  podIP: string;
  ports: V1ContainerPort[];
  exec(argv: string[], timeoutMs: number): Promise<CommandResult>;
}

function resolvePort(port: number | string, ports: V1ContainerPort[]): number {
  if (typeof port === "number") return port;
  const named = ports.find((p) => p.name === port);
  if (named) return named.containerPort;
  if (/^\d+$/.test(port)) return Number(port);
  throw new Error(`No container port named "${port}"`);
}

/** Throws unless the kubelet emulates this kind of probe. */
export function checkProbe(probe: V1Probe): void {
  if (probe.httpGet && (probe.httpGet.scheme ?? "HTTP") !== "HTTP") {
    throw new Error(`Unsupported probe scheme "${probe.httpGet.scheme}": only HTTP is emulated`);
  }
  if (!probe.exec && !probe.tcpSocket && !probe.httpGet) {
    throw new Error("Unsupported probe: only exec, tcpSocket and httpGet are emulated");
  }
}

/** One attempt of `probe`: true when it succeeds within its timeout. */
export async function probeOnce(probe: V1Probe, target: ProbeTarget): Promise<boolean> {
  const timeoutMs = (probe.timeoutSeconds ?? 1) * 1000;
  try {
    if (probe.exec) {
      return (await target.exec(probe.exec.command ?? [], timeoutMs)).code === 0;
    }
    if (probe.tcpSocket) {
      const port = resolvePort(probe.tcpSocket.port as number | string, target.ports);
      const connecting = Deno.connect({ hostname: probe.tcpSocket.host ?? target.podIP, port });
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timedOut = new Promise<false>((resolve) =>
        timer = setTimeout(resolve, timeoutMs, false)
      );
      const conn = await Promise.race([connecting, timedOut]).finally(() => clearTimeout(timer));
      // A connection that opens after the timeout still has to be closed.
      if (conn === false) connecting.then((late) => late.close(), () => {});
      else conn.close();
      return conn !== false;
    }
    if (probe.httpGet) {
      const get = probe.httpGet;
      const port = resolvePort(get.port as number | string, target.ports);
      const headers = Object.fromEntries((get.httpHeaders ?? []).map((h) => [h.name, h.value]));
      const res = await fetch(`http://${get.host ?? target.podIP}:${port}${get.path ?? "/"}`, {
        headers,
        signal: AbortSignal.timeout(timeoutMs),
      });
      await res.body?.cancel();
      return res.status >= 200 && res.status < 400;
    }
    return false;
  } catch {
    // Refused, reset, timed out or a missing port: all of them are a failed attempt.
    return false;
  }
}

/**
 * Runs a probe periodically until stopped, calling `onResult` whenever the probe's result
 * (after the thresholds) changes. `initial` is the result before the first verdict: false
 * for readiness, true for liveness.
 */
export class Prober {
  #stopped = false;
  #timer?: ReturnType<typeof setTimeout>;
  #result: boolean;
  #streak = 0;
  #attempting: Promise<void> = Promise.resolve();

  constructor(
    readonly probe: V1Probe,
    readonly target: ProbeTarget,
    readonly options: { initial: boolean; onResult: (result: boolean) => void },
  ) {
    checkProbe(probe);
    this.#result = options.initial;
    this.#schedule((probe.initialDelaySeconds ?? 0) * 1000);
  }

  /** The current result. */
  get result(): boolean {
    return this.#result;
  }

  #schedule(delayMs: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => this.#attempting = this.#attempt(), delayMs);
  }

  async #attempt(): Promise<void> {
    const ok = await probeOnce(this.probe, this.target);
    if (this.#stopped) return;
    if (ok === this.#result) {
      this.#streak = 0;
    } else {
      this.#streak++;
      const threshold = ok ? this.probe.successThreshold ?? 1 : this.probe.failureThreshold ?? 3;
      if (this.#streak >= threshold) {
        this.#result = ok;
        this.#streak = 0;
        this.options.onResult(ok);
      }
    }
    this.#schedule((this.probe.periodSeconds ?? 10) * 1000);
  }

  /** Stops probing and waits for an attempt under way; no more results are reported. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#attempting;
  }
}
