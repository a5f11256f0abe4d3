import assert from "node:assert/strict";
import { testCluster } from "../testdata/clusters.ts";
import {
  buildPodDisruptionBudget,
  buildPodDisruptionBudgets,
  buildPrimaryPodDisruptionBudget,
} from "./pod_disruption_budget.ts";

const INSTANCES = {
  "database.example.com/cluster": "pg",
  "app.kubernetes.io/component": "database",
};

function withPrimary(spec: Parameters<typeof testCluster>[0], current: string, target = current) {
  const cluster = testCluster(spec);
  cluster.status = { currentPrimary: current, targetPrimary: target } as typeof cluster.status;
  return cluster;
}

Deno.test("buildPrimaryPodDisruptionBudget() forbids evicting the primary's pod", () => {
  const budget = buildPrimaryPodDisruptionBudget(withPrimary({ replicas: 3 }, "pg-1"));
  assert.equal(budget?.apiVersion, "policy/v1");
  assert.equal(budget?.metadata?.name, "pg-primary");
  assert.equal(budget?.spec?.minAvailable, 1);
  assert.equal(budget?.spec?.maxUnavailable, undefined);
  assert.deepEqual(budget?.spec?.selector, {
    matchLabels: INSTANCES,
    matchExpressions: [
      { key: "statefulset.kubernetes.io/pod-name", operator: "In", values: ["pg-1"] },
    ],
  });
  assert.equal(budget?.spec?.unhealthyPodEvictionPolicy, "AlwaysAllow");
});

Deno.test("buildPrimaryPodDisruptionBudget() keeps the old and the new primary while it changes", () => {
  const budget = buildPrimaryPodDisruptionBudget(withPrimary({ replicas: 3 }, "pg-0", "pg-2"));
  assert.equal(budget?.spec?.minAvailable, 2);
  assert.deepEqual(budget?.spec?.selector?.matchExpressions?.[0].values, ["pg-0", "pg-2"]);
  // Before the first status: the instance that bootstraps the primary.
  assert.deepEqual(
    buildPrimaryPodDisruptionBudget(testCluster({ replicas: 3 }))?.spec?.selector
      ?.matchExpressions?.[0].values,
    ["pg-0"],
  );
});

Deno.test("buildPodDisruptionBudget() allows one standby down at a time, none while the primary changes", () => {
  const budget = buildPodDisruptionBudget(withPrimary({ replicas: 3 }, "pg-1"));
  assert.equal(budget?.metadata?.name, "pg");
  assert.equal(budget?.spec?.minAvailable, 1);
  assert.equal(budget?.spec?.maxUnavailable, undefined);
  assert.deepEqual(budget?.spec?.selector, {
    matchLabels: INSTANCES,
    matchExpressions: [
      { key: "statefulset.kubernetes.io/pod-name", operator: "NotIn", values: ["pg-1"] },
    ],
  });
  const changing = buildPodDisruptionBudget(withPrimary({ replicas: 3 }, "pg-1", "pg-2"));
  // One pod selected and one required.
  assert.deepEqual(changing?.spec?.selector?.matchExpressions?.[0].values, ["pg-1", "pg-2"]);
  assert.equal(changing?.spec?.minAvailable, 1);
  assert.equal(
    buildPodDisruptionBudget(withPrimary({ replicas: 2 }, "pg-0"))?.spec?.minAvailable,
    0,
  );
});

Deno.test("buildPodDisruptionBudget() without failover or with one instance is one budget over all instances", () => {
  for (
    const spec of [{ replicas: 3, ha: { enabled: false } }, { replicas: 1, ha: { pdb: true } }]
  ) {
    const budget = buildPodDisruptionBudget(testCluster(spec));
    assert.equal(budget?.spec?.maxUnavailable, 1);
    assert.equal(budget?.spec?.minAvailable, undefined);
    assert.deepEqual(budget?.spec?.selector, { matchLabels: INSTANCES });
    assert.equal(buildPrimaryPodDisruptionBudget(testCluster(spec)), undefined);
  }
});

Deno.test("buildPodDisruptionBudget() exists by default only with more than one instance", () => {
  assert.equal(buildPodDisruptionBudget(testCluster({ replicas: 1 })), undefined);
  assert.equal(buildPrimaryPodDisruptionBudget(testCluster({ replicas: 1 })), undefined);
  assert.notEqual(buildPodDisruptionBudget(testCluster({ replicas: 2 })), undefined);
  assert.notEqual(buildPrimaryPodDisruptionBudget(testCluster({ replicas: 2 })), undefined);
});

Deno.test("buildPodDisruptionBudget() follows ha.pdb when set", () => {
  assert.equal(
    buildPodDisruptionBudget(testCluster({ replicas: 3, ha: { pdb: false } })),
    undefined,
  );
  assert.equal(
    buildPrimaryPodDisruptionBudget(testCluster({ replicas: 3, ha: { pdb: false } })),
    undefined,
  );
  assert.notEqual(
    buildPodDisruptionBudget(testCluster({ replicas: 1, ha: { pdb: true } })),
    undefined,
  );
});

Deno.test("buildPodDisruptionBudgets() applies first the budget that takes a pod in", () => {
  const names = (current: string, target: string) =>
    buildPodDisruptionBudgets(withPrimary({ replicas: 3 }, current, target)).map((b) => b.name);
  // The target joins `pg-primary` before it leaves `pg`: for a moment it is in both.
  assert.deepEqual(names("pg-0", "pg-2"), ["pg-primary", "pg"]);
  // The old primary joins `pg` before it leaves `pg-primary`.
  assert.deepEqual(names("pg-2", "pg-2"), ["pg", "pg-primary"]);
  const noFailover = buildPodDisruptionBudgets(
    testCluster({ replicas: 3, ha: { enabled: false } }),
  );
  assert.deepEqual(noFailover.map((b) => [b.name, b.budget !== undefined]), [
    ["pg", true],
    ["pg-primary", false],
  ]);
});
