import assert from "node:assert/strict";
import { testCluster } from "../testdata/clusters.ts";
import { buildPodDisruptionBudget } from "./pod_disruption_budget.ts";

Deno.test("buildPodDisruptionBudget() allows one instance down at a time over all instances", () => {
  const budget = buildPodDisruptionBudget(testCluster({ replicas: 3 }));
  assert.equal(budget?.apiVersion, "policy/v1");
  assert.equal(budget?.metadata?.name, "pg");
  assert.equal(budget?.spec?.maxUnavailable, 1);
  assert.equal(budget?.spec?.minAvailable, undefined);
  assert.deepEqual(budget?.spec?.selector?.matchLabels, {
    "database.example.com/cluster": "pg",
    "app.kubernetes.io/component": "database",
  });
  assert.equal(budget?.spec?.unhealthyPodEvictionPolicy, "AlwaysAllow");
});

Deno.test("buildPodDisruptionBudget() exists by default only with more than one instance", () => {
  assert.equal(buildPodDisruptionBudget(testCluster({ replicas: 1 })), undefined);
  assert.notEqual(buildPodDisruptionBudget(testCluster({ replicas: 2 })), undefined);
});

Deno.test("buildPodDisruptionBudget() follows ha.pdb when set", () => {
  assert.equal(
    buildPodDisruptionBudget(testCluster({ replicas: 3, ha: { pdb: false } })),
    undefined,
  );
  assert.notEqual(
    buildPodDisruptionBudget(testCluster({ replicas: 1, ha: { pdb: true } })),
    undefined,
  );
});
