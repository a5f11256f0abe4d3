/**
 * Builders of the scheduled backups, when `backup.enabled`: the volume claim
 * `<c>-backups` and the CronJob `<c>-backup`, whose Job runs `backup.sh` from
 * `<c>-config` with the same PostgreSQL image as the instances (so pg_dump
 * matches the server's major). It dumps the application database from the
 * primary through `<c>-rw` as the superuser and keeps `retention` dumps. One
 * backup at a time (`Forbid`): the volume is ReadWriteOnce and dumps compete.
 *
 * @module
 */
import type {
  V1Container,
  V1CronJob,
  V1EnvVar,
  V1PersistentVolumeClaim,
  V1Volume,
  V1VolumeMount,
} from "@kubernetes/client-node";
import type { DatabaseCluster } from "../../api/mod.ts";
import {
  backupClaimName,
  backupCronJobName,
  commonLabels,
  configMapName,
  readWriteServiceName,
} from "../names.ts";
import {
  canonicalQuantity,
  childMetadata,
  clusterName,
  CONFIG_KEYS,
  PATHS,
  postgresImage,
} from "./common.ts";
import { containerSecurityContext, podSecurityContext } from "./instance_pod.ts";
import { appCredentialsSecretName } from "./secrets.ts";
import { clientSslMode } from "./ssl_mode.ts";
import { issuesCertificates, serverTlsSecretName } from "./tls_secrets.ts";

/** Finished Jobs kept for inspection (and for `status.lastBackup`). */
const HISTORY = 3;

/** A run may start this late (after downtime of the controller manager) and still count. */
const STARTING_DEADLINE_SECONDS = 3600;

/** Claim `<c>-backups`, or undefined when backups are disabled. */
export function buildBackupClaim(cluster: DatabaseCluster): V1PersistentVolumeClaim | undefined {
  const { backup } = cluster.spec;
  if (!backup.enabled || !backup.storage) return undefined;
  return {
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: childMetadata(cluster, {
      name: backupClaimName(clusterName(cluster)),
      component: "backup",
    }),
    spec: {
      accessModes: ["ReadWriteOnce"],
      resources: { requests: { storage: canonicalQuantity(backup.storage.size) } },
      ...(backup.storage.storageClassName
        ? { storageClassName: backup.storage.storageClassName }
        : {}),
    },
  };
}

/** libpq's TLS settings for pg_dump: the sslmode, and our CA when it is verified. */
function tlsEnv(cluster: DatabaseCluster): V1EnvVar[] {
  const sslMode = clientSslMode(cluster);
  const env: V1EnvVar[] = [{ name: "PGSSLMODE", value: sslMode }];
  if (sslMode === "verify-ca") env.push({ name: "PGSSLROOTCERT", value: `${PATHS.tls}/ca.crt` });
  return env;
}

/** The Job's volumes with where each is mounted: the backups, backup.sh, and our CA if any. */
function jobVolumes(cluster: DatabaseCluster): { volume: V1Volume; mount: V1VolumeMount }[] {
  const name = clusterName(cluster);
  const volumes: { volume: V1Volume; mount: V1VolumeMount }[] = [
    {
      volume: { name: "backups", persistentVolumeClaim: { claimName: backupClaimName(name) } },
      mount: { name: "backups", mountPath: PATHS.backups },
    },
    {
      volume: {
        name: "config",
        configMap: {
          name: configMapName(name),
          defaultMode: 0o555,
          items: [{ key: CONFIG_KEYS.backup, path: CONFIG_KEYS.backup }],
        },
      },
      mount: { name: "config", mountPath: PATHS.config, readOnly: true },
    },
  ];
  const tlsSecret = serverTlsSecretName(cluster);
  if (tlsSecret && issuesCertificates(cluster)) {
    volumes.push({
      volume: {
        name: "tls",
        secret: {
          secretName: tlsSecret,
          defaultMode: 0o440,
          items: [{ key: "ca.crt", path: "ca.crt" }],
        },
      },
      mount: { name: "tls", mountPath: PATHS.tls, readOnly: true },
    });
  }
  return volumes;
}

/** The backup container: backup.sh with libpq's variables pointing at the primary. */
function backupContainer(cluster: DatabaseCluster, mounts: V1VolumeMount[]): V1Container {
  const { backup, network, security } = cluster.spec;
  const name = clusterName(cluster);
  return {
    name: "backup",
    image: postgresImage(cluster),
    command: ["/bin/sh", `${PATHS.config}/${CONFIG_KEYS.backup}`],
    env: [
      { name: "PGHOST", value: readWriteServiceName(name) },
      { name: "PGPORT", value: String(network.port) },
      // The application owner dumps its database: the superuser may not log in remotely.
      {
        name: "PGUSER",
        valueFrom: { secretKeyRef: { name: appCredentialsSecretName(cluster), key: "username" } },
      },
      {
        name: "PGPASSWORD",
        valueFrom: { secretKeyRef: { name: appCredentialsSecretName(cluster), key: "password" } },
      },
      { name: "PGDATABASE", value: security.authentication.database },
      ...tlsEnv(cluster),
      { name: "BACKUP_DIR", value: PATHS.backups },
      { name: "BACKUP_RETENTION", value: String(backup.retention) },
    ],
    volumeMounts: mounts,
    securityContext: containerSecurityContext(),
  };
}

/** CronJob `<c>-backup`, or undefined when backups are disabled. */
export function buildBackupCronJob(cluster: DatabaseCluster): V1CronJob | undefined {
  const { backup } = cluster.spec;
  if (!backup.enabled || backup.schedule === undefined) return undefined;
  const name = clusterName(cluster);
  const labels = commonLabels(name, "backup");
  const volumes = jobVolumes(cluster);
  return {
    apiVersion: "batch/v1",
    kind: "CronJob",
    metadata: childMetadata(cluster, { name: backupCronJobName(name), component: "backup" }),
    spec: {
      schedule: backup.schedule,
      concurrencyPolicy: "Forbid",
      startingDeadlineSeconds: STARTING_DEADLINE_SECONDS,
      successfulJobsHistoryLimit: HISTORY,
      failedJobsHistoryLimit: HISTORY,
      jobTemplate: {
        metadata: { labels },
        spec: {
          backoffLimit: 2,
          template: {
            metadata: { labels },
            spec: {
              restartPolicy: "Never",
              automountServiceAccountToken: false,
              enableServiceLinks: false,
              securityContext: podSecurityContext(),
              containers: [backupContainer(cluster, volumes.map(({ mount }) => mount))],
              volumes: volumes.map(({ volume }) => volume),
            },
          },
        },
      },
    },
  };
}
