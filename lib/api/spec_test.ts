import assert from "node:assert/strict";
import { DatabaseClusterSpec, DatabaseClusterSpecV1beta1 } from "./spec.ts";
import { INVALID_SPECS, MINIMAL, VALID_SPECS } from "./testdata/spec_cases.ts";

const minimal = MINIMAL;

/** Paths of the fields zod rejects; an unknown field is named by its own path, as the API server does. */
function problems(input: unknown): string[] {
  const result = DatabaseClusterSpec.safeParse(input);
  if (result.success) return [];
  return result.error.issues.flatMap((issue) => {
    const keys = issue.code === "unrecognized_keys" ? issue.keys.map((k) => [k]) : [[]];
    return keys.map((key) => [...issue.path, ...key].join("."));
  });
}

Deno.test("DatabaseClusterSpec applies every default to a minimal spec", () => {
  assert.deepEqual(DatabaseClusterSpec.parse(minimal), {
    replicas: 1,
    version: "17",
    storage: { size: "1Gi" },
    network: { port: 5432, externalAccess: false },
    security: {
      tls: { enabled: true },
      authentication: { type: "scram-sha-256", database: "app" },
      enableSuperuserAccess: false,
    },
    ha: {
      enabled: true,
      failoverDelay: 10,
      primaryUpdateMethod: "switchover",
      switchoverDelay: 30,
      podAntiAffinity: "preferred",
    },
    monitoring: { enabled: false, port: 9187, path: "/metrics", podMonitor: false },
    backup: { enabled: false, retention: 7 },
    postgresql: {},
    deletionPolicy: "Retain",
  });
});

Deno.test("DatabaseClusterSpec fills defaults inside a partly written section", () => {
  const spec = DatabaseClusterSpec.parse({
    ...minimal,
    monitoring: { enabled: true },
    security: { tls: { enabled: false } },
  });
  assert.deepEqual(spec.monitoring, {
    enabled: true,
    port: 9187,
    path: "/metrics",
    podMonitor: false,
  });
  assert.deepEqual(spec.security.authentication, { type: "scram-sha-256", database: "app" });
});

Deno.test("DatabaseClusterSpec does not share default objects between parses", () => {
  const first = DatabaseClusterSpec.parse(minimal);
  first.network.port = 6000;
  assert.equal(DatabaseClusterSpec.parse(minimal).network.port, 5432);
});

Deno.test("DatabaseClusterSpec accepts a fully specified cluster", () => {
  const full = {
    replicas: 3,
    version: "16.4",
    image: "ghcr.io/example/postgres:16.4",
    storage: { size: "100Gi", storageClassName: "fast-ssd" },
    network: { port: 5433, externalAccess: true },
    security: {
      tls: { enabled: true, secretName: "pg-tls" },
      authentication: { type: "md5", database: "orders", existingSecret: "orders-app" },
      enableSuperuserAccess: true,
    },
    ha: {
      enabled: true,
      failoverDelay: 10,
      primaryUpdateMethod: "restart",
      switchoverDelay: 5,
      podAntiAffinity: "required",
      pdb: false,
    },
    monitoring: { enabled: true, port: 9000, path: "/m", podMonitor: true },
    backup: {
      enabled: true,
      schedule: "0 2 * * *",
      retention: 1,
      storage: { size: "200Gi" },
    },
    postgresql: { parameters: { shared_buffers: "1GB", "pg_stat_statements.max": "1000" } },
    resources: { requests: { cpu: 2, memory: "8Gi" }, limits: { cpu: "2500m", memory: "8Gi" } },
    deletionPolicy: "Delete",
  };
  assert.deepEqual(DatabaseClusterSpec.parse(full), full);
});

for (const { what, spec, field } of INVALID_SPECS) {
  Deno.test(`DatabaseClusterSpec rejects ${what} at "${field}"`, () => {
    assert.deepEqual(problems(spec), [field]);
  });
}

for (const { what, spec } of VALID_SPECS) {
  Deno.test(`DatabaseClusterSpec accepts ${what}`, () => {
    assert.deepEqual(problems(spec), []);
  });
}

Deno.test("DatabaseClusterSpec rejects too many parameters", () => {
  const parameters = Object.fromEntries(
    Array.from({ length: 201 }, (_, i) => [`custom.p${i}`, "1"]),
  );
  assert.deepEqual(problems({ ...minimal, postgresql: { parameters } }), [
    "postgresql.parameters",
  ]);
});

Deno.test("v1beta1 accepts only the older majors and otherwise the same spec as v1", () => {
  assert.equal(DatabaseClusterSpecV1beta1.safeParse({ ...minimal, version: "15.2" }).success, true);
  assert.equal(DatabaseClusterSpecV1beta1.safeParse({ ...minimal, version: "16" }).success, false);
  assert.equal(DatabaseClusterSpecV1beta1.safeParse({ ...minimal, version: "13" }).success, false);
  assert.equal(DatabaseClusterSpec.safeParse({ ...minimal, version: "13.5" }).success, false);
  const beta = DatabaseClusterSpecV1beta1.parse({ ...minimal, version: "14" });
  assert.deepEqual(beta, DatabaseClusterSpec.parse({ ...minimal, version: "14" }));
});
