/**
 * The reconciler's view of the cluster: one informer per kind and watched
 * namespace, children filtered by `app.kubernetes.io/managed-by=dbop` so the
 * cache never holds unrelated Secrets or ConfigMaps, and an index from
 * `namespace/cluster` to the children carrying the cluster label. The user's
 * Secret a cluster names in `existingSecret` is watched by name, from the
 * first cluster naming it on (an informer per name, kept while dbop runs), and
 * the clusters are indexed by the Secret they name; no other user Secret is
 * cached. Every read of the reconciler comes from here; none goes to the API
 * server.
 *
 * @module
 */
import type {
  V1ConfigMap,
  V1CronJob,
  V1Job,
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
import { DATABASE_CLUSTER } from "../api/mod.ts";
import { type ResourceType, resourceType } from "../kube/mod.ts";
import {
  ConfigMaps,
  CronJobs,
  Jobs,
  Nodes,
  PersistentVolumeClaims,
  PodDisruptionBudgets,
  Pods,
  RoleBindings,
  Roles,
  Secrets,
  ServiceAccounts,
  Services,
  StatefulSets,
  StorageClasses,
} from "./kinds.ts";
import { fieldIndex, type Informer, type KubeObject, type Manager } from "../runtime/mod.ts";
import { VERSION_INDEX } from "./metrics.ts";
import { LABELS, MANAGED_BY } from "./names.ts";
import { slimNode } from "./nodes.ts";

/** A DatabaseCluster as cached (validated later, by the reconciler). */
export type ClusterObject = KubeObject & {
  spec?: Record<string, unknown>;
  status?: Record<string, unknown> & { phase?: string };
};

/** The DatabaseCluster resource type. */
export const DatabaseClusters = resourceType<ClusterObject>(
  DATABASE_CLUSTER.group,
  DATABASE_CLUSTER.version,
  DATABASE_CLUSTER.kind,
  { plural: DATABASE_CLUSTER.plural },
);

/** Prometheus Operator PodMonitors (present only when that CRD is installed). */
export const PodMonitors = resourceType<KubeObject & { spec?: unknown }>(
  "monitoring.coreos.com",
  "v1",
  "PodMonitor",
);

/** Name of the index from `namespace/cluster` to a cluster's children. */
export const CLUSTER_INDEX = "cluster";

function clusterIndex(obj: KubeObject): string[] {
  const cluster = obj.metadata?.labels?.[LABELS.cluster];
  return cluster ? [`${obj.metadata?.namespace ?? ""}/${cluster}`] : [];
}

/** Name of the index from `namespace/secret` to the clusters whose `existingSecret` it is. */
export const SECRET_INDEX = "secret";

/**
 * The user's Secrets the reconciler reads for a cluster (its `existingSecret`), as
 * `namespace/name`, from the unvalidated spec. (`tls.secretName` is read by the instances,
 * which watch it themselves.)
 */
export function referencedSecrets(obj: ClusterObject): string[] {
  const security = obj.spec?.security as
    | { authentication?: { existingSecret?: unknown } }
    | undefined;
  const name = security?.authentication?.existingSecret;
  return typeof name === "string" && name !== ""
    ? [`${obj.metadata?.namespace ?? ""}/${name}`]
    : [];
}

/** Name of the index from a node's name to the pods bound to it. */
export const NODE_INDEX = "node";

function nodeIndex(obj: KubeObject): string[] {
  const node = (obj as V1Pod).spec?.nodeName;
  return node ? [node] : [];
}

/** The child kinds dbop caches, each with its type. */
export const CHILD_KINDS = {
  statefulSets: StatefulSets,
  services: Services,
  secrets: Secrets,
  configMaps: ConfigMaps,
  podDisruptionBudgets: PodDisruptionBudgets,
  cronJobs: CronJobs,
  jobs: Jobs,
  pods: Pods,
  persistentVolumeClaims: PersistentVolumeClaims,
  serviceAccounts: ServiceAccounts,
  roles: Roles,
  roleBindings: RoleBindings,
} as const;

/** The cached types of each child kind. */
export interface Children {
  statefulSets: V1StatefulSet[];
  services: V1Service[];
  secrets: V1Secret[];
  configMaps: V1ConfigMap[];
  podDisruptionBudgets: V1PodDisruptionBudget[];
  cronJobs: V1CronJob[];
  jobs: V1Job[];
  pods: V1Pod[];
  persistentVolumeClaims: V1PersistentVolumeClaim[];
  serviceAccounts: V1ServiceAccount[];
  roles: V1Role[];
  roleBindings: V1RoleBinding[];
  podMonitors: KubeObject[];
}

/** Children of a cluster that has none yet (a first reconcile, a render). */
export function noChildren(): Children {
  return {
    statefulSets: [],
    services: [],
    secrets: [],
    configMaps: [],
    podDisruptionBudgets: [],
    cronJobs: [],
    jobs: [],
    pods: [],
    persistentVolumeClaims: [],
    serviceAccounts: [],
    roles: [],
    roleBindings: [],
    podMonitors: [],
  };
}

type ChildKind = keyof Children;

/** The informers behind the reconciler, per namespace (`""` = all namespaces). */
export class ClusterCache {
  /** DatabaseCluster informers. */
  readonly clusters: Informer<ClusterObject>[] = [];
  /** StorageClasses, cluster-wide. */
  readonly storageClasses: Informer<V1StorageClass>;
  /** Nodes, cluster-wide, reduced to their Ready condition and cordon (`nodes.ts`). */
  readonly nodes: Informer<V1Node>;
  readonly #children = new Map<ChildKind, Informer<KubeObject>[]>();
  /** The user's Secrets watched, by `namespace/name`. */
  readonly #userSecrets = new Map<string, Informer<V1Secret>>();
  readonly #manager: Manager;
  readonly #namespaces: (string | undefined)[];

  constructor(manager: Manager, namespaces: string[]) {
    this.#manager = manager;
    this.#namespaces = namespaces.length > 0 ? namespaces : [undefined];
    for (const namespace of this.#namespaces) {
      this.clusters.push(manager.informer(DatabaseClusters, {
        namespace,
        indexers: {
          [VERSION_INDEX]: fieldIndex("spec.version"),
          [SECRET_INDEX]: referencedSecrets,
        },
      }));
      for (const [kind, type] of Object.entries(CHILD_KINDS) as [ChildKind, ResourceType][]) {
        this.#add(kind, type, namespace);
      }
    }
    this.storageClasses = manager.informer(StorageClasses);
    this.nodes = manager.informer(Nodes, { transform: slimNode });
  }

  #add(kind: ChildKind, type: ResourceType, namespace: string | undefined): Informer<KubeObject> {
    const informer = this.#manager.informer(type as ResourceType<KubeObject>, {
      namespace,
      labelSelector: `${LABELS.managedBy}=${MANAGED_BY}`,
      indexers: {
        [CLUSTER_INDEX]: clusterIndex,
        ...(kind === "pods" ? { [NODE_INDEX]: nodeIndex } : {}),
      },
    });
    const list = this.#children.get(kind) ?? [];
    list.push(informer);
    this.#children.set(kind, list);
    return informer;
  }

  /** Starts caching PodMonitors (once their CRD exists); returns the new informers. */
  watchPodMonitors(): Informer<KubeObject>[] {
    if (this.#children.has("podMonitors")) return [];
    return this.#namespaces.map((ns) => this.#add("podMonitors", PodMonitors, ns));
  }

  /**
   * Starts watching the user's Secret `key` (`namespace/name`) by name, if not yet;
   * returns the new informer.
   */
  watchUserSecret(key: string): Informer<V1Secret> | undefined {
    if (this.#userSecrets.has(key)) return undefined;
    const [namespace, name] = key.split("/");
    const informer = this.#manager.informer(Secrets, {
      namespace,
      fieldSelector: `metadata.name=${name}`,
    });
    this.#userSecrets.set(key, informer);
    return informer;
  }

  /**
   * The user's Secret as cached: the object, `undefined` when it does not exist, or
   * `"unknown"` while its watch has not listed yet (or none was started).
   */
  userSecret(namespace: string, name: string): V1Secret | undefined | "unknown" {
    const informer = this.#userSecrets.get(`${namespace}/${name}`);
    if (!informer?.hasSynced()) return "unknown";
    return informer.store.get(`${namespace}/${name}`);
  }

  /** The cached clusters naming the user's Secret `namespace/name`. */
  clustersNaming(key: string): { namespace: string; name: string }[] {
    return this.clusters.flatMap((informer) =>
      informer.store.byIndex(SECRET_INDEX, key).map((c) => ({
        namespace: c.metadata!.namespace!,
        name: c.metadata!.name!,
      }))
    );
  }

  /** The informers of a child kind. */
  informers(kind: ChildKind): Informer<KubeObject>[] {
    return this.#children.get(kind) ?? [];
  }

  #informerFor<T extends KubeObject>(
    list: Informer<T>[],
    namespace: string,
  ): Informer<T> | undefined {
    return list.find((i) => i.namespace === undefined || i.namespace === namespace);
  }

  /** The cached DatabaseCluster, if any. */
  cluster(namespace: string, name: string): ClusterObject | undefined {
    return this.#informerFor(this.clusters, namespace)?.store.get(`${namespace}/${name}`);
  }

  /** Every cached child of a cluster, by kind. */
  children(namespace: string, cluster: string): Children {
    const result = {} as Record<ChildKind, KubeObject[]>;
    for (const kind of [...Object.keys(CHILD_KINDS), "podMonitors"] as ChildKind[]) {
      const informer = this.#informerFor(this.informers(kind), namespace);
      result[kind] = informer
        ? informer.store.byIndex(CLUSTER_INDEX, `${namespace}/${cluster}`)
        : [];
    }
    return result as unknown as Children;
  }

  /** The clusters with a cached pod bound to node `name`. */
  clustersOnNode(name: string): { namespace: string; name: string }[] {
    const keys = new Set<string>();
    for (const informer of this.informers("pods")) {
      for (const pod of informer.store.byIndex(NODE_INDEX, name)) {
        const cluster = pod.metadata?.labels?.[LABELS.cluster];
        if (cluster) keys.add(`${pod.metadata!.namespace}/${cluster}`);
      }
    }
    return [...keys].map((key) => {
      const [namespace, cluster] = key.split("/");
      return { namespace, name: cluster };
    });
  }

  /** The cached node, if any. */
  node(name: string): V1Node | undefined {
    return this.nodes.store.get(name);
  }

  /** The cached StorageClass, if any. */
  storageClass(name: string): V1StorageClass | undefined {
    return this.storageClasses.store.get(name);
  }
}

/** The cluster's cached Secret `name`, if any. */
export function secretByName(children: Children, name: string): V1Secret | undefined {
  return children.secrets.find((s) => s.metadata?.name === name);
}
