import assert from "node:assert/strict";
import { findCondition, formatTime, nextCondition, statusEqual } from "./conditions.ts";

const NOW = new Date("2025-05-01T10:00:00.999Z");
const previous = [{
  type: "Ready",
  status: "True" as const,
  reason: "ClusterReady",
  message: "3/3",
  lastTransitionTime: "2025-04-01T00:00:00Z",
  observedGeneration: 1,
}];

Deno.test("formatTime() writes whole seconds in UTC, as the API does", () => {
  assert.equal(formatTime(NOW), "2025-05-01T10:00:00Z");
  assert.equal(formatTime("2025-05-01T12:00:00+02:00"), "2025-05-01T10:00:00Z");
});

Deno.test("nextCondition() keeps lastTransitionTime when only reason or message change", () => {
  const next = nextCondition(
    previous,
    { type: "Ready", status: "True", reason: "ClusterReady", message: "changed" },
    { now: NOW, generation: 2 },
  );
  assert.equal(next.lastTransitionTime, "2025-04-01T00:00:00Z");
  assert.equal(next.message, "changed");
  assert.equal(next.observedGeneration, 2);
});

Deno.test("nextCondition() moves lastTransitionTime to now when the status changes", () => {
  const next = nextCondition(
    previous,
    { type: "Ready", status: "False", reason: "PrimaryNotReady", message: "" },
    { now: NOW },
  );
  assert.equal(next.lastTransitionTime, "2025-05-01T10:00:00Z");
  assert.equal(next.observedGeneration, undefined);
  const fresh = nextCondition(undefined, {
    type: "Degraded",
    status: "False",
    reason: "X",
    message: "",
  }, {
    now: NOW,
  });
  assert.equal(fresh.lastTransitionTime, "2025-05-01T10:00:00Z");
});

Deno.test("findCondition() finds by type", () => {
  assert.equal(findCondition(previous, "Ready")?.reason, "ClusterReady");
  assert.equal(findCondition(previous, "Degraded"), undefined);
  assert.equal(findCondition(undefined, "Ready"), undefined);
});

Deno.test("statusEqual() ignores key order and undefined properties but not values", () => {
  assert.ok(statusEqual({ phase: "Running", replicas: 3 }, { replicas: 3, phase: "Running" }));
  assert.ok(statusEqual({ phase: "Running", message: undefined }, { phase: "Running" }));
  assert.ok(statusEqual(undefined, {}));
  assert.ok(!statusEqual({ phase: "Running" }, { phase: "Degraded" }));
  assert.ok(
    !statusEqual({ conditions: previous }, { conditions: [{ ...previous[0], message: "x" }] }),
  );
  assert.ok(!statusEqual({ endpoints: { rw: "a" } }, { endpoints: { rw: "a", ro: "b" } }));
});
