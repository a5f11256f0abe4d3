import assert from "node:assert/strict";
import { ForbiddenError, ServerError, TooManyRequestsError } from "../kube/mod.ts";
import { Controller, type Reconciler, TerminalError } from "./controller.ts";
import { FakeClock } from "./fake_clock.ts";

/**
 * Runs a controller on a fake clock whose reconcile of `ns/a` records the fake time of each attempt and
 * then does what `outcome(attempt)` says (attempts count from 1): throw the error, or succeed.
 */
function harness(outcome: (attempt: number) => Error | undefined) {
  const clock = new FakeClock();
  const attempts: number[] = [];
  const reconcile: Reconciler = () => {
    attempts.push(clock.now());
    const error = outcome(attempts.length);
    return error ? Promise.reject(error) : Promise.resolve({});
  };
  const controller = new Controller("test", reconcile, { clock, resyncPeriodMs: 0 });
  const stop = new AbortController();
  const running = controller.run(stop.signal);
  return {
    clock,
    attempts,
    controller,
    async stop() {
      stop.abort();
      await running;
    },
  };
}

Deno.test("Controller retries a failing reconcile after 5, 10, 20, 40 and 80 ms, then a success resets the backoff", async () => {
  // Attempts 1-5 fail, 6 succeeds, 7 (a new event) fails, 8 succeeds.
  const { clock, attempts, controller, stop } = harness((n) =>
    n <= 5 || n === 7 ? new Error(`attempt ${n} fails`) : undefined
  );
  controller.enqueue({ namespace: "ns", name: "a" });
  await clock.advanceAsync(1_000);
  assert.deepEqual(attempts, [0, 5, 15, 35, 75, 155], "each retry waits twice as long as the last");
  controller.enqueue({ namespace: "ns", name: "a" });
  await clock.advanceAsync(1_000_000);
  assert.deepEqual(attempts.slice(6), [1_000, 1_005], "after a success the backoff starts at 5 ms");
  await stop();
});

Deno.test("Controller waits for a 429's Retry-After instead of its backoff", async () => {
  const status = { reason: "TooManyRequests", message: "slow down" };
  const { clock, attempts, controller, stop } = harness((n) =>
    n === 1 ? new TooManyRequestsError(429, status, true, 2_000) : undefined
  );
  controller.enqueue({ namespace: "ns", name: "a" });
  await clock.advanceAsync(1_000_000);
  assert.deepEqual(attempts, [0, 2_000]);
  await stop();
});

Deno.test("Controller does not retry the API server's refusal, but backs off after a 5xx", async () => {
  const refused = harness(() =>
    new ForbiddenError(403, { reason: "Forbidden", message: "exceeded quota" }, false)
  );
  refused.controller.enqueue({ namespace: "ns", name: "a" });
  await refused.clock.advanceAsync(1_000_000);
  assert.deepEqual(refused.attempts, [0]);
  await refused.stop();
  const unwell = harness((n) =>
    n <= 2 ? new ServerError(500, { reason: "InternalError", message: "etcd" }, true) : undefined
  );
  unwell.controller.enqueue({ namespace: "ns", name: "a" });
  await unwell.clock.advanceAsync(1_000_000);
  assert.deepEqual(unwell.attempts, [0, 5, 15]);
  await unwell.stop();
});

Deno.test("Controller does not retry a TerminalError", async () => {
  const { clock, attempts, controller, stop } = harness(() => new TerminalError("fix the spec"));
  controller.enqueue({ namespace: "ns", name: "a" });
  await clock.advanceAsync(1_000_000);
  assert.deepEqual(attempts, [0]);
  await stop();
});
