import assert from "node:assert/strict";
import { parse } from "yaml";
import { parseDatabaseCluster } from "./database_cluster.ts";

const SAMPLES = new URL("../../deploy/samples/", import.meta.url);

async function sampleFiles(): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(SAMPLES)) {
    if (entry.isFile && entry.name.endsWith(".yaml") && entry.name !== "kustomization.yaml") {
      names.push(entry.name);
    }
  }
  return names.sort();
}

Deno.test("the samples in deploy/samples are valid DatabaseClusters", async () => {
  const files = await sampleFiles();
  assert.ok(files.length >= 3, `expected at least three samples, found ${files.join(", ")}`);
  for (const file of files) {
    const cluster = parseDatabaseCluster(parse(await Deno.readTextFile(new URL(file, SAMPLES))));
    assert.ok(cluster.metadata.name, file);
  }
});

Deno.test("the samples' kustomization lists every sample", async () => {
  const kustomization = parse(await Deno.readTextFile(new URL("kustomization.yaml", SAMPLES)));
  assert.deepEqual([...kustomization.resources].sort(), await sampleFiles());
});

Deno.test("the design-notes sample keeps the notes' settings", async () => {
  const text = await Deno.readTextFile(new URL("design_notes.yaml", SAMPLES));
  const { spec } = parseDatabaseCluster(parse(text));
  assert.equal(spec.replicas, 3);
  assert.equal(spec.version, "15");
  assert.deepEqual(spec.storage, { size: "100Gi", storageClassName: "fast-ssd" });
  assert.deepEqual(spec.network, { port: 5432, externalAccess: true });
  assert.equal(spec.security.tls.enabled, true);
  assert.equal(spec.security.authentication.username, "admin");
  assert.equal(spec.ha.enabled, true);
  assert.equal(spec.monitoring.enabled, true);
  assert.equal(spec.monitoring.path, "/metrics");
});
