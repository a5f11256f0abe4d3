import assert from "node:assert/strict";
import { DatabaseClusterSpec, DatabaseClusterSpecV1beta1 } from "./spec.ts";

const minimal = { version: "17", storage: { size: "1Gi" } };

function problems(input: unknown): string[] {
  const result = DatabaseClusterSpec.safeParse(input);
  return result.success ? [] : result.error.issues.map((issue) => issue.path.join("."));
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
    },
    ha: { enabled: true, podAntiAffinity: "preferred" },
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
    },
    ha: { enabled: true, podAntiAffinity: "required", pdb: false },
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

// Each case breaks one rule; the path is where zod reports it (the API server reports the same, under "spec.").
const INVALID: [string, unknown, string][] = [
  ["replicas below 1", { ...minimal, replicas: 0 }, "replicas"],
  ["replicas above 100", { ...minimal, replicas: 101 }, "replicas"],
  ["replicas not an integer", { ...minimal, replicas: 1.5 }, "replicas"],
  ["replicas a string", { ...minimal, replicas: "3" }, "replicas"],
  ["version missing", { storage: { size: "1Gi" } }, "version"],
  ["version unsupported", { ...minimal, version: "12" }, "version"],
  ["version a number", { ...minimal, version: 16 }, "version"],
  ["version with patch", { ...minimal, version: "16.4.1" }, "version"],
  ["image with a space", { ...minimal, image: "postgres 16" }, "image"],
  ["storage missing", { version: "17" }, "storage"],
  ["size in decimal units", { ...minimal, storage: { size: "10G" } }, "storage.size"],
  ["size zero", { ...minimal, storage: { size: "0Gi" } }, "storage.size"],
  ["storage class not a DNS name", {
    ...minimal,
    storage: { size: "1Gi", storageClassName: "Fast_SSD" },
  }, "storage.storageClassName"],
  ["unknown field", { ...minimal, replica: 3 }, ""],
  ["unknown nested field", { ...minimal, storage: { size: "1Gi", class: "x" } }, "storage"],
  ["port below 1024", { ...minimal, network: { port: 80 } }, "network.port"],
  ["externalAccess without TLS", {
    ...minimal,
    network: { externalAccess: true },
    security: { tls: { enabled: false } },
  }, "network.externalAccess"],
  ["TLS secret while disabled", {
    ...minimal,
    security: { tls: { enabled: false, secretName: "x" } },
  }, "security.tls.secretName"],
  ["unknown authentication type", {
    ...minimal,
    security: { authentication: { type: "password" } },
  }, "security.authentication.type"],
  ["reserved username", {
    ...minimal,
    security: { authentication: { username: "postgres" } },
  }, "security.authentication.username"],
  ["pg_ username", {
    ...minimal,
    security: { authentication: { username: "pg_app" } },
  }, "security.authentication.username"],
  ["upper-case username", {
    ...minimal,
    security: { authentication: { username: "App" } },
  }, "security.authentication.username"],
  ["reserved database", {
    ...minimal,
    security: { authentication: { database: "template1" } },
  }, "security.authentication.database"],
  ["existingSecret with username", {
    ...minimal,
    security: { authentication: { existingSecret: "creds", username: "app" } },
  }, "security.authentication.username"],
  ["bad anti-affinity", { ...minimal, ha: { podAntiAffinity: "always" } }, "ha.podAntiAffinity"],
  ["metrics on the PostgreSQL port", {
    ...minimal,
    monitoring: { enabled: true, port: 5432 },
  }, "monitoring.port"],
  [
    "PodMonitor without monitoring",
    { ...minimal, monitoring: { podMonitor: true } },
    "monitoring.podMonitor",
  ],
  [
    "metrics path without slash",
    { ...minimal, monitoring: { path: "metrics" } },
    "monitoring.path",
  ],
  ["backup without schedule", {
    ...minimal,
    backup: { enabled: true, storage: { size: "1Gi" } },
  }, "backup.schedule"],
  ["backup without storage", {
    ...minimal,
    backup: { enabled: true, schedule: "0 2 * * *" },
  }, "backup.storage"],
  ["six-field schedule", { ...minimal, backup: { schedule: "0 0 2 * * *" } }, "backup.schedule"],
  ["retention zero", { ...minimal, backup: { retention: 0 } }, "backup.retention"],
  ["reserved parameter", {
    ...minimal,
    postgresql: { parameters: { listen_addresses: "*" } },
  }, "postgresql.parameters"],
  ["upper-case parameter", {
    ...minimal,
    postgresql: { parameters: { Port: "1" } },
  }, "postgresql.parameters"],
  ["parameter value not a string", {
    ...minimal,
    postgresql: { parameters: { max_connections: 100 } },
  }, "postgresql.parameters.max_connections"],
  ["negative cpu", { ...minimal, resources: { requests: { cpu: -1 } } }, "resources.requests.cpu"],
  ["bad memory quantity", {
    ...minimal,
    resources: { limits: { memory: "8GB" } },
  }, "resources.limits.memory"],
  ["unknown deletionPolicy", { ...minimal, deletionPolicy: "Orphan" }, "deletionPolicy"],
];

for (const [what, input, path] of INVALID) {
  Deno.test(`DatabaseClusterSpec rejects ${what} at "${path || "<spec>"}"`, () => {
    assert.deepEqual(problems(input), [path]);
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
  const beta = DatabaseClusterSpecV1beta1.parse({ ...minimal, version: "13" });
  assert.deepEqual(beta, DatabaseClusterSpec.parse({ ...minimal, version: "13" }));
});
