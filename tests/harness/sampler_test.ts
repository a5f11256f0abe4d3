import assert from "node:assert/strict";
import { type InstanceSample, type SampleRound, writableAtOnce } from "./sampler.ts";

function round(n: number, writable: Record<string, boolean>): SampleRound {
  const instances: InstanceSample[] = Object.entries(writable).map(([pod, ok]) => ({
    pod,
    uid: pod,
    ip: "127.244.0.1",
    writable: ok,
    answeredAt: n,
  }));
  return { round: n, at: n, instances };
}

Deno.test("writableAtOnce() finds the rounds where two or more instances accepted a write", () => {
  const rounds = [
    round(0, { "pg-0": true, "pg-1": false, "pg-2": false }),
    round(1, { "pg-0": true, "pg-1": true, "pg-2": false }),
    round(2, { "pg-0": false, "pg-1": false, "pg-2": false }),
    round(3, { "pg-0": true, "pg-1": true, "pg-2": true }),
    round(4, {}),
  ];
  assert.deepEqual(writableAtOnce(rounds).map((r) => r.round), [1, 3]);
  assert.deepEqual(writableAtOnce([]), []);
});
