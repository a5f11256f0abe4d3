/**
 * The built-in kinds the DatabaseCluster controller reads or writes, typed by
 * client-node's generated models. They live here, not in `lib/kube`, because
 * the client layer is generic: which kinds an operator touches is the
 * operator's business (and must match its RBAC rules in `rbac.ts`).
 *
 * @module
 */
import type {
  V1ConfigMap,
  V1CronJob,
  V1Job,
  V1Namespace,
  V1Node,
  V1PersistentVolumeClaim,
  V1Pod,
  V1PodDisruptionBudget,
  V1Role,
  V1RoleBinding,
  V1Secret,
  V1Service,
  V1ServiceAccount,
  V1StatefulSet,
  V1StorageClass,
} from "@kubernetes/client-node";
import { resourceType } from "../kube/mod.ts";

/** Pods: the instances, labelled with their role. */
export const Pods = resourceType<V1Pod>("", "v1", "Pod");
/** Services: `-rw`, `-ro`, `-r` and the headless one. */
export const Services = resourceType<V1Service>("", "v1", "Service");
/** Secrets: credentials and TLS material. */
export const Secrets = resourceType<V1Secret>("", "v1", "Secret");
/** ConfigMaps: the PostgreSQL configuration. */
export const ConfigMaps = resourceType<V1ConfigMap>("", "v1", "ConfigMap");
/** PersistentVolumeClaims: data and backup volumes. */
export const PersistentVolumeClaims = resourceType<V1PersistentVolumeClaim>(
  "",
  "v1",
  "PersistentVolumeClaim",
);
/** ServiceAccounts: the instance managers' identity, one per cluster. */
export const ServiceAccounts = resourceType<V1ServiceAccount>("", "v1", "ServiceAccount");
/** Roles: what the instance managers may do (their own cluster, nothing else). */
export const Roles = resourceType<V1Role>("rbac.authorization.k8s.io", "v1", "Role");
/** RoleBindings: the instance Role granted to the instance ServiceAccount. */
export const RoleBindings = resourceType<V1RoleBinding>(
  "rbac.authorization.k8s.io",
  "v1",
  "RoleBinding",
);
/** Namespaces (cluster-scoped). */
export const Namespaces = resourceType<V1Namespace>("", "v1", "Namespace", { namespaced: false });
/** Nodes (cluster-scoped): whether the primary's node is Ready, or cordoned for a drain. */
export const Nodes = resourceType<V1Node>("", "v1", "Node", { namespaced: false });
/** StatefulSets: one per cluster. */
export const StatefulSets = resourceType<V1StatefulSet>("apps", "v1", "StatefulSet");
/** Jobs: backups run by the CronJob. */
export const Jobs = resourceType<V1Job>("batch", "v1", "Job");
/** CronJobs: scheduled backups. */
export const CronJobs = resourceType<V1CronJob>("batch", "v1", "CronJob");
/** PodDisruptionBudgets: keep a quorum through voluntary disruptions. */
export const PodDisruptionBudgets = resourceType<V1PodDisruptionBudget>(
  "policy",
  "v1",
  "PodDisruptionBudget",
);
/** StorageClasses (cluster-scoped): whether a volume can be expanded. */
export const StorageClasses = resourceType<V1StorageClass>("storage.k8s.io", "v1", "StorageClass", {
  plural: "storageclasses",
  namespaced: false,
});
