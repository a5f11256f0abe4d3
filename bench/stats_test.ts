import assert from "node:assert/strict";
import { percentile, summarize } from "./stats.ts";

Deno.test("percentile() returns an observed value by nearest rank", () => {
  const values = [5, 1, 4, 2, 3];
  assert.equal(percentile(values, 50), 3);
  assert.equal(percentile(values, 95), 5);
  assert.equal(percentile(values, 1), 1);
  assert.equal(percentile([], 50), NaN);
});

Deno.test("summarize() gives p99 below the max once there are more than 100 values", () => {
  const values = Array.from({ length: 200 }, (_, i) => i + 1);
  const summary = summarize(values);
  assert.equal(summary.count, 200);
  assert.equal(summary.p50, 100);
  assert.equal(summary.p95, 190);
  assert.equal(summary.p99, 198);
  assert.equal(summary.max, 200);
});
