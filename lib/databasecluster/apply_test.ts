import assert from "node:assert/strict";
import type { KubernetesObject } from "@kubernetes/client-node";
import { ForbiddenError, type Resources, ServerError } from "../kube/mod.ts";
import { noChildren } from "./cache.ts";
import { applyChildren, childResourceType, deleteUnwanted } from "./apply.ts";
import { REFUSAL_RETRY_MS, Refusals } from "./refusals.ts";

const fresh = () => ({ refusals: new Refusals().of("uid", 0) });

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

function fakeResources(fail: (name: string) => Error | undefined = () => undefined) {
  const calls: Call[] = [];
  const resources = {
    apply(type: { kind: string }, object: KubernetesObject, options: Record<string, unknown>) {
      calls.push({ method: "apply", kind: type.kind, name: object.metadata!.name!, options });
      const error = fail(object.metadata!.name!);
      if (error) return Promise.reject(error);
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
  const result = await applyChildren(
    resources,
    [
      configMap("pg-same", { a: "1" }),
      configMap("pg-changed", { a: "2" }),
      configMap("pg-new", { a: "1" }),
    ],
    children,
    fresh(),
  );
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
  const result = await applyChildren(resources, [secret], children, fresh());
  assert.deepEqual(calls.map((c) => [c.kind, c.name]), [["Secret", "pg"]]);
  assert.equal(result.created.length, 1);
});

Deno.test("applyChildren() writes nothing when every child matches its cached copy", async () => {
  const { resources, calls } = fakeResources();
  const children = noChildren();
  children.configMaps = [configMap("pg-config", { a: "1" })];
  const result = await applyChildren(
    resources,
    [configMap("pg-config", { a: "1" })],
    children,
    fresh(),
  );
  assert.deepEqual(calls, []);
  assert.deepEqual(result, { created: [], updated: [], refused: [] });
});

Deno.test("applyChildren() goes past a refused child, holds the StatefulSet back and sends the refused write again only when it changed", async () => {
  const quota = 'configmaps "pg-config" is forbidden: exceeded quota';
  const { resources, calls } = fakeResources((name) =>
    name === "pg-config"
      ? new ForbiddenError(403, { reason: "Forbidden", message: quota }, false)
      : undefined
  );
  const service = { apiVersion: "v1", kind: "Service", metadata: { name: "pg-rw" } };
  const statefulSet = { apiVersion: "apps/v1", kind: "StatefulSet", metadata: { name: "pg" } };
  const memory = new Refusals();
  const run = (config: KubernetesObject, now: number) => {
    const refusals = memory.of("uid", now);
    return applyChildren(resources, [config, service, statefulSet], noChildren(), { refusals })
      .then((result) => ({ ...result, fresh: refusals.fresh.length }));
  };
  const first = await run(configMap("pg-config", { a: "1" }), 0);
  assert.deepEqual(calls.map((c) => c.name), ["pg-config", "pg-rw"]);
  assert.deepEqual(first.refused.map((r) => [r.child, r.message]), [
    ['ConfigMap "pg-config"', quota],
  ]);
  assert.equal(first.fresh, 1);
  calls.length = 0;
  const again = await run(configMap("pg-config", { a: "1" }), 1_000);
  assert.deepEqual(calls.map((c) => c.name), ["pg-rw"], "the refused write is not sent again");
  assert.deepEqual([again.refused.length, again.fresh], [1, 0]);
  calls.length = 0;
  await run(configMap("pg-config", { a: "2" }), 2_000);
  assert.deepEqual(calls.map((c) => c.name), ["pg-config", "pg-rw"], "a changed write is sent");
  calls.length = 0;
  await run(configMap("pg-config", { a: "2" }), 2_000 + REFUSAL_RETRY_MS);
  assert.deepEqual(calls.map((c) => c.name), ["pg-config", "pg-rw"], "and a stale refusal retried");
});

Deno.test("applyChildren() throws a transient error", async () => {
  const unwell = new ServerError(500, { reason: "InternalError", message: "etcd" }, true);
  const { resources } = fakeResources(() => unwell);
  const refusals = new Refusals().of("uid", 0);
  await assert.rejects(
    applyChildren(resources, [configMap("pg-config", { a: "1" })], noChildren(), { refusals }),
    (error) => error === unwell,
  );
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
