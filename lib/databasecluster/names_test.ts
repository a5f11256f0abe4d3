import assert from "node:assert/strict";
import { RESERVED_KEY_PREFIX, RESERVED_LABEL_KEYS } from "../api/mod.ts";
import {
  ANNOTATIONS,
  appSecretName,
  backupClaimName,
  backupCronJobName,
  backupSelector,
  caSecretName,
  commonLabels,
  configMapName,
  dataClaimName,
  FIELD_MANAGER,
  FINALIZER,
  formatSelector,
  headlessServiceName,
  initialPrimaryPodName,
  instanceSelector,
  LABELS,
  podDisruptionBudgetName,
  podMonitorName,
  podName,
  primaryLeaseName,
  readOnlyServiceName,
  readServiceName,
  readWriteServiceName,
  replicationSecretName,
  roleSelector,
  serverDnsNames,
  serverSecretName,
  serviceDnsName,
  statefulSetName,
  superuserSecretName,
} from "./names.ts";

Deno.test("child names follow the documented <c>-suffix contract", () => {
  const c = "pg-main";
  assert.deepEqual(
    [
      superuserSecretName(c),
      appSecretName(c),
      replicationSecretName(c),
      configMapName(c),
      caSecretName(c),
      serverSecretName(c),
      statefulSetName(c),
      podDisruptionBudgetName(c),
      podMonitorName(c),
      headlessServiceName(c),
      readWriteServiceName(c),
      readOnlyServiceName(c),
      readServiceName(c),
      backupCronJobName(c),
      backupClaimName(c),
      primaryLeaseName(c),
    ],
    [
      "pg-main-superuser",
      "pg-main-app",
      "pg-main-replication",
      "pg-main-config",
      "pg-main-ca",
      "pg-main-server",
      "pg-main",
      "pg-main",
      "pg-main",
      "pg-main-headless",
      "pg-main-rw",
      "pg-main-ro",
      "pg-main-r",
      "pg-main-backup",
      "pg-main-backups",
      "pg-main-primary",
    ],
  );
});

Deno.test("podName() and dataClaimName() match the StatefulSet controller's naming", () => {
  assert.equal(podName("pg", 2), "pg-2");
  assert.equal(initialPrimaryPodName("pg"), "pg-0");
  assert.equal(dataClaimName("pg", 1), "data-pg-1");
});

Deno.test("serviceDnsName() is namespace-qualified under .svc", () => {
  assert.equal(serviceDnsName("pg-rw", "shop"), "pg-rw.shop.svc");
});

Deno.test("serverDnsNames() covers every Service name form and each instance", () => {
  const names = serverDnsNames("pg", "shop");
  for (const expected of ["pg-rw", "pg-rw.shop", "pg-rw.shop.svc", "pg-ro.shop.svc", "pg-r"]) {
    assert.ok(names.includes(expected), expected);
  }
  assert.ok(names.includes("*.pg-headless.shop.svc"));
  assert.equal(new Set(names).size, names.length);
});

Deno.test("commonLabels() carries the recommended labels and the cluster label", () => {
  assert.deepEqual(commonLabels("pg", "database"), {
    "app.kubernetes.io/name": "postgresql",
    "app.kubernetes.io/instance": "pg",
    "app.kubernetes.io/managed-by": "dbop",
    "app.kubernetes.io/component": "database",
    "database.example.com/cluster": "pg",
  });
});

Deno.test("instanceSelector() is a subset of the instances' labels but not of the backups'", () => {
  const selector = instanceSelector("pg");
  const matches = (labels: Record<string, string>) =>
    Object.entries(selector).every(([key, value]) => labels[key] === value);
  assert.ok(matches(commonLabels("pg", "database")));
  assert.ok(!matches(commonLabels("pg", "backup")));
  assert.ok(!matches(commonLabels("other", "database")));
  assert.ok(
    Object.entries(backupSelector("pg")).every(([k, v]) => commonLabels("pg", "backup")[k] === v),
  );
});

Deno.test("roleSelector() adds the role label to the instance selector", () => {
  assert.deepEqual(roleSelector("pg", "primary"), {
    "database.example.com/cluster": "pg",
    "app.kubernetes.io/component": "database",
    "database.example.com/role": "primary",
  });
});

Deno.test("formatSelector() sorts keys so the string is stable", () => {
  assert.equal(
    formatSelector(instanceSelector("pg")),
    "app.kubernetes.io/component=database,database.example.com/cluster=pg",
  );
});

Deno.test("the finalizer and field manager are dbop's", () => {
  assert.equal(FINALIZER, "database.example.com/cleanup");
  assert.equal(FIELD_MANAGER, "dbop");
});

Deno.test("every label dbop sets is one an inherited label may not replace", () => {
  for (const key of Object.values(LABELS)) {
    assert.ok(
      key.startsWith(RESERVED_KEY_PREFIX) || RESERVED_LABEL_KEYS.includes(key),
      `"${key}" is reserved in lib/api/pod_template.ts`,
    );
  }
  for (const key of Object.values(ANNOTATIONS)) assert.ok(key.startsWith(RESERVED_KEY_PREFIX), key);
});
