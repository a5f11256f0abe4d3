/**
 * The pod template of the instances: the PostgreSQL container started by
 * `start.sh` through the image's entrypoint, the `clone-replica` init
 * container, the exporter sidecar when monitoring is enabled, their
 * environment (roles and passwords come from the Secrets by reference, never
 * inline), volumes, probes, security context and scheduling spread. Which
 * instance is the primary is the `PRIMARY_POD` variable: `<c>-0`.
 *
 * @module
 */
import type {
  V1Affinity,
  V1Container,
  V1EnvVar,
  V1PodSecurityContext,
  V1PodSpec,
  V1Probe,
  V1SecurityContext,
  V1TopologySpreadConstraint,
  V1Volume,
  V1VolumeMount,
} from "@kubernetes/client-node";
import { type DatabaseCluster, REPLICATION_USERNAME } from "../../api/mod.ts";
import {
  configMapName,
  DATA_VOLUME,
  initialPrimaryPodName,
  instanceSelector,
  METRICS_PORT_NAME,
  POSTGRESQL_PORT_NAME,
  readWriteServiceName,
  replicationSecretName,
  superuserSecretName,
} from "../names.ts";
import {
  clusterName,
  CONFIG_KEYS,
  containerResources,
  EXPORTER_IMAGE,
  PATHS,
  POSTGRES_UID,
  postgresImage,
} from "./common.ts";
import { appCredentialsSecretName, SUPERUSER } from "./secrets.ts";
import { clientSslMode } from "./ssl_mode.ts";
import { issuesCertificates, serverTlsSecretName } from "./tls_secrets.ts";

/** Container names. */
export const CONTAINERS = {
  postgres: "postgres",
  cloneReplica: "clone-replica",
  exporter: "exporter",
} as const;

/** Volume names in the pod. */
const VOLUMES = { config: "config", initdb: "initdb", tls: "tls", run: "run", tmp: "tmp" } as const;

const READ_EXECUTE = 0o555;
/** PostgreSQL accepts a key file owned by root only when no more than group-readable. */
const OWNER_GROUP_READ = 0o440;

function value(name: string, text: string): V1EnvVar {
  return { name, value: text };
}

function fromSecret(name: string, secret: string, key: string): V1EnvVar {
  return { name, valueFrom: { secretKeyRef: { name: secret, key } } };
}

/** What start.sh and clone-replica.sh need to know about roles and replication. */
function replicationEnv(cluster: DatabaseCluster): V1EnvVar[] {
  const name = clusterName(cluster);
  const env = [
    value("PGDATA", PATHS.pgdata),
    value("PGPORT", String(cluster.spec.network.port)),
    { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
    value("PRIMARY_POD", initialPrimaryPodName(name)),
    value("PRIMARY_HOST", readWriteServiceName(name)),
    value("REPLICATION_USER", REPLICATION_USERNAME),
    fromSecret("REPLICATION_PASSWORD", replicationSecretName(name), "password"),
    value("REPLICATION_SSLMODE", clientSslMode(cluster)),
  ];
  if (issuesCertificates(cluster)) {
    env.push(value("REPLICATION_SSLROOTCERT", `${PATHS.tls}/ca.crt`));
  }
  return env;
}

/** The PostgreSQL container's environment: replication, then what initdb and init-primary.sh read. */
function postgresEnv(cluster: DatabaseCluster): V1EnvVar[] {
  const name = clusterName(cluster);
  const app = appCredentialsSecretName(cluster);
  return [
    ...replicationEnv(cluster),
    value("RUN_DIR", PATHS.socket),
    fromSecret("POSTGRES_PASSWORD", superuserSecretName(name), "password"),
    // dbop's pg_hba.conf replaces initdb's; these make the unused one safe all the same.
    value("POSTGRES_INITDB_ARGS", "--data-checksums --auth-local=peer --auth-host=scram-sha-256"),
    fromSecret("APP_USER", app, "username"),
    fromSecret("APP_PASSWORD", app, "password"),
    value("APP_DATABASE", cluster.spec.security.authentication.database),
  ];
}

function mounts(cluster: DatabaseCluster): V1VolumeMount[] {
  const list: V1VolumeMount[] = [
    { name: DATA_VOLUME, mountPath: PATHS.dataVolume },
    { name: VOLUMES.config, mountPath: PATHS.config, readOnly: true },
    { name: VOLUMES.run, mountPath: PATHS.socket },
    { name: VOLUMES.tmp, mountPath: "/tmp" },
  ];
  if (cluster.spec.security.tls.enabled) {
    list.push({ name: VOLUMES.tls, mountPath: PATHS.tls, readOnly: true });
  }
  return list;
}

function volumes(cluster: DatabaseCluster): V1Volume[] {
  const configMap = configMapName(clusterName(cluster));
  const list: V1Volume[] = [
    { name: VOLUMES.config, configMap: { name: configMap, defaultMode: READ_EXECUTE } },
    {
      name: VOLUMES.initdb,
      configMap: {
        name: configMap,
        defaultMode: READ_EXECUTE,
        items: [{ key: CONFIG_KEYS.initPrimary, path: "10-dbop-init-primary.sh" }],
      },
    },
    { name: VOLUMES.run, emptyDir: {} },
    { name: VOLUMES.tmp, emptyDir: {} },
  ];
  const tlsSecret = serverTlsSecretName(cluster);
  if (tlsSecret) {
    list.push({
      name: VOLUMES.tls,
      secret: { secretName: tlsSecret, defaultMode: OWNER_GROUP_READ },
    });
  }
  return list;
}

/**
 * Over TCP, not the socket: during bootstrap the image runs a temporary server on the
 * socket only, which must not make the pod Ready (and join `-rw`) before init finishes.
 */
function pgIsReady(cluster: DatabaseCluster): string[] {
  return ["pg_isready", "-q", "-h", "127.0.0.1", "-p", String(cluster.spec.network.port)];
}

/**
 * Probes. Startup allows an hour for initdb, a clone or crash recovery. Readiness is
 * pg_isready. Liveness fails only when the server does not answer at all (exit 2), not
 * while it answers "rejecting connections" during recovery, which a restart would undo.
 */
function probes(
  cluster: DatabaseCluster,
): Pick<V1Container, "startupProbe" | "readinessProbe" | "livenessProbe"> {
  const ready = pgIsReady(cluster);
  const probe = (command: string[], failureThreshold: number): V1Probe => ({
    exec: { command },
    periodSeconds: 10,
    timeoutSeconds: 5,
    failureThreshold,
  });
  return {
    startupProbe: probe(ready, 360),
    readinessProbe: probe(ready, 3),
    livenessProbe: probe(["/bin/sh", "-c", `${ready.join(" ")}; [ "$?" -ne 2 ]`], 6),
  };
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
    command: ["/bin/sh", `${PATHS.config}/${CONFIG_KEYS.start}`],
    args: [
      "docker-entrypoint.sh",
      "postgres",
      "-c",
      `config_file=${PATHS.config}/${CONFIG_KEYS.postgresqlConf}`,
    ],
    env: postgresEnv(cluster),
    ports: [{
      name: POSTGRESQL_PORT_NAME,
      containerPort: cluster.spec.network.port,
      protocol: "TCP",
    }],
    volumeMounts: [...mounts(cluster), {
      name: VOLUMES.initdb,
      mountPath: PATHS.initdb,
      readOnly: true,
    }],
    ...probes(cluster),
    // Kubernetes stops with SIGTERM, a "smart" shutdown that waits for every client;
    // a fast shutdown ends sessions and checkpoints within the grace period instead.
    lifecycle: {
      preStop: {
        exec: {
          command: [
            "/bin/sh",
            "-c",
            'exec pg_ctl stop --pgdata="$PGDATA" --mode=fast --wait --timeout=50',
          ],
        },
      },
    },
    securityContext: containerSecurityContext(),
  };
  const resources = containerResources(cluster);
  if (resources) container.resources = resources;
  return container;
}

function cloneContainer(cluster: DatabaseCluster): V1Container {
  return {
    name: CONTAINERS.cloneReplica,
    image: postgresImage(cluster),
    command: ["/bin/sh", `${PATHS.config}/${CONFIG_KEYS.cloneReplica}`],
    env: replicationEnv(cluster),
    volumeMounts: mounts(cluster),
    securityContext: containerSecurityContext(),
  };
}

/** The exporter reads the local server over loopback (pg_hba.conf allows it without TLS). */
function exporterContainer(cluster: DatabaseCluster): V1Container {
  const { monitoring, network } = cluster.spec;
  return {
    name: CONTAINERS.exporter,
    image: EXPORTER_IMAGE,
    args: [`--web.listen-address=:${monitoring.port}`, `--web.telemetry-path=${monitoring.path}`],
    env: [
      value("DATA_SOURCE_URI", `localhost:${network.port}/postgres?sslmode=disable`),
      value("DATA_SOURCE_USER", SUPERUSER),
      fromSecret("DATA_SOURCE_PASS", superuserSecretName(clusterName(cluster)), "password"),
    ],
    ports: [{ name: METRICS_PORT_NAME, containerPort: monitoring.port, protocol: "TCP" }],
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

/** Instances on different nodes (preferred or required) and spread evenly over zones when possible. */
function scheduling(
  cluster: DatabaseCluster,
): { affinity: V1Affinity; topologySpreadConstraints: V1TopologySpreadConstraint[] } {
  const labelSelector = { matchLabels: instanceSelector(clusterName(cluster)) };
  const term = { labelSelector, topologyKey: "kubernetes.io/hostname" };
  const podAntiAffinity = cluster.spec.ha.podAntiAffinity === "required"
    ? { requiredDuringSchedulingIgnoredDuringExecution: [term] }
    : { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: term }] };
  return {
    affinity: { podAntiAffinity },
    topologySpreadConstraints: [{
      maxSkew: 1,
      topologyKey: "topology.kubernetes.io/zone",
      whenUnsatisfiable: "ScheduleAnyway",
      labelSelector,
    }],
  };
}

/** The pod spec of every instance. */
export function buildInstancePodSpec(cluster: DatabaseCluster): V1PodSpec {
  const containers = [postgresContainer(cluster)];
  if (cluster.spec.monitoring.enabled) containers.push(exporterContainer(cluster));
  return {
    // The instances never call the Kubernetes API, and Service links would put
    // variables such as POSTGRES_PORT into the environment the image's entrypoint reads.
    automountServiceAccountToken: false,
    enableServiceLinks: false,
    securityContext: podSecurityContext(),
    terminationGracePeriodSeconds: 60,
    initContainers: [cloneContainer(cluster)],
    containers,
    volumes: volumes(cluster),
    ...scheduling(cluster),
  };
}
