/**
 * Which instance is the primary: the operator's decision, as one pure
 * function of the cluster, its pods, what polling their managers gave and
 * the time. `status.targetPrimary` is the decision the instance managers act
 * on; `status.currentPrimary` is the instance that last confirmed it runs as
 * the primary. The two differ only while a change is under way:
 *
 * - **Failover**: the current primary's pod is gone or being deleted, or
 *   PostgreSQL on it has not run as the primary (not answering, stopped,
 *   starting), or its node has not been Ready, for `ha.failoverDelay`. A pod
 *   made anew counts as gone until it runs as the primary itself. With
 *   `ha.enabled` and a standby to take over, the target moves to the most
 *   advanced healthy standby on a Ready node: highest received LSN, then
 *   replayed LSN, on the primary's timeline, and within `ha.maxLagOnFailover`
 *   of the primary's last polled LSN when set. With synchronous replication
 *   of `required` durability, only when the standbys it can compare must
 *   include one that confirmed every commit.
 * - **Switchover**: the annotation `database.example.com/promote` names
 *   another instance. A request (the instance, with the time in
 *   `database.example.com/promote-at` when `dbop promote` asked) is acted on
 *   once: `status.promoteRequest` records it. The named instance must be a
 *   running standby that streams; until it is, the request waits. A rolling
 *   update (`rollout.ts`) asks for one the same way with `switchoverTo`,
 *   recorded nowhere: it asks again until the primary is that instance. So
 *   does a cordoned node (`spec.unschedulable`, the first step of `kubectl
 *   drain`): the primary moves to the most advanced streaming standby on a
 *   schedulable, Ready node, or, with none, waits (`SwitchoverWaiting`). The
 *   annotation goes first, then the cordon, then the rolling update.
 * - **Restart**: while a rolling update restarts the primary's pod
 *   (`restartingPrimary`), its pod being deleted or made anew is waited for
 *   `ha.failoverDelay`, like a crash, rather than failed over at once.
 * - **Completion**: once the target reports it runs as the primary, it
 *   becomes `currentPrimary`.
 *
 * The decision is only ever a status field: the old primary's manager stops
 * PostgreSQL when it is no longer the target, and the new one promotes only
 * once it holds the cluster's primary Lease, so a wrong or late decision here
 * cannot make two primaries.
 *
 * @module
 */
import type { V1Pod } from "@kubernetes/client-node";
import { compareLsn, type InstanceStatus, lsnLag } from "../api/mod.ts";
import type { Polled } from "./instances.ts";
import { initialPrimaryPodName } from "./names.ts";
import { type NodeStates, podNode } from "./nodes.ts";

/** What the decision reads. */
export interface PrimaryInput {
  cluster: string;
  replicas: number;
  ha: {
    enabled: boolean;
    failoverDelaySeconds: number;
    maxLagOnFailover?: bigint;
    /** With required durability: how many standbys confirm each commit. */
    synchronousRequired?: number;
  };
  status: {
    currentPrimary?: string;
    targetPrimary?: string;
    systemIdentifier?: string;
    promoteRequest?: string;
    /** The primary's last polled LSN and timeline (`status.instances`). */
    primaryLsn?: string;
    primaryTimeline?: number;
  };
  /** The value of the promote annotation, if any. */
  promoteRequest?: string;
  /** The instance a rolling update wants as the primary, if any. */
  switchoverTo?: string;
  /** Whether a rolling update is restarting the primary's pod on purpose. */
  restartingPrimary?: boolean;
  pods: readonly V1Pod[];
  polled: ReadonlyMap<string, Polled>;
  /** The nodes the pods are bound to. */
  nodes?: NodeStates;
  /** Since when (ms) the current primary has been seen not running as the primary. */
  downSince?: number;
  /**
   * The UID of the pod last seen running as the primary: a pod of the same name with another
   * UID is a new pod (the old one deleted, even forcibly), so the primary was lost.
   */
  primaryPodUid?: string;
  now: number;
}

/** A change of primary started by this decision. */
export interface PrimaryChange {
  kind: "failover" | "switchover";
  from: string;
  to: string;
  /** Why: the primary's state, or the request. */
  reason: string;
  /** The chosen standby's received and replayed LSN, and the old primary's last one. */
  receivedLsn?: string;
  replayedLsn?: string;
  primaryLsn?: string;
}

/** The decision. */
export interface PrimaryDecision {
  currentPrimary: string;
  targetPrimary: string;
  /** A change that starts now. */
  change?: PrimaryChange;
  /** The target that has just become the primary. */
  completed?: { primary: string; timeline?: number; lsn?: string };
  /** Why a needed change cannot happen (no standby to take over, a refused request). */
  blocked?: { reason: string; message: string };
  /** The promote annotation's value once acted on (or refused), for `status.promoteRequest`. */
  promoteRequest?: string;
  /** The new value of the down-since clock: undefined when the primary runs. */
  downSince?: number;
  /** When to decide again at the latest, while waiting for the failover delay. */
  recheckInMs?: number;
  /** The UID to remember as the primary's pod. */
  primaryPodUid?: string;
}

function answerOf(polled: ReadonlyMap<string, Polled>, pod: string): InstanceStatus | undefined {
  const answer = polled.get(pod);
  return answer && "status" in answer ? answer.status : undefined;
}

function live(pods: readonly V1Pod[], name: string): V1Pod | undefined {
  return pods.find((pod) => pod.metadata?.name === name && !pod.metadata.deletionTimestamp);
}

/** What a primary's manager waits for that no waiting resolves: its data is gone or foreign. */
export const PRIMARY_DATA_PROBLEMS = ["PrimaryDataLost", "SystemIdentifierMismatch"];

/**
 * Why the primary does not run as the primary, or undefined when it does; `lost` when no
 * waiting brings it back (its pod is gone, its data is), so the failover delay does not apply.
 */
function primaryTrouble(
  input: PrimaryInput,
  primary: string,
): { why: string; lost: boolean } | undefined {
  const pod = live(input.pods, primary);
  const restarting = input.restartingPrimary === true;
  if (!pod) return { why: `pod "${primary}" is gone or being deleted`, lost: !restarting };
  // Only a failover can act on it; without one, the new pod is simply the primary again.
  const canFailOver = input.ha.enabled && input.replicas > 1 && !restarting;
  const status = answerOf(input.polled, primary);
  const runs = status?.postgres === "running" && status.role === "primary";
  // A new pod that already runs as the primary (it holds the Lease) is kept: failing over
  // from it now would only cost another outage.
  if (
    canFailOver && !runs && input.primaryPodUid !== undefined &&
    pod.metadata?.uid !== input.primaryPodUid
  ) {
    return { why: `pod "${primary}" was deleted and made anew`, lost: true };
  }
  // A node that is not Ready is, as for CloudNativePG, a primary that is not ready: its
  // kubelet restarts nothing and its pods go after the not-ready toleration (300 s), but
  // PostgreSQL on it may still run, and a node briefly NotReady (a kubelet restart) should
  // cost no failover, so it waits ha.failoverDelay like a stopped PostgreSQL. Failing over
  // from a primary that still runs is safe: its manager stops PostgreSQL once it is not
  // the target, and the target promotes only once it holds the primary Lease.
  const node = podNode(input.nodes, pod);
  if (node && !node.state.ready) {
    return {
      why: `node "${node.name}" of "${primary}" is not Ready: ${node.state.condition}`,
      lost: false,
    };
  }
  const answer = input.polled.get(primary);
  if (answer === undefined) return { why: `pod "${primary}" has no IP`, lost: false };
  if ("error" in answer) {
    return { why: `the manager of "${primary}" does not answer: ${answer.error}`, lost: false };
  }
  if (status === undefined) return undefined;
  if (status.waiting && PRIMARY_DATA_PROBLEMS.includes(status.waiting.reason)) {
    return { why: `"${primary}" ${status.waiting.reason}: ${status.waiting.message}`, lost: true };
  }
  if (status.postgres !== "running") {
    return { why: `PostgreSQL on "${primary}" is ${status.postgres}`, lost: false };
  }
  if (status.role !== "primary") {
    return { why: `"${primary}" runs as a ${status.role ?? "stopped"} server`, lost: false };
  }
  return undefined;
}

interface Candidate {
  name: string;
  status: InstanceStatus;
  /** The furthest WAL it holds: received, else replayed. */
  held: string;
}

/** The standbys fit to become the primary, best first. */
export function failoverCandidates(
  input: PrimaryInput,
  exclude: string,
): { candidates: Candidate[]; rejected: string[] } {
  const rejected: string[] = [];
  const candidates: Candidate[] = [];
  for (const pod of input.pods) {
    const name = pod.metadata?.name ?? "";
    if (name === exclude || pod.metadata?.deletionTimestamp) continue;
    const status = answerOf(input.polled, name);
    const held = status?.receivedLsn ?? status?.replayedLsn;
    const { systemIdentifier, primaryLsn, primaryTimeline } = input.status;
    const maxLag = input.ha.maxLagOnFailover;
    const node = podNode(input.nodes, pod);
    let why: string | undefined;
    if (!status) why = "does not answer";
    else if (node && !node.state.ready) why = `is on node "${node.name}", which is not Ready`;
    else if (status.postgres !== "running" || status.role !== "standby") {
      why = "is not a running standby";
    } else if (status.waiting && PRIMARY_DATA_PROBLEMS.includes(status.waiting.reason)) {
      why = `waits: ${status.waiting.reason}`;
    } else if (systemIdentifier && status.systemIdentifier !== systemIdentifier) {
      why = "holds another database";
    } else if (held === undefined) why = "reports no WAL position";
    else if (primaryTimeline !== undefined && status.timeline !== primaryTimeline) {
      why = `is on timeline ${status.timeline}, not the primary's ${primaryTimeline}`;
    } else if (
      maxLag !== undefined && primaryLsn !== undefined && compareLsn(primaryLsn, held) > 0 &&
      lsnLag(primaryLsn, held) > maxLag
    ) {
      why = `lags ${lsnLag(primaryLsn, held)} bytes behind, more than ha.maxLagOnFailover`;
    }
    if (why) rejected.push(`"${name}" ${why}`);
    else candidates.push({ name, status: status!, held: held! });
  }
  candidates.sort((a, b) =>
    compareLsn(b.held, a.held) ||
    compareLsn(b.status.replayedLsn ?? "0/0", a.status.replayedLsn ?? "0/0") ||
    a.name.localeCompare(b.name)
  );
  return { candidates, rejected };
}

/**
 * Why promoting any of the `seen` candidates could lose an acknowledged commit, if it could.
 * With `number` of the `replicas - 1` standbys confirming each commit, the confirmers of
 * every commit include one of any `replicas - number` standbys (R + W > N): then the most
 * advanced of those holds every acknowledged commit.
 */
export function synchronousQuorumProblem(input: PrimaryInput, seen: number): string | undefined {
  const number = input.ha.synchronousRequired;
  if (number === undefined) return undefined;
  const standbys = input.replicas - 1;
  if (seen + number > standbys) return undefined;
  return `only ${seen} of ${standbys} standbys can be compared, and with ${number} ` +
    `synchronous one of the others may hold acknowledged commits; waiting for ` +
    `${standbys - number + 1 - seen} more`;
}

function isInstance(input: PrimaryInput, name: string): boolean {
  const match = /^(.*)-(\d+)$/.exec(name);
  return match !== null && match[1] === input.cluster && Number(match[2]) < input.replicas;
}

/** Decides the primary: see the module doc. */
export function decidePrimary(input: PrimaryInput): PrimaryDecision {
  const initial = initialPrimaryPodName(input.cluster);
  const target = input.status.targetPrimary ?? input.status.currentPrimary ?? initial;
  const current = input.status.currentPrimary ?? target;
  if (target !== current) {
    const status = answerOf(input.polled, target);
    const pod = live(input.pods, target);
    if (pod && status?.postgres === "running" && status.role === "primary") {
      return {
        currentPrimary: target,
        targetPrimary: target,
        completed: { primary: target, timeline: status.timeline, lsn: status.currentLsn },
        primaryPodUid: pod.metadata?.uid,
      };
    }
    return { currentPrimary: current, targetPrimary: target };
  }
  const trouble = primaryTrouble(input, current);
  const request = input.promoteRequest;
  const running = trouble ? input.primaryPodUid : live(input.pods, current)?.metadata?.uid;
  if (!trouble && request !== undefined && request !== input.status.promoteRequest) {
    return { ...switchover(input, current, request), primaryPodUid: running };
  }
  const drain = trouble ? undefined : cordonedSwitchover(input, current);
  if (drain) return { ...drain, primaryPodUid: running };
  if (!trouble && input.switchoverTo !== undefined && input.switchoverTo !== current) {
    const to = input.switchoverTo;
    const why = `the rolling update replaces the primary's pod, "${to}" runs the new one`;
    const { promoteRequest: _, ...decision } = switchover(input, current, to, why);
    return { ...decision, primaryPodUid: running };
  }
  if (!trouble) return { currentPrimary: current, targetPrimary: target, primaryPodUid: running };
  const downSince = input.downSince ?? input.now;
  const delayMs = input.ha.failoverDelaySeconds * 1000;
  if (!trouble.lost && input.now - downSince < delayMs) {
    return {
      currentPrimary: current,
      targetPrimary: target,
      downSince,
      recheckInMs: delayMs - (input.now - downSince),
    };
  }
  // No instance has ever reported a system identifier, so no standby holds data that could
  // take over: the first primary is still coming up (or its pods run no instance manager).
  if (!input.ha.enabled || input.replicas < 2 || input.status.systemIdentifier === undefined) {
    return { currentPrimary: current, targetPrimary: target, downSince };
  }
  const { candidates, rejected } = failoverCandidates(input, current);
  const best = candidates[0];
  const quorum = synchronousQuorumProblem(input, candidates.length);
  if (best && quorum) {
    return {
      currentPrimary: current,
      targetPrimary: target,
      downSince,
      blocked: {
        reason: "NoFailoverQuorum",
        message: `The primary is lost (${trouble.why}); ${quorum}`,
      },
    };
  }
  if (!best) {
    return {
      currentPrimary: current,
      targetPrimary: target,
      downSince,
      blocked: {
        reason: "NoFailoverCandidate",
        message: `The primary is lost (${trouble.why}) and no standby can take over: ` +
          (rejected.join("; ") || "there is none"),
      },
    };
  }
  return {
    currentPrimary: current,
    targetPrimary: best.name,
    change: {
      kind: "failover",
      from: current,
      to: best.name,
      reason: trouble.why,
      receivedLsn: best.status.receivedLsn,
      replayedLsn: best.status.replayedLsn,
      primaryLsn: input.status.primaryLsn,
    },
  };
}

/**
 * The switchover a cordoned primary node asks for (a drain will evict the primary's pod next,
 * once the disruption budget allows it), to the most advanced streaming standby on a
 * schedulable, Ready node; or why it waits. Undefined when the node is not cordoned.
 */
function cordonedSwitchover(input: PrimaryInput, current: string): PrimaryDecision | undefined {
  if (!input.ha.enabled || input.replicas < 2) return undefined;
  const node = podNode(input.nodes, live(input.pods, current));
  if (!node?.state.unschedulable) return undefined;
  const why = `node "${node.name}" of the primary is cordoned (spec.unschedulable)`;
  const { candidates, rejected } = failoverCandidates(input, current);
  const podOf = (name: string) => input.pods.find((pod) => pod.metadata?.name === name);
  for (const candidate of candidates) {
    const on = podNode(input.nodes, podOf(candidate.name));
    if (candidate.status.walReceiverStreaming !== true) {
      rejected.push(`"${candidate.name}" does not stream`);
    } else if (on?.state.unschedulable) {
      rejected.push(`"${candidate.name}" is on cordoned node "${on.name}"`);
    } else {
      const { promoteRequest: _, ...decision } = switchover(input, current, candidate.name, why);
      return decision;
    }
  }
  return {
    currentPrimary: current,
    targetPrimary: current,
    blocked: {
      reason: "SwitchoverWaiting",
      message: `The primary stays on "${node.name}": ${why}, and no standby can take over ` +
        `on a schedulable, Ready node: ${rejected.join("; ") || "there is none"}`,
    },
  };
}

function switchover(
  input: PrimaryInput,
  current: string,
  key: string,
  why?: string,
): PrimaryDecision {
  const stay = { currentPrimary: current, targetPrimary: current };
  const request = key.split("@")[0];
  if (request === current) return { ...stay, promoteRequest: key };
  if (!isInstance(input, request)) {
    return {
      ...stay,
      promoteRequest: key,
      blocked: {
        reason: "PromoteRefused",
        message: `Cannot promote "${request}": it is not an instance of "${input.cluster}"`,
      },
    };
  }
  const { candidates, rejected } = failoverCandidates(input, current);
  const chosen = candidates.find((c) => c.name === request);
  if (!chosen || chosen.status.walReceiverStreaming !== true) {
    const waits = rejected.find((r) => r.startsWith(`"${request}"`)) ??
      `"${request}" does not stream from the primary`;
    return {
      ...stay,
      blocked: { reason: "PromoteWaiting", message: `Promotion waits: ${waits}` },
    };
  }
  return {
    currentPrimary: current,
    targetPrimary: request,
    promoteRequest: key,
    change: {
      kind: "switchover",
      from: current,
      to: request,
      reason: why ?? `asked to promote "${request}"`,
      receivedLsn: chosen.status.receivedLsn,
      replayedLsn: chosen.status.replayedLsn,
      primaryLsn: input.status.primaryLsn,
    },
  };
}

/** An Event to record about a decision (the recorder is the caller's). */
export interface PrimaryEvent {
  type: "Normal" | "Warning";
  reason: string;
  note: string;
}

/**
 * The Events a decision is worth: a change that starts, one that completed, and a block
 * when it is new (`previousBlock` is the reason last reported for this cluster).
 */
export function primaryEvents(decision: PrimaryDecision, previousBlock?: string): PrimaryEvent[] {
  const events: PrimaryEvent[] = [];
  const { change, completed, blocked } = decision;
  if (change) {
    const lsns = [
      change.primaryLsn && `the primary was last seen at ${change.primaryLsn}`,
      change.receivedLsn && `"${change.to}" has received ${change.receivedLsn}`,
      change.replayedLsn && `replayed ${change.replayedLsn}`,
    ].filter(Boolean).join(", ");
    events.push({
      type: change.kind === "failover" ? "Warning" : "Normal",
      reason: change.kind === "failover" ? "FailoverStarted" : "SwitchoverStarted",
      note: `Promoting "${change.to}" in place of "${change.from}": ${change.reason}` +
        (lsns ? `; ${lsns}` : ""),
    });
  }
  if (completed) {
    events.push({
      type: "Normal",
      reason: "PrimaryPromoted",
      note: `"${completed.primary}" is the primary` +
        (completed.timeline ? ` on timeline ${completed.timeline}` : "") +
        (completed.lsn ? ` at ${completed.lsn}` : ""),
    });
  }
  if (blocked && blocked.reason !== previousBlock) {
    events.push({ type: "Warning", reason: blocked.reason, note: blocked.message });
  }
  return events;
}
