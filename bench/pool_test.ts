import assert from "node:assert/strict";
import { Channel, forEachConcurrently } from "./pool.ts";

Deno.test("forEachConcurrently() visits every item with at most the given calls in flight", async () => {
  let inFlight = 0;
  let most = 0;
  const seen: number[] = [];
  await forEachConcurrently([1, 2, 3, 4, 5, 6, 7], 3, async (item) => {
    inFlight++;
    most = Math.max(most, inFlight);
    await Promise.resolve();
    seen.push(item);
    inFlight--;
  });
  assert.equal(most, 3);
  assert.deepEqual(seen.sort(), [1, 2, 3, 4, 5, 6, 7]);
});

Deno.test("Channel hands items to waiting takers in order and ends with undefined when closed", async () => {
  const channel = new Channel<string>();
  const first = channel.take();
  channel.push("a");
  channel.push("b");
  assert.equal(await first, "a");
  const waiting = [channel.take(), channel.take()];
  channel.close();
  assert.deepEqual(await Promise.all(waiting), ["b", undefined]);
  assert.throws(() => channel.push("c"), /closed channel/);
});
