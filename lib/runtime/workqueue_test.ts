import assert from "node:assert/strict";
import { ItemExponentialRateLimiter } from "./backoff.ts";
import { FakeClock } from "./fake_clock.ts";
import { type QueueMetrics, WorkQueue } from "./workqueue.ts";

function newQueue(clock = new FakeClock()) {
  return { clock, queue: new WorkQueue<string>({ clock }) };
}

/** Resolves with the value of `promise` if it settles before queued continuations run out. */
async function settled<T>(promise: Promise<T>): Promise<{ value: T } | "pending"> {
  const marker = Symbol("pending");
  const result = await Promise.race([
    promise,
    new Promise<typeof marker>((resolve) => setTimeout(() => resolve(marker), 0)),
  ]);
  return result === marker ? "pending" : { value: result as T };
}

Deno.test("WorkQueue hands out items in insertion order", async () => {
  const { queue } = newQueue();
  queue.add("a");
  queue.add("b");
  queue.add("c");
  assert.equal(queue.len(), 3);
  assert.deepEqual([await queue.get(), await queue.get(), await queue.get()], ["a", "b", "c"]);
  assert.equal(queue.len(), 0);
});

Deno.test("WorkQueue collapses duplicate adds of a waiting item", async () => {
  const { queue } = newQueue();
  queue.add("a");
  queue.add("b");
  queue.add("a");
  assert.equal(queue.len(), 2);
  assert.equal(await queue.get(), "a");
  assert.equal(await queue.get(), "b");
  assert.equal(queue.len(), 0);
});

Deno.test("WorkQueue holds back an item re-added while processing until done()", async () => {
  const { queue } = newQueue();
  queue.add("a");
  assert.equal(await queue.get(), "a");
  queue.add("a");
  queue.add("a");
  assert.equal(queue.len(), 0);
  const second = queue.get();
  assert.equal(await settled(second), "pending");
  queue.done("a");
  assert.deepEqual(await settled(second), { value: "a" });
  queue.done("a");
  assert.equal(queue.len(), 0);
});

Deno.test("WorkQueue.get() waits for an add and serves waiting workers first come, first served", async () => {
  const { queue } = newQueue();
  const first = queue.get();
  const second = queue.get();
  queue.add("x");
  assert.deepEqual(await settled(first), { value: "x" });
  assert.equal(await settled(second), "pending");
  queue.add("y");
  assert.deepEqual(await settled(second), { value: "y" });
});

Deno.test("WorkQueue.get() resolves undefined on abort and the aborted worker receives nothing", async () => {
  const { queue } = newQueue();
  const controller = new AbortController();
  const aborted = queue.get(controller.signal);
  controller.abort();
  assert.equal(await aborted, undefined);
  queue.add("a");
  assert.equal(queue.len(), 1);
  assert.equal(await queue.get(), "a");
});

Deno.test("WorkQueue.addAfter() adds the item once the delay has passed", async () => {
  const { clock, queue } = newQueue();
  queue.addAfter("a", 100);
  clock.advance(99);
  assert.equal(queue.len(), 0);
  clock.advance(1);
  assert.equal(queue.len(), 1);
  assert.equal(await queue.get(), "a");
});

Deno.test("WorkQueue.addAfter() keeps the earliest deadline per item", () => {
  const { clock, queue } = newQueue();
  queue.addAfter("late-first", 100);
  queue.addAfter("late-first", 50);
  queue.addAfter("early-first", 50);
  queue.addAfter("early-first", 100);
  clock.advance(50);
  assert.equal(queue.len(), 2);
  clock.advance(100);
  assert.equal(queue.len(), 2);
  assert.equal(clock.pendingTimers(), 0);
});

Deno.test("WorkQueue.addAfter() releases items in deadline order", async () => {
  const { clock, queue } = newQueue();
  queue.addAfter("c", 30);
  queue.addAfter("a", 10);
  queue.addAfter("b", 20);
  clock.advance(30);
  assert.deepEqual([await queue.get(), await queue.get(), await queue.get()], ["a", "b", "c"]);
});

Deno.test("WorkQueue.addAfter() with a delay of zero or less adds at once", () => {
  const { clock, queue } = newQueue();
  queue.addAfter("a", 0);
  queue.addAfter("b", -5);
  assert.equal(queue.len(), 2);
  assert.equal(clock.pendingTimers(), 0);
});

Deno.test("WorkQueue.addAfter() on an item already waiting collapses when the delay fires", async () => {
  const { clock, queue } = newQueue();
  queue.add("a");
  queue.addAfter("a", 10);
  clock.advance(10);
  assert.equal(queue.len(), 1);
  assert.equal(await queue.get(), "a");
});

Deno.test("WorkQueue.addRateLimited() backs off per item and forget() resets it", () => {
  const { clock, queue } = newQueue();
  const releasedAt: number[] = [];
  for (let i = 0; i < 3; i++) {
    const start = clock.now();
    queue.addRateLimited("a");
    while (queue.len() === 0) clock.advance(1);
    releasedAt.push(clock.now() - start);
    void queue.get();
    queue.done("a");
  }
  assert.deepEqual(releasedAt, [5, 10, 20]);
  assert.equal(queue.numRequeues("a"), 3);
  queue.forget("a");
  assert.equal(queue.numRequeues("a"), 0);
  queue.addRateLimited("a");
  clock.advance(5);
  assert.equal(queue.len(), 1);
});

Deno.test("WorkQueue uses the injected rate limiter", () => {
  const clock = new FakeClock();
  const rateLimiter = new ItemExponentialRateLimiter<string>({ baseMs: 1_000, maxMs: 1_000 });
  const queue = new WorkQueue<string>({ clock, rateLimiter });
  queue.addRateLimited("a");
  clock.advance(999);
  assert.equal(queue.len(), 0);
  clock.advance(1);
  assert.equal(queue.len(), 1);
});

Deno.test("WorkQueue.shutDown() stops intake and releases waiting workers", async () => {
  const { clock, queue } = newQueue();
  const waiting = queue.get();
  queue.addAfter("delayed", 10);
  queue.shutDown();
  assert.equal(await waiting, undefined);
  assert.equal(clock.pendingTimers(), 0);
  queue.add("a");
  queue.addRateLimited("b");
  assert.equal(queue.len(), 0);
  assert.equal(queue.numRequeues("b"), 0);
  assert.equal(await queue.get(), undefined);
  assert.equal(queue.shuttingDown, true);
});

Deno.test("WorkQueue.get() hands out nothing after shutdown, even items still queued", async () => {
  const { queue } = newQueue();
  queue.add("a");
  queue.shutDown();
  assert.equal(await queue.get(), undefined);
});

Deno.test("WorkQueue does not requeue an item re-added during processing once shut down", async () => {
  const { queue } = newQueue();
  queue.add("a");
  await queue.get();
  queue.add("a");
  queue.shutDown();
  queue.done("a");
  assert.equal(queue.len(), 0);
});

Deno.test("WorkQueue.shutDownWithDrain() waits for in-flight items to be done", async () => {
  const { queue } = newQueue();
  queue.add("a");
  queue.add("b");
  await queue.get();
  await queue.get();
  const drained = queue.shutDownWithDrain(1_000);
  queue.done("a");
  assert.equal(await settled(drained), "pending");
  queue.done("b");
  assert.deepEqual(await settled(drained), { value: true });
});

Deno.test("WorkQueue.shutDownWithDrain() gives up after its timeout", async () => {
  const { clock, queue } = newQueue();
  queue.add("a");
  await queue.get();
  const drained = queue.shutDownWithDrain(1_000);
  clock.advance(999);
  assert.equal(await settled(drained), "pending");
  clock.advance(1);
  assert.equal(await drained, false);
  queue.done("a");
});

Deno.test("WorkQueue.shutDownWithDrain() resolves at once when nothing is in flight", async () => {
  const { clock, queue } = newQueue();
  assert.equal(await queue.shutDownWithDrain(1_000), true);
  assert.equal(clock.pendingTimers(), 0);
});

Deno.test("WorkQueue never hands one item to two workers under random load", async () => {
  const clock = new FakeClock();
  const queue = new WorkQueue<string>({ clock });
  let seed = 42;
  const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
  const held = new Set<string>();
  const handedTwice: string[] = [];
  let processed = 0;
  const worker = async () => {
    for (let item = await queue.get(); item !== undefined; item = await queue.get()) {
      if (held.has(item)) handedTwice.push(item);
      held.add(item);
      await clock.sleep(Math.floor(random() * 20));
      held.delete(item);
      processed++;
      queue.done(item);
    }
  };
  const workers = Array.from({ length: 4 }, worker);
  for (let step = 0; step < 200; step++) {
    const item = `ns/obj-${Math.floor(random() * 5)}`;
    if (random() < 0.3) queue.addAfter(item, Math.floor(random() * 10));
    else queue.add(item);
    await clock.advanceAsync(3);
  }
  await clock.advanceAsync(1_000);
  assert.deepEqual(handedTwice, []);
  assert.equal(queue.len(), 0);
  assert.ok(processed >= 5, `only ${processed} items processed`);
  queue.shutDown();
  await Promise.all(workers);
});

class RecordingMetrics implements QueueMetrics {
  values = { depth: 0, adds: 0, retries: 0, unfinished: 0, longest: 0 };
  queued: number[] = [];
  worked: number[] = [];
  depth = { inc: () => this.values.depth++, dec: () => this.values.depth-- };
  adds = { inc: () => this.values.adds++ };
  retries = { inc: () => this.values.retries++ };
  queueDuration = { observe: (s: number) => this.queued.push(s) };
  workDuration = { observe: (s: number) => this.worked.push(s) };
  unfinishedWorkSeconds = { set: (s: number) => this.values.unfinished = s };
  longestRunningProcessorSeconds = { set: (s: number) => this.values.longest = s };
}

Deno.test("WorkQueue records adds, depth, retries and queue and work durations", async () => {
  const clock = new FakeClock();
  const metrics = new RecordingMetrics();
  const queue = new WorkQueue<string>({ clock, metrics });
  queue.add("a");
  queue.add("a");
  queue.add("b");
  queue.addAfter("c", 10);
  assert.deepEqual(metrics.values, { depth: 2, adds: 2, retries: 1, unfinished: 0, longest: 0 });
  clock.advance(250);
  assert.equal(metrics.values.depth, 3);
  assert.equal(await queue.get(), "a");
  clock.advance(1_500);
  queue.done("a");
  assert.deepEqual(metrics.queued, [0.25]);
  assert.deepEqual(metrics.worked, [1.5]);
  assert.equal(metrics.values.depth, 2);
});

Deno.test("WorkQueue refreshes the in-flight gauges periodically and zeroes them when idle", async () => {
  const clock = new FakeClock();
  const metrics = new RecordingMetrics();
  const queue = new WorkQueue<string>({ clock, metrics, metricsUpdatePeriodMs: 500 });
  queue.add("a");
  queue.add("b");
  await queue.get();
  clock.advance(1_000);
  await queue.get();
  clock.advance(500);
  assert.equal(metrics.values.unfinished, 1.5 + 0.5);
  assert.equal(metrics.values.longest, 1.5);
  queue.done("a");
  queue.done("b");
  assert.equal(metrics.values.unfinished, 0);
  assert.equal(metrics.values.longest, 0);
  assert.equal(clock.pendingTimers(), 0);
});

Deno.test("WorkQueue with no-op metrics keeps no timer while items are in flight", async () => {
  const { clock, queue } = newQueue();
  queue.add("a");
  await queue.get();
  assert.equal(clock.pendingTimers(), 0);
});

Deno.test("WorkQueue.settled() is true only with nothing waiting, delayed or in progress", async () => {
  const { clock, queue } = newQueue();
  assert.equal(queue.settled(), true);
  queue.add("a");
  assert.equal(queue.settled(), false, "waiting");
  assert.equal(await queue.get(), "a");
  assert.equal(queue.settled(), false, "in progress");
  queue.addAfter("a", 100);
  queue.done("a");
  assert.equal(queue.settled(), false, "delayed");
  clock.advance(100);
  assert.equal(queue.settled(), false, "due");
  assert.equal(await queue.get(), "a");
  queue.done("a");
  assert.equal(queue.settled(), true);
});
