import assert from "node:assert/strict";
import { FakeClock } from "./fake_clock.ts";

Deno.test("FakeClock starts at the given time and moves only when advanced", () => {
  const clock = new FakeClock(1_000);
  assert.equal(clock.now(), 1_000);
  clock.advance(250);
  assert.equal(clock.now(), 1_250);
});

Deno.test("FakeClock.advance() fires due timers in due order, ties in creation order", () => {
  const clock = new FakeClock();
  const fired: string[] = [];
  clock.setTimeout(() => fired.push(`c@${clock.now()}`), 30);
  clock.setTimeout(() => fired.push(`a@${clock.now()}`), 10);
  clock.setTimeout(() => fired.push(`b1@${clock.now()}`), 20);
  clock.setTimeout(() => fired.push(`b2@${clock.now()}`), 20);
  clock.setTimeout(() => fired.push(`late@${clock.now()}`), 31);
  clock.advance(30);
  assert.deepEqual(fired, ["a@10", "b1@20", "b2@20", "c@30"]);
  assert.equal(clock.pendingTimers(), 1);
  assert.equal(clock.nextDue(), 31);
});

Deno.test("FakeClock.advance() fires timers that callbacks schedule within the span", () => {
  const clock = new FakeClock();
  const fired: number[] = [];
  const tick = () => {
    fired.push(clock.now());
    clock.setTimeout(tick, 10);
  };
  clock.setTimeout(tick, 10);
  clock.advance(35);
  assert.deepEqual(fired, [10, 20, 30]);
  assert.equal(clock.now(), 35);
  assert.equal(clock.nextDue(), 40);
});

Deno.test("FakeClock treats a negative delay as zero and fires it on advance(0)", () => {
  const clock = new FakeClock(5);
  let firedAt: number | undefined;
  clock.setTimeout(() => firedAt = clock.now(), -100);
  assert.equal(firedAt, undefined);
  clock.advance(0);
  assert.equal(firedAt, 5);
});

Deno.test("FakeClock.clearTimeout() prevents a timer from firing", () => {
  const clock = new FakeClock();
  let fired = false;
  const id = clock.setTimeout(() => fired = true, 10);
  clock.clearTimeout(id);
  clock.advance(100);
  assert.equal(fired, false);
  assert.equal(clock.pendingTimers(), 0);
});

Deno.test("FakeClock.advanceAsync() lets awaiting code re-arm its timer within the span", async () => {
  const clock = new FakeClock();
  const wakes: number[] = [];
  const loop = async () => {
    for (let i = 0; i < 3; i++) {
      await clock.sleep(100);
      wakes.push(clock.now());
    }
  };
  const running = loop();
  await clock.advanceAsync(300);
  await running;
  assert.deepEqual(wakes, [100, 200, 300]);
});

Deno.test("FakeClock.advance() does not run continuations, so a sleeping loop re-arms only later", async () => {
  const clock = new FakeClock();
  const wakes: number[] = [];
  const running = (async () => {
    await clock.sleep(100);
    wakes.push(clock.now());
    await clock.sleep(100);
    wakes.push(clock.now());
  })();
  clock.advance(300);
  await Promise.resolve();
  assert.deepEqual(wakes, [300]);
  clock.advance(100);
  await running;
  assert.deepEqual(wakes, [300, 400]);
});
