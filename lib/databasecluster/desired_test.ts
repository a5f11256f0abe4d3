import assert from "node:assert/strict";
import type { KubernetesObject, V1Secret, V1StatefulSet } from "@kubernetes/client-node";
import { type Children, noChildren } from "./cache.ts";
import { desiredChildren, livePasswords, liveStatusToken, ownerReference } from "./desired.ts";
import { needsApply } from "./drift.ts";
import { testCluster } from "./testdata/clusters.ts";

const NOW = new Date("2026-06-01T00:00:00Z");
const NO_TLS = { security: { tls: { enabled: false } } };
const UID = { uid: "cluster-uid" };

function secret(name: string, password: string): V1Secret {
  return { metadata: { name, namespace: "shop" }, data: { password: btoa(password) } };
}

function kindsAndNames(objects: KubernetesObject[]): string[] {
  return objects.map((o) => `${o.kind}/${o.metadata?.name}`);
}

function find(objects: KubernetesObject[], kind: string, name: string) {
  const found = objects.find((o) => o.kind === kind && o.metadata?.name === name);
  assert.ok(found, `${kind}/${name} is desired`);
  return found;
}

Deno.test("ownerReference() makes the cluster the blocking controller owner", () => {
  assert.deepEqual(ownerReference(testCluster({}, UID)), {
    apiVersion: "database.example.com/v1",
    kind: "DatabaseCluster",
    name: "pg",
    uid: "cluster-uid",
    controller: true,
    blockOwnerDeletion: true,
  });
});

Deno.test("livePasswords() keeps the passwords of the live Secrets", () => {
  const children = noChildren();
  children.secrets = [secret("pg-superuser", "super-1"), secret("pg-app", "app-1")];
  const passwords = livePasswords(testCluster(), children);
  assert.equal(passwords.superuser, "super-1");
  assert.equal(passwords.app, "app-1");
  assert.equal(typeof passwords.replication, "string");
  assert.ok(passwords.replication.length > 0);
});

Deno.test("livePasswords() owns no app password when the app Secret is the user's", () => {
  const cluster = testCluster({ security: { authentication: { existingSecret: "mine" } } });
  assert.equal(livePasswords(cluster, noChildren()).app, undefined);
});

Deno.test("desiredChildren() builds the children of a minimal cluster and lists the optional ones to delete", async () => {
  const desired = await desiredChildren(testCluster(NO_TLS, UID), noChildren(), {
    now: NOW,
    podMonitorCrd: true,
  });
  assert.deepEqual(kindsAndNames(desired.objects), [
    "Secret/pg-superuser",
    "Secret/pg-app",
    "Secret/pg-replication",
    "Secret/pg-status",
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
  assert.deepEqual(desired.unwanted, [
    { kind: "PodDisruptionBudget", name: "pg" },
    { kind: "PodDisruptionBudget", name: "pg-primary" },
    { kind: "CronJob", name: "pg-backup" },
    { kind: "PodMonitor", name: "pg" },
  ]);
  assert.equal(desired.renewAt, undefined);
  for (const object of desired.objects) {
    assert.deepEqual(object.metadata?.ownerReferences?.map((r) => [r.kind, r.uid, r.controller]), [
      ["DatabaseCluster", "cluster-uid", true],
    ], `${object.kind}/${object.metadata?.name} is owned by the cluster`);
  }
});

Deno.test("desiredChildren() adds the optional children the spec asks for", async () => {
  const cluster = testCluster({
    ...NO_TLS,
    replicas: 3,
    monitoring: { enabled: true, podMonitor: true },
    backup: {
      enabled: true,
      schedule: "0 2 * * *",
      retention: 14,
      storage: { size: "40Gi", storageClassName: "standard" },
    },
  }, UID);
  const desired = await desiredChildren(cluster, noChildren(), { now: NOW, podMonitorCrd: true });
  assert.deepEqual(kindsAndNames(desired.objects).slice(-5), [
    "PodDisruptionBudget/pg",
    "PodDisruptionBudget/pg-primary",
    "PersistentVolumeClaim/pg-backups",
    "CronJob/pg-backup",
    "PodMonitor/pg",
  ]);
  assert.deepEqual(desired.unwanted, []);
  const withoutCrd = await desiredChildren(cluster, noChildren(), {
    now: NOW,
    podMonitorCrd: false,
  });
  assert.deepEqual(withoutCrd.unwanted, [{ kind: "PodMonitor", name: "pg" }]);
});

Deno.test("desiredChildren() writes the live superuser password back into its Secret", async () => {
  const children = noChildren();
  children.secrets = [secret("pg-superuser", "super-1")];
  const desired = await desiredChildren(testCluster(NO_TLS, UID), children, {
    now: NOW,
    podMonitorCrd: false,
  });
  const built = find(desired.objects, "Secret", "pg-superuser") as V1Secret;
  assert.equal(atob(built.data!.password), "super-1");
});

Deno.test("desiredChildren() keeps the claim size of the live StatefulSet", async () => {
  const children = noChildren();
  const live: V1StatefulSet = {
    metadata: { name: "pg", namespace: "shop" },
    spec: {
      selector: {},
      serviceName: "pg-headless",
      template: {},
      volumeClaimTemplates: [{
        metadata: { name: "data" },
        spec: { resources: { requests: { storage: "20Gi" } } },
      }],
    },
  };
  children.statefulSets = [live];
  const desired = await desiredChildren(testCluster(NO_TLS, UID), children, {
    now: NOW,
    podMonitorCrd: false,
  });
  const set = find(desired.objects, "StatefulSet", "pg") as V1StatefulSet;
  assert.deepEqual(
    set.spec?.volumeClaimTemplates?.map((
      t,
    ) => [t.metadata?.name, t.spec?.resources?.requests?.storage]),
    [["data", "20Gi"]],
  );
});

Deno.test("desiredChildren() issues TLS Secrets once and reuses them while valid", async () => {
  const cluster = testCluster({}, UID);
  const first = await desiredChildren(cluster, noChildren(), { now: NOW, podMonitorCrd: false });
  const ca = find(first.objects, "Secret", "pg-ca") as V1Secret;
  const server = find(first.objects, "Secret", "pg-server") as V1Secret;
  assert.ok(first.renewAt && first.renewAt > NOW, "renewal is in the future");
  const children = noChildren();
  children.secrets = first.objects.filter((o) => o.kind === "Secret") as V1Secret[];
  const second = await desiredChildren(cluster, children, { now: NOW, podMonitorCrd: false });
  assert.deepEqual((find(second.objects, "Secret", "pg-ca") as V1Secret).data, ca.data);
  assert.deepEqual((find(second.objects, "Secret", "pg-server") as V1Secret).data, server.data);
  assert.deepEqual(second.renewAt, first.renewAt);
});

/** The children as if each desired object were live, as the cache would hold them. */
function asLive(objects: KubernetesObject[]): Children {
  const children = noChildren();
  const keys: Record<string, keyof Children> = {
    Secret: "secrets",
    ServiceAccount: "serviceAccounts",
    Role: "roles",
    RoleBinding: "roleBindings",
    ConfigMap: "configMaps",
    Service: "services",
    StatefulSet: "statefulSets",
  };
  for (const object of structuredClone(objects)) {
    (children[keys[object.kind!]] as KubernetesObject[]).push(object);
  }
  return children;
}

Deno.test("liveStatusToken() keeps the live token and generates one when the Secret is gone or empty", () => {
  const children = noChildren();
  children.secrets = [{ metadata: { name: "pg-status" }, data: { token: btoa("t0ken") } }];
  assert.equal(liveStatusToken(testCluster(), children), "t0ken");
  children.secrets = [{ metadata: { name: "pg-status" }, data: { token: "" } }];
  assert.match(liveStatusToken(testCluster(), children), /^[A-Za-z0-9]{40}$/);
  assert.notEqual(liveStatusToken(testCluster(), noChildren()), "t0ken");
});

Deno.test("desiredChildren() keeps the status token, so a converged cluster needs no apply", async () => {
  const cluster = testCluster(NO_TLS, UID);
  const options = { now: NOW, podMonitorCrd: false };
  const first = await desiredChildren(cluster, noChildren(), options);
  const token = (find(first.objects, "Secret", "pg-status") as V1Secret).data!.token;
  assert.match(atob(token), /^[A-Za-z0-9]{40}$/, "a generated token");
  const second = await desiredChildren(cluster, asLive(first.objects), options);
  const stale = second.objects.filter((object) =>
    needsApply(
      object as Record<string, unknown>,
      first.objects.find((o) =>
        o.kind === object.kind && o.metadata?.name === object.metadata?.name
      ) as
        | Record<string, unknown>
        | undefined,
    )
  );
  assert.deepEqual(kindsAndNames(stale), [], "nothing to apply");
  const withoutSecret = first.objects.filter((o) => o.metadata?.name !== "pg-status");
  const third = await desiredChildren(cluster, asLive(withoutSecret), options);
  const regenerated = (find(third.objects, "Secret", "pg-status") as V1Secret).data!.token;
  assert.notEqual(regenerated, token, "a deleted Secret gets a new token");
});

Deno.test("desiredChildren() owns the instances' ServiceAccount, Role and RoleBinding like every child", async () => {
  const desired = await desiredChildren(testCluster(NO_TLS, UID), noChildren(), {
    now: NOW,
    podMonitorCrd: false,
  });
  for (const kind of ["ServiceAccount", "Role", "RoleBinding"]) {
    const object = find(desired.objects, kind, "pg-instance");
    assert.equal(object.metadata?.namespace, "shop");
    assert.equal(object.metadata?.ownerReferences?.[0]?.uid, "cluster-uid");
  }
  const names = kindsAndNames(desired.objects);
  assert.ok(
    names.indexOf("RoleBinding/pg-instance") < names.indexOf("StatefulSet/pg"),
    "the pods' ServiceAccount and its grants exist before the StatefulSet",
  );
});
