import assert from "node:assert/strict";
import { testCluster } from "../testdata/clusters.ts";
import {
  canonicalQuantity,
  childMetadata,
  clusterNamespace,
  containerResources,
  decodeDataValue,
  encodeData,
  postgresImage,
  quantityBytes,
} from "./common.ts";

Deno.test("postgresImage() is postgres:<version> unless spec.image overrides it", () => {
  assert.equal(postgresImage(testCluster({ version: "16.4" })), "postgres:16.4");
  assert.equal(
    postgresImage(testCluster({ image: "registry.local/pg:16" })),
    "registry.local/pg:16",
  );
});

Deno.test("childMetadata() names the child in the cluster's namespace with the common labels", () => {
  const metadata = childMetadata(testCluster(), { name: "pg-rw", component: "database" });
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

Deno.test("containerResources() writes canonical quantities and drops empty lists", () => {
  const cluster = testCluster({
    resources: { requests: { cpu: 2, memory: "8192Mi" }, limits: { cpu: "0.5" } },
  });
  assert.deepEqual(containerResources(cluster), {
    requests: { cpu: "2", memory: "8Gi" },
    limits: { cpu: "500m" },
  });
  const empty = testCluster({ resources: { requests: {}, limits: {} } });
  assert.equal(containerResources(empty), undefined);
  assert.equal(containerResources(testCluster()), undefined);
});

Deno.test("canonicalQuantity() writes quantities as the API server stores them", () => {
  const cases: [string | number, string][] = [
    ["1024Mi", "1Gi"],
    ["1.5Gi", "1536Mi"],
    ["0.5Gi", "512Mi"],
    ["10Gi", "10Gi"],
    ["0.5", "500m"],
    ["1000m", "1"],
    ["1500m", "1500m"],
    [2, "2"],
    ["2000", "2k"],
    ["100M", "100M"],
    ["1e3", "1e3"],
    ["0", "0"],
    ["2048", "2048"],
  ];
  for (const [input, canonical] of cases) {
    assert.equal(canonicalQuantity(input), canonical, `${input}`);
  }
  assert.throws(() => canonicalQuantity("ten"), /Cannot read quantity "ten"/);
});

Deno.test("quantityBytes() reads binary, decimal and plain quantities exactly", () => {
  assert.equal(quantityBytes("1Gi"), 2n ** 30n);
  assert.equal(quantityBytes("1024Mi"), quantityBytes("1Gi"));
  assert.equal(quantityBytes("500M"), 500_000_000n);
  assert.equal(quantityBytes("1073741824"), 2n ** 30n);
  assert.equal(quantityBytes("1.5Gi"), 1536n * 2n ** 20n);
  // 1.1 * 1e9 in floating point is 1100000000.0000002, which rounds up a byte too many.
  assert.equal(quantityBytes("1.1G"), 1_100_000_000n);
  assert.equal(quantityBytes("0.5"), 1n);
  assert.throws(() => quantityBytes("ten gigs"), /Cannot read quantity "ten gigs"/);
});

Deno.test("quantityBytes() keeps sizes beyond 2^53 bytes apart", () => {
  // As doubles both are 2^63: a float parser would call them equal.
  assert.equal(quantityBytes("8388608Ti"), 2n ** 63n);
  assert.equal(quantityBytes("9223372036854775807"), 2n ** 63n - 1n);
  assert.ok(quantityBytes("9223372036854775807") < quantityBytes("8388608Ti"));
  assert.equal(quantityBytes("9007199254740993Ki"), 9007199254740993n * 1024n);
});
