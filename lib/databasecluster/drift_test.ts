import assert from "node:assert/strict";
import { contains, needsApply } from "./drift.ts";

Deno.test("contains() ignores fields the desired object does not set", () => {
  assert.ok(contains({ a: 1, b: { c: 2, d: 3 } }, { b: { c: 2 } }));
  assert.ok(!contains({ a: 1 }, { a: 2 }));
  assert.ok(!contains({ a: 1 }, { b: 1 }));
  assert.ok(contains({ a: [{ x: 1, y: 2 }] }, { a: [{ x: 1 }] }));
  assert.ok(!contains({ a: [{ x: 1 }, { x: 2 }] }, { a: [{ x: 1 }] }), "lists match in length");
  assert.ok(!contains({ a: "1" }, { a: 1 }), "no type coercion");
});

Deno.test("needsApply() is false for a cached object that already carries every desired field", () => {
  const desired = {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "pg-rw", namespace: "db", labels: { app: "pg" } },
    spec: { selector: { role: "primary" }, ports: [{ name: "postgresql", port: 5432 }] },
  };
  const cached = {
    metadata: {
      name: "pg-rw",
      namespace: "db",
      uid: "1",
      resourceVersion: "9",
      labels: { app: "pg", extra: "kept" },
      managedFields: [],
    },
    spec: {
      clusterIP: "10.96.0.4",
      selector: { role: "primary" },
      ports: [{ name: "postgresql", port: 5432, protocol: "TCP", targetPort: 5432 }],
    },
    status: {},
  };
  assert.equal(needsApply(desired, cached), false);
  assert.equal(needsApply(desired, undefined), true);
  const drifted = structuredClone(cached);
  drifted.spec.selector.role = "replica";
  assert.equal(needsApply(desired, drifted), true, "a hand-edited selector is drift");
  const relabelled = structuredClone(cached);
  delete (relabelled.metadata.labels as Record<string, string>).app;
  assert.equal(needsApply(desired, relabelled), true, "a removed label is drift");
});
