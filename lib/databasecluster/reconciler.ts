/**
 * The DatabaseCluster reconciler: level-based and thin. Each run reads the
 * cluster and its children from the cache, validates the spec, lets the
 * finalizer decide between apply and cleanup, and for apply: refuses a major
 * upgrade (condition, event, TerminalError; nothing is changed), holds the
 * StatefulSet back while the user's `existingSecret` is missing (condition,
 * event; the other children are still applied), builds the
 * desired children, hands regenerated passwords to the primary before their
 * Secrets are written (`rotation.ts`), server-side applies only the children
 * that differ from the cache (a write the API server refuses is a condition
 * and one event, and is not sent again until it or its object changes:
 * `refusals.ts`; the other children are still applied), removes optional
 * children no longer wanted, labels pod roles, polls the instances
 * (`instances.ts`), replaces the next outdated pod of a rolling update
 * (`rollout.ts`) or else restarts the next instance whose settings need it
 * (`restarts.ts`), grows volumes, and writes status only when it changed.
 * Events are tied to writes and transitions, so a converged cluster causes no
 * writes and no events.
 *
 * @module
 */
import type {
  KubernetesObject,
  V1PersistentVolumeClaim,
  V1Pod,
  V1StatefulSet,
} from "@kubernetes/client-node";
import {
  DATABASE_CLUSTER_API_VERSION,
  type DatabaseCluster,
  InvalidDatabaseClusterError,
  majorOf,
  parseDatabaseCluster,
} from "../api/mod.ts";
import { isRefusal, type Resources } from "../kube/mod.ts";
import { StatefulSets } from "./kinds.ts";
import {
  type Clock,
  type EventInfo,
  type EventRecorder,
  type ReconcileContext,
  type Reconciler,
  type ReconcileResult,
  TerminalError,
  withFinalizer,
} from "../runtime/mod.ts";
import { applyChildren, deleteUnwanted } from "./apply.ts";
import {
  type Children,
  type ClusterCache,
  type ClusterObject,
  DatabaseClusters,
  secretByName,
} from "./cache.ts";
import { nextCondition, statusEqual } from "./conditions.ts";
import { desiredChildren } from "./desired.ts";
import type { ClusterMetrics } from "./metrics.ts";
import { CHANGE_REFUSED, refusalProblem, Refusals } from "./refusals.ts";
import { rotatePasswords } from "./rotation.ts";
import {
  instancesSettled,
  type Polled,
  pollInstances,
  type PollOptions,
  summarizeInstances,
} from "./instances.ts";
import { type NodeState, nodeState, type NodeStates } from "./nodes.ts";
import { restartPending } from "./restarts.ts";
import { nextRolloutStep, restartingPrimary, rollOut, type RolloutInput } from "./rollout.ts";
import {
  decidePrimary,
  PRIMARY_DATA_PROBLEMS,
  type PrimaryDecision,
  primaryEvents,
} from "./primary.ts";
import {
  ANNOTATIONS,
  COMPONENTS,
  FINALIZER,
  initialPrimaryPodName,
  LABELS,
  ROLES,
  statusTokenSecretName,
} from "./names.ts";
import { statusTokenFromSecret } from "./passwords.ts";
import { STATUS_PORT } from "./specs/instance_pod.ts";
import { cleanUpVolumes } from "./deletion.ts";
import { labelPodRoles } from "./pod_roles.ts";
import { expandVolumes, type Expansion, plannedExpansions } from "./volume_expansion.ts";
import { computeStatus, type StatusProblem } from "./status.ts";

/** What the reconciler needs. */
export interface ReconcilerDeps {
  resources: Resources;
  cache: ClusterCache;
  events: EventRecorder;
  metrics: ClusterMetrics;
  clock: Clock;
  /** Whether the PodMonitor CRD is installed. */
  podMonitorCrd: () => boolean;
  /** dbop's image, from which the instances copy the instance manager. */
  instanceImage?: string;
  /** How often a settled cluster's instances are polled. */
  instanceStatusPeriodMs: number;
}

/** Longest wait before a reconcile that only checks certificate renewal. */
const MAX_REQUEUE_MS = 12 * 60 * 60 * 1000;

/** How often instances are polled while one of them is not settled. */
const UNSETTLED_POLL_MS = 2000;

/** How long a reconcile waits for the first list of a user's Secret it reads. */
const SECRET_WATCH_WAIT_MS = 200;

/** Blocked failovers: the cluster has no primary until a human or a standby acts. */
const FAILOVER_BLOCKS = ["NoFailoverCandidate", "NoFailoverQuorum"];

/** How often instances are polled while the primary is down or changing. */
const PRIMARY_CHANGE_POLL_MS = 500;

/** Per status request: an instance that takes longer is listed as not answering. */
const POLL_TIMEOUT_MS = 2000;

type Status = NonNullable<DatabaseCluster["status"]>;

/** The reconcile function of the DatabaseCluster controller. */
export function databaseClusterReconciler(deps: ReconcilerDeps): Reconciler {
  const restartsAsked = new Map<string, string | undefined>();
  const primaries = new Map<string, PrimaryMemory>();
  const deletedPods = new Map<string, Set<string>>();
  const refusals = new Refusals();
  return async (request, context) => {
    const cached = deps.cache.cluster(request.namespace, request.name);
    if (!cached) return {};
    const object: ClusterObject = {
      ...cached,
      apiVersion: cached.apiVersion ?? DATABASE_CLUSTER_API_VERSION,
      kind: cached.kind ?? "DatabaseCluster",
    };
    let cluster: DatabaseCluster;
    try {
      cluster = parseDatabaseCluster(object);
    } catch (error) {
      if (!(error instanceof InvalidDatabaseClusterError)) throw error;
      deps.events.record(object, warning("InvalidSpec", "Validate", error.message));
      throw new TerminalError(error.message);
    }
    const result = await withFinalizer(deps.resources, object, {
      type: DatabaseClusters,
      finalizer: FINALIZER,
      signal: context.signal,
      apply: () =>
        applyCluster(deps, object, cluster, context, {
          restartsAsked,
          primaries,
          deletedPods,
          refusals,
        }).catch((error) => reportRefusal(deps, object, cluster, error)),
      cleanup: () => {
        refusals.forget(clusterKeyOf(cluster));
        return cleanUpCluster(deps, object, cluster, context);
      },
      cleanupDone: (result) => result.requeueAfter === undefined,
    });
    return result ?? {};
  };
}

function clusterKeyOf(cluster: DatabaseCluster): string {
  return cluster.metadata.uid ?? `${cluster.metadata.namespace}/${cluster.metadata.name}`;
}

/**
 * A refusal outside the children's writes (a status write, a pod label, a deletion): the
 * condition and event, and no retry until the cluster or a child changes. Other errors
 * pass through, to be retried with backoff.
 */
async function reportRefusal(
  deps: ReconcilerDeps,
  object: ClusterObject,
  cluster: DatabaseCluster,
  error: unknown,
): Promise<never> {
  if (!isRefusal(error)) throw error;
  const problem = { reason: CHANGE_REFUSED, message: error.message };
  deps.events.record(object, warning(problem.reason, "Reconcile", problem.message));
  const { namespace, name } = cluster.metadata as { namespace: string; name: string };
  await writeStatus(deps, object, cluster, deps.cache.children(namespace, name), {
    now: new Date(deps.clock.now()),
    problems: [problem],
  });
  throw new TerminalError(problem.message, { cause: error });
}

/**
 * The backup volume's growth where its class cannot expand: the desired claim keeps the
 * live size (the API server would refuse it), and the expansion is reported as stuck.
 */
function holdBackupGrowth(
  deps: ReconcilerDeps,
  desired: KubernetesObject[],
  children: Children,
): Expansion[] {
  const claim = desired.find((o) => o.kind === "PersistentVolumeClaim") as
    | V1PersistentVolumeClaim
    | undefined;
  const live = children.persistentVolumeClaims.find((c) =>
    c.metadata?.name === claim?.metadata?.name
  );
  const size = claim?.spec?.resources?.requests?.storage;
  if (!claim || !live || size === undefined) return [];
  const stuck = plannedExpansions([live], String(size), (n) => deps.cache.storageClass(n))
    .filter((e) => e.blocked !== undefined);
  if (stuck.length > 0) claim.spec!.resources!.requests!.storage = stuck[0].from;
  return stuck;
}

function warning(reason: string, action: string, note: string): EventInfo {
  return { type: "Warning", reason, action, note };
}

function normal(reason: string, action: string, note: string): EventInfo {
  return { type: "Normal", reason, action, note };
}

/** A major version change the running cluster cannot take yet. */
function majorUpgradeProblem(
  cluster: DatabaseCluster,
  children: Children,
): StatusProblem | undefined {
  const running = children.statefulSets[0]?.metadata?.annotations?.[ANNOTATIONS.version];
  if (!running || majorOf(running) === majorOf(cluster.spec.version)) return undefined;
  return {
    reason: "UpgradeBlocked",
    message:
      `Cannot change the major version of "${cluster.metadata.name}" in place: from "${running}" ` +
      `to "${cluster.spec.version}"; major upgrades are not supported yet, so nothing was changed`,
  };
}

/** A missing or incomplete `existingSecret`; `"unknown"` while its watch has not listed yet. */
function existingSecretProblem(
  deps: ReconcilerDeps,
  cluster: DatabaseCluster,
): StatusProblem | undefined | "unknown" {
  const name = cluster.spec.security.authentication.existingSecret;
  if (!name) return undefined;
  const secret = deps.cache.userSecret(cluster.metadata.namespace!, name);
  if (secret === "unknown") return secret;
  const missing = ["username", "password"].filter((key) => !secret?.data?.[key]);
  if (secret && missing.length === 0) return undefined;
  return {
    reason: "SecretNotFound",
    message: secret
      ? `Secret "${name}" lacks ${missing.map((k) => `"${k}"`).join(" and ")}`
      : `Secret "${name}" named by security.authentication.existingSecret does not exist`,
  };
}

async function applyCluster(
  deps: ReconcilerDeps,
  object: ClusterObject,
  cluster: DatabaseCluster,
  context: ReconcileContext,
  memory: {
    restartsAsked: Map<string, string | undefined>;
    primaries: Map<string, PrimaryMemory>;
    /** By cluster UID: the pods the rolling update asked to delete. */
    deletedPods: Map<string, Set<string>>;
    refusals: Refusals;
  },
): Promise<ReconcileResult> {
  const { restartsAsked, primaries, deletedPods } = memory;
  const { namespace, name } = cluster.metadata as { namespace: string; name: string };
  const now = new Date(deps.clock.now());
  const children = deps.cache.children(namespace, name);
  const secretProblem = existingSecretProblem(deps, cluster);
  // Its watch starts with the cluster's first event: it lists at once.
  if (secretProblem === "unknown") return { requeueAfter: SECRET_WATCH_WAIT_MS };
  const blocked = majorUpgradeProblem(cluster, children);
  if (blocked) {
    await writeStatus(deps, object, cluster, children, { now, problems: [blocked] });
    deps.events.record(object, warning(blocked.reason, "Reconcile", blocked.message));
    throw new TerminalError(blocked.message);
  }
  const desired = await desiredChildren(cluster, children, {
    now,
    podMonitorCrd: deps.podMonitorCrd(),
    instanceImage: deps.instanceImage,
  });
  const token = statusTokenFromSecret(secretByName(children, statusTokenSecretName(name)));
  const instances: PollOptions | undefined = token === undefined
    ? undefined
    : { port: STATUS_PORT, token, timeoutMs: POLL_TIMEOUT_MS, signal: context.signal };
  if (instances && cluster.status?.systemIdentifier !== undefined) {
    await rotatePasswords(deps.events, object, cluster, children, desired.objects, instances);
  }
  const clusterKey = clusterKeyOf(cluster);
  const refusals = memory.refusals.of(clusterKey, deps.clock.now());
  const backupStuck = holdBackupGrowth(deps, desired.objects, children);
  // Without the user's Secret no instance can start: the StatefulSet waits, the rest is applied.
  const applied = secretProblem
    ? desired.objects.filter((o) => o.kind !== "StatefulSet")
    : desired.objects;
  const written = await applyChildren(deps.resources, applied, children, {
    refusals,
    signal: context.signal,
  });
  const removed = await deleteUnwanted(deps.resources, desired.unwanted, children, context.signal);
  const polled = instances === undefined
    ? new Map<string, Polled>()
    : await pollInstances(children.pods, instances);
  // The StatefulSet as just applied: a new template shows (generation ahead of
  // observedGeneration) before the cache has it, so status is never Ready for the new spec.
  const appliedSet = [...written.created, ...written.updated].find((o) => o.kind === "StatefulSet");
  const observed = appliedSet
    ? { ...children, statefulSets: [appliedSet as V1StatefulSet] }
    : children;
  const deleted = deletedPods.get(clusterKey) ?? new Set<string>();
  deletedPods.set(clusterKey, deleted);
  const target = cluster.status?.targetPrimary ?? cluster.status?.currentPrimary ??
    initialPrimaryPodName(name);
  const rolloutInput: RolloutInput = {
    statefulSet: observed.statefulSets[0],
    replicas: cluster.spec.replicas,
    pods: children.pods,
    polled,
    primary: { current: cluster.status?.currentPrimary ?? target, target },
    method: cluster.spec.ha.primaryUpdateMethod,
    bootstrapped: cluster.status?.systemIdentifier !== undefined,
    deleted,
  };
  const rollout = nextRolloutStep(rolloutInput);
  if (rollout.action === "wait") context.log.debug("Rolling update waits: {reason}", rollout);
  const primary = choosePrimary(deps, object, cluster, children, polled, primaries, {
    input: rolloutInput,
    switchoverTo: rollout.action === "switchover" ? rollout.to : undefined,
  });
  const settledPrimary = primary.currentPrimary === primary.targetPrimary
    ? primary.currentPrimary
    : undefined;
  await labelPodRoles(deps.resources, settledPrimary, children.pods, context.signal);
  // New pods start with the new settings: restarts for them wait until no pod is outdated.
  if (instances && rollout.action === "none") {
    await restartPending(deps.events, object, children.pods, polled, restartsAsked, instances);
  }
  await rollOut(deps.resources, deps.events, object, rollout, {
    decided: {
      current: primary.currentPrimary,
      target: primary.targetPrimary,
      changing: primary.change !== undefined,
    },
    pods: children.pods,
    deleted,
    signal: context.signal,
  });
  const notices: string[] = [];
  const dataClaims = children.persistentVolumeClaims.filter((c) =>
    c.metadata?.labels?.[LABELS.component] === COMPONENTS.database
  );
  const expansions = plannedExpansions(
    dataClaims,
    cluster.spec.storage.size,
    (n) => deps.cache.storageClass(n),
  );
  const grown = await expandVolumes(deps.resources, expansions, cluster.spec.storage.size, {
    refusals,
    signal: context.signal,
  });
  const stuck = [...expansions.filter((e) => e.blocked !== undefined), ...backupStuck];
  if (!deps.podMonitorCrd() && cluster.spec.monitoring.podMonitor) {
    notices.push("PodMonitor not created: the monitoring.coreos.com CRD is not installed");
  }
  if (primary.change) {
    notices.push(`Promoting "${primary.change.to}" in place of "${primary.change.from}"`);
  }
  const status = await writeStatus(deps, object, cluster, observed, {
    now,
    notices,
    stuck,
    polled,
    primary: {
      current: primary.currentPrimary,
      target: primary.targetPrimary,
      promoteRequest: primary.promoteRequest ?? cluster.status?.promoteRequest,
    },
    problems: [
      ...secretProblem ? [secretProblem] : [],
      ...[...written.refused, ...grown.refused].map(refusalProblem),
      ...primary.blocked && FAILOVER_BLOCKS.includes(primary.blocked.reason)
        ? [primary.blocked]
        : [],
    ],
  });
  const readyBefore = cluster.status?.conditions?.find((c) => c.type === "Ready");
  if (secretProblem && readyBefore?.reason !== secretProblem.reason) {
    deps.events.record(object, warning(secretProblem.reason, "Reconcile", secretProblem.message));
  }
  for (const refusal of refusals.fresh) {
    deps.events.record(object, warning(CHANGE_REFUSED, "Apply", refusalProblem(refusal).message));
  }
  reportChanges(deps, object, cluster, children, {
    written,
    removed,
    grown: grown.changed,
    stuck,
    status,
  });
  context.log.debug("Reconciled: {created} created, {updated} updated", {
    created: written.created.length,
    updated: written.updated.length,
  });
  const renewInMs = desired.renewAt ? desired.renewAt.getTime() - now.getTime() : MAX_REQUEUE_MS;
  const changing = primary.currentPrimary !== primary.targetPrimary ||
    primary.downSince !== undefined;
  const rolling = rollout.action === "delete" || rollout.action === "switchover" ||
    (rollout.action === "wait" && rollout.poll);
  const pollInMs = children.pods.length === 0
    ? MAX_REQUEUE_MS
    : changing
    ? Math.min(PRIMARY_CHANGE_POLL_MS, primary.recheckInMs ?? PRIMARY_CHANGE_POLL_MS)
    : instancesSettled(polled) && !rolling
    ? deps.instanceStatusPeriodMs
    : UNSETTLED_POLL_MS;
  return { requeueAfter: Math.max(500, Math.min(renewInMs, pollInMs, MAX_REQUEUE_MS)) };
}

/** What the reconciler keeps between runs about a cluster's primary, by cluster UID. */
interface PrimaryMemory {
  downSince?: number;
  blocked?: string;
  primaryPodUid?: string;
  /** The last change of primary decided, and the status it was decided on. */
  decided?: {
    from: { current?: string; target?: string };
    to: { current: string; target: string };
  };
}

/** The switchover asked by annotations: `<instance>`, or `<instance>@<time asked>`. */
function promoteRequestOf(annotations: Record<string, string>): string | undefined {
  const instance = annotations[ANNOTATIONS.promote];
  if (instance === undefined) return undefined;
  const at = annotations[ANNOTATIONS.promoteAt];
  return at === undefined ? instance : `${instance}@${at}`;
}

/** Decides the primary (`primary.ts`) and records the decision's Events. */
function choosePrimary(
  deps: ReconcilerDeps,
  object: ClusterObject,
  cluster: DatabaseCluster,
  children: Children,
  polled: ReadonlyMap<string, Polled>,
  primaries: Map<string, PrimaryMemory>,
  rollout: { input: RolloutInput; switchoverTo?: string },
): PrimaryDecision {
  const uid = cluster.metadata.uid ?? `${cluster.metadata.namespace}/${cluster.metadata.name}`;
  const memory = primaries.get(uid) ?? {};
  const status = { ...cluster.status };
  // The cache may not show our own last decision yet: a reconcile right after it would
  // decide again on the old status, and could pick another target.
  const stale = memory.decided && status.currentPrimary === memory.decided.from.current &&
    status.targetPrimary === memory.decided.from.target;
  if (stale) {
    status.currentPrimary = memory.decided!.to.current;
    status.targetPrimary = memory.decided!.to.target;
  }
  const last = status.instances?.find((i) => i.name === status.currentPrimary);
  const { ha } = cluster.spec;
  const decision = decidePrimary({
    cluster: cluster.metadata.name!,
    replicas: cluster.spec.replicas,
    ha: {
      enabled: ha.enabled,
      failoverDelaySeconds: ha.failoverDelay,
      maxLagOnFailover: ha.maxLagOnFailover === undefined ? undefined : BigInt(ha.maxLagOnFailover),
      synchronousRequired: ha.synchronous?.durability === "required"
        ? ha.synchronous.number
        : undefined,
    },
    status: {
      currentPrimary: status.currentPrimary,
      targetPrimary: status.targetPrimary,
      systemIdentifier: status.systemIdentifier,
      promoteRequest: status.promoteRequest,
      primaryLsn: last?.role === "primary" ? last.lsn : undefined,
      primaryTimeline: last?.role === "primary" ? last.timeline : undefined,
    },
    promoteRequest: promoteRequestOf(cluster.metadata.annotations ?? {}),
    switchoverTo: rollout.switchoverTo,
    restartingPrimary: restartingPrimary(rollout.input, memory.primaryPodUid),
    pods: children.pods,
    polled,
    nodes: nodeStates(deps.cache, children.pods),
    downSince: memory.downSince,
    primaryPodUid: memory.primaryPodUid,
    now: deps.clock.now(),
  });
  for (const event of primaryEvents(decision, memory.blocked)) {
    deps.events.record(object, { ...event, action: "Promote" });
  }
  const changed = decision.currentPrimary !== status.currentPrimary ||
    decision.targetPrimary !== status.targetPrimary;
  primaries.set(uid, {
    downSince: decision.downSince,
    blocked: decision.blocked?.reason,
    primaryPodUid: decision.primaryPodUid ?? memory.primaryPodUid,
    decided: changed
      ? {
        from: { current: cluster.status?.currentPrimary, target: cluster.status?.targetPrimary },
        to: { current: decision.currentPrimary, target: decision.targetPrimary },
      }
      : stale
      ? memory.decided
      : undefined,
  });
  return decision;
}

/** The cached states of the nodes `pods` are bound to. */
function nodeStates(cache: ClusterCache, pods: readonly V1Pod[]): NodeStates {
  const states = new Map<string, NodeState>();
  for (const pod of pods) {
    const name = pod.spec?.nodeName;
    const node = name === undefined ? undefined : cache.node(name);
    if (node) states.set(name!, nodeState(node));
  }
  return states;
}

async function writeStatus(
  deps: ReconcilerDeps,
  object: ClusterObject,
  cluster: DatabaseCluster,
  children: Children,
  options: {
    now: Date;
    problems?: StatusProblem[];
    notices?: string[];
    stuck?: Expansion[];
    polled?: ReadonlyMap<string, Polled>;
    primary?: { current: string; target: string; promoteRequest?: string };
  },
): Promise<{ before?: Status; after: Status }> {
  const polled = options.polled ?? new Map<string, Polled>();
  const after = computeStatus(cluster, {
    statefulSet: children.statefulSets[0],
    pods: children.pods,
    claims: children.persistentVolumeClaims,
    backupJobs: children.jobs,
    problems: [
      ...options.problems ?? [],
      ...primaryDataProblems(cluster, children, polled, options.primary),
    ],
    notices: options.notices,
    primary: options.primary,
  }, { now: options.now });
  if (polled.size > 0) after.instances = summarizeInstances(children.pods, polled);
  if (options.stuck?.length) {
    const update = {
      type: "Progressing",
      status: "False" as const,
      reason: "VolumeExpansionNotSupported",
      message: `Cannot grow ${
        options.stuck.map((e) =>
          `PersistentVolumeClaim "${e.claim.metadata?.name}" to "${e.to}": ${e.blocked}`
        ).join("; ")
      }`,
    };
    const others = (after.conditions ?? []).filter((c) => c.type !== update.type);
    after.conditions = [
      ...others,
      nextCondition(cluster.status?.conditions, update, {
        now: options.now,
        generation: cluster.metadata.generation,
      }),
    ];
  }
  const before = cluster.status;
  if (!statusEqual(operatorOwned(before), after)) {
    await deps.resources.apply(DatabaseClusters, {
      apiVersion: object.apiVersion,
      kind: object.kind,
      metadata: { name: cluster.metadata.name, namespace: cluster.metadata.namespace },
      status: after,
    }, { subresource: "status" });
  }
  return { before, after };
}

/**
 * The primary's manager refusing to start it because its data is gone or foreign: the
 * cluster fails with that reason until a human acts (failover does not exist yet), and
 * nothing is initialized over it.
 */
function primaryDataProblems(
  cluster: DatabaseCluster,
  children: Children,
  polled: ReadonlyMap<string, Polled>,
  decided?: { current: string; target: string },
): StatusProblem[] {
  // While a failover replaces it, the lost primary's data is not the cluster's problem.
  if (decided && decided.current !== decided.target) return [];
  const primary = decided?.target ??
    children.pods.find((pod) => pod.metadata?.labels?.[LABELS.role] === ROLES.primary)?.metadata
      ?.name ??
    cluster.status?.currentPrimary;
  const answer = primary === undefined ? undefined : polled.get(primary);
  const waiting = answer && "status" in answer ? answer.status.waiting : undefined;
  if (!waiting || !PRIMARY_DATA_PROBLEMS.includes(waiting.reason)) return [];
  return [{ reason: waiting.reason, message: `Primary "${primary}": ${waiting.message}` }];
}

/** The status without the fields instance managers own, which the operator never writes. */
function operatorOwned(status: Status | undefined): Status | undefined {
  if (status?.systemIdentifier === undefined) return status;
  const { systemIdentifier: _, ...rest } = status;
  return rest;
}

function reportChanges(
  deps: ReconcilerDeps,
  object: ClusterObject,
  cluster: DatabaseCluster,
  children: Children,
  facts: {
    written: { created: KubernetesObject[]; updated: KubernetesObject[] };
    removed: string[];
    grown: string[];
    stuck: unknown[];
    status: { before?: Status; after: Status };
  },
): void {
  const describe = (objects: KubernetesObject[]) =>
    objects.map((o) => `${o.kind} "${o.metadata?.name}"`).join(", ");
  const { created, updated } = facts.written;
  const live = children.statefulSets[0];
  if (created.some((o) => o.kind === "StatefulSet")) {
    deps.metrics.created.inc({
      namespace: cluster.metadata.namespace ?? "",
      version: cluster.spec.version,
    });
  }
  if (created.length > 0) {
    deps.events.record(object, normal("Created", "Create", `Created ${describe(created)}`));
  }
  if (updated.length > 0) {
    deps.events.record(object, normal("Updated", "Update", `Updated ${describe(updated)}`));
  }
  if (facts.removed.length > 0) {
    deps.events.record(object, normal("Updated", "Delete", `Removed ${facts.removed.join(", ")}`));
  }
  const previousReplicas = live?.spec?.replicas;
  if (live && previousReplicas !== undefined && previousReplicas !== cluster.spec.replicas) {
    const up = cluster.spec.replicas > previousReplicas;
    deps.events.record(
      object,
      normal(
        up ? "ScaledUp" : "ScaledDown",
        "Scale",
        `Scaled from ${previousReplicas} to ${cluster.spec.replicas} instances`,
      ),
    );
  }
  if (facts.grown.length > 0) {
    deps.events.record(
      object,
      normal(
        "Updated",
        "Resize",
        `Requested "${cluster.spec.storage.size}" for ${facts.grown.join(", ")}`,
      ),
    );
  }
  const { before, after } = facts.status;
  if (after.phase !== before?.phase) {
    if (after.phase === "Running") {
      deps.events.record(object, normal("Ready", "Reconcile", after.message ?? "Ready"));
    }
    if (after.phase === "Degraded") {
      deps.events.record(object, warning("Degraded", "Reconcile", after.message ?? "Degraded"));
    }
  }
  if (
    facts.stuck.length > 0 &&
    before?.conditions?.find((c) => c.reason === "VolumeExpansionNotSupported") === undefined
  ) {
    const condition = after.conditions?.find((c) => c.reason === "VolumeExpansionNotSupported");
    deps.events.record(
      object,
      warning("VolumeExpansionNotSupported", "Resize", condition?.message ?? ""),
    );
  }
  const backupBefore = before?.conditions?.find((c) => c.type === "BackupReady");
  const backupAfter = after.conditions?.find((c) => c.type === "BackupReady");
  if (
    backupAfter && backupAfter.status !== "Unknown" && backupAfter.message !== backupBefore?.message
  ) {
    deps.events.record(
      object,
      backupAfter.status === "True"
        ? normal("BackupSucceeded", "Backup", backupAfter.message)
        : warning("BackupFailed", "Backup", backupAfter.message),
    );
  }
}

async function cleanUpCluster(
  deps: ReconcilerDeps,
  object: ClusterObject,
  cluster: DatabaseCluster,
  context: ReconcileContext,
): Promise<ReconcileResult> {
  const { namespace, name } = cluster.metadata as { namespace: string; name: string };
  const children = deps.cache.children(namespace, name);
  if (cluster.spec.deletionPolicy === "Delete" && children.statefulSets.length > 0) {
    // Its controller may still be creating volumes: delete it and wait, so none is left behind.
    const sts = children.statefulSets[0];
    if (!sts.metadata?.deletionTimestamp) {
      await deps.resources.delete(StatefulSets, sts.metadata!.name!, {
        namespace,
        signal: context.signal,
      });
    }
    return { requeueAfter: 1000 };
  }
  const outcome = await cleanUpVolumes(deps.resources, object, children.persistentVolumeClaims, {
    policy: cluster.spec.deletionPolicy,
    signal: context.signal,
  });
  if (outcome.retained.length > 0) {
    deps.events.record(
      object,
      normal(
        "DeletionRetainedData",
        "Delete",
        `deletionPolicy Retain: kept ${
          outcome.retained.map((n) => `PersistentVolumeClaim "${n}"`).join(", ")
        }`,
      ),
    );
  }
  if (outcome.deleted.length > 0) {
    deps.events.record(
      object,
      normal("Deleted", "Delete", `Deleted ${outcome.deleted.join(", ")}`),
    );
  }
  return {};
}
