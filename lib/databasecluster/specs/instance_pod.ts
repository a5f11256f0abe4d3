/**
 * The pod template of the instances: the `dbop-install` init container copies
 * dbop's binary from dbop's own image into a shared volume, and the PostgreSQL
 * container runs it as PID 1, `dbop instance run`, the instance manager. It
 * reads everything from its environment (the downward API for the pod's name,
 * namespace and IP; Secrets by reference for passwords and the status token,
 * never inline), uses the cluster's `<c>-instance` ServiceAccount to watch its
 * DatabaseCluster, its Secrets (credentials and status token, so a new one is
 * used without a restart), its ConfigMap and its TLS Secret (it writes their
 * files into an emptyDir of its own and reloads PostgreSQL when they change:
 * neither is a volume, whose refresh by the kubelet is slow), and serves
 * readiness and status on the status port. The exporter sidecar when
 * monitoring is enabled; volumes, probes, security context and scheduling
 * spread. Which instance is the primary is not in the
 * template: `status.targetPrimary` decides it, so changing it rolls no pod.
 *
 * @module
 */
import type {
  V1Affinity,
  V1Container,
  V1EnvVar,
  V1PodAntiAffinity,
  V1PodSecurityContext,
  V1PodSpec,
  V1Probe,
  V1SecurityContext,
  V1Volume,
  V1VolumeMount,
} from "@kubernetes/client-node";
import {
  type DatabaseCluster,
  MONITORING_USERNAME,
  REPLICATION_USERNAME,
  STATUS_TOKEN_KEY,
} from "../../api/mod.ts";
import { SERVICE_ACCOUNT_DIR } from "../../kube/in_cluster.ts";
import {
  configMapName,
  DATA_VOLUME,
  instanceSelector,
  instanceServiceAccountName,
  METRICS_PORT_NAME,
  POSTGRESQL_PORT_NAME,
  readWriteServiceName,
  replicationSecretName,
  statusTokenSecretName,
  superuserSecretName,
} from "../names.ts";
import {
  clusterName,
  containerResources,
  DEFAULT_INSTANCE_IMAGE,
  EXPORTER_IMAGE,
  PATHS,
  POSTGRES_UID,
  postgresImage,
} from "./common.ts";
import { appCredentialsSecretName } from "./secrets.ts";
import { clientSslMode } from "./ssl_mode.ts";
import { issuesCertificates, serverTlsSecretName } from "./tls_secrets.ts";

/** Container names. */
export const CONTAINERS = {
  postgres: "postgres",
  install: "dbop-install",
  exporter: "exporter",
} as const;

/** Where the init container puts dbop's binary, and where the binary is in dbop's image. */
export const INSTANCE_BINARY = {
  shared: "/controller/dbop",
  image: "/usr/local/bin/dbop",
} as const;

/** The port of each instance manager's status endpoint (`/status`, `/readyz`, `/healthz`). */
export const STATUS_PORT = 8000;

/** Name of the status endpoint's container port. */
export const STATUS_PORT_NAME = "status";

/** Seconds a fast shutdown may take; the grace period leaves room for the escalation after it. */
const STOP_TIMEOUT_SECONDS = 50;
const TERMINATION_GRACE_SECONDS = 60;

/** Volume names in the pod. */
const VOLUMES = {
  files: "files",
  run: "run",
  tmp: "tmp",
  controller: "controller",
} as const;

function value(name: string, text: string): V1EnvVar {
  return { name, value: text };
}

function fromSecret(name: string, secret: string, key: string): V1EnvVar {
  return { name, valueFrom: { secretKeyRef: { name: secret, key } } };
}

function fromField(name: string, fieldPath: string): V1EnvVar {
  return { name, valueFrom: { fieldRef: { fieldPath } } };
}

/** The instance manager's environment: what `lib/instance/options.ts` reads. */
function instanceEnv(cluster: DatabaseCluster): V1EnvVar[] {
  const name = clusterName(cluster);
  const app = appCredentialsSecretName(cluster);
  const env = [
    value("DBOP_CLUSTER", name),
    fromField("POD_NAMESPACE", "metadata.namespace"),
    fromField("POD_NAME", "metadata.name"),
    fromField("POD_IP", "status.podIP"),
    value("PGDATA", PATHS.pgdata),
    value("PGPORT", String(cluster.spec.network.port)),
    value("DBOP_CONFIG_DIR", PATHS.config),
    value("DBOP_CONFIG_MAP", configMapName(name)),
    value("RUN_DIR", PATHS.socket),
    value("PRIMARY_HOST", readWriteServiceName(name)),
    value("REPLICATION_USER", REPLICATION_USERNAME),
    fromSecret("REPLICATION_PASSWORD", replicationSecretName(name), "password"),
    value("REPLICATION_SSLMODE", clientSslMode(cluster)),
  ];
  if (issuesCertificates(cluster)) {
    env.push(value("REPLICATION_SSLROOTCERT", `${PATHS.tls}/ca.crt`));
  }
  const tlsSecret = serverTlsSecretName(cluster);
  if (tlsSecret) {
    env.push(value("DBOP_TLS_DIR", PATHS.tls), value("DBOP_TLS_SECRET", tlsSecret));
  }
  env.push(
    fromSecret("POSTGRES_PASSWORD", superuserSecretName(name), "password"),
    fromSecret("APP_USER", app, "username"),
    fromSecret("APP_PASSWORD", app, "password"),
    value("APP_DATABASE", cluster.spec.security.authentication.database),
    value("PASSWORD_ENCRYPTION", cluster.spec.security.authentication.type),
    value("DBOP_STATUS_PORT", String(STATUS_PORT)),
    // The instance manager follows this Secret by name; the variable is the token until the
    // Secret is seen, and wherever the Secret cannot be watched.
    fromSecret("DBOP_STATUS_TOKEN", statusTokenSecretName(name), STATUS_TOKEN_KEY),
    value("DBOP_STOP_TIMEOUT_SECONDS", String(STOP_TIMEOUT_SECONDS)),
    // The Secrets the instance manager follows, so a changed password reaches PostgreSQL.
    value("DBOP_SUPERUSER_SECRET", superuserSecretName(name)),
    value("DBOP_REPLICATION_SECRET", replicationSecretName(name)),
    value("DBOP_APP_SECRET", app),
    // Kubernetes' default, spelled out so the pod names every path it reads.
    value("DBOP_SERVICE_ACCOUNT_DIR", SERVICE_ACCOUNT_DIR),
  );
  return env;
}

function mounts(): V1VolumeMount[] {
  return [
    { name: DATA_VOLUME, mountPath: PATHS.dataVolume },
    { name: VOLUMES.files, mountPath: PATHS.instanceFiles },
    { name: VOLUMES.run, mountPath: PATHS.socket },
    { name: VOLUMES.tmp, mountPath: "/tmp" },
    { name: VOLUMES.controller, mountPath: dirname(INSTANCE_BINARY.shared), readOnly: true },
  ];
}

function dirname(path: string): string {
  return path.slice(0, path.lastIndexOf("/"));
}

function volumes(): V1Volume[] {
  return [
    // In memory, as a Secret volume would be: it holds the server's private key.
    { name: VOLUMES.files, emptyDir: { medium: "Memory", sizeLimit: "1Mi" } },
    { name: VOLUMES.run, emptyDir: {} },
    { name: VOLUMES.tmp, emptyDir: {} },
    { name: VOLUMES.controller, emptyDir: {} },
  ];
}

/**
 * Probes on the instance manager's endpoint. Readiness: PostgreSQL accepts connections.
 * Liveness: the manager answers; it restarts PostgreSQL itself, so a long initdb, clone
 * or crash recovery never gets the container killed.
 */
function probes(): Pick<V1Container, "readinessProbe" | "livenessProbe"> {
  const probe = (path: string, failureThreshold: number): V1Probe => ({
    httpGet: { path, port: STATUS_PORT_NAME },
    periodSeconds: 5,
    timeoutSeconds: 3,
    failureThreshold,
  });
  return { readinessProbe: probe("/readyz", 3), livenessProbe: probe("/healthz", 6) };
}

/** Each container: no privilege escalation, no capabilities, read-only root file system. */
export function containerSecurityContext(): V1SecurityContext {
  return {
    allowPrivilegeEscalation: false,
    capabilities: { drop: ["ALL"] },
    readOnlyRootFilesystem: true,
    runAsNonRoot: true,
  };
}

function postgresContainer(cluster: DatabaseCluster): V1Container {
  const container: V1Container = {
    name: CONTAINERS.postgres,
    image: postgresImage(cluster),
    command: [INSTANCE_BINARY.shared, "instance", "run"],
    env: instanceEnv(cluster),
    ports: [
      { name: POSTGRESQL_PORT_NAME, containerPort: cluster.spec.network.port, protocol: "TCP" },
      { name: STATUS_PORT_NAME, containerPort: STATUS_PORT, protocol: "TCP" },
    ],
    volumeMounts: mounts(),
    ...probes(),
    securityContext: containerSecurityContext(),
  };
  const resources = containerResources(cluster);
  if (resources) container.resources = resources;
  return container;
}

/** Sets `spec.imagePullPolicy` on a container, when there is one. */
function withPullPolicy(cluster: DatabaseCluster) {
  const policy = cluster.spec.imagePullPolicy;
  return (container: V1Container): V1Container =>
    policy ? { ...container, imagePullPolicy: policy } : container;
}

/** Copies dbop's binary out of dbop's image, so the PostgreSQL image needs nothing of ours. */
function installContainer(instanceImage: string): V1Container {
  return {
    name: CONTAINERS.install,
    image: instanceImage,
    command: [INSTANCE_BINARY.image, "instance", "install", INSTANCE_BINARY.shared],
    volumeMounts: [{ name: VOLUMES.controller, mountPath: dirname(INSTANCE_BINARY.shared) }],
    resources: { requests: { cpu: "10m", memory: "32Mi" }, limits: { memory: "128Mi" } },
    securityContext: containerSecurityContext(),
  };
}

/**
 * The exporter reads the local server over the pod's socket directory (shared with the
 * PostgreSQL container) as the `pg_monitor` role dbop creates: peer authentication, so
 * it holds no password, and the superuser never logs in for it.
 */
function exporterContainer(cluster: DatabaseCluster): V1Container {
  const { monitoring, network } = cluster.spec;
  const dsn = `host=${PATHS.socket} port=${network.port} user=${MONITORING_USERNAME} ` +
    "dbname=postgres sslmode=disable";
  return {
    name: CONTAINERS.exporter,
    image: EXPORTER_IMAGE,
    args: [`--web.listen-address=:${monitoring.port}`, `--web.telemetry-path=${monitoring.path}`],
    env: [value("DATA_SOURCE_NAME", dsn)],
    ports: [{ name: METRICS_PORT_NAME, containerPort: monitoring.port, protocol: "TCP" }],
    volumeMounts: [{ name: VOLUMES.run, mountPath: PATHS.socket }],
    resources: { requests: { cpu: "10m", memory: "32Mi" }, limits: { memory: "128Mi" } },
    securityContext: containerSecurityContext(),
  };
}

/** Runs as the image's postgres user; fsGroup makes the volumes writable to it. */
export function podSecurityContext(): V1PodSecurityContext {
  return {
    runAsUser: POSTGRES_UID,
    runAsGroup: POSTGRES_UID,
    runAsNonRoot: true,
    fsGroup: POSTGRES_UID,
    fsGroupChangePolicy: "OnRootMismatch",
    seccompProfile: { type: "RuntimeDefault" },
  };
}

/**
 * Instances on different nodes (preferred or required) and spread evenly over zones when
 * possible, with the user's `spec.scheduling` added: node selector, tolerations, priority
 * class, node and pod affinity as given, and anti-affinity terms next to dbop's own.
 */
function scheduling(cluster: DatabaseCluster): Partial<V1PodSpec> {
  const labelSelector = { matchLabels: instanceSelector(clusterName(cluster)) };
  const term = { labelSelector, topologyKey: "kubernetes.io/hostname" };
  const user = cluster.spec.scheduling ?? {};
  const extra = user.affinity?.podAntiAffinity ?? {};
  const own = cluster.spec.ha.podAntiAffinity === "required";
  const required = [
    ...(own ? [term] : []),
    ...extra.requiredDuringSchedulingIgnoredDuringExecution ?? [],
  ];
  const preferred = [
    ...(own ? [] : [{ weight: 100, podAffinityTerm: term }]),
    ...extra.preferredDuringSchedulingIgnoredDuringExecution ?? [],
  ];
  const podAntiAffinity: V1PodAntiAffinity = {};
  if (required.length > 0) {
    podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution = required;
  }
  if (preferred.length > 0) {
    podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution = preferred;
  }
  const affinity: V1Affinity = { podAntiAffinity };
  if (user.affinity?.nodeAffinity) affinity.nodeAffinity = user.affinity.nodeAffinity;
  if (user.affinity?.podAffinity) affinity.podAffinity = user.affinity.podAffinity;
  return {
    affinity,
    topologySpreadConstraints: [{
      maxSkew: 1,
      topologyKey: "topology.kubernetes.io/zone",
      whenUnsatisfiable: "ScheduleAnyway",
      labelSelector,
    }],
    ...(user.nodeSelector ? { nodeSelector: user.nodeSelector } : {}),
    ...(user.tolerations ? { tolerations: user.tolerations } : {}),
    ...(user.priorityClassName ? { priorityClassName: user.priorityClassName } : {}),
  };
}

/** The pod spec of every instance; `instanceImage` is dbop's image, which holds its binary. */
export function buildInstancePodSpec(
  cluster: DatabaseCluster,
  options: { instanceImage?: string } = {},
): V1PodSpec {
  const containers = [postgresContainer(cluster)];
  if (cluster.spec.monitoring.enabled) containers.push(exporterContainer(cluster));
  return {
    serviceAccountName: instanceServiceAccountName(clusterName(cluster)),
    // Service links would put variables such as POSTGRES_PORT into every container.
    enableServiceLinks: false,
    securityContext: podSecurityContext(),
    terminationGracePeriodSeconds: TERMINATION_GRACE_SECONDS,
    initContainers: [installContainer(options.instanceImage ?? DEFAULT_INSTANCE_IMAGE)].map(
      withPullPolicy(cluster),
    ),
    containers: containers.map(withPullPolicy(cluster)),
    ...(cluster.spec.imagePullSecrets ? { imagePullSecrets: cluster.spec.imagePullSecrets } : {}),
    volumes: volumes(),
    ...scheduling(cluster),
  };
}
