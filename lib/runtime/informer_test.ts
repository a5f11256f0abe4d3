import assert from "node:assert/strict";
import { stripManagedFields } from "./informer.ts";

Deno.test("stripManagedFields() drops managedFields and keeps the rest of the object", () => {
  const object = {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: {
      name: "pg-config",
      labels: { app: "pg" },
      managedFields: [{ manager: "dbop", operation: "Apply", fieldsType: "FieldsV1" }],
    },
    data: { "postgresql.conf": "port = 5432\n" },
  };
  assert.deepEqual(stripManagedFields(object), {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "pg-config", labels: { app: "pg" } },
    data: { "postgresql.conf": "port = 5432\n" },
  });
  assert.equal("managedFields" in object.metadata, false);
});

Deno.test("stripManagedFields() leaves an object without metadata as it is", () => {
  assert.deepEqual(stripManagedFields({ kind: "Status" }), { kind: "Status" });
});
