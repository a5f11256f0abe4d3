import assert from "node:assert/strict";
import { exponentialDelay, ItemExponentialRateLimiter, ReconnectBackoff } from "./backoff.ts";
import { FakeClock } from "./fake_clock.ts";

Deno.test("exponentialDelay() doubles from the base and stops at the cap", () => {
  const delays = [0, 1, 2, 3, 4, 5].map((n) => exponentialDelay(n, { baseMs: 10, maxMs: 250 }));
  assert.deepEqual(delays, [10, 20, 40, 80, 160, 250]);
});

Deno.test("exponentialDelay() stays finite for huge attempts and a zero base", () => {
  assert.equal(exponentialDelay(5_000, { baseMs: 5, maxMs: 1_000_000 }), 1_000_000);
  assert.equal(exponentialDelay(5_000, { baseMs: 0, maxMs: 1_000 }), 0);
});

Deno.test("exponentialDelay() jitter only shortens the delay, by at most the jitter fraction", () => {
  const options = { baseMs: 1_000, maxMs: 1_000, jitter: 0.5 };
  assert.equal(exponentialDelay(0, { ...options, random: () => 0 }), 1_000);
  assert.equal(exponentialDelay(0, { ...options, random: () => 0.5 }), 750);
  const nearlyOne = exponentialDelay(0, { ...options, random: () => 0.999 });
  assert.ok(Math.abs(nearlyOne - 500.5) < 1e-9, `got ${nearlyOne}`);
});

Deno.test("ItemExponentialRateLimiter defaults to 5 ms doubling up to 1000 s", () => {
  const limiter = new ItemExponentialRateLimiter<string>();
  const delays = Array.from({ length: 20 }, () => limiter.when("ns/a"));
  assert.deepEqual(delays.slice(0, 5), [5, 10, 20, 40, 80]);
  // 5 ms * 2^17 = 655.36 s, 2^18 would be 1310.72 s: capped.
  assert.equal(delays[17], 655_360);
  assert.equal(delays[18], 1_000_000);
  assert.equal(delays[19], 1_000_000);
  assert.equal(limiter.numRequeues("ns/a"), 20);
});

Deno.test("ItemExponentialRateLimiter tracks items separately and forget() resets one", () => {
  const limiter = new ItemExponentialRateLimiter<string>({ baseMs: 1, maxMs: 100 });
  limiter.when("a");
  limiter.when("a");
  limiter.when("b");
  assert.equal(limiter.when("a"), 4);
  limiter.forget("a");
  assert.equal(limiter.numRequeues("a"), 0);
  assert.equal(limiter.when("a"), 1);
  assert.equal(limiter.when("b"), 2);
});

Deno.test("ItemExponentialRateLimiter applies jitter from the injected source", () => {
  const limiter = new ItemExponentialRateLimiter<string>({ jitter: 0.5, random: () => 1 });
  assert.equal(limiter.when("a"), 2.5);
  assert.equal(limiter.when("a"), 5);
});

Deno.test("ReconnectBackoff goes 800 ms doubling to 30 s", () => {
  const backoff = new ReconnectBackoff({ clock: new FakeClock(), jitter: 0 });
  const delays = Array.from({ length: 8 }, () => backoff.next());
  assert.deepEqual(delays, [800, 1_600, 3_200, 6_400, 12_800, 25_600, 30_000, 30_000]);
});

Deno.test("ReconnectBackoff jitters by default within half the delay", () => {
  const draws = [0, 0.999, 0.5];
  const backoff = new ReconnectBackoff({ clock: new FakeClock(), random: () => draws.shift()! });
  assert.equal(backoff.next(), 800);
  assert.ok(Math.abs(backoff.next() - 800.8) < 1e-9);
  assert.equal(backoff.next(), 2_400);
});

Deno.test("ReconnectBackoff starts over after 2 minutes of health", () => {
  const clock = new FakeClock();
  const backoff = new ReconnectBackoff({ clock, jitter: 0 });
  for (let i = 0; i < 6; i++) backoff.next();
  backoff.markHealthy();
  clock.advance(60_000);
  backoff.markHealthy();
  clock.advance(60_000);
  assert.equal(backoff.next(), 800);
  assert.equal(backoff.next(), 1_600);
});

Deno.test("ReconnectBackoff keeps growing when health lasts less than 2 minutes", () => {
  const clock = new FakeClock();
  const backoff = new ReconnectBackoff({ clock, jitter: 0 });
  assert.equal(backoff.next(), 800);
  backoff.markHealthy();
  clock.advance(119_999);
  assert.equal(backoff.next(), 1_600);
  // The health period restarts after each failure: time before it does not count.
  clock.advance(100_000);
  backoff.markHealthy();
  clock.advance(30_000);
  assert.equal(backoff.next(), 3_200);
});

Deno.test("ReconnectBackoff does not reset on time alone without markHealthy()", () => {
  const clock = new FakeClock();
  const backoff = new ReconnectBackoff({ clock, jitter: 0 });
  backoff.next();
  clock.advance(600_000);
  assert.equal(backoff.next(), 1_600);
  assert.equal(backoff.attempts, 2);
  backoff.reset();
  assert.equal(backoff.next(), 800);
});
