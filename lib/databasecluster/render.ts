/**
 * Every child object of a DatabaseCluster, as dbop would apply them, from the
 * pure builders alone: the function behind `dbop render -f cluster.yaml`, for
 * reviewing in GitOps what a cluster turns into, with no Kubernetes cluster
 * needed. Passwords, the status token and TLS material are not known offline,
 * so unless passwords are given, secret values print as `<generated>`: nothing secret
 * is ever printed. Secrets are shown with `stringData` so they can be read;
 * the output is deterministic.
 *
 * @module
 */
import type { KubernetesObject, V1Secret } from "@kubernetes/client-node";
import { parseAllDocuments, stringify } from "yaml";
import { type DatabaseCluster, parseDatabaseCluster } from "../api/mod.ts";
import type { Passwords } from "./passwords.ts";
import { buildBackupClaim, buildBackupCronJob } from "./specs/backup.ts";
import { decodeDataValue } from "./specs/common.ts";
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
import { buildCaSecret, buildServerSecret, issuesCertificates } from "./specs/tls_secrets.ts";

/** Stands for a value dbop generates when it creates the cluster. */
export const PLACEHOLDER = "<generated>";

/** Options of {@link renderCluster}. */
export interface RenderOptions {
  /** Passwords to show instead of the placeholder. */
  passwords?: Partial<Passwords>;
  /** Whether to include the PodMonitor as if its CRD were installed (default true). */
  podMonitorCrd?: boolean;
}

/**
 * The desired children of a cluster, in the order dbop applies them: credentials, the
 * status token and TLS first, then the instances' ServiceAccount, Role and RoleBinding,
 * the configuration, the Services, the StatefulSet that uses them all, and the optional
 * budget, backups and PodMonitor.
 */
export function renderCluster(
  cluster: DatabaseCluster,
  options: RenderOptions = {},
): KubernetesObject[] {
  const passwords = options.passwords ?? {};
  const objects: (KubernetesObject | undefined)[] = [
    buildSuperuserSecret(cluster, passwords.superuser ?? PLACEHOLDER),
    buildAppSecret(cluster, passwords.app ?? PLACEHOLDER),
    buildReplicationSecret(cluster, passwords.replication ?? PLACEHOLDER),
    buildStatusTokenSecret(cluster, PLACEHOLDER),
  ];
  if (issuesCertificates(cluster)) {
    const material = { certificate: PLACEHOLDER, privateKey: PLACEHOLDER };
    objects.push(
      buildCaSecret(cluster, material),
      buildServerSecret(cluster, { ...material, caCertificate: PLACEHOLDER }),
    );
  }
  objects.push(
    ...buildInstanceRbac(cluster),
    buildConfigMap(cluster),
    ...buildServices(cluster),
    buildStatefulSet(cluster),
    ...buildPodDisruptionBudgets(cluster).map(({ budget }) => budget),
    buildBackupClaim(cluster),
    buildBackupCronJob(cluster),
    buildPodMonitor(cluster, { crdInstalled: options.podMonitorCrd ?? true }),
  );
  return objects.filter((object) => object !== undefined);
}

/** A Secret with its `data` decoded into `stringData`, and the placeholder left readable in URIs. */
export function readableSecret(secret: V1Secret): V1Secret {
  const encodedPlaceholder = encodeURIComponent(PLACEHOLDER);
  const stringData = Object.fromEntries(
    Object.keys(secret.data ?? {}).map((key) => [
      key,
      (decodeDataValue(secret, key) ?? "").replaceAll(encodedPlaceholder, PLACEHOLDER),
    ]),
  );
  const { data: _data, ...rest } = secret;
  return { ...rest, stringData };
}

/** Objects as multi-document YAML, Secrets readable. */
export function toYaml(objects: readonly KubernetesObject[]): string {
  return objects
    .map((object) => object.kind === "Secret" ? readableSecret(object as V1Secret) : object)
    .map((object) => stringify(object, { lineWidth: 0, aliasDuplicateObjects: false }))
    .join("---\n");
}

/**
 * `dbop render`: reads DatabaseClusters from YAML (one or more documents), applies
 * the API's defaults and validation, and returns their children as YAML. A cluster
 * without a namespace is placed in `namespace` (default `default`).
 */
export function renderManifests(
  text: string,
  options: RenderOptions & { namespace?: string } = {},
): string {
  const documents = parseAllDocuments(text);
  const rendered: KubernetesObject[] = [];
  for (const document of Array.isArray(documents) ? documents : [documents]) {
    if (document.errors.length > 0) {
      throw new Error(`Cannot read the DatabaseCluster YAML: ${document.errors[0].message}`);
    }
    const input = document.toJS();
    if (input === null || input === undefined) continue;
    const cluster = parseDatabaseCluster(input);
    cluster.metadata.namespace ??= options.namespace ?? "default";
    rendered.push(...renderCluster(cluster, options));
  }
  return toYaml(rendered);
}
