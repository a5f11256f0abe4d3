import assert from "node:assert/strict";
import { testCluster } from "../testdata/clusters.ts";
import {
  childMetadata,
  clusterNamespace,
  containerResources,
  contentHash,
  decodeDataValue,
  encodeData,
  postgresImage,
} from "./common.ts";

Deno.test("postgresImage() is postgres:<version> unless spec.image overrides it", () => {
  assert.equal(postgresImage(testCluster({ version: "16.4" })), "postgres:16.4");
  assert.equal(
    postgresImage(testCluster({ image: "registry.local/pg:16" })),
    "registry.local/pg:16",
  );
});

Deno.test("childMetadata() names the child in the cluster's namespace with the common labels", () => {
  const metadata = childMetadata(testCluster(), "pg-rw", "database");
  assert.equal(metadata.name, "pg-rw");
  assert.equal(metadata.namespace, "shop");
  assert.equal(metadata.labels?.["app.kubernetes.io/component"], "database");
  assert.equal(metadata.labels?.["database.example.com/cluster"], "pg");
  assert.equal(metadata.ownerReferences, undefined);
});

Deno.test("clusterNamespace() refuses a cluster without a namespace", () => {
  const cluster = testCluster();
  delete cluster.metadata.namespace;
  assert.throws(() => clusterNamespace(cluster), /Cannot build the children of "pg": no namespace/);
});

Deno.test("encodeData() and decodeDataValue() round-trip UTF-8 through base64", () => {
  const data = encodeData({ a: "plain", b: "caf\u00e9 \u2713" });
  assert.equal(data.a, "cGxhaW4=");
  assert.equal(decodeDataValue({ data }, "b"), "caf\u00e9 \u2713");
  assert.equal(decodeDataValue({ data }, "missing"), undefined);
});

Deno.test("contentHash() is stable and sensitive to boundaries between parts", () => {
  assert.equal(contentHash(["a", "b"]), contentHash(["a", "b"]));
  assert.notEqual(contentHash(["ab", ""]), contentHash(["a", "b"]));
  assert.match(contentHash([]), /^[0-9a-f]{64}$/);
});

Deno.test("containerResources() writes quantities as strings and drops empty lists", () => {
  const cluster = testCluster({ resources: { requests: { cpu: 2, memory: "8Gi" }, limits: {} } });
  assert.deepEqual(containerResources(cluster), { requests: { cpu: "2", memory: "8Gi" } });
  assert.equal(containerResources(testCluster()), undefined);
});
