/**
 * The operator's view of its instances: it polls every instance manager's
 * status endpoint (`GET http://<podIP>:<port>/status` with the cluster's
 * bearer token) in parallel, each with a short timeout, and turns the answers
 * into `status.instances` (pure, so an unchanged fleet gives an unchanged
 * status and no write). A pod without an IP is not polled; a pod that does
 * not answer is listed with why.
 *
 * @module
 */
import type { V1Pod } from "@kubernetes/client-node";
import { InstanceStatus, type InstanceSummary, lsnLag } from "../api/mod.ts";
import { podReady } from "./status.ts";

/**
 * What polling one instance gave: its status, or why there is none (`unauthorized`: it
 * refused the token, as one does that has not yet seen a new `<c>-status`).
 */
export type Polled = { status: InstanceStatus } | { error: string; unauthorized?: true };

/** How to reach the status endpoints. */
export interface PollOptions {
  port: number;
  token: string;
  /** Per request. */
  timeoutMs: number;
  signal?: AbortSignal;
}

/** The answer's one line, whatever went wrong: a timeout, a refusal, a bad status, bad JSON. */
function describeFailure(error: unknown): string {
  if (error instanceof DOMException && error.name === "TimeoutError") return "no answer in time";
  const message = error instanceof Error ? error.message : String(error);
  // Deno's fetch errors name the URL and then the cause; the cause is what tells.
  return message.replace(/^error sending request for url \([^)]*\): /, "");
}

/**
 * One request to the instance manager on `podIP`, authenticated, bounded by the timeout;
 * throws when it does not answer.
 */
export function requestInstance(
  podIP: string,
  path: string,
  options: PollOptions & { method?: "GET" | "POST"; body?: unknown },
): Promise<Response> {
  const timeout = AbortSignal.timeout(options.timeoutMs);
  const host = podIP.includes(":") ? `[${podIP}]` : podIP;
  const headers: Record<string, string> = { authorization: `Bearer ${options.token}` };
  if (options.body !== undefined) headers["content-type"] = "application/json";
  return fetch(`http://${host}:${options.port}${path}`, {
    method: options.method ?? "GET",
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
    signal: options.signal ? AbortSignal.any([options.signal, timeout]) : timeout,
  });
}

/** Polls one instance manager. */
export async function pollInstance(podIP: string, options: PollOptions): Promise<Polled> {
  try {
    const response = await requestInstance(podIP, "/status", options);
    if (!response.ok) {
      await response.body?.cancel();
      const error = `status endpoint answered ${response.status}`;
      return response.status === 401 ? { error, unauthorized: true } : { error };
    }
    const parsed = InstanceStatus.safeParse(await response.json());
    if (!parsed.success) return { error: "status endpoint answered an unknown shape" };
    return { status: parsed.data };
  } catch (error) {
    if (options.signal?.aborted) throw error;
    return { error: describeFailure(error) };
  }
}

/** Polls every live pod that has an IP, all at once; by pod name. */
export async function pollInstances(
  pods: readonly V1Pod[],
  options: PollOptions,
): Promise<Map<string, Polled>> {
  const targets = pods.filter((pod) => !pod.metadata?.deletionTimestamp && pod.status?.podIP);
  const answers = await Promise.all(
    targets.map((pod) => pollInstance(pod.status!.podIP!, options)),
  );
  return new Map(targets.map((pod, i) => [pod.metadata!.name!, answers[i]]));
}

function instanceError(status: InstanceStatus): string | undefined {
  if (status.waiting) return `${status.waiting.reason}: ${status.waiting.message}`;
  return status.lastError;
}

/** `status.instances` from the live pods and what polling them gave, sorted by name. */
export function summarizeInstances(
  pods: readonly V1Pod[],
  polled: ReadonlyMap<string, Polled>,
): InstanceSummary[] {
  const statuses = [...polled.values()].flatMap((p) => "status" in p ? [p.status] : []);
  const primaryLsn = statuses.find((s) => s.role === "primary" && s.currentLsn)?.currentLsn;
  return pods
    .filter((pod) => !pod.metadata?.deletionTimestamp)
    .map((pod) => {
      const name = pod.metadata!.name!;
      const summary: InstanceSummary = { name, ready: podReady(pod) };
      const answer = polled.get(name);
      if (answer === undefined) return summary;
      if ("error" in answer) return { ...summary, error: answer.error };
      const status = answer.status;
      if (status.role) summary.role = status.role;
      if (status.timeline) summary.timeline = status.timeline;
      const lsn = status.role === "primary" ? status.currentLsn : status.replayedLsn;
      if (lsn) summary.lsn = lsn;
      if (status.role === "standby") {
        if (status.receivedLsn) summary.receivedLsn = status.receivedLsn;
        if (primaryLsn && status.replayedLsn) {
          summary.lagBytes = lsnLag(primaryLsn, status.replayedLsn).toString();
        }
        if (status.walReceiverStreaming !== undefined) {
          summary.streaming = status.walReceiverStreaming;
        }
      }
      if (status.pendingRestart) summary.pendingRestart = true;
      const error = instanceError(status);
      if (error) summary.error = error.slice(0, 1024);
      return summary;
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * Whether the instances that answered are where they should stay: each runs, a standby
 * streams, nothing waits for a restart. Instances that did not answer do not count (the pod
 * events of a recovering one bring the next reconcile), so a cluster of unreachable
 * instances is polled at the slow period, not in a loop. One that refused the token is not
 * settled: it follows `<c>-status` and takes a new token within moments.
 */
export function instancesSettled(polled: ReadonlyMap<string, Polled>): boolean {
  return [...polled.values()].every((answer) => {
    if ("error" in answer) return answer.unauthorized !== true;
    const status = answer.status;
    if (status.postgres !== "running" || status.waiting || status.pendingRestart) return false;
    return status.role !== "standby" || status.walReceiverStreaming === true;
  });
}
