import assert from "node:assert/strict";
import { clusterNames, fleetNamespace, fleetNamespaces, inFleet } from "./fleet.ts";

Deno.test("fleetNamespace() puts 50 clusters in each namespace", () => {
  assert.equal(fleetNamespace("fleet", "pg-0000"), "fleet-0");
  assert.equal(fleetNamespace("fleet", "pg-0049"), "fleet-0");
  assert.equal(fleetNamespace("fleet", "pg-0050"), "fleet-1");
  assert.equal(fleetNamespace("floor", "pg-0999"), "floor-19");
  assert.throws(() => fleetNamespace("fleet", "pg-warm-up"), /Not a fleet cluster name/);
});

Deno.test("fleetNamespaces() lists the namespace of every cluster once", () => {
  const names = clusterNames(101);
  assert.deepEqual(fleetNamespaces("fleet", 101), ["fleet-0", "fleet-1", "fleet-2"]);
  assert.deepEqual(
    [...new Set(names.map((name) => fleetNamespace("fleet", name)))],
    fleetNamespaces("fleet", 101),
  );
});

Deno.test("inFleet() accepts only a fleet name in its own namespace", () => {
  assert.ok(inFleet("fleet", "fleet-1", "pg-0050"));
  assert.ok(!inFleet("fleet", "fleet-0", "pg-0050"));
  assert.ok(!inFleet("fleet", "bench-warm-up", "pg-warm-up"));
  assert.ok(!inFleet("fleet", undefined, "pg-0000"));
});
