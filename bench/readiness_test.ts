import assert from "node:assert/strict";
import type { V1StatefulSet } from "@kubernetes/client-node";
import type { ClusterObject } from "../lib/databasecluster/cache.ts";
import {
  clusterReady,
  statefulSetRequestsCpu,
  statefulSetRolledOut,
  statefulSetVersion,
} from "./readiness.ts";

function cluster(generation: number, observedGeneration: number): ClusterObject {
  return {
    metadata: { generation } as ClusterObject["metadata"],
    status: { observedGeneration, conditions: [{ type: "Ready", status: "True" }] },
  };
}

Deno.test("clusterReady() needs Ready=True for the current generation", () => {
  assert.equal(clusterReady(cluster(2, 2)), true);
  assert.equal(
    clusterReady(cluster(3, 2)),
    false,
    "a Ready condition for an older generation does not count",
  );
  assert.equal(clusterReady({ metadata: { name: "x" } }), false);
});

function sts(status: V1StatefulSet["status"], generation = 2): V1StatefulSet {
  return {
    metadata: {
      generation,
      annotations: { "database.example.com/postgresql-version": "17.5" },
    },
    spec: {
      replicas: 1,
      selector: {},
      serviceName: "x",
      template: {
        spec: { containers: [{ name: "postgres", resources: { requests: { cpu: "101m" } } }] },
      },
    },
    status,
  };
}

Deno.test("statefulSetRolledOut() needs the generation observed and every replica updated and ready", () => {
  const done = {
    replicas: 1,
    observedGeneration: 2,
    readyReplicas: 1,
    updatedReplicas: 1,
    currentRevision: "r2",
    updateRevision: "r2",
  };
  assert.equal(statefulSetRolledOut(sts(done)), true);
  assert.equal(statefulSetRolledOut(sts({ ...done, observedGeneration: 1 })), false);
  assert.equal(statefulSetRolledOut(sts({ ...done, updatedReplicas: 0 })), false);
  // Updated on delete, the controller never moves currentRevision.
  assert.equal(statefulSetRolledOut(sts({ ...done, currentRevision: "r1" })), true);
  assert.equal(statefulSetRolledOut(sts({ ...done, readyReplicas: 0 })), false);
  assert.equal(statefulSetRolledOut(undefined), false);
});

Deno.test("statefulSetVersion() and statefulSetRequestsCpu() read the pod template dbop built", () => {
  const object = sts(undefined);
  assert.equal(statefulSetVersion(object), "17.5");
  assert.equal(statefulSetRequestsCpu(object, "101m"), true);
  assert.equal(statefulSetRequestsCpu(object, "102m"), false);
});
