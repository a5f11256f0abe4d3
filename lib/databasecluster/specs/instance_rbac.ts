/**
 * Builders of the instance managers' identity: the ServiceAccount
 * `<c>-instance` the cluster's pods run as, the Role `<c>-instance` with
 * exactly what `dbop instance run` needs (read and watch its own
 * DatabaseCluster, by name; server-side apply `status.systemIdentifier` to
 * it; list and watch its credential Secrets, by name, so the primary applies
 * a changed password; list and watch its status token Secret, by name, so the
 * status endpoint accepts a new token at once; list and watch its ConfigMap
 * and server TLS Secret, by name, so the instance reloads PostgreSQL on a
 * changed setting or certificate; create and patch Events; get and update the
 * primary Lease `<c>-primary`, by name, and create Leases, the gate of
 * promotion in `lib/instance/lease.ts`) and the RoleBinding that grants that
 * Role to that ServiceAccount. The Role names the cluster, the ConfigMap, the
 * Secrets and the Lease in `resourceNames`, so an instance can neither read
 * nor write another cluster's, and it grants nothing else: no other Secret or
 * ConfigMap, no pods, no delete of the Lease. Only `create` of Leases cannot
 * be limited by name (RBAC authorizes a create before the object's name is
 * known), so an instance may create other Leases in its namespace but never
 * read, renew or take over one it does not hold by name. The operator can
 * create this Role only because it holds every permission it grants (RBAC's
 * escalation check; see `../rbac.ts`).
 *
 * @module
 */
import type {
  V1PolicyRule,
  V1Role,
  V1RoleBinding,
  V1ServiceAccount,
} from "@kubernetes/client-node";
import { DATABASE_CLUSTER, type DatabaseCluster } from "../../api/mod.ts";
import {
  commonLabels,
  configMapName,
  instanceServiceAccountName,
  primaryLeaseName,
  replicationSecretName,
  statusTokenSecretName,
  superuserSecretName,
} from "../names.ts";
import { childMetadata, clusterName, clusterNamespace, mergedMetadata } from "./common.ts";
import { appCredentialsSecretName } from "./secrets.ts";
import { serverTlsSecretName } from "./tls_secrets.ts";

const RBAC_GROUP = "rbac.authorization.k8s.io";

function metadata(cluster: DatabaseCluster) {
  return childMetadata(cluster, {
    name: instanceServiceAccountName(clusterName(cluster)),
    component: "database",
  });
}

/** The child metadata, `spec.serviceAccountTemplate.metadata` taking precedence over the inherited. */
function serviceAccountMetadata(cluster: DatabaseCluster) {
  const inherited = cluster.spec.inheritedMetadata;
  const template = cluster.spec.serviceAccountTemplate?.metadata;
  return {
    name: instanceServiceAccountName(clusterName(cluster)),
    namespace: clusterNamespace(cluster),
    ...mergedMetadata({
      labels: { ...inherited?.labels, ...template?.labels },
      annotations: { ...inherited?.annotations, ...template?.annotations },
    }, { labels: commonLabels(clusterName(cluster), "database") }),
  };
}

/**
 * The Secrets an instance manager follows: superuser, replication, application owner, the
 * status token and, with TLS, the server certificate.
 */
export function instanceSecretNames(cluster: DatabaseCluster): string[] {
  const name = clusterName(cluster);
  const names = [
    superuserSecretName(name),
    replicationSecretName(name),
    appCredentialsSecretName(cluster),
    statusTokenSecretName(name),
  ];
  const tls = serverTlsSecretName(cluster);
  if (tls) names.push(tls);
  return names;
}

/**
 * The rules of the instance Role for cluster `name`: get, list and watch of that one
 * DatabaseCluster (list and watch go with `fieldSelector=metadata.name=<c>`, which RBAC
 * allows with `resourceNames`), patch of its status (server-side apply), list and
 * watch of the `secrets` it follows and of its ConfigMap, the same way, and get and
 * update of its primary Lease, with create of Leases (not limitable by name).
 */
export function instanceRules(name: string, secrets: string[]): V1PolicyRule[] {
  return [
    {
      apiGroups: [DATABASE_CLUSTER.group],
      resources: [DATABASE_CLUSTER.plural],
      resourceNames: [name],
      verbs: ["get", "list", "watch"],
    },
    {
      apiGroups: [DATABASE_CLUSTER.group],
      resources: [`${DATABASE_CLUSTER.plural}/status`],
      resourceNames: [name],
      verbs: ["patch"],
    },
    { apiGroups: [""], resources: ["secrets"], resourceNames: secrets, verbs: ["list", "watch"] },
    {
      apiGroups: [""],
      resources: ["configmaps"],
      resourceNames: [configMapName(name)],
      verbs: ["list", "watch"],
    },
    // Warnings about the cluster (an empty primary volume, another database's data).
    { apiGroups: ["events.k8s.io"], resources: ["events"], verbs: ["create", "patch"] },
    // The primary Lease: read and renew or take it over by name; create it when absent,
    // which RBAC cannot limit by name. Its owner reference needs no more: setting one
    // at create needs no delete of the Lease (OwnerReferencesPermissionEnforcement).
    {
      apiGroups: ["coordination.k8s.io"],
      resources: ["leases"],
      resourceNames: [primaryLeaseName(name)],
      verbs: ["get", "update"],
    },
    { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["create"] },
  ];
}

/** ServiceAccount `<c>-instance`: the identity of the cluster's instance managers. */
export function buildInstanceServiceAccount(cluster: DatabaseCluster): V1ServiceAccount {
  return {
    apiVersion: "v1",
    kind: "ServiceAccount",
    metadata: serviceAccountMetadata(cluster),
    // The instance manager talks to the API server with the projected token.
    automountServiceAccountToken: true,
  };
}

/** Role `<c>-instance`: its own DatabaseCluster, status, Secrets, ConfigMap and primary Lease. */
export function buildInstanceRole(cluster: DatabaseCluster): V1Role {
  return {
    apiVersion: `${RBAC_GROUP}/v1`,
    kind: "Role",
    metadata: metadata(cluster),
    rules: instanceRules(clusterName(cluster), instanceSecretNames(cluster)),
  };
}

/** RoleBinding `<c>-instance`: the instance Role granted to the instance ServiceAccount. */
export function buildInstanceRoleBinding(cluster: DatabaseCluster): V1RoleBinding {
  const name = instanceServiceAccountName(clusterName(cluster));
  return {
    apiVersion: `${RBAC_GROUP}/v1`,
    kind: "RoleBinding",
    metadata: metadata(cluster),
    roleRef: { apiGroup: RBAC_GROUP, kind: "Role", name },
    // No apiGroup on a ServiceAccount subject: the API server stores none ("" is
    // omitted), so setting one would read back as drift on every reconcile.
    subjects: [{ kind: "ServiceAccount", name, namespace: clusterNamespace(cluster) }],
  };
}

/** The ServiceAccount, Role and RoleBinding of the instance managers, in the order to apply them. */
export function buildInstanceRbac(
  cluster: DatabaseCluster,
): [V1ServiceAccount, V1Role, V1RoleBinding] {
  return [
    buildInstanceServiceAccount(cluster),
    buildInstanceRole(cluster),
    buildInstanceRoleBinding(cluster),
  ];
}
