import assert from "node:assert/strict";
import { parseClusterState, wasPrimary } from "./rewind.ts";

const CONTROLDATA = `pg_control version number:            1300
Database system identifier:           7301234567890123456
Database cluster state:               shut down in recovery
pg_control last modified:             Thu 03 Dec 2026 17:00:00 UTC
`;

Deno.test("parseClusterState() reads pg_controldata's state", () => {
  assert.equal(parseClusterState(CONTROLDATA), "shut down in recovery");
  assert.throws(() => parseClusterState("nothing"), /no database cluster state/);
});

Deno.test("wasPrimary() is true for a primary's data, stopped cleanly or not, only", () => {
  assert.equal(wasPrimary("in production"), true);
  assert.equal(wasPrimary("shut down"), true);
  assert.equal(wasPrimary("in crash recovery"), true);
  assert.equal(wasPrimary("shut down in recovery"), false);
  assert.equal(wasPrimary("in archive recovery"), false);
});
