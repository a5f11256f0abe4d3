import assert from "node:assert/strict";
import { Tracker } from "./view.ts";

Deno.test("Tracker keeps the first time a check held for each name", () => {
  const ready = new Set<string>();
  let closed = false;
  const tracker = new Tracker((name) => ready.has(name), () => closed = true);
  tracker.poke("a");
  assert.equal(tracker.times.has("a"), false);
  ready.add("a");
  tracker.poke("a");
  const first = tracker.times.get("a");
  assert.ok(first !== undefined);
  ready.delete("a");
  tracker.poke("a");
  assert.equal(tracker.times.get("a"), first, "a later poke never moves or removes the time");
  tracker.close();
  assert.equal(closed, true);
});
