import assert from "node:assert/strict";
import { testCluster } from "../testdata/clusters.ts";
import { CLUSTER_RULES } from "../rbac.ts";
import {
  buildInstanceRbac,
  buildInstanceRole,
  buildInstanceRoleBinding,
  buildInstanceServiceAccount,
} from "./instance_rbac.ts";

const LABELS = {
  "app.kubernetes.io/name": "postgresql",
  "app.kubernetes.io/instance": "pg",
  "app.kubernetes.io/managed-by": "dbop",
  "app.kubernetes.io/component": "database",
  "database.example.com/cluster": "pg",
};

Deno.test("buildInstanceServiceAccount() names the instances' identity <c>-instance and mounts its token", () => {
  const account = buildInstanceServiceAccount(testCluster());
  assert.equal(account.apiVersion, "v1");
  assert.equal(account.kind, "ServiceAccount");
  // No ownerReference: the reconciler adds it.
  assert.deepEqual(account.metadata, { name: "pg-instance", namespace: "shop", labels: LABELS });
  assert.equal(account.automountServiceAccountToken, true);
});

Deno.test("buildInstanceRole() grants exactly its own cluster, its status, Secrets, ConfigMap and primary Lease", () => {
  const role = buildInstanceRole(testCluster());
  assert.equal(role.apiVersion, "rbac.authorization.k8s.io/v1");
  assert.equal(role.kind, "Role");
  assert.deepEqual(role.metadata, { name: "pg-instance", namespace: "shop", labels: LABELS });
  assert.deepEqual(role.rules, [
    {
      apiGroups: ["database.example.com"],
      resources: ["databaseclusters"],
      resourceNames: ["pg"],
      verbs: ["get", "list", "watch"],
    },
    {
      apiGroups: ["database.example.com"],
      resources: ["databaseclusters/status"],
      resourceNames: ["pg"],
      verbs: ["patch"],
    },
    {
      apiGroups: [""],
      resources: ["secrets"],
      resourceNames: ["pg-superuser", "pg-replication", "pg-app", "pg-status", "pg-server"],
      verbs: ["list", "watch"],
    },
    {
      apiGroups: [""],
      resources: ["configmaps"],
      resourceNames: ["pg-config"],
      verbs: ["list", "watch"],
    },
    { apiGroups: ["events.k8s.io"], resources: ["events"], verbs: ["create", "patch"] },
    {
      apiGroups: ["coordination.k8s.io"],
      resources: ["leases"],
      resourceNames: ["pg-primary"],
      verbs: ["get", "update"],
    },
    { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["create"] },
  ]);
  const own = buildInstanceRole(
    testCluster({ security: { authentication: { existingSecret: "owner" } } }),
  );
  assert.deepEqual(own.rules?.[2].resourceNames, [
    "pg-superuser",
    "pg-replication",
    "owner",
    "pg-status",
    "pg-server",
  ]);
  const theirs = buildInstanceRole(
    testCluster({ security: { tls: { enabled: true, secretName: "mine" } } }),
  );
  assert.equal(theirs.rules?.[2].resourceNames?.at(-1), "mine");
  const plain = buildInstanceRole(testCluster({ security: { tls: { enabled: false } } }));
  assert.deepEqual(plain.rules?.[2].resourceNames, [
    "pg-superuser",
    "pg-replication",
    "pg-app",
    "pg-status",
  ]);
});

Deno.test("buildInstanceRole() names only its own cluster, whatever the cluster is called", () => {
  const role = buildInstanceRole(testCluster({}, { name: "orders", namespace: "shop" }));
  assert.equal(role.metadata?.name, "orders-instance");
  assert.ok(role.rules?.slice(0, 2).every((rule) => rule.resourceNames?.join() === "orders"));
  assert.ok(role.rules?.[2].resourceNames?.every((name) => name.startsWith("orders-")));
  assert.deepEqual(role.rules?.[3].resourceNames, ["orders-config"]);
  assert.deepEqual(role.rules?.[5].resourceNames, ["orders-primary"]);
});

Deno.test("buildInstanceRole() grants nothing the operator's ClusterRole does not hold (RBAC escalation check)", () => {
  for (const rule of buildInstanceRole(testCluster()).rules ?? []) {
    for (const resource of rule.resources ?? []) {
      for (const verb of rule.verbs) {
        const held = CLUSTER_RULES.some((r) =>
          r.apiGroups.includes(rule.apiGroups![0]) && r.resources.includes(resource) &&
          r.verbs.includes(verb)
        );
        assert.ok(held, `dbop holds "${verb}" ${resource}`);
      }
    }
  }
});

Deno.test("buildInstanceRoleBinding() binds the instance Role to the instance ServiceAccount only", () => {
  const binding = buildInstanceRoleBinding(testCluster());
  assert.equal(binding.apiVersion, "rbac.authorization.k8s.io/v1");
  assert.equal(binding.kind, "RoleBinding");
  assert.deepEqual(binding.metadata, { name: "pg-instance", namespace: "shop", labels: LABELS });
  assert.deepEqual(binding.roleRef, {
    apiGroup: "rbac.authorization.k8s.io",
    kind: "Role",
    name: "pg-instance",
  });
  assert.deepEqual(binding.subjects, [
    { kind: "ServiceAccount", name: "pg-instance", namespace: "shop" },
  ]);
});

Deno.test("buildInstanceRbac() lists the ServiceAccount, Role and RoleBinding in apply order", () => {
  assert.deepEqual(
    buildInstanceRbac(testCluster()).map((o) => `${o.kind}/${o.metadata?.name}`),
    ["ServiceAccount/pg-instance", "Role/pg-instance", "RoleBinding/pg-instance"],
  );
});

Deno.test("the ServiceAccount carries serviceAccountTemplate's metadata over the inherited one", () => {
  const account = buildInstanceServiceAccount(testCluster({
    inheritedMetadata: {
      labels: { team: "payments", tier: "inherited" },
      annotations: { "example.com/owner": "payments" },
    },
    serviceAccountTemplate: {
      metadata: {
        labels: { tier: "template" },
        annotations: { "eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/db" },
      },
    },
  }));
  assert.deepEqual(account.metadata?.annotations, {
    "example.com/owner": "payments",
    "eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/db",
  });
  assert.equal(account.metadata?.labels?.team, "payments");
  assert.equal(account.metadata?.labels?.tier, "template");
  assert.equal(account.metadata?.labels?.["database.example.com/cluster"], "pg");
  assert.equal(account.metadata?.name, "pg-instance");
  assert.equal(buildInstanceServiceAccount(testCluster()).metadata?.annotations, undefined);
});
