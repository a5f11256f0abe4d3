import assert from "node:assert/strict";
import { testCluster } from "../testdata/clusters.ts";
import { buildBackupClaim, buildBackupCronJob } from "./backup.ts";

const BACKUP = {
  backup: {
    enabled: true,
    schedule: "0 2 * * *",
    retention: 14,
    storage: { size: "40Gi", storageClassName: "standard" },
  },
};

Deno.test("buildBackupClaim() claims the backup volume of the spec", () => {
  const claim = buildBackupClaim(testCluster(BACKUP));
  assert.equal(claim?.metadata?.name, "pg-backups");
  assert.equal(claim?.metadata?.labels?.["app.kubernetes.io/component"], "backup");
  assert.deepEqual(claim?.spec, {
    accessModes: ["ReadWriteOnce"],
    resources: { requests: { storage: "40Gi" } },
    storageClassName: "standard",
  });
});

Deno.test("buildBackupCronJob() runs one backup at a time on the schedule and keeps history", () => {
  const cronJob = buildBackupCronJob(testCluster(BACKUP));
  assert.equal(cronJob?.apiVersion, "batch/v1");
  assert.equal(cronJob?.metadata?.name, "pg-backup");
  assert.equal(cronJob?.spec?.schedule, "0 2 * * *");
  assert.equal(cronJob?.spec?.concurrencyPolicy, "Forbid");
  assert.equal(cronJob?.spec?.successfulJobsHistoryLimit, 3);
  assert.equal(cronJob?.spec?.failedJobsHistoryLimit, 3);
});

Deno.test("buildBackupCronJob() labels its Jobs and pods as the cluster's backups", () => {
  const cronJob = buildBackupCronJob(testCluster(BACKUP));
  for (
    const labels of [
      cronJob?.spec?.jobTemplate.metadata?.labels,
      cronJob?.spec?.jobTemplate.spec?.template.metadata?.labels,
    ]
  ) {
    assert.equal(labels?.["database.example.com/cluster"], "pg");
    assert.equal(labels?.["app.kubernetes.io/component"], "backup");
  }
});

Deno.test("the backup Job runs backup.sh against -rw into the claim, keeping retention dumps", () => {
  const pod = buildBackupCronJob(testCluster(BACKUP))?.spec?.jobTemplate.spec?.template.spec;
  const [container] = pod?.containers ?? [];
  const env = Object.fromEntries(
    (container.env ?? []).map((v) => [v.name, v.value ?? v.valueFrom]),
  );
  assert.deepEqual(container.command, ["/bin/sh", "/etc/dbop/config/backup.sh"]);
  assert.equal(container.image, "postgres:16");
  assert.equal(env.PGHOST, "pg-rw");
  // As the application owner: the superuser may not log in over the network.
  assert.deepEqual(env.PGUSER, { secretKeyRef: { name: "pg-app", key: "username" } });
  assert.deepEqual(env.PGPASSWORD, { secretKeyRef: { name: "pg-app", key: "password" } });
  const own = buildBackupCronJob(
    testCluster({ ...BACKUP, security: { authentication: { existingSecret: "creds" } } }),
  )?.spec?.jobTemplate.spec?.template.spec?.containers[0].env;
  assert.deepEqual(
    own?.filter((v) => v.name.startsWith("PG")).flatMap((v) =>
      v.valueFrom?.secretKeyRef ? [v.valueFrom.secretKeyRef.name] : []
    ),
    ["creds", "creds"],
  );
  assert.equal(env.PGDATABASE, "app");
  assert.equal(env.BACKUP_DIR, "/backups");
  assert.equal(env.BACKUP_RETENTION, "14");
  assert.equal(env.PGSSLMODE, "verify-ca");
  assert.equal(env.PGSSLROOTCERT, "/etc/dbop/tls/ca.crt");
  assert.equal(pod?.restartPolicy, "Never");
  assert.deepEqual(
    pod?.volumes?.find((v) => v.name === "backups")?.persistentVolumeClaim,
    { claimName: "pg-backups" },
  );
  assert.ok(
    container.volumeMounts?.some((m) => m.name === "backups" && m.mountPath === "/backups"),
  );
  assert.equal(pod?.securityContext?.fsGroup, 999);
});

Deno.test("the backup Job connects without TLS when the cluster has none", () => {
  const cluster = testCluster({ ...BACKUP, security: { tls: { enabled: false } } });
  const pod = buildBackupCronJob(cluster)?.spec?.jobTemplate.spec?.template.spec;
  const env = pod?.containers[0].env ?? [];
  assert.equal(env.find((v) => v.name === "PGSSLMODE")?.value, "disable");
  assert.equal(pod?.volumes?.some((v) => v.name === "tls"), false);
});

Deno.test("nothing is built for backups when they are disabled", () => {
  assert.equal(buildBackupCronJob(testCluster()), undefined);
  assert.equal(buildBackupClaim(testCluster()), undefined);
});
