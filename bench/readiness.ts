/**
 * When the benchmark counts a cluster as done, as pure predicates on the
 * objects it watches: a DatabaseCluster is Ready when its `Ready` condition is
 * `True` for its current generation; a StatefulSet has rolled out when its
 * controller saw its generation and every replica is updated and ready.
 *
 * @module
 */
import type { V1StatefulSet } from "@kubernetes/client-node";
import type { ClusterObject } from "../lib/databasecluster/cache.ts";
import { ANNOTATIONS } from "../lib/databasecluster/names.ts";

/** Whether the cluster reports `Ready=True` for the generation it has now. */
export function clusterReady(cluster: ClusterObject | undefined): boolean {
  const status = cluster?.status;
  if (!status) return false;
  const conditions = (status.conditions ?? []) as { type: string; status: string }[];
  const generation = (cluster.metadata as { generation?: number } | undefined)?.generation;
  return status.observedGeneration === generation &&
    conditions.some((c) => c.type === "Ready" && c.status === "True");
}

/** Whether the StatefulSet's controller has rolled its current spec out to ready pods. */
export function statefulSetRolledOut(sts: V1StatefulSet | undefined): boolean {
  const replicas = sts?.spec?.replicas ?? 1;
  const status = sts?.status;
  if (!status) return false;
  return (status.observedGeneration ?? 0) >= (sts?.metadata?.generation ?? 0) &&
    (status.readyReplicas ?? 0) >= replicas &&
    // Counted over live pods of the newest revision (dbop updates on delete, so currentRevision
    // never catches up with updateRevision).
    (status.updatedReplicas ?? 0) >= replicas;
}

/** The PostgreSQL version a StatefulSet runs, from the annotation dbop sets. */
export function statefulSetVersion(sts: V1StatefulSet | undefined): string | undefined {
  return sts?.metadata?.annotations?.[ANNOTATIONS.version];
}

/** Whether any container of the StatefulSet's pod template requests `cpu`. */
export function statefulSetRequestsCpu(sts: V1StatefulSet | undefined, cpu: string): boolean {
  return (sts?.spec?.template?.spec?.containers ?? []).some((c) =>
    String(c.resources?.requests?.cpu) === cpu
  );
}
