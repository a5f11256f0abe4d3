/**
 * The desired children of a cluster for one reconcile: the pure builders fed
 * with what only the live state knows. Passwords and the status token are read
 * back from the cluster's Secrets and generated only when missing; the CA is reused while it
 * is valid; the server certificate is reissued before it expires or when the
 * CA or the DNS names change; the StatefulSet keeps the claim size of its
 * immutable volumeClaimTemplates. Every object gets the cluster as controller
 * owner.
 *
 * @module
 */
import type { KubernetesObject, V1OwnerReference } from "@kubernetes/client-node";
import { DATABASE_CLUSTER_API_VERSION, type DatabaseCluster } from "../api/mod.ts";
import { type Children, secretByName } from "./cache.ts";
import {
  appSecretName,
  backupCronJobName,
  caSecretName,
  podMonitorName,
  replicationSecretName,
  serverSecretName,
  statusTokenSecretName,
  superuserSecretName,
} from "./names.ts";
import {
  passwordFromSecret,
  type Passwords,
  resolvePasswords,
  resolveStatusToken,
  statusTokenFromSecret,
} from "./passwords.ts";
import { buildBackupClaim, buildBackupCronJob } from "./specs/backup.ts";
import { buildConfigMap } from "./specs/config_map.ts";
import { buildInstanceRbac } from "./specs/instance_rbac.ts";
import { buildPodDisruptionBudgets } from "./specs/pod_disruption_budget.ts";
import { buildPodMonitor } from "./specs/pod_monitor.ts";
import {
  buildAppSecret,
  buildReplicationSecret,
  buildStatusTokenSecret,
  buildSuperuserSecret,
} from "./specs/secrets.ts";
import { buildServices } from "./specs/services.ts";
import { buildStatefulSet } from "./specs/stateful_set.ts";
import {
  buildCaSecret,
  buildServerSecret,
  issuesCertificates,
  readCertificateAuthority,
  readServerCertificate,
  serverCertificateDnsNames,
} from "./specs/tls_secrets.ts";
import {
  type CertificateAuthority,
  issueClusterCa,
  issueServerCertificate,
  needsRenewal,
  renewalTime,
  type ServerCertificate,
} from "./tls.ts";

/** The desired children and when the server certificate needs renewing. */
export interface Desired {
  objects: KubernetesObject[];
  /** Kinds of optional children that must not exist (to delete if cached). */
  unwanted: { kind: string; name: string }[];
  /** When to reconcile again for certificate renewal, if TLS is issued by dbop. */
  renewAt?: Date;
}

/** The passwords in the live Secrets, completed with generated ones. */
export function livePasswords(cluster: DatabaseCluster, children: Children): Passwords {
  const name = cluster.metadata.name;
  return resolvePasswords({
    superuser: passwordFromSecret(secretByName(children, superuserSecretName(name))),
    replication: passwordFromSecret(secretByName(children, replicationSecretName(name))),
    app: passwordFromSecret(secretByName(children, appSecretName(name))),
  }, { withApp: cluster.spec.security.authentication.existingSecret === undefined });
}

/** The status token in the live Secret `<c>-status`, or a new one when it is missing or empty. */
export function liveStatusToken(cluster: DatabaseCluster, children: Children): string {
  const secret = secretByName(children, statusTokenSecretName(cluster.metadata.name));
  return resolveStatusToken(statusTokenFromSecret(secret));
}

async function liveTls(
  cluster: DatabaseCluster,
  children: Children,
  now: Date,
): Promise<{ ca: CertificateAuthority; server: ServerCertificate }> {
  const name = cluster.metadata.name;
  let ca = readCertificateAuthority(secretByName(children, caSecretName(name)));
  if (!ca || needsRenewal(ca.certificate, now)) {
    ca = await issueClusterCa(`${cluster.metadata.namespace}/${name}`, now);
  }
  const dnsNames = serverCertificateDnsNames(cluster);
  let server = readServerCertificate(secretByName(children, serverSecretName(name)));
  if (!server || needsRenewal(server.certificate, now, { dnsNames, ca: ca.certificate })) {
    server = await issueServerCertificate(ca, dnsNames, { now });
  }
  return { ca, server };
}

function ownedBy(owner: V1OwnerReference) {
  return (object: KubernetesObject): KubernetesObject => ({
    ...object,
    metadata: { ...object.metadata, ownerReferences: [owner] },
  });
}

/** The controller owner reference of a cluster's children. */
export function ownerReference(cluster: DatabaseCluster): V1OwnerReference {
  return {
    apiVersion: cluster.apiVersion ?? DATABASE_CLUSTER_API_VERSION,
    kind: cluster.kind ?? "DatabaseCluster",
    name: cluster.metadata.name,
    uid: cluster.metadata.uid!,
    controller: true,
    blockOwnerDeletion: true,
  };
}

/** An optional child: its kind, the object when wanted, and the name to delete when not. */
type Optional = [string, KubernetesObject | undefined, string | undefined];

/** Builds every child the cluster should have now. */
export async function desiredChildren(
  cluster: DatabaseCluster,
  children: Children,
  options: { now: Date; podMonitorCrd: boolean; instanceImage?: string },
): Promise<Desired> {
  const passwords = livePasswords(cluster, children);
  const objects: (KubernetesObject | undefined)[] = [
    buildSuperuserSecret(cluster, passwords.superuser),
    passwords.app === undefined ? undefined : buildAppSecret(cluster, passwords.app),
    buildReplicationSecret(cluster, passwords.replication),
    buildStatusTokenSecret(cluster, liveStatusToken(cluster, children)),
  ];
  let renewAt: Date | undefined;
  if (issuesCertificates(cluster)) {
    const { ca, server } = await liveTls(cluster, children, options.now);
    objects.push(buildCaSecret(cluster, ca), buildServerSecret(cluster, server));
    renewAt = renewalTime(server.certificate);
  }
  const live = children.statefulSets[0];
  const claimSize = live?.spec?.volumeClaimTemplates?.find((t) => t.metadata?.name === "data")
    ?.spec?.resources?.requests?.storage;
  const name = cluster.metadata.name;
  // Optional children; the backup volume is never removed here (it holds the backups).
  const optional: Optional[] = [
    ...buildPodDisruptionBudgets(cluster).map(({ name: budgetName, budget }): Optional => [
      "PodDisruptionBudget",
      budget,
      budgetName,
    ]),
    ["PersistentVolumeClaim", buildBackupClaim(cluster), undefined],
    ["CronJob", buildBackupCronJob(cluster), backupCronJobName(name)],
    [
      "PodMonitor",
      buildPodMonitor(cluster, { crdInstalled: options.podMonitorCrd }),
      podMonitorName(name),
    ],
  ];
  objects.push(
    // Before the StatefulSet, whose pods run as the ServiceAccount.
    ...buildInstanceRbac(cluster),
    buildConfigMap(cluster),
    ...buildServices(cluster),
    buildStatefulSet(cluster, {
      claimSize: claimSize ? String(claimSize) : undefined,
      instanceImage: options.instanceImage,
    }),
    ...optional.map(([, object]) => object),
  );
  const unwanted = optional.flatMap(([kind, object, childName]) =>
    object === undefined && childName ? [{ kind, name: childName }] : []
  );
  return {
    objects: objects.filter((o) => o !== undefined).map(ownedBy(ownerReference(cluster))),
    unwanted,
    renewAt,
  };
}
