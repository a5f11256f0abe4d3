import assert from "node:assert/strict";
import { decide, type LeaseRecord } from "./lease_decision.ts";
import { microTime } from "./micro_time.ts";

const OPTIONS = { identity: "a", leaseDurationMs: 15_000 };
const other = (over: LeaseRecord = {}): LeaseRecord => ({
  holderIdentity: "b",
  leaseDurationSeconds: 15,
  acquireTime: microTime(0),
  renewTime: microTime(0),
  leaseTransitions: 3,
  ...over,
});

Deno.test("decide() creates an absent lease with us as holder", () => {
  const { decision } = decide(undefined, { ...OPTIONS, now: 1000 });
  assert.deepEqual(decision, {
    action: "create",
    record: {
      holderIdentity: "a",
      leaseDurationSeconds: 15,
      acquireTime: microTime(1000),
      renewTime: microTime(1000),
      leaseTransitions: 0,
    },
  });
});

Deno.test("decide() waits for a lease another holder renewed, judging expiry from our first sighting", () => {
  // The remote renewTime is ancient; only our own observation time counts.
  const record = other({ renewTime: microTime(-3_600_000) });
  const first = decide(record, { ...OPTIONS, now: 50_000 });
  assert.deepEqual(first.decision, { action: "wait", holder: "b", expiresAt: 65_000 });
  assert.deepEqual(first.observation, { record, observedAt: 50_000 });
  const later = decide(record, { ...OPTIONS, now: 64_999, previous: first.observation });
  assert.equal(later.decision.action, "wait");
  assert.equal(later.observation, first.observation);
});

Deno.test("decide() takes over a record unchanged for its leaseDurationSeconds and counts a transition", () => {
  const record = other();
  const { observation } = decide(record, { ...OPTIONS, now: 10_000 });
  const { decision } = decide(record, { ...OPTIONS, now: 25_000, previous: observation });
  assert.deepEqual(decision, {
    action: "update",
    record: {
      holderIdentity: "a",
      leaseDurationSeconds: 15,
      acquireTime: microTime(25_000),
      renewTime: microTime(25_000),
      leaseTransitions: 4,
    },
  });
});

Deno.test("decide() restarts the expiry clock whenever the holder's record changes", () => {
  const first = decide(other(), { ...OPTIONS, now: 0 });
  const renewed = other({ renewTime: microTime(14_000) });
  const second = decide(renewed, { ...OPTIONS, now: 14_000, previous: first.observation });
  assert.deepEqual(second.observation, { record: renewed, observedAt: 14_000 });
  const third = decide(renewed, { ...OPTIONS, now: 20_000, previous: second.observation });
  assert.deepEqual(third.decision, { action: "wait", holder: "b", expiresAt: 29_000 });
});

Deno.test("decide() uses the record's leaseDurationSeconds, not our own", () => {
  const record = other({ leaseDurationSeconds: 1 });
  const { observation } = decide(record, { ...OPTIONS, now: 0 });
  assert.equal(
    decide(record, { ...OPTIONS, now: 999, previous: observation }).decision.action,
    "wait",
  );
  assert.equal(
    decide(record, { ...OPTIONS, now: 1000, previous: observation }).decision.action,
    "update",
  );
});

Deno.test("decide() takes a released lease at once", () => {
  const { decision } = decide(other({ holderIdentity: "" }), { ...OPTIONS, now: 5 });
  assert.equal(decision.action, "update");
  assert.equal(decision.action === "update" && decision.record.leaseTransitions, 4);
});

Deno.test("decide() renews our own lease keeping acquireTime and transitions", () => {
  const mine = other({ holderIdentity: "a", acquireTime: microTime(7) });
  const { decision } = decide(mine, { ...OPTIONS, now: 9000 });
  assert.deepEqual(decision, {
    action: "update",
    record: {
      holderIdentity: "a",
      leaseDurationSeconds: 15,
      acquireTime: microTime(7),
      renewTime: microTime(9000),
      leaseTransitions: 3,
    },
  });
});
