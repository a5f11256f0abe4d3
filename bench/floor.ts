/**
 * The floor: what the same work costs with no operator at all. A minimal
 * client, as its own audited service account, creates the same clusters with
 * the same concurrency and, as each is created, server-side applies exactly
 * the children dbop's first reconcile applies (built by `desiredChildren`,
 * owned by the cluster), with as many workers as dbop has reconcilers. The
 * children are built before the clock starts (certificates included), so
 * only the API server, etcd, the controller manager and kwok stand between
 * the floor and Ready: a cluster is done when its StatefulSet has rolled out.
 *
 * @module
 */
import type { KubernetesObject } from "@kubernetes/client-node";
import { parseDatabaseCluster } from "../lib/api/mod.ts";
import type { Resources } from "../lib/kube/mod.ts";
import { childResourceType } from "../lib/databasecluster/apply.ts";
import { type ClusterObject, noChildren } from "../lib/databasecluster/cache.ts";
import { desiredChildren, ownerReference } from "../lib/databasecluster/desired.ts";
import { clusterManifest, createClusters } from "./fleet.ts";
import { Channel } from "./pool.ts";
import { statefulSetRolledOut } from "./readiness.ts";
import type { FleetView } from "./view.ts";

/** The children dbop's first reconcile of a new cluster applies, without owner references. */
export async function firstReconcileChildren(cluster: ClusterObject): Promise<KubernetesObject[]> {
  const parsed = parseDatabaseCluster({
    ...cluster,
    apiVersion: "database.example.com/v1",
    kind: "DatabaseCluster",
  });
  const desired = await desiredChildren(parsed, noChildren(), {
    now: new Date(),
    podMonitorCrd: false,
  });
  return desired.objects.map((object) => ({
    ...object,
    metadata: { ...object.metadata, ownerReferences: undefined },
  }));
}

/** Server-side applies `children` (in order) with `cluster` as their controlling owner. */
export async function applyOwned(
  resources: Resources,
  cluster: ClusterObject,
  children: KubernetesObject[],
): Promise<void> {
  const owner = ownerReference(parseDatabaseCluster(cluster));
  for (const child of children) {
    const owned = { ...child, metadata: { ...child.metadata, ownerReferences: [owner] } };
    await resources.apply(childResourceType(child.kind!), owned);
  }
}

/** What the floor run measured. */
export interface FloorResult {
  startedAt: number;
  /** When each cluster's create returned. */
  createdAt: Map<string, number>;
  /** When each cluster's StatefulSet had rolled out. */
  readyAt: Map<string, number>;
  /** Children applied per cluster. */
  childrenPerCluster: number;
  /** How long building the children took before the clock started (ms). */
  prepareMs: number;
}

/** Runs the floor for `names` in the view's namespaces. */
export async function runFloor(options: {
  admin: Resources;
  floor: Resources;
  view: FleetView;
  names: readonly string[];
  workers: number;
  timeoutMs: number;
  log: (line: string) => void;
}): Promise<FloorResult> {
  const { view, names } = options;
  const preparing = Date.now();
  const children = new Map<string, KubernetesObject[]>();
  for (const name of names) {
    const manifest = await clusterManifest(view.namespaceOf(name), name);
    children.set(name, await firstReconcileChildren(manifest));
  }
  const prepareMs = Date.now() - preparing;
  const tracker = view.track((name) => statefulSetRolledOut(view.statefulSet(name)));
  const createdAt = new Map<string, number>();
  const queue = new Channel<ClusterObject>();
  const startedAt = Date.now();
  const worker = async () => {
    for (let cluster = await queue.take(); cluster; cluster = await queue.take()) {
      await applyOwned(options.floor, cluster, children.get(cluster.metadata!.name!)!);
    }
  };
  const working = Promise.all(Array.from({ length: options.workers }, worker));
  // Handled below; without this an early failure would be an unhandled rejection.
  working.catch(() => {});
  await createClusters(options.admin, (name) => view.namespaceOf(name), names, (created, at) => {
    createdAt.set(created.metadata!.name!, at);
    queue.push(created);
  }).finally(() => queue.close());
  await working;
  await tracker.waitFor(names, {
    what: "the floor's StatefulSets to roll out",
    timeoutMs: options.timeoutMs,
    progress: (done) => options.log(`floor: ${done}/${names.length} ready`),
  });
  tracker.close();
  return {
    startedAt,
    createdAt,
    readyAt: tracker.times,
    childrenPerCluster: children.get(names[0])?.length ?? 0,
    prepareMs,
  };
}
