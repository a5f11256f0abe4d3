/**
 * Restarts for settings that need one. The instances reload every change
 * they can take; what PostgreSQL reports as `pending_restart` waits for the
 * operator, which restarts one instance at a time through its manager
 * (`POST /restart`: a fast restart in place, the pod stays), standbys first
 * and the primary last, and only while every instance runs and answers, so
 * at most one is ever down for it.
 *
 * @module
 */
import type { V1Pod } from "@kubernetes/client-node";
import type { EventRecorder } from "../runtime/mod.ts";
import type { KubeObject } from "../runtime/types.ts";
import { type Polled, type PollOptions, requestInstance } from "./instances.ts";
import { podReady } from "./status.ts";

/**
 * The instance to restart now, if any: see the module doc. `asked` maps a pod's UID to the
 * postmaster start time it had when its restart was asked for: while it still reports
 * that one, the restart is under way and nothing else starts.
 */
export function nextRestart(
  pods: readonly V1Pod[],
  polled: ReadonlyMap<string, Polled>,
  asked: ReadonlyMap<string, string | undefined> = new Map(),
): { pod: V1Pod; role: "primary" | "standby"; startTime?: string } | undefined {
  const live = pods.filter((pod) => !pod.metadata?.deletionTimestamp);
  const statuses = live.map((pod) => {
    const answer = polled.get(pod.metadata?.name ?? "");
    return { pod, status: answer && "status" in answer ? answer.status : undefined };
  });
  const allRunning = statuses.every(({ pod, status }) =>
    podReady(pod) && status?.postgres === "running" && status.role !== undefined
  );
  if (!allRunning) return undefined;
  const underWay = statuses.some(({ pod, status }) => {
    const uid = pod.metadata?.uid ?? "";
    return asked.has(uid) && asked.get(uid) === status!.postmasterStartTime;
  });
  if (underWay) return undefined;
  const pending = statuses
    .filter(({ status }) => status!.pendingRestart)
    .sort((a, b) => (a.pod.metadata?.name ?? "").localeCompare(b.pod.metadata?.name ?? ""));
  const next = pending.find(({ status }) => status!.role === "standby") ?? pending[0];
  return next &&
    { pod: next.pod, role: next.status!.role!, startTime: next.status!.postmasterStartTime };
}

/** Asks the next instance with settings pending a restart to restart, with a Normal event. */
export async function restartPending(
  events: EventRecorder,
  object: KubeObject,
  pods: readonly V1Pod[],
  polled: ReadonlyMap<string, Polled>,
  asked: Map<string, string | undefined>,
  options: PollOptions,
): Promise<void> {
  const live = new Set(pods.map((pod) => pod.metadata?.uid));
  for (const uid of asked.keys()) if (!live.has(uid)) asked.delete(uid);
  const next = nextRestart(pods, polled, asked);
  if (!next) return;
  const name = next.pod.metadata!.name!;
  const response = await requestInstance(next.pod.status!.podIP!, "/restart", {
    ...options,
    method: "POST",
  }).catch((error) => {
    if (options.signal?.aborted) throw error;
    return undefined;
  });
  await response?.body?.cancel();
  if (response?.status !== 202) return;
  asked.set(next.pod.metadata!.uid ?? "", next.startTime);
  events.record(object, {
    type: "Normal",
    reason: "Restarting",
    action: "Restart",
    note: `Restarting ${next.role} "${name}" in place: PostgreSQL reports settings that need a ` +
      "restart (standbys first, the primary last)",
  });
}
