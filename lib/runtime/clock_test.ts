import assert from "node:assert/strict";
import { sleepWith, systemClock } from "./clock.ts";
import { FakeClock } from "./fake_clock.ts";

Deno.test("systemClock.now() reads wall time", () => {
  const before = Date.now();
  const now = systemClock.now();
  assert.ok(now >= before && now <= Date.now());
});

Deno.test("systemClock.clearTimeout() cancels a timer before it fires", async () => {
  let fired = false;
  const id = systemClock.setTimeout(() => fired = true, 0);
  systemClock.clearTimeout(id);
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.equal(fired, false);
});

Deno.test("systemClock.sleep() returns at once when the signal is already aborted", async () => {
  const controller = new AbortController();
  controller.abort();
  const start = Date.now();
  await systemClock.sleep(60_000, controller.signal);
  assert.ok(Date.now() - start < 1_000);
});

Deno.test("systemClock.sleep() resolves early and clears its timer when the signal aborts", async () => {
  const controller = new AbortController();
  const sleeping = systemClock.sleep(60_000, controller.signal);
  controller.abort();
  // The test sanitizer fails this test if the 60 s timer were still pending.
  await sleeping;
  assert.ok(controller.signal.aborted);
});

Deno.test("sleepWith() resolves after the delay on the given clock", async () => {
  const clock = new FakeClock();
  let woke = false;
  const sleeping = sleepWith(clock, 100).then(() => woke = true);
  clock.advance(99);
  await Promise.resolve();
  assert.equal(woke, false);
  clock.advance(1);
  await sleeping;
  assert.equal(woke, true);
});

Deno.test("sleepWith() removes its timer when aborted", async () => {
  const clock = new FakeClock();
  const controller = new AbortController();
  const sleeping = sleepWith(clock, 100, controller.signal);
  assert.equal(clock.pendingTimers(), 1);
  controller.abort();
  await sleeping;
  assert.equal(clock.pendingTimers(), 0);
});
