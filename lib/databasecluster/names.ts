/**
 * Every name and label dbop derives from a DatabaseCluster, in one place: the
 * names of its children (a user-facing contract: applications find the
 * `<c>-rw` Service and the `<c>-app` Secret by name), the recommended
 * `app.kubernetes.io/*` labels, the selector of the instances' pods, the pod
 * role label, the finalizer, the primary Lease and the Service DNS names. Nothing else in dbop
 * concatenates a child's name.
 *
 * @module
 */
import { DATABASE_CLUSTER } from "../api/constants.ts";

const GROUP = DATABASE_CLUSTER.group;

/** The field manager of every write dbop makes (passed to the kube client, which knows no operator). */
export const FIELD_MANAGER = "dbop";

/** The finalizer dbop puts on a DatabaseCluster to clean up (or detach) its data before it goes. */
export const FINALIZER = `${GROUP}/cleanup`;

/** Label keys dbop sets; wire names as Kubernetes spells them. */
export const LABELS = {
  name: "app.kubernetes.io/name",
  instance: "app.kubernetes.io/instance",
  managedBy: "app.kubernetes.io/managed-by",
  component: "app.kubernetes.io/component",
  cluster: `${GROUP}/cluster`,
  role: `${GROUP}/role`,
} as const;

/**
 * The label the StatefulSet controller puts on each pod it makes: the revision of the pod
 * template the pod was made from (`status.updateRevision` is the newest).
 */
export const POD_REVISION_LABEL = "controller-revision-hash";

/** The label the StatefulSet controller puts on each pod it makes: the pod's own name. */
export const POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name";

/** Annotation keys dbop sets. */
export const ANNOTATIONS = {
  /** On the StatefulSet: the PostgreSQL version it runs, so a major change can be refused. */
  version: `${GROUP}/postgresql-version`,
  /** On the DatabaseCluster: the instance to switch over to (`dbop promote` writes it). */
  promote: `${GROUP}/promote`,
  /**
   * With `promote`, when it was asked (`dbop promote` writes it), so asking again for the
   * same instance is a new request.
   */
  promoteAt: `${GROUP}/promote-at`,
} as const;

/** Value of `app.kubernetes.io/name` on every child. */
export const APP_NAME = "postgresql";

/** Value of `app.kubernetes.io/managed-by` on every child. */
export const MANAGED_BY = "dbop";

/** Values of `app.kubernetes.io/component`: which part of the cluster a child belongs to. */
export const COMPONENTS = {
  /**
   * The instances: StatefulSet, pods, data volumes, Services, disruption budget, and the
   * instance managers' ServiceAccount, Role and RoleBinding.
   */
  database: "database",
  /** User credentials Secrets, and the token of the instances' status endpoints. */
  credentials: "credentials",
  /** The CA and server certificate Secrets. */
  tls: "tls",
  /** The ConfigMap with postgresql.conf, pg_hba.conf and the scripts. */
  config: "config",
  /** The backup CronJob, its Jobs and pods, and the backup volume. */
  backup: "backup",
  /** The PodMonitor. */
  monitoring: "monitoring",
} as const;

/** A value of `app.kubernetes.io/component`. */
export type Component = (typeof COMPONENTS)[keyof typeof COMPONENTS];

/** Values of the pod role label `database.example.com/role`, set by dbop on each instance's pod. */
export const ROLES = { primary: "primary", replica: "replica" } as const;

/** A value of the pod role label. */
export type Role = (typeof ROLES)[keyof typeof ROLES];

/** Name of the data volume claim template; the StatefulSet names each claim `data-<pod>`. */
export const DATA_VOLUME = "data";

/** Name of the Service port (and container port) PostgreSQL listens on. */
export const POSTGRESQL_PORT_NAME = "postgresql";

/** Name of the exporter's container port, which the PodMonitor scrapes. */
export const METRICS_PORT_NAME = "metrics";

/** Secret with the `postgres` superuser's credentials: `<c>-superuser`. */
export function superuserSecretName(cluster: string): string {
  return `${cluster}-superuser`;
}

/** Secret with the generated application owner's credentials: `<c>-app`. */
export function appSecretName(cluster: string): string {
  return `${cluster}-app`;
}

/** Secret with the streaming replication role's credentials: `<c>-replication`. */
export function replicationSecretName(cluster: string): string {
  return `${cluster}-replication`;
}

/** ConfigMap with postgresql.conf, pg_hba.conf and the backup script: `<c>-config`. */
export function configMapName(cluster: string): string {
  return `${cluster}-config`;
}

/** Secret with the per-cluster CA: `<c>-ca`. */
export function caSecretName(cluster: string): string {
  return `${cluster}-ca`;
}

/** Secret with the server certificate dbop issues: `<c>-server`. */
export function serverSecretName(cluster: string): string {
  return `${cluster}-server`;
}

/** ServiceAccount, Role and RoleBinding of the instance managers: `<c>-instance`. */
export function instanceServiceAccountName(cluster: string): string {
  return `${cluster}-instance`;
}

/** Secret with the token of the instances' status endpoints: `<c>-status`. */
export function statusTokenSecretName(cluster: string): string {
  return `${cluster}-status`;
}

/**
 * Lease held by the instance that runs as primary, the gate of promotion: `<c>-primary`
 * (in the cluster's namespace, created by an instance manager).
 */
export function primaryLeaseName(cluster: string): string {
  return `${cluster}-primary`;
}

/** StatefulSet of the instances: `<c>`. */
export function statefulSetName(cluster: string): string {
  return cluster;
}

/** PodDisruptionBudget of the instances: `<c>`. */
export function podDisruptionBudgetName(cluster: string): string {
  return cluster;
}

/** PodDisruptionBudget of the primary's pod, with switchover on drain: `<c>-primary`. */
export function primaryPodDisruptionBudgetName(cluster: string): string {
  return `${cluster}-primary`;
}

/** PodMonitor of the instances: `<c>`. */
export function podMonitorName(cluster: string): string {
  return cluster;
}

/** Headless Service that gives each instance a stable DNS name: `<c>-headless`. */
export function headlessServiceName(cluster: string): string {
  return `${cluster}-headless`;
}

/** Service of the primary (read-write): `<c>-rw`. */
export function readWriteServiceName(cluster: string): string {
  return `${cluster}-rw`;
}

/** Service of the replicas only (read-only): `<c>-ro`. */
export function readOnlyServiceName(cluster: string): string {
  return `${cluster}-ro`;
}

/** Service of any instance (read): `<c>-r`. */
export function readServiceName(cluster: string): string {
  return `${cluster}-r`;
}

/** CronJob that takes the scheduled backups: `<c>-backup`. */
export function backupCronJobName(cluster: string): string {
  return `${cluster}-backup`;
}

/** Volume claim the backups are written to: `<c>-backups`. */
export function backupClaimName(cluster: string): string {
  return `${cluster}-backups`;
}

/** Pod of instance `ordinal`: `<c>-<ordinal>`, as the StatefulSet names it. */
export function podName(cluster: string, ordinal: number): string {
  return `${statefulSetName(cluster)}-${ordinal}`;
}

/** Data volume claim of instance `ordinal`: `data-<c>-<ordinal>`, as the StatefulSet names it. */
export function dataClaimName(cluster: string, ordinal: number): string {
  return `${DATA_VOLUME}-${podName(cluster, ordinal)}`;
}

/** The pod that bootstraps the primary (ordinal 0): `<c>-0`. */
export function initialPrimaryPodName(cluster: string): string {
  return podName(cluster, 0);
}

/** Namespace-qualified DNS name of a Service: `<svc>.<ns>.svc`. */
export function serviceDnsName(service: string, namespace: string): string {
  return `${service}.${namespace}.svc`;
}

/**
 * DNS names the server certificate covers: each Service by its short, namespaced,
 * `.svc` and `.svc.cluster.local` names, and every instance under the headless
 * Service (a wildcard), so clients can verify the server however they address it.
 */
export function serverDnsNames(cluster: string, namespace: string): string[] {
  const services = [
    readWriteServiceName(cluster),
    readOnlyServiceName(cluster),
    readServiceName(cluster),
  ];
  const names = services.flatMap((service) => [
    service,
    `${service}.${namespace}`,
    serviceDnsName(service, namespace),
    `${serviceDnsName(service, namespace)}.cluster.local`,
  ]);
  const headless = serviceDnsName(headlessServiceName(cluster), namespace);
  return [...names, `*.${headless}`, `*.${headless}.cluster.local`];
}

/** The labels on every child of a cluster: the recommended `app.kubernetes.io/*` ones and the cluster's. */
export function commonLabels(cluster: string, component: Component): Record<string, string> {
  return {
    [LABELS.name]: APP_NAME,
    [LABELS.instance]: cluster,
    [LABELS.managedBy]: MANAGED_BY,
    [LABELS.component]: component,
    [LABELS.cluster]: cluster,
  };
}

/**
 * The labels that select a cluster's instance pods (and only them, not its backup
 * pods): the StatefulSet's immutable selector, the Services', the budget's and the
 * PodMonitor's, and `status.selector`.
 */
export function instanceSelector(cluster: string): Record<string, string> {
  return { [LABELS.cluster]: cluster, [LABELS.component]: COMPONENTS.database };
}

/** The instance selector narrowed to one role (the `-rw` and `-ro` Services). */
export function roleSelector(cluster: string, role: Role): Record<string, string> {
  return { ...instanceSelector(cluster), [LABELS.role]: role };
}

/** The labels that select a cluster's backup Jobs. */
export function backupSelector(cluster: string): Record<string, string> {
  return { [LABELS.cluster]: cluster, [LABELS.component]: COMPONENTS.backup };
}

/** Every child of a cluster, whatever its component: `database.example.com/cluster=<c>`. */
export function clusterSelector(cluster: string): Record<string, string> {
  return { [LABELS.cluster]: cluster };
}

/** A label selector as the API's string form (`k=v,k=v`, keys sorted so the string is stable). */
export function formatSelector(labels: Record<string, string>): string {
  return Object.keys(labels).sort().map((key) => `${key}=${labels[key]}`).join(",");
}
