import assert from "node:assert/strict";
import { decideBootstrap } from "./role.ts";

const empty = { exists: false };
const data = (systemIdentifier: string) => ({ exists: true, systemIdentifier });

Deno.test("decideBootstrap() initialises only the target primary of a new cluster", () => {
  assert.deepEqual(
    decideBootstrap("pg-0", { cluster: { targetPrimary: "pg-0" }, local: empty }),
    { action: "initdb" },
  );
  assert.deepEqual(
    decideBootstrap("pg-1", { cluster: { targetPrimary: "pg-0" }, local: empty }),
    { action: "clone" },
  );
});

Deno.test("decideBootstrap() never initialises a bootstrapped cluster's empty primary", () => {
  const decision = decideBootstrap("pg-0", {
    cluster: { targetPrimary: "pg-0", systemIdentifier: "7301" },
    local: empty,
  });
  assert.equal(decision.action, "wait");
  assert.equal(decision.action === "wait" && decision.reason, "PrimaryDataLost");
});

Deno.test("decideBootstrap() clones a standby whose volume is empty, bootstrapped or not", () => {
  assert.deepEqual(
    decideBootstrap("pg-2", {
      cluster: { targetPrimary: "pg-0", systemIdentifier: "7301" },
      local: empty,
    }),
    { action: "clone" },
  );
});

Deno.test("decideBootstrap() waits while no primary is chosen", () => {
  for (const local of [empty, data("7301")]) {
    const decision = decideBootstrap("pg-0", { cluster: {}, local });
    assert.equal(decision.action === "wait" && decision.reason, "NoTargetPrimary");
  }
});

Deno.test("decideBootstrap() starts existing data in the role status.targetPrimary gives", () => {
  const cluster = { targetPrimary: "pg-1", systemIdentifier: "7301" };
  assert.deepEqual(decideBootstrap("pg-1", { cluster, local: data("7301") }), {
    action: "start",
    role: "primary",
  });
  assert.deepEqual(decideBootstrap("pg-0", { cluster, local: data("7301") }), {
    action: "start",
    role: "standby",
  });
  // Data of a cluster whose bootstrap was not recorded yet starts too.
  assert.deepEqual(
    decideBootstrap("pg-0", { cluster: { targetPrimary: "pg-0" }, local: data("7301") }),
    { action: "start", role: "primary" },
  );
});

Deno.test("decideBootstrap() never starts another database's data", () => {
  for (const pod of ["pg-0", "pg-1"]) {
    const decision = decideBootstrap(pod, {
      cluster: { targetPrimary: "pg-0", systemIdentifier: "7301" },
      local: data("9999"),
    });
    assert.equal(decision.action === "wait" && decision.reason, "SystemIdentifierMismatch", pod);
  }
});
