/**
 * The status computer: a pure function from a cluster and what the reconcile
 * observed (its StatefulSet, instance pods, data volume claims, backup Jobs,
 * and the problems it found) to the `status` to store. Readiness comes from
 * the pods (Running with every container ready), never from what dbop asked
 * for. The previous status (on the cluster) tells creation from degradation
 * and keeps transition times and the last backup.
 *
 * Phases, first match wins: Deleting (deletion requested); Failed (a problem
 * the user must fix, e.g. UpgradeBlocked); Pending (nothing created yet);
 * Creating (never yet fully ready); Updating (rolling out, scaling or growing
 * volumes); Degraded (an instance or the primary not ready); Running.
 *
 * @module
 */
import type { V1Job, V1PersistentVolumeClaim, V1Pod, V1StatefulSet } from "@kubernetes/client-node";
import {
  CONDITION_TYPES,
  type DatabaseCluster,
  type DatabaseClusterStatus,
  type Phase,
  PHASES,
} from "../api/mod.ts";
import { type ConditionUpdate, findCondition, formatTime, nextCondition } from "./conditions.ts";
import {
  ANNOTATIONS,
  formatSelector,
  initialPrimaryPodName,
  instanceSelector,
  LABELS,
  POD_REVISION_LABEL,
  readOnlyServiceName,
  readWriteServiceName,
  ROLES,
  serviceDnsName,
} from "./names.ts";

/** A problem the reconcile found that the user must fix: it fails the cluster with this reason. */
export interface StatusProblem {
  /** CamelCase reason, e.g. `UpgradeBlocked`. */
  reason: string;
  message: string;
}

/** What the reconcile observed. Lists hold only this cluster's objects (by label). */
export interface ObservedState {
  statefulSet?: V1StatefulSet;
  /** The instance pods. */
  pods: readonly V1Pod[];
  /** The data volume claims; one still resizing makes the cluster Updating. */
  claims?: readonly V1PersistentVolumeClaim[];
  /** The backup Jobs; the newest finished one decides BackupReady. */
  backupJobs?: readonly V1Job[];
  /** Problems the user must fix (phase Failed, Ready=False with the first one's reason). */
  problems?: readonly StatusProblem[];
  /** Facts that change nothing but are worth telling (e.g. no PodMonitor CRD): added to the message. */
  notices?: readonly string[];
  /** The primary as decided (`primary.ts`); without it, the pod labelled primary or ordinal 0. */
  primary?: { current: string; target: string; promoteRequest?: string };
}

/** Whether a pod counts as a ready instance: Running, not terminating, every container ready. */
export function podReady(pod: V1Pod): boolean {
  const statuses = pod.status?.containerStatuses ?? [];
  return pod.status?.phase === "Running" && !pod.metadata?.deletionTimestamp &&
    statuses.length > 0 && statuses.every((status) => status.ready);
}

/** Why a pod is not ready, in a word: a container's waiting reason, unschedulable, or its phase. */
function notReadyReason(pod: V1Pod): string {
  const statuses = [
    ...(pod.status?.initContainerStatuses ?? []),
    ...(pod.status?.containerStatuses ?? []),
  ];
  const waiting = statuses.find((status) => status.state?.waiting?.reason)?.state?.waiting?.reason;
  if (waiting) return waiting;
  const scheduled = pod.status?.conditions?.find((condition) => condition.type === "PodScheduled");
  if (scheduled?.status === "False") return scheduled.reason ?? "Unschedulable";
  if (pod.metadata?.deletionTimestamp) return "Terminating";
  return pod.status?.phase === "Running" ? "NotReady" : pod.status?.phase ?? "Pending";
}

/** The facts the phase and conditions are decided from. */
interface Health {
  desired: number;
  live: V1Pod[];
  ready: number;
  primary: string;
  primaryReady: boolean;
  rollingOut: boolean;
  scaling: boolean;
  growingVolumes: boolean;
  established: boolean;
}

/** Whether a live pod was made from an older pod template than the StatefulSet's newest. */
export function podOutdated(pod: V1Pod, updateRevision: string): boolean {
  return !pod.metadata?.deletionTimestamp &&
    pod.metadata?.labels?.[POD_REVISION_LABEL] !== updateRevision;
}

/**
 * Whether pods are still to be replaced. The StatefulSet updates on delete, so its
 * `currentRevision` never catches up with `updateRevision`: the pods' revisions tell.
 */
function rollingOut(
  statefulSet: V1StatefulSet | undefined,
  pods: readonly V1Pod[],
  desired: number,
): boolean {
  if (!statefulSet) return false;
  const status = statefulSet.status;
  const revision = status?.updateRevision;
  return (status?.observedGeneration ?? 0) < (statefulSet.metadata?.generation ?? 0) ||
    (revision !== undefined && pods.some((pod) => podOutdated(pod, revision))) ||
    (status?.updatedReplicas ?? 0) < Math.min(desired, statefulSet.spec?.replicas ?? desired);
}

function resizing(claim: V1PersistentVolumeClaim): boolean {
  return (claim.status?.conditions ?? []).some((condition) =>
    (condition.type === "Resizing" || condition.type === "FileSystemResizePending") &&
    condition.status === "True"
  );
}

function health(cluster: DatabaseCluster, observed: ObservedState): Health {
  const name = cluster.metadata.name;
  const desired = cluster.spec.replicas;
  const live = observed.pods.filter((pod) => !pod.metadata?.deletionTimestamp);
  const labelled = live.find((pod) => pod.metadata?.labels?.[LABELS.role] === ROLES.primary);
  const primary = observed.primary?.current ?? labelled?.metadata?.name ??
    initialPrimaryPodName(name);
  const primaryPod = live.find((pod) => pod.metadata?.name === primary);
  const previous = cluster.status?.phase;
  return {
    desired,
    live,
    ready: live.filter(podReady).length,
    primary,
    primaryReady: primaryPod !== undefined && podReady(primaryPod),
    rollingOut: rollingOut(observed.statefulSet, live, desired),
    scaling: live.length !== desired,
    growingVolumes: (observed.claims ?? []).some(resizing),
    // Once the cluster has run, missing readiness is degradation, not creation.
    established: previous === PHASES.running || previous === PHASES.updating ||
      previous === PHASES.degraded || previous === PHASES.failed,
  };
}

function phaseOf(cluster: DatabaseCluster, observed: ObservedState, h: Health): Phase {
  if (cluster.metadata.deletionTimestamp) return PHASES.deleting;
  if ((observed.problems ?? []).length > 0) return PHASES.failed;
  const allReady = h.ready >= h.desired && h.primaryReady;
  if (!h.established) {
    if (!observed.statefulSet || h.live.length === 0) return PHASES.pending;
    return allReady && !h.rollingOut && !h.scaling ? PHASES.running : PHASES.creating;
  }
  if (h.rollingOut || h.scaling || h.growingVolumes) return PHASES.updating;
  return allReady ? PHASES.running : PHASES.degraded;
}

function updatingReason(h: Health): string {
  if (h.scaling) return "Scaling";
  if (h.rollingOut) return "RollingUpdate";
  return "ExpandingVolumes";
}

function conditionUpdates(phase: Phase, h: Health, observed: ObservedState, message: string) {
  const problem = observed.problems?.[0];
  const degraded = h.established && !h.rollingOut && !h.scaling &&
    (h.ready < h.desired || !h.primaryReady);
  const degradedReason = h.primaryReady ? "InstancesNotReady" : "PrimaryNotReady";
  const progressing = phase === PHASES.pending || phase === PHASES.creating ||
    phase === PHASES.updating;
  const readyReason: Record<Phase, string> = {
    Pending: "Creating",
    Creating: "Creating",
    Running: "ClusterReady",
    Updating: updatingReason(h),
    Degraded: degradedReason,
    Failed: problem?.reason ?? "Failed",
    Deleting: "Deleting",
  };
  const progressingReason = phase === PHASES.updating
    ? updatingReason(h)
    : progressing
    ? "Creating"
    : phase === PHASES.failed || phase === PHASES.deleting
    ? readyReason[phase]
    : "Converged";
  const bool = (value: boolean) => value ? "True" as const : "False" as const;
  const updates: ConditionUpdate[] = [
    {
      type: CONDITION_TYPES.ready,
      status: bool(phase === PHASES.running),
      reason: readyReason[phase],
      message,
    },
    {
      type: CONDITION_TYPES.progressing,
      status: bool(progressing),
      reason: progressingReason,
      message,
    },
    {
      type: CONDITION_TYPES.degraded,
      status: bool(degraded),
      reason: degraded ? degradedReason : "InstancesReady",
      message: degraded ? message : `${h.ready}/${h.desired} instances ready`,
    },
  ];
  return updates;
}

function jobTime(job: V1Job): string | undefined {
  const time = job.status?.completionTime ?? job.metadata?.creationTimestamp;
  return time === undefined ? undefined : formatTime(time as Date | string);
}

function jobOutcome(job: V1Job): "succeeded" | "failed" | undefined {
  const conditions = job.status?.conditions ?? [];
  const holds = (type: string) => conditions.some((c) => c.type === type && c.status === "True");
  if (holds("Complete") || holds("SuccessCriteriaMet")) return "succeeded";
  if (holds("Failed") || holds("FailureTarget")) return "failed";
  return undefined;
}

/** The newest finished backup Job decides BackupReady; the newest successful one is lastBackup. */
function backupStatus(cluster: DatabaseCluster, jobs: readonly V1Job[]) {
  const finished = jobs
    .filter((job) => jobOutcome(job) !== undefined)
    .sort((a, b) => (jobTime(a) ?? "").localeCompare(jobTime(b) ?? ""));
  const latest = finished.at(-1);
  const succeeded = finished.filter((job) => jobOutcome(job) === "succeeded").at(-1);
  const lastBackup = succeeded
    ? { name: succeeded.metadata?.name ?? "", completionTime: jobTime(succeeded) ?? "" }
    : cluster.status?.lastBackup;
  let update: ConditionUpdate | undefined;
  if (latest && jobOutcome(latest) === "succeeded") {
    const message = `Backup "${latest.metadata?.name}" completed at ${jobTime(latest)}`;
    update = {
      type: CONDITION_TYPES.backupReady,
      status: "True",
      reason: "BackupSucceeded",
      message,
    };
  } else if (latest) {
    const failure = latest.status?.conditions?.find((c) => c.type === "Failed")?.message;
    const message = `Backup "${latest.metadata?.name}" failed${failure ? `: ${failure}` : ""}`;
    update = {
      type: CONDITION_TYPES.backupReady,
      status: "False",
      reason: "BackupFailed",
      message,
    };
  }
  return { update, lastBackup };
}

function summary(phase: Phase, h: Health, observed: ObservedState): string {
  const notices = observed.notices ?? [];
  let text: string;
  if (phase === PHASES.deleting) text = "Cluster is being deleted";
  else if (phase === PHASES.failed) {
    text = (observed.problems ?? []).map((p) => p.message).join("; ");
  } else {
    text = `${h.ready}/${h.desired} instances ready, primary "${h.primary}"`;
    const waiting = h.live.filter((pod) => !podReady(pod))
      .map((pod) => `${pod.metadata?.name}: ${notReadyReason(pod)}`)
      .sort();
    if (waiting.length > 0) text += `; not ready: ${waiting.join(", ")}`;
  }
  return [text, ...notices].join("; ");
}

/** The status to store for a cluster, given what was observed and the time now. */
export function computeStatus(
  cluster: DatabaseCluster,
  observed: ObservedState,
  options: { now: Date },
): DatabaseClusterStatus {
  const name = cluster.metadata.name;
  const namespace = cluster.metadata.namespace ?? "";
  const h = health(cluster, observed);
  const phase = phaseOf(cluster, observed, h);
  const message = summary(phase, h, observed);
  const previous = cluster.status?.conditions;
  const generation = cluster.metadata.generation;
  const updates = conditionUpdates(phase, h, observed, message);
  const backup = backupStatus(cluster, observed.backupJobs ?? []);
  if (cluster.spec.backup.enabled) {
    updates.push(
      backup.update ?? findCondition(previous, CONDITION_TYPES.backupReady) ?? {
        type: CONDITION_TYPES.backupReady,
        status: "Unknown",
        reason: "NoBackupYet",
        message: `No backup has completed yet; schedule "${cluster.spec.backup.schedule}"`,
      },
    );
  }
  const endpoints: { rw: string; ro?: string } = {
    rw: serviceDnsName(readWriteServiceName(name), namespace),
  };
  if (h.desired > 1) endpoints.ro = serviceDnsName(readOnlyServiceName(name), namespace);
  const status: DatabaseClusterStatus = {
    phase,
    replicas: h.live.length,
    readyReplicas: h.ready,
    readyDisplay: `${h.ready}/${h.desired}`,
    selector: formatSelector(instanceSelector(name)),
    currentPrimary: h.primary,
    targetPrimary: observed.primary?.target ?? h.primary,
    message,
    conditions: updates.map((update) =>
      nextCondition(previous, update, { now: options.now, generation })
    ),
    endpoints,
  };
  if (observed.primary?.promoteRequest) status.promoteRequest = observed.primary.promoteRequest;
  if (generation !== undefined) status.observedGeneration = generation;
  if (backup.lastBackup) status.lastBackup = backup.lastBackup;
  const running = observed.statefulSet?.metadata?.annotations?.[ANNOTATIONS.version];
  if (running) status.currentVersion = running;
  return status;
}
