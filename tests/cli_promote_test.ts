/**
 * `dbop promote` against the real API server: it writes the promote
 * annotation the operator acts on, and refuses what cannot be promoted with
 * one clear line (no operator runs here: the annotation is the command's
 * whole effect).
 *
 * @module
 */
import assert from "node:assert/strict";
import { ANNOTATIONS } from "../lib/databasecluster/names.ts";
import { ensureCrd, getJson } from "./harness/clusters.ts";
import { createNamespace, testCluster } from "./harness/mod.ts";
import { runDbop } from "./harness/dbop_process.ts";

const test = testCluster();

Deno.test("dbop promote writes the promote annotation, and refuses a stranger or a missing cluster", async () => {
  await ensureCrd(test);
  const namespace = await createNamespace(test, "promote");
  await test.kubectlOk(["apply", "-n", namespace, "-f", "-"], {
    stdin: JSON.stringify({
      apiVersion: "database.example.com/v1",
      kind: "DatabaseCluster",
      metadata: { name: "pg" },
      spec: { replicas: 3, version: "15", storage: { size: "1Gi" } },
    }),
  });
  const promote = (...args: string[]) =>
    runDbop(["promote", ...args, "-n", namespace, "--kubeconfig", test.kubeconfigPath]);

  const asked = await promote("pg", "pg-2");
  assert.equal(asked.code, 0, asked.stderr);
  assert.match(asked.stdout, /Asked dbop to promote "pg-2"/);
  const cluster = await getJson(test, ["get", "databasecluster", "pg", "-n", namespace]);
  assert.equal(cluster.metadata.annotations[ANNOTATIONS.promote], "pg-2");
  assert.match(cluster.metadata.annotations[ANNOTATIONS.promoteAt], /^\d{4}-\d\d-\d\dT/);

  const stranger = await promote("pg", "pg-3");
  assert.equal(stranger.code, 2);
  assert.match(stranger.stderr, /"pg-3" is not an instance of "pg": expected "pg-0" to "pg-2"/);
  const missing = await promote("nope", "nope-0");
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /No DatabaseCluster "nope" in namespace/);
  const usage = await promote("pg");
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /Usage: dbop promote CLUSTER INSTANCE/);
  await test.kubectl(["delete", "namespace", namespace, "--wait=false"]);
});
