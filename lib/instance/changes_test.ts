import assert from "node:assert/strict";
import { Changes } from "./changes.ts";

Deno.test("Changes wakes every waiter at a change, and a waiter after its timeout or abort", async () => {
  const changes = new Changes();
  const never = new AbortController().signal;
  let woken = 0;
  const waiting = [changes.next(never, 60_000), changes.next(never, 60_000)].map((p) =>
    p.then(() => woken++)
  );
  changes.notify();
  await Promise.all(waiting);
  assert.equal(woken, 2);
  const started = Date.now();
  await changes.next(never, 20);
  assert.ok(Date.now() - started >= 15, "the timeout ends the wait");
  const abort = new AbortController();
  const aborted = changes.next(abort.signal, 60_000);
  abort.abort();
  await aborted;
});
