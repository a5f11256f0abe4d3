import assert from "node:assert/strict";
import { InvalidDatabaseClusterError, parseDatabaseCluster } from "./database_cluster.ts";

function object(spec: unknown, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    apiVersion: "database.example.com/v1",
    kind: "DatabaseCluster",
    metadata: { name: "pg-main", namespace: "shop", uid: "u-1", managedFields: [] },
    spec,
    ...extra,
  };
}

Deno.test("parseDatabaseCluster() returns the object with defaults applied and metadata kept", () => {
  const cluster = parseDatabaseCluster(object({ version: "16", storage: { size: "10Gi" } }));
  assert.equal(cluster.spec.replicas, 1);
  assert.equal(cluster.spec.network.port, 5432);
  assert.equal(cluster.spec.security.authentication.database, "app");
  assert.equal(cluster.metadata.name, "pg-main");
  assert.deepEqual(cluster.metadata.managedFields, []);
  assert.equal(cluster.status, undefined);
});

Deno.test("parseDatabaseCluster() accepts a status written by the operator", () => {
  const status = {
    phase: "Running",
    replicas: 3,
    readyReplicas: 2,
    readyDisplay: "2/3",
    selector: "dbop.example.com/cluster=pg-main",
    currentPrimary: "pg-main-1",
    observedGeneration: 4,
    conditions: [{
      type: "Ready",
      status: "False",
      observedGeneration: 4,
      lastTransitionTime: "2026-01-02T03:04:05Z",
      reason: "ReplicaNotReady",
      message: "1 of 3 instances is not ready",
    }],
    endpoints: { rw: "pg-main-rw.shop.svc", ro: "pg-main-ro.shop.svc" },
    lastBackup: { name: "pg-main-20260102", completionTime: "2026-01-02T02:10:00Z" },
  };
  const cluster = parseDatabaseCluster(
    object({ version: "16", storage: { size: "10Gi" } }, { status }),
  );
  assert.deepEqual(cluster.status, status);
});

Deno.test("parseDatabaseCluster() throws an error naming the object and each bad field", () => {
  const bad = object({ version: "12", storage: { size: "10Gi" }, replicas: 0 });
  assert.throws(() => parseDatabaseCluster(bad), (error: unknown) => {
    assert.ok(error instanceof InvalidDatabaseClusterError);
    assert.deepEqual(error.problems.map((p) => p.path), ["spec.replicas", "spec.version"]);
    assert.match(
      error.message,
      /^Invalid DatabaseCluster "shop\/pg-main": spec\.replicas: .*; spec\.version: /,
    );
    return true;
  });
});

Deno.test("parseDatabaseCluster() names array items and rejects a bad condition", () => {
  const status = {
    conditions: [{
      type: "Ready",
      status: "Maybe",
      lastTransitionTime: "x",
      reason: "R",
      message: "",
    }],
  };
  assert.throws(
    () => parseDatabaseCluster(object({ version: "16", storage: { size: "1Gi" } }, { status })),
    (error: unknown) => {
      assert.ok(error instanceof InvalidDatabaseClusterError);
      assert.deepEqual(error.problems.map((p) => p.path), [
        "status.conditions[0].status",
        "status.conditions[0].lastTransitionTime",
      ]);
      return true;
    },
  );
});

Deno.test("parseDatabaseCluster() rejects another kind or version and anything that is not an object", () => {
  const wrongVersion = { ...object({ version: "16", storage: { size: "1Gi" } }) };
  wrongVersion.apiVersion = "database.example.com/v1beta1";
  assert.throws(() => parseDatabaseCluster(wrongVersion), /apiVersion/);
  assert.throws(
    () => parseDatabaseCluster(null),
    /^InvalidDatabaseClusterError: Invalid DatabaseCluster "<unnamed>": <root>: /,
  );
});
