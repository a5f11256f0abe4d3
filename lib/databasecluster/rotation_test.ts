import assert from "node:assert/strict";
import type { KubeObject } from "../runtime/types.ts";
import type { Children } from "./cache.ts";
import { pendingRotations } from "./rotation.ts";

function secret(name: string, password?: string): KubeObject & { data?: Record<string, string> } {
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name },
    ...(password === undefined ? {} : { data: { password: btoa(password) } }),
  };
}

function children(secrets: KubeObject[]): Children {
  return { secrets } as unknown as Children;
}

Deno.test("pendingRotations() lists the generated Secrets whose live copy has no password", () => {
  const desired = [
    secret("pg-superuser", "s1"),
    secret("pg-replication", "r1"),
    secret("pg-app", "a1"),
    secret("pg-status", "t1"),
  ];
  const live = children([secret("pg-superuser", "s0"), secret("pg-replication", "")]);
  assert.deepEqual(pendingRotations("pg", live, desired, "pg-app"), [
    { secret: "pg-replication", password: "r1" },
    { secret: "pg-app", password: "a1" },
  ]);
  assert.deepEqual(
    pendingRotations("pg", live, desired, undefined),
    [{ secret: "pg-replication", password: "r1" }],
    "with existingSecret the user owns the application password",
  );
  const all = children(desired);
  assert.deepEqual(pendingRotations("pg", all, desired, "pg-app"), []);
});
