import assert from "node:assert/strict";
import type { KubernetesObject } from "@kubernetes/client-node";
import type { Resources } from "../kube/mod.ts";
import { noChildren } from "./cache.ts";
import { applyChildren, childResourceType, deleteUnwanted } from "./apply.ts";

function configMap(name: string, data: Record<string, string>, extra: object = {}) {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name, namespace: "shop", ...extra },
    data,
  };
}

interface Call {
  method: "apply" | "delete";
  kind: string;
  name: string;
  options: Record<string, unknown>;
}

function fakeResources() {
  const calls: Call[] = [];
  const resources = {
    apply(type: { kind: string }, object: KubernetesObject, options: Record<string, unknown>) {
      calls.push({ method: "apply", kind: type.kind, name: object.metadata!.name!, options });
      return Promise.resolve({ ...object, metadata: { ...object.metadata, resourceVersion: "7" } });
    },
    delete(type: { kind: string }, name: string, options: Record<string, unknown>) {
      calls.push({ method: "delete", kind: type.kind, name, options });
      return Promise.resolve();
    },
  } as unknown as Resources;
  return { resources, calls };
}

Deno.test("childResourceType() maps each child kind to its API group and refuses others", () => {
  assert.deepEqual(
    [
      "StatefulSet",
      "PodDisruptionBudget",
      "CronJob",
      "PodMonitor",
      "Secret",
      "ServiceAccount",
      "Role",
      "RoleBinding",
    ].map((kind) => {
      const type = childResourceType(kind);
      return [type.group, type.version, type.kind];
    }),
    [
      ["apps", "v1", "StatefulSet"],
      ["policy", "v1", "PodDisruptionBudget"],
      ["batch", "v1", "CronJob"],
      ["monitoring.coreos.com", "v1", "PodMonitor"],
      ["", "v1", "Secret"],
      ["", "v1", "ServiceAccount"],
      ["rbac.authorization.k8s.io", "v1", "Role"],
      ["rbac.authorization.k8s.io", "v1", "RoleBinding"],
    ],
  );
  assert.throws(() => childResourceType("Pod"), { message: 'Cannot apply a child of kind "Pod"' });
});

Deno.test("applyChildren() creates missing children, updates changed ones and skips matching ones", async () => {
  const { resources, calls } = fakeResources();
  const children = noChildren();
  children.configMaps = [
    // Matches: extra live fields (resourceVersion, another key) do not count as drift.
    configMap("pg-same", { a: "1", other: "x" }, { resourceVersion: "3" }),
    configMap("pg-changed", { a: "1" }),
  ];
  const result = await applyChildren(resources, [
    configMap("pg-same", { a: "1" }),
    configMap("pg-changed", { a: "2" }),
    configMap("pg-new", { a: "1" }),
  ], children);
  assert.deepEqual(calls.map((c) => [c.method, c.kind, c.name]), [
    ["apply", "ConfigMap", "pg-changed"],
    ["apply", "ConfigMap", "pg-new"],
  ]);
  assert.deepEqual(result.updated.map((o) => [o.metadata?.name, o.metadata?.resourceVersion]), [
    ["pg-changed", "7"],
  ]);
  assert.deepEqual(result.created.map((o) => [o.metadata?.name, o.metadata?.resourceVersion]), [
    ["pg-new", "7"],
  ]);
});

Deno.test("applyChildren() looks up the cached copy by kind as well as name", async () => {
  const { resources, calls } = fakeResources();
  const children = noChildren();
  children.configMaps = [configMap("pg", { a: "1" })];
  const secret = { apiVersion: "v1", kind: "Secret", metadata: { name: "pg" }, data: { a: "1" } };
  const result = await applyChildren(resources, [secret], children);
  assert.deepEqual(calls.map((c) => [c.kind, c.name]), [["Secret", "pg"]]);
  assert.equal(result.created.length, 1);
});

Deno.test("applyChildren() writes nothing when every child matches its cached copy", async () => {
  const { resources, calls } = fakeResources();
  const children = noChildren();
  children.configMaps = [configMap("pg-config", { a: "1" })];
  const result = await applyChildren(resources, [configMap("pg-config", { a: "1" })], children);
  assert.deepEqual(calls, []);
  assert.deepEqual(result, { created: [], updated: [] });
});

Deno.test("deleteUnwanted() deletes only cached children, guarded by their uid", async () => {
  const { resources, calls } = fakeResources();
  const children = noChildren();
  children.podDisruptionBudgets = [{ metadata: { name: "pg", namespace: "shop", uid: "pdb-uid" } }];
  const removed = await deleteUnwanted(resources, [
    { kind: "PodDisruptionBudget", name: "pg" },
    { kind: "CronJob", name: "pg-backup" },
  ], children);
  assert.deepEqual(removed, ['PodDisruptionBudget "pg"']);
  assert.deepEqual(calls, [{
    method: "delete",
    kind: "PodDisruptionBudget",
    name: "pg",
    options: { namespace: "shop", signal: undefined, preconditionUid: "pdb-uid" },
  }]);
});
