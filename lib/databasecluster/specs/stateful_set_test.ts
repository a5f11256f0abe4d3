import assert from "node:assert/strict";
import { testCluster } from "../testdata/clusters.ts";
import { buildStatefulSet } from "./stateful_set.ts";

const SELECTOR = {
  "database.example.com/cluster": "pg",
  "app.kubernetes.io/component": "database",
};

Deno.test("buildStatefulSet() runs the instances under the headless Service", () => {
  const set = buildStatefulSet(testCluster({ replicas: 3 }));
  assert.equal(set.apiVersion, "apps/v1");
  assert.equal(set.kind, "StatefulSet");
  assert.equal(set.metadata?.name, "pg");
  assert.equal(set.metadata?.namespace, "shop");
  assert.equal(set.spec?.replicas, 3);
  assert.equal(set.spec?.serviceName, "pg-headless");
  assert.equal(set.spec?.podManagementPolicy, "OrderedReady");
  // The controller replaces no pod by itself: dbop orders the rollout by role (rollout.ts).
  assert.deepEqual(set.spec?.updateStrategy, { type: "OnDelete" });
  assert.deepEqual(set.spec?.selector, { matchLabels: SELECTOR });
  assert.equal(set.status, undefined);
  assert.equal(set.metadata?.ownerReferences, undefined);
});

Deno.test("buildStatefulSet() labels the pods so that its selector matches them", () => {
  const labels = buildStatefulSet(testCluster()).spec?.template.metadata?.labels ?? {};
  for (const [key, value] of Object.entries(SELECTOR)) assert.equal(labels[key], value);
  assert.equal(labels["database.example.com/role"], undefined);
  assert.equal(labels["app.kubernetes.io/managed-by"], "dbop");
});

Deno.test("buildStatefulSet() claims a data volume of the spec's size and class", () => {
  const cluster = testCluster({ storage: { size: "20Gi", storageClassName: "fast-ssd" } });
  const [template] = buildStatefulSet(cluster).spec?.volumeClaimTemplates ?? [];
  assert.equal(template.metadata?.name, "data");
  assert.equal(template.metadata?.labels?.["database.example.com/cluster"], "pg");
  assert.deepEqual(template.spec, {
    accessModes: ["ReadWriteOnce"],
    resources: { requests: { storage: "20Gi" } },
    storageClassName: "fast-ssd",
  });
  const unclassed = buildStatefulSet(testCluster({ storage: { size: "2048Mi" } }))
    .spec?.volumeClaimTemplates?.[0];
  assert.equal(unclassed?.spec?.resources?.requests?.storage, "2Gi");
  assert.equal(unclassed?.spec?.storageClassName, undefined);
});

Deno.test("buildStatefulSet() keeps the live claim size, since the template is immutable", () => {
  const set = buildStatefulSet(testCluster({ storage: { size: "50Gi" } }), { claimSize: "10Gi" });
  const template = set.spec?.volumeClaimTemplates?.[0];
  assert.equal(template?.spec?.resources?.requests?.storage, "10Gi");
});

Deno.test("buildStatefulSet() rolls no pod for a configuration change: the instances reload", () => {
  const template = (cluster: ReturnType<typeof testCluster>) =>
    buildStatefulSet(cluster).spec?.template;
  assert.equal(template(testCluster())?.metadata?.annotations, undefined);
  const tuned = testCluster({
    postgresql: { parameters: { work_mem: "64MB", shared_buffers: "256MB" } },
  });
  assert.deepEqual(template(tuned), template(testCluster()));
  const scram = testCluster({ security: { authentication: { type: "md5" } } });
  assert.notDeepEqual(template(scram), template(testCluster()), "initdb's method needs a new pod");
});

Deno.test("buildStatefulSet() deletes a removed standby's volume and follows deletionPolicy on deletion", () => {
  assert.deepEqual(buildStatefulSet(testCluster()).spec?.persistentVolumeClaimRetentionPolicy, {
    whenDeleted: "Retain",
    whenScaled: "Delete",
  });
  const deleting = testCluster({ deletionPolicy: "Delete" });
  assert.deepEqual(buildStatefulSet(deleting).spec?.persistentVolumeClaimRetentionPolicy, {
    whenDeleted: "Delete",
    whenScaled: "Delete",
  });
});

Deno.test("buildStatefulSet() is deterministic", () => {
  assert.deepEqual(buildStatefulSet(testCluster()), buildStatefulSet(testCluster()));
});

Deno.test("spec.inheritedMetadata reaches the StatefulSet and its pods, not the claims", () => {
  const statefulSet = buildStatefulSet(testCluster({
    inheritedMetadata: {
      labels: { "example.com/team": "payments" },
      annotations: { "example.com/owner": "payments@example.com" },
    },
  }));
  const expected = {
    labels: { "example.com/team": "payments" },
    annotations: { "example.com/owner": "payments@example.com" },
  };
  for (
    const [where, metadata] of [
      ["StatefulSet", statefulSet.metadata],
      ["pod template", statefulSet.spec?.template.metadata],
    ] as const
  ) {
    assert.equal(metadata?.labels?.["example.com/team"], "payments", where);
    assert.equal(metadata?.labels?.["database.example.com/cluster"], "pg", where);
    assert.equal(
      metadata?.annotations?.["example.com/owner"],
      expected.annotations["example.com/owner"],
    );
  }
  assert.equal(
    statefulSet.metadata?.annotations?.["database.example.com/postgresql-version"],
    "16",
  );
  // The StatefulSet controller refuses any change to its claim templates.
  const claim = statefulSet.spec?.volumeClaimTemplates?.[0].metadata;
  assert.equal(claim?.labels?.["example.com/team"], undefined);
  assert.equal(claim?.annotations, undefined);
  const plain = buildStatefulSet(testCluster()).spec?.template.metadata;
  assert.equal(plain?.annotations, undefined);
});
