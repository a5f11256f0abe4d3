/**
 * Every permission dbop uses, in one list next to the controller: the
 * ClusterRole in `deploy/rbac` is generated from it (and checked against it),
 * and the in-cluster test proves it sufficient and minimal. Each rule says
 * which code path needs it. The instance managers' own Role is not here: it
 * is a child of each cluster (`specs/instance_rbac.ts`), and everything it
 * grants must be held by dbop too, since RBAC refuses to let anyone grant a
 * permission it does not have.
 *
 * @module
 */
import { DATABASE_CLUSTER } from "../api/mod.ts";

/** An RBAC policy rule with the reason it exists. */
export interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  /** What breaks without it. */
  why: string;
  /** Only some clusters need it: a missing optional rule is a start-up warning, not an error. */
  optional?: boolean;
}

const group = DATABASE_CLUSTER.group;

/** Cluster-wide rules of the `dbop` ClusterRole. */
export const CLUSTER_RULES: readonly Rule[] = [
  {
    apiGroups: [group],
    resources: ["databaseclusters"],
    verbs: ["get", "list", "watch", "patch"],
    why: "watch clusters; add and remove the cleanup finalizer; grant get, list and watch of " +
      "its own cluster in the instance Role (RBAC escalation check)",
  },
  {
    apiGroups: [group],
    resources: ["databaseclusters/status"],
    verbs: ["patch"],
    why: "write status; grant patch of its own cluster's status in the instance Role",
  },
  {
    apiGroups: [group],
    resources: ["databaseclusters/finalizers"],
    verbs: ["update"],
    why: "set blockOwnerDeletion on children (OwnerReferencesPermissionEnforcement)",
  },
  {
    apiGroups: [""],
    resources: ["configmaps", "services"],
    verbs: ["list", "watch", "create", "patch"],
    why: "cache and apply the cluster's configuration and Services",
  },
  {
    apiGroups: [""],
    resources: ["secrets"],
    verbs: ["list", "watch", "create", "patch"],
    why: "cache and apply credentials and TLS material; watch the user's existingSecret by name",
  },
  {
    apiGroups: [""],
    resources: ["pods"],
    verbs: ["list", "watch", "patch", "delete"],
    why: "health for status; label pods with their role; replace outdated pods in a rolling update",
  },
  {
    apiGroups: [""],
    resources: ["persistentvolumeclaims"],
    verbs: ["list", "watch", "create", "patch", "delete"],
    why: "backup volume; expand data volumes; retain (detach) or delete them on cluster deletion",
  },
  {
    apiGroups: [""],
    resources: ["serviceaccounts"],
    verbs: ["list", "watch", "create", "patch"],
    why: "cache and apply the instance managers' ServiceAccount",
  },
  // RBAC's escalation check lets dbop create (and bind) the instance Role only because it
  // holds every permission that Role grants: get, list and watch of databaseclusters and
  // patch of databaseclusters/status, above, and the Lease verbs below. No escalate or
  // bind verb.
  {
    apiGroups: ["rbac.authorization.k8s.io"],
    resources: ["roles", "rolebindings"],
    verbs: ["list", "watch", "create", "patch"],
    why: "cache and apply the instance managers' Role and RoleBinding",
  },
  {
    apiGroups: ["coordination.k8s.io"],
    resources: ["leases"],
    verbs: ["get", "create", "update"],
    why: "grant get and update of the cluster's primary Lease, and create of Leases, in the " +
      "instance Role (RBAC escalation check; the leader-election Role holds them only in " +
      "dbop's own namespace)",
  },
  {
    apiGroups: ["apps"],
    resources: ["statefulsets"],
    verbs: ["list", "watch", "create", "patch", "delete"],
    why: "the PostgreSQL instances; removed first when a Delete-policy cluster goes",
  },
  {
    apiGroups: ["policy"],
    resources: ["poddisruptionbudgets"],
    verbs: ["list", "watch", "create", "patch", "delete"],
    why: "the disruption budget, removed when replicas drop to one",
  },
  {
    apiGroups: ["batch"],
    resources: ["cronjobs"],
    verbs: ["list", "watch", "create", "patch", "delete"],
    why: "scheduled backups, removed when backups are disabled",
  },
  {
    apiGroups: ["batch"],
    resources: ["jobs"],
    verbs: ["list", "watch"],
    why: "the last backup's outcome for status.lastBackup and BackupReady",
  },
  {
    apiGroups: [""],
    resources: ["nodes"],
    verbs: ["list", "watch"],
    why: "whether the primary's node is Ready, and cordoned for a drain (switchover first)",
  },
  {
    apiGroups: ["storage.k8s.io"],
    resources: ["storageclasses"],
    verbs: ["list", "watch"],
    why: "whether a StorageClass allows volume expansion",
  },
  {
    apiGroups: ["events.k8s.io"],
    resources: ["events"],
    verbs: ["create", "patch"],
    why: "events about clusters, aggregated into series",
  },
  {
    apiGroups: ["apiextensions.k8s.io"],
    resources: ["customresourcedefinitions"],
    verbs: ["list", "watch"],
    why: "discover the PodMonitor CRD at start and when it is installed",
  },
  {
    apiGroups: ["monitoring.coreos.com"],
    resources: ["podmonitors"],
    verbs: ["list", "watch", "create", "patch", "delete"],
    why: "PodMonitors for clusters with monitoring.podMonitor",
    optional: true,
  },
];

/**
 * Rules of the namespaced Role in the operator's namespace. Only the Lease: dbop records
 * events on DatabaseClusters (covered by the ClusterRole), none about leadership, so an
 * events rule here would grant nothing that is used.
 */
export const LEADER_ELECTION_RULES: readonly Rule[] = [
  {
    apiGroups: ["coordination.k8s.io"],
    resources: ["leases"],
    verbs: ["get", "create", "update"],
    why: "leader election on a Lease",
  },
];

/** Extra rule for `--install-crds`: not in the default ClusterRole, documented in the README. */
export const INSTALL_CRDS_RULE: Rule = {
  apiGroups: ["apiextensions.k8s.io"],
  resources: ["customresourcedefinitions"],
  verbs: ["get", "create", "patch"],
  why: "apply the embedded CRD at start (--install-crds)",
};
