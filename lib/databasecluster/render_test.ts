import assert from "node:assert/strict";
import { parseAllDocuments } from "yaml";
import { InvalidDatabaseClusterError } from "../api/mod.ts";
import { PLACEHOLDER, readableSecret, renderCluster, renderManifests } from "./render.ts";
import { buildSuperuserSecret } from "./specs/secrets.ts";
import { testCluster } from "./testdata/clusters.ts";

const SAMPLES = new URL("../../deploy/samples/", import.meta.url);

function summary(objects: { kind?: string; metadata?: { name?: string } }[]): string[] {
  return objects.map((object) => `${object.kind}/${object.metadata?.name}`);
}

Deno.test("renderCluster() lists a minimal cluster's children in apply order", () => {
  assert.deepEqual(summary(renderCluster(testCluster())), [
    "Secret/pg-superuser",
    "Secret/pg-app",
    "Secret/pg-replication",
    "Secret/pg-status",
    "Secret/pg-ca",
    "Secret/pg-server",
    "ServiceAccount/pg-instance",
    "Role/pg-instance",
    "RoleBinding/pg-instance",
    "ConfigMap/pg-config",
    "Service/pg-rw",
    "Service/pg-ro",
    "Service/pg-r",
    "Service/pg-headless",
    "StatefulSet/pg",
  ]);
});

Deno.test("renderCluster() adds the budget, backups and PodMonitor when the spec asks", async () => {
  const text = await Deno.readTextFile(new URL("production.yaml", SAMPLES));
  const yaml = renderManifests(text, { namespace: "shop" });
  const objects = parseAllDocuments(yaml).map((document) => document.toJS());
  assert.deepEqual(summary(objects), [
    "Secret/orders-superuser",
    "Secret/orders-replication",
    "Secret/orders-status",
    "Secret/orders-ca",
    "Secret/orders-server",
    "ServiceAccount/orders-instance",
    "Role/orders-instance",
    "RoleBinding/orders-instance",
    "ConfigMap/orders-config",
    "Service/orders-rw",
    "Service/orders-ro",
    "Service/orders-r",
    "Service/orders-headless",
    "StatefulSet/orders",
    "PodDisruptionBudget/orders",
    "PodDisruptionBudget/orders-primary",
    "PersistentVolumeClaim/orders-backups",
    "CronJob/orders-backup",
    "PodMonitor/orders",
  ]);
  assert.ok(objects.every((object) => object.metadata.namespace === "shop"));
  const withoutCrd = renderManifests(text, { namespace: "shop", podMonitorCrd: false });
  assert.doesNotMatch(withoutCrd, /kind: PodMonitor/);
});

Deno.test("renderCluster() prints placeholders, never a secret, unless passwords are given", () => {
  const yaml = renderManifests(
    "apiVersion: database.example.com/v1\nkind: DatabaseCluster\nmetadata: {name: pg}\n" +
      "spec: {version: '16', storage: {size: 1Gi}}\n",
  );
  assert.match(yaml, /password: <generated>/);
  assert.match(yaml, /uri: postgresql:\/\/postgres:<generated>@pg-rw\.default\.svc:5432\/postgres/);
  assert.match(yaml, /tls\.key: <generated>/);
  assert.match(yaml, /name: pg-status\n(.*\n)*?stringData:\n {2}token: <generated>\n/);
  const given = renderCluster(testCluster(), { passwords: { superuser: "known-pw" } });
  const superuser = readableSecret(given[0]);
  assert.equal(superuser.stringData?.password, "known-pw");
  assert.equal(readableSecret(given[1]).stringData?.password, PLACEHOLDER);
});

Deno.test("readableSecret() moves data into stringData", () => {
  const secret = readableSecret(buildSuperuserSecret(testCluster(), "pw"));
  assert.equal(secret.data, undefined);
  assert.equal(secret.stringData?.username, "postgres");
  assert.equal(secret.type, "kubernetes.io/basic-auth");
});

Deno.test("renderManifests() is deterministic and renders every document", async () => {
  const text = await Deno.readTextFile(new URL("design_notes.yaml", SAMPLES)) + "---\n" +
    await Deno.readTextFile(new URL("minimal.yaml", SAMPLES));
  const first = renderManifests(text);
  assert.equal(renderManifests(text), first);
  assert.match(first, /name: my-database-cluster-rw/);
  assert.match(first, /name: minimal-rw/);
});

Deno.test("renderManifests() rejects broken YAML and invalid clusters", () => {
  assert.throws(() => renderManifests("kind: [unclosed"), /Cannot read the DatabaseCluster YAML/);
  const invalid =
    "apiVersion: database.example.com/v1\nkind: DatabaseCluster\nmetadata: {name: x}\n" +
    "spec: {version: '9', storage: {size: 1Gi}}\n";
  assert.throws(() => renderManifests(invalid), InvalidDatabaseClusterError);
});
