/**
 * Wires the DatabaseCluster controller into a manager: the caches (clusters
 * and their label-filtered children), the mappings from children to their
 * cluster (owner references for what the cluster owns, the cluster label for
 * pods, volumes and backup Jobs, which other controllers create; the clusters
 * with pods on a node whose readiness or cordon changed; the clusters naming a
 * user's Secret as `existingSecret`, watched by name from the first cluster
 * naming it), PodMonitor
 * discovery (its CRD watched by name, so installing it later just works), the
 * event recorder, the cluster metrics and the reconciler.
 *
 * @module
 */
import type { V1CustomResourceDefinition } from "@kubernetes/client-node";
import { getLogger } from "@logtape/logtape";
import { DATABASE_CLUSTER } from "../api/mod.ts";
import { resourceType } from "../kube/mod.ts";
import {
  type Clock,
  Controller,
  EventRecorder,
  type KubeObject,
  type Manager,
  objectKey,
  systemClock,
} from "../runtime/mod.ts";
import { ClusterCache, referencedSecrets } from "./cache.ts";
import { registerClusterMetrics } from "./metrics.ts";
import { LABELS } from "./names.ts";
import { nodeState } from "./nodes.ts";
import { databaseClusterReconciler } from "./reconciler.ts";

/** Name of the controller (metrics label, logs). */
export const CONTROLLER_NAME = "databasecluster";

/** The CRD whose presence enables PodMonitors. */
export const POD_MONITOR_CRD = "podmonitors.monitoring.coreos.com";

const CustomResourceDefinitions = resourceType<V1CustomResourceDefinition>(
  "apiextensions.k8s.io",
  "v1",
  "CustomResourceDefinition",
  { namespaced: false },
);

/** Options of {@linkcode setupDatabaseClusterController}. */
export interface SetupOptions {
  /** Namespaces to watch; empty for all. */
  namespaces: string[];
  maxConcurrentReconciles?: number;
  /** How often every cached cluster is reconciled again without a change (default 10 min). */
  resyncPeriodMs?: number;
  /** How often a settled cluster's instances are polled (default 30 s). */
  instanceStatusPeriodMs?: number;
  /** Identity in events (`reportingInstance`), e.g. the pod name. */
  instance: string;
  /** dbop's image, from which the instances copy the instance manager. */
  instanceImage?: string;
  clock?: Clock;
}

const logger = getLogger(["dbop", "databasecluster"]);

function byClusterLabel(obj: KubeObject) {
  const cluster = obj.metadata?.labels?.[LABELS.cluster];
  return cluster && obj.metadata?.namespace
    ? [{ namespace: obj.metadata.namespace, name: cluster }]
    : [];
}

/** Adds the DatabaseCluster controller (and its caches) to `manager`. */
export function setupDatabaseClusterController(
  manager: Manager,
  options: SetupOptions,
): Controller {
  const clock = options.clock ?? systemClock;
  const cache = new ClusterCache(manager, options.namespaces);
  const crds = manager.informer(CustomResourceDefinitions, {
    fieldSelector: `metadata.name=${POD_MONITOR_CRD}`,
  });
  const events = new EventRecorder(manager.resources, {
    reportingController: `${DATABASE_CLUSTER.group}/dbop`,
    reportingInstance: options.instance,
    clock,
  });
  const metrics = registerClusterMetrics(
    manager.metrics.registry,
    () => cache.clusters.map((i) => i.store),
  );
  const podMonitorCrd = () => crds.store.get(POD_MONITOR_CRD) !== undefined;
  const controller = new Controller(
    CONTROLLER_NAME,
    databaseClusterReconciler({
      resources: manager.resources,
      cache,
      events,
      metrics,
      clock,
      podMonitorCrd,
      instanceImage: options.instanceImage,
      instanceStatusPeriodMs: options.instanceStatusPeriodMs ?? 30_000,
    }),
    {
      metrics: manager.metrics,
      maxConcurrentReconciles: options.maxConcurrentReconciles,
      resyncPeriodMs: options.resyncPeriodMs,
      clock,
    },
  );
  for (const informer of cache.clusters) {
    controller.watchFor(informer);
    // Before the reconcile it enqueues runs: the reconciler reads the Secret from this watch.
    informer.addHandler((event) => {
      if (event.type === "deleted") return;
      for (const key of referencedSecrets(event.object)) {
        const secrets = cache.watchUserSecret(key);
        if (secrets) controller.watches(secrets, (s) => cache.clustersNaming(objectKey(s)));
      }
    });
  }
  for (
    const kind of [
      "statefulSets",
      "services",
      "secrets",
      "configMaps",
      "podDisruptionBudgets",
      "cronJobs",
      "serviceAccounts",
      "roles",
      "roleBindings",
    ] as const
  ) {
    for (const informer of cache.informers(kind)) controller.owns(informer, DATABASE_CLUSTER.kind);
  }
  for (const kind of ["pods", "persistentVolumeClaims", "jobs"] as const) {
    for (const informer of cache.informers(kind)) controller.watches(informer, byClusterLabel);
  }
  // A node's readiness or cordon decides the primary of the clusters with pods on it; other
  // updates of it (there are none in the slim copy but its resourceVersion) reconcile nothing.
  cache.nodes.addHandler((event) => {
    if (
      event.type === "updated" &&
      JSON.stringify(nodeState(event.object)) === JSON.stringify(nodeState(event.previous))
    ) return;
    for (const request of cache.clustersOnNode(event.object.metadata!.name!)) {
      controller.enqueue(request);
    }
  });
  const watchPodMonitors = () => {
    for (const informer of cache.watchPodMonitors()) {
      controller.owns(informer, DATABASE_CLUSTER.kind);
    }
  };
  crds.addHandler((event) => {
    if (event.type === "deleted") return;
    logger.info("PodMonitor CRD found: managing PodMonitors");
    watchPodMonitors();
    for (const informer of cache.clusters) {
      for (const cluster of informer.store.list()) {
        controller.enqueue({
          namespace: cluster.metadata!.namespace!,
          name: cluster.metadata!.name!,
        });
      }
    }
  });
  manager.add(controller);
  return controller;
}
