import assert from "node:assert/strict";
import { currentCredentials, HandedOverPasswords, passwordChanges } from "./credentials.ts";

const fallback = { superuser: "s0", replication: "r0", app: { user: "app", password: "a0" } };
const roles = { superuser: "postgres", replication: "streaming_replica" };

Deno.test("currentCredentials() takes each Secret's password, else the last used", () => {
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
  const createApp = "SELECT format('CREATE ROLE %I LOGIN', 'app') WHERE NOT EXISTS " +
    "(SELECT FROM pg_roles WHERE rolname = 'app') \\gexec";
  assert.deepEqual(passwordChanges(roles, fallback, undefined), [
    "ALTER ROLE \"postgres\" WITH PASSWORD 's0';",
    "ALTER ROLE \"streaming_replica\" WITH PASSWORD 'r0';",
    createApp,
    "ALTER ROLE \"app\" WITH PASSWORD 'a0';",
  ]);
  assert.deepEqual(passwordChanges(roles, fallback, fallback), []);
  const rotated = { ...fallback, app: { user: "app", password: "it's new" } };
  assert.deepEqual(passwordChanges(roles, rotated, fallback), [
    createApp,
    "ALTER ROLE \"app\" WITH PASSWORD 'it''s new';",
  ]);
});

Deno.test("passwordChanges() renames the application owner when its name changes", () => {
  const renamed = { ...fallback, app: { user: "shop", password: "a0" } };
  const changes = passwordChanges(roles, renamed, fallback);
  assert.equal(
    changes[0],
    "SELECT format('ALTER ROLE %I RENAME TO %I', 'app', 'shop') WHERE EXISTS " +
      "(SELECT FROM pg_roles WHERE rolname = 'app') AND NOT EXISTS " +
      "(SELECT FROM pg_roles WHERE rolname = 'shop') \\gexec",
  );
  assert.equal(changes.at(-1), "ALTER ROLE \"shop\" WITH PASSWORD 'a0';");
});

Deno.test("currentCredentials() takes the application owner's name from its Secret", () => {
  const now = currentCredentials(fallback, { app: { username: "shop", password: "a1" } });
  assert.deepEqual(now.app, { user: "shop", password: "a1" });
});

Deno.test("HandedOverPasswords stands in for a Secret until the Secret shows something new", () => {
  const handedOver = new HandedOverPasswords();
  const old = { username: "app", password: "a0" };
  assert.deepEqual(handedOver.overlay("pg-app", old), old, "nothing handed over");
  handedOver.add("pg-app", "a1", undefined);
  assert.deepEqual(
    handedOver.overlay("pg-app", undefined),
    { password: "a1" },
    "Secret still gone",
  );
  const created = { username: "app", password: "a1" };
  assert.deepEqual(handedOver.overlay("pg-app", created), created);
  assert.deepEqual(handedOver.overlay("pg-app", undefined), undefined, "forgotten once seen");

  handedOver.add("pg-app", "a2", old);
  assert.deepEqual(
    handedOver.overlay("pg-app", old),
    { username: "app", password: "a2" },
    "a watch that still shows the old Secret does not undo the handover",
  );
  const other = { username: "app", password: "a3" };
  assert.deepEqual(handedOver.overlay("pg-app", other), other, "a newer Secret wins");
  assert.deepEqual(handedOver.overlay("pg-app", old), old);
});
