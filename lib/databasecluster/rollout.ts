/**
 * Rolling updates that respect the primary. The StatefulSet updates on delete
 * (`updateStrategy: OnDelete`), so a change of the pod template (image,
 * resources, authentication type, TLS on or off) replaces no pod by itself:
 * dbop deletes the outdated pods (whose `controller-revision-hash` is not the
 * StatefulSet's `status.updateRevision`) one at a time, and the StatefulSet
 * controller makes each anew from the new template, on the same volume:
 *
 * 1. the standbys first, the highest ordinal first, each only while every
 *    instance's pod is Ready and its manager answers that PostgreSQL runs in
 *    the role the operator gave it, and every standby streams with its
 *    replayed LSN within {@linkcode CAUGHT_UP_BYTES} of the primary's current
 *    LSN (so the standby replaced before is back and has caught up);
 * 2. then the primary, by `ha.primaryUpdateMethod`: `switchover` has
 *    `decidePrimary` promote the most advanced standby (all are replaced by
 *    then), after which the old primary is an outdated standby like any
 *    other; `restart` (always with one instance) deletes the primary's pod,
 *    and `decidePrimary` then waits `ha.failoverDelay` for it as for a crash
 *    ({@linkcode restartingPrimary}) rather than failing over at once.
 *
 * Progress is read from the pods' revisions and the polled statuses on every
 * reconcile, never remembered, so a restarted operator resumes where the pods
 * are. Invariants: nothing is deleted while a pod is terminating or missing,
 * the StatefulSet scales, or the primary changes, so at most one pod is down
 * for the rollout at a time; the primary's pod is never deleted while a
 * standby's is outdated.
 *
 * When no instance answers and none ever has (no `status.systemIdentifier`:
 * the pods run no instance manager, as kwok's fake pods), the pods are
 * replaced by readiness alone: one at a time, only while every pod is Ready,
 * the highest ordinal first and the primary last. A bootstrapped cluster none
 * of whose instances answers waits: nothing tells which standby has caught up.
 *
 * @module
 */
import type { V1Pod, V1StatefulSet } from "@kubernetes/client-node";
import { compareLsn, type InstanceStatus, lsnLag } from "../api/mod.ts";
import type { Resources } from "../kube/mod.ts";
import type { EventRecorder } from "../runtime/mod.ts";
import type { KubeObject } from "../runtime/types.ts";
import type { Polled } from "./instances.ts";
import { Pods } from "./kinds.ts";
import { POD_REVISION_LABEL } from "./names.ts";
import { podOutdated, podReady } from "./status.ts";

/**
 * How far a standby's replayed LSN may be behind the primary's current LSN and still count as
 * caught up: one WAL segment. An idle or lightly written cluster is at 0; a standby still
 * replaying a backlog (just cloned, or back after its restart) is far beyond it, and replacing
 * the next standby then would leave no standby current to fail over to.
 */
export const CAUGHT_UP_BYTES = 16n * 1024n * 1024n;

/** What the rollout decision reads. */
export interface RolloutInput {
  /** The StatefulSet: its generation, `status.observedGeneration` and `status.updateRevision`. */
  statefulSet?: V1StatefulSet;
  replicas: number;
  pods: readonly V1Pod[];
  polled: ReadonlyMap<string, Polled>;
  /** `status.currentPrimary` and `status.targetPrimary`. */
  primary: { current: string; target: string };
  method: "switchover" | "restart";
  /** Whether an instance manager ever reported (`status.systemIdentifier` is recorded). */
  bootstrapped: boolean;
  /** UIDs of pods already asked to be deleted: a cache that still shows one live is stale. */
  deleted?: ReadonlySet<string>;
}

/** What to do now. */
export type RolloutStep =
  | { action: "none" }
  | {
    action: "wait";
    reason: string;
    /** Whether the instances' polled statuses, not pod events, will tell when to go on. */
    poll: boolean;
  }
  | { action: "delete"; pod: V1Pod; role: "primary" | "standby"; reason: string }
  | { action: "switchover"; to: string; reason: string };

function nameOf(pod: V1Pod): string {
  return pod.metadata?.name ?? "";
}

function ordinalOf(pod: V1Pod): number {
  const match = /-(\d+)$/.exec(nameOf(pod));
  return match ? Number(match[1]) : -1;
}

function statusOf(polled: ReadonlyMap<string, Polled>, pod: V1Pod): InstanceStatus | undefined {
  const answer = polled.get(nameOf(pod));
  return answer && "status" in answer ? answer.status : undefined;
}

function byOrdinalDown(a: V1Pod, b: V1Pod): number {
  return ordinalOf(b) - ordinalOf(a);
}

function wait(reason: string, poll = false): RolloutStep {
  return { action: "wait", reason, poll };
}

/** Why nothing may be deleted now whatever the instances say, or undefined. */
function blockedByPods(input: RolloutInput): string | undefined {
  const deleted = input.deleted ?? new Set<string>();
  const terminating = input.pods.find((pod) =>
    pod.metadata?.deletionTimestamp || deleted.has(pod.metadata?.uid ?? "")
  );
  if (terminating) return `pod "${nameOf(terminating)}" is being deleted`;
  const extra = input.pods.find((pod) => ordinalOf(pod) >= input.replicas);
  if (extra) return `the StatefulSet removes pod "${nameOf(extra)}"`;
  const present = new Set(input.pods.map(ordinalOf));
  const missing = Array.from({ length: input.replicas }, (_, i) => i).find((i) => !present.has(i));
  if (missing !== undefined) return `the instance of ordinal ${missing} has no pod yet`;
  const { current, target } = input.primary;
  if (current !== target) return `the primary changes from "${current}" to "${target}"`;
  return undefined;
}

/** Why the instances are not all running, streaming and caught up, or undefined. */
function blockedByInstances(input: RolloutInput): { reason: string; poll: boolean } | undefined {
  const primary = input.primary.current;
  for (const pod of [...input.pods].sort(byOrdinalDown)) {
    const name = nameOf(pod);
    if (!podReady(pod)) return { reason: `pod "${name}" is not ready`, poll: false };
    const answer = input.polled.get(name);
    if (!answer || "error" in answer) {
      const why = answer ? `: ${answer.error}` : "";
      return { reason: `the manager of "${name}" does not answer${why}`, poll: true };
    }
    const { status } = answer;
    if (status.postgres !== "running") {
      return { reason: `PostgreSQL on "${name}" is ${status.postgres}`, poll: true };
    }
    const role = name === primary ? "primary" : "standby";
    if (status.role !== role) {
      return { reason: `"${name}" runs as ${status.role ?? "nothing"}, not ${role}`, poll: true };
    }
  }
  const primaryLsn = input.polled.get(primary);
  const lsn = primaryLsn && "status" in primaryLsn ? primaryLsn.status.currentLsn : undefined;
  for (const pod of input.pods) {
    const status = statusOf(input.polled, pod)!;
    if (nameOf(pod) === primary) continue;
    if (status.walReceiverStreaming !== true) {
      return { reason: `standby "${nameOf(pod)}" does not stream`, poll: true };
    }
    const lag = lsn && status.replayedLsn ? lsnLag(lsn, status.replayedLsn) : undefined;
    if (lag === undefined || lag > CAUGHT_UP_BYTES) {
      const behind = lag === undefined ? "an unknown distance" : `${lag} bytes`;
      return { reason: `standby "${nameOf(pod)}" has replayed ${behind} behind`, poll: true };
    }
  }
  return undefined;
}

function outdatedReason(pod: V1Pod, revision: string): string {
  const from = pod.metadata?.labels?.[POD_REVISION_LABEL] ?? "none";
  return `it runs revision "${from}" of the pod template, not "${revision}"`;
}

/** The pod to replace when no instance manager answers: see the module doc. */
function byReadiness(
  input: RolloutInput,
  outdated: V1Pod[],
  revision: string,
): RolloutStep {
  if (input.bootstrapped) return wait("no instance answers its status endpoint");
  const notReady = input.pods.find((pod) => !podReady(pod));
  if (notReady) return wait(`pod "${nameOf(notReady)}" is not ready`);
  const primary = input.primary.current;
  const next =
    [...outdated].sort((a, b) =>
      Number(nameOf(a) === primary) - Number(nameOf(b) === primary) || byOrdinalDown(a, b)
    )[0];
  return {
    action: "delete",
    pod: next,
    role: nameOf(next) === primary ? "primary" : "standby",
    reason: `${outdatedReason(next, revision)} (no instance answers: replaced by pod readiness)`,
  };
}

/** The most advanced standby: highest received LSN, then replayed LSN, then name. */
function mostAdvanced(input: RolloutInput): string {
  const standbys = input.pods
    .filter((pod) => nameOf(pod) !== input.primary.current)
    .map((pod) => ({ name: nameOf(pod), status: statusOf(input.polled, pod)! }));
  const held = (s: InstanceStatus) => s.receivedLsn ?? s.replayedLsn ?? "0/0";
  standbys.sort((a, b) =>
    compareLsn(held(b.status), held(a.status)) ||
    compareLsn(b.status.replayedLsn ?? "0/0", a.status.replayedLsn ?? "0/0") ||
    a.name.localeCompare(b.name)
  );
  return standbys[0].name;
}

/** The next step of the rolling update: see the module doc. */
export function nextRolloutStep(input: RolloutInput): RolloutStep {
  const set = input.statefulSet;
  const revision = set?.status?.updateRevision;
  if (!set || revision === undefined) return { action: "none" };
  if ((set.status?.observedGeneration ?? 0) < (set.metadata?.generation ?? 0)) {
    return wait("the StatefulSet controller has not seen the newest template yet");
  }
  const outdated = input.pods.filter((pod) =>
    ordinalOf(pod) < input.replicas && podOutdated(pod, revision)
  );
  if (outdated.length === 0) return { action: "none" };
  const pods = blockedByPods(input);
  if (pods) return wait(pods);
  if (!input.pods.some((pod) => statusOf(input.polled, pod))) {
    return byReadiness(input, outdated, revision);
  }
  const instances = blockedByInstances(input);
  if (instances) return wait(instances.reason, instances.poll);
  const primary = input.primary.current;
  const standby = outdated.filter((pod) => nameOf(pod) !== primary).sort(byOrdinalDown)[0];
  if (standby) {
    return {
      action: "delete",
      pod: standby,
      role: "standby",
      reason: `${outdatedReason(standby, revision)} (standbys first, one at a time)`,
    };
  }
  const primaryPod = outdated[0];
  if (input.method === "restart" || input.replicas < 2) {
    return {
      action: "delete",
      pod: primaryPod,
      role: "primary",
      reason: `${outdatedReason(primaryPod, revision)} (every standby replaced; ` +
        (input.replicas < 2 ? "a single instance restarts)" : "primaryUpdateMethod restart)"),
    };
  }
  const to = mostAdvanced(input);
  return {
    action: "switchover",
    to,
    reason: `rolling update: every standby runs the new pod template, "${primary}" does not`,
  };
}

/**
 * Whether the rolling update restarts the primary (`restart`, more than one instance): every
 * other pod is replaced and the primary's pod is being deleted from an outdated revision, is
 * gone, or is the new pod, not yet seen running as the primary (`primaryPodUid` is the pod
 * last seen so). `decidePrimary` then waits for it as for a crash.
 */
export function restartingPrimary(input: RolloutInput, primaryPodUid?: string): boolean {
  const revision = input.statefulSet?.status?.updateRevision;
  if (input.method !== "restart" || input.replicas < 2 || revision === undefined) return false;
  const name = input.primary.current;
  const others = input.pods.filter((pod) =>
    nameOf(pod) !== name && !pod.metadata?.deletionTimestamp
  );
  if (others.some((pod) => podOutdated(pod, revision))) return false;
  const pod = input.pods.find((p) => nameOf(p) === name);
  if (!pod) return true;
  if (pod.metadata?.deletionTimestamp) {
    return pod.metadata.labels?.[POD_REVISION_LABEL] !== revision;
  }
  return !podOutdated(pod, revision) && pod.metadata?.uid !== primaryPodUid;
}

/**
 * Carries out a delete step, with a Normal `RollingUpdate` event, unless this reconcile's
 * primary decision (`decided`) changed or moved the primary; `deleted` remembers the pod.
 */
export async function rollOut(
  resources: Resources,
  events: EventRecorder,
  object: KubeObject,
  step: RolloutStep,
  options: {
    decided: { current: string; target: string; changing: boolean };
    pods: readonly V1Pod[];
    deleted: Set<string>;
    signal?: AbortSignal;
  },
): Promise<void> {
  const { decided, deleted } = options;
  const live = new Set(options.pods.map((pod) => pod.metadata?.uid));
  for (const uid of deleted) if (!live.has(uid)) deleted.delete(uid);
  if (step.action !== "delete" || decided.changing || decided.current !== decided.target) return;
  const name = nameOf(step.pod);
  if ((step.role === "primary") !== (name === decided.current)) return;
  await resources.delete(Pods, name, {
    namespace: step.pod.metadata?.namespace,
    preconditionUid: step.pod.metadata?.uid,
    signal: options.signal,
  });
  deleted.add(step.pod.metadata?.uid ?? "");
  events.record(object, {
    type: "Normal",
    reason: "RollingUpdate",
    action: "Delete",
    note: `Deleted the pod of ${step.role} "${name}" to replace it: ${step.reason}`,
  });
}
