import assert from "node:assert/strict";
import { microTime } from "./micro_time.ts";

Deno.test("microTime() writes six fractional digits in UTC", () => {
  assert.equal(microTime(Date.UTC(2024, 0, 2, 3, 4, 5, 678)), "2024-01-02T03:04:05.678000Z");
  assert.equal(microTime(0), "1970-01-01T00:00:00.000000Z");
});

Deno.test("microTime() keeps sub-millisecond fractions", () => {
  assert.equal(microTime(Date.UTC(2024, 0, 1) + 1.5), "2024-01-01T00:00:00.001500Z");
  assert.equal(microTime(999.999), "1970-01-01T00:00:00.999999Z");
});
