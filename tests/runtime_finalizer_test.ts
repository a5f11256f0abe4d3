/**
 * withFinalizer() against the real control plane: the finalizer goes on before `apply`, comes off only
 * after `cleanup` succeeded (a failing cleanup keeps the object), and the API server's JSON Patch `test`
 * guards keep another controller's finalizer safe when the list changes between our read and our patch.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { V1ConfigMap } from "@kubernetes/client-node";
import { KubeClient, Resources } from "../lib/kube/mod.ts";
import { loadKubeConfig } from "../lib/kube/config.ts";
import { ConfigMaps } from "../lib/databasecluster/kinds.ts";
import { withFinalizer } from "../lib/runtime/finalizer.ts";
import { createNamespace, eventually, testCluster } from "./harness/mod.ts";
import { FIELD_MANAGER } from "../lib/databasecluster/names.ts";

const cluster = testCluster();
const OURS = "database.example.com/cleanup";
const THEIRS = "backup.example.com/protect";
const AUDIT = "audit.example.com/hold";

/** A client that remembers each non-GET request's method and status code. */
function newResources() {
  const writes: string[] = [];
  const { credentials } = loadKubeConfig({ kubeconfig: cluster.kubeconfigPath });
  const client = new KubeClient(credentials, {
    observer: ({ method, code }) => {
      if (method !== "GET") writes.push(`${method} ${code}`);
    },
  });
  return { resources: new Resources(client, { fieldManager: FIELD_MANAGER }), writes, client };
}

function recording(log: string[], options: { failCleanup?: boolean } = {}) {
  return {
    type: ConfigMaps,
    finalizer: OURS,
    apply: (obj: V1ConfigMap) => {
      log.push(`apply ${obj.metadata?.finalizers?.join(",")}`);
      return Promise.resolve("applied");
    },
    cleanup: (obj: V1ConfigMap) => {
      log.push(`cleanup ${obj.metadata?.finalizers?.join(",")}`);
      return options.failCleanup
        ? Promise.reject(new Error("Backup bucket unreachable"))
        : Promise.resolve("cleaned");
    },
  };
}

async function finalizersOf(ns: string, name: string): Promise<string> {
  return await cluster.kubectlOk([
    "get",
    "configmap",
    name,
    "-n",
    ns,
    "-o",
    "jsonpath={.metadata.finalizers}",
  ]);
}

async function patchFinalizers(ns: string, name: string, patch: unknown): Promise<void> {
  await cluster.kubectlOk([
    "patch",
    "configmap",
    name,
    "-n",
    ns,
    "--type=json",
    "-p",
    JSON.stringify(patch),
  ]);
}

Deno.test("withFinalizer() adds the finalizer before apply and removes it only after a cleanup that succeeded", async () => {
  const ns = await createNamespace(cluster, "fin-lifecycle");
  const { resources, client } = newResources();
  try {
    const created = await resources.create(ConfigMaps, { metadata: { name: "pg", namespace: ns } });
    const log: string[] = [];
    assert.equal(await withFinalizer(resources, created, recording(log)), "applied");
    assert.deepEqual(log, [`apply ${OURS}`]);
    assert.equal(await finalizersOf(ns, "pg"), JSON.stringify([OURS]));

    await cluster.kubectlOk(["delete", "configmap", "pg", "-n", ns, "--wait=false"]);
    const deleting = await resources.get(ConfigMaps, "pg", { namespace: ns });
    assert.ok(deleting.metadata?.deletionTimestamp, "the ConfigMap is being deleted");
    await assert.rejects(
      withFinalizer(resources, deleting, recording(log, { failCleanup: true })),
      /Backup bucket unreachable/,
    );
    assert.equal(
      await finalizersOf(ns, "pg"),
      JSON.stringify([OURS]),
      "kept after a failed cleanup",
    );

    assert.equal(await withFinalizer(resources, deleting, recording(log)), "cleaned");
    assert.deepEqual(log, [`apply ${OURS}`, `cleanup ${OURS}`, `cleanup ${OURS}`]);
    await eventually("the ConfigMap to be gone", async () => {
      return (await resources.getOrUndefined(ConfigMaps, "pg", { namespace: ns }))
        ? undefined
        : true;
    }, { timeoutMs: 10_000 });
  } finally {
    client.close();
    await cluster.kubectl(["delete", "namespace", ns, "--wait=false"]);
  }
});

Deno.test("withFinalizer() keeps other controllers' finalizers when the list changes between read and patch", async () => {
  const ns = await createNamespace(cluster, "fin-concurrent");
  const { resources, writes, client } = newResources();
  try {
    const stale = await resources.create(ConfigMaps, { metadata: { name: "pg", namespace: ns } });
    // Another controller adds its finalizer after our read: our add must not overwrite it.
    await patchFinalizers(ns, "pg", [{ op: "add", path: "/metadata/finalizers", value: [THEIRS] }]);
    writes.length = 0;
    const log: string[] = [];
    await withFinalizer(resources, stale, recording(log));
    assert.deepEqual(
      writes,
      ["PATCH 422", "PATCH 200"],
      "the stale guard failed, then a fresh one held",
    );
    assert.deepEqual(log, [`apply ${THEIRS},${OURS}`]);
    await patchFinalizers(ns, "pg", [{ op: "add", path: "/metadata/finalizers/-", value: AUDIT }]);
    assert.equal(await finalizersOf(ns, "pg"), JSON.stringify([THEIRS, OURS, AUDIT]));

    await cluster.kubectlOk(["delete", "configmap", "pg", "-n", ns, "--wait=false"]);
    const deleting = await resources.get(ConfigMaps, "pg", { namespace: ns });
    // The backup controller finishes first: our index shifts from 1 to 0 after our read.
    await patchFinalizers(ns, "pg", [
      { op: "test", path: "/metadata/finalizers/0", value: THEIRS },
      { op: "remove", path: "/metadata/finalizers/0" },
    ]);
    writes.length = 0;
    assert.equal(await withFinalizer(resources, deleting, recording(log)), "cleaned");
    assert.deepEqual(writes, ["PATCH 422", "PATCH 200"]);
    assert.equal(await finalizersOf(ns, "pg"), JSON.stringify([AUDIT]), "the audit hold survives");

    await patchFinalizers(ns, "pg", [{ op: "remove", path: "/metadata/finalizers/0" }]);
  } finally {
    client.close();
    await cluster.kubectl(["delete", "namespace", ns, "--wait=false"]);
  }
});
