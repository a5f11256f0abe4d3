import assert from "node:assert/strict";
import { currentCredentials, passwordChanges } from "./credentials.ts";

const fallback = { superuser: "s0", replication: "r0", app: { user: "app", password: "a0" } };
const roles = { superuser: "postgres", replication: "streaming_replica" };

Deno.test("currentCredentials() takes each Secret's password, else the pod's environment", () => {
  assert.deepEqual(currentCredentials(fallback, {}), fallback);
  assert.deepEqual(
    currentCredentials(fallback, {
      superuser: { password: "s1" },
      replication: { username: "streaming_replica" },
      app: { username: "app", password: "" },
    }),
    { superuser: "s1", replication: "r0", app: { user: "app", password: "a0" } },
  );
  assert.equal(currentCredentials({ superuser: "s", replication: "r" }, {}).app, undefined);
});

Deno.test("passwordChanges() sets everything once, then only what changed, quoted", () => {
  assert.deepEqual(passwordChanges(roles, fallback, undefined), [
    "ALTER ROLE \"postgres\" WITH PASSWORD 's0';",
    "ALTER ROLE \"streaming_replica\" WITH PASSWORD 'r0';",
    "ALTER ROLE \"app\" WITH PASSWORD 'a0';",
  ]);
  assert.deepEqual(passwordChanges(roles, fallback, fallback), []);
  const rotated = { ...fallback, app: { user: "app", password: "it's new" } };
  assert.deepEqual(passwordChanges(roles, rotated, fallback), [
    "ALTER ROLE \"app\" WITH PASSWORD 'it''s new';",
  ]);
});
