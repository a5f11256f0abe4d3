import assert from "node:assert/strict";
import type { LeaseObject, LeaseRecord } from "../runtime/lease_decision.ts";
import { FakeClock } from "../runtime/fake_clock.ts";
import { microTime } from "../runtime/micro_time.ts";
import {
  decideLease,
  type DecideLeaseInput,
  DEFAULT_FENCE_MARGIN_MS,
  DEFAULT_LEASE_DURATION_MS,
  DEFAULT_RENEW_EVERY_MS,
  leaseTimingProblem,
  type Sighting,
} from "./lease.ts";

const D = 6_000;

function lease(resourceVersion: string, spec: LeaseRecord): LeaseObject {
  return { metadata: { name: "pg-primary", namespace: "shop", resourceVersion }, spec };
}

function heldBy(holder: string, resourceVersion = "1", over: LeaseRecord = {}): LeaseObject {
  return lease(resourceVersion, {
    holderIdentity: holder,
    leaseDurationSeconds: 6,
    acquireTime: microTime(0),
    renewTime: microTime(0),
    leaseTransitions: 2,
    ...over,
  });
}

function input(now: number, previous?: Sighting): DecideLeaseInput {
  return { holder: "pg-1", now, durationMs: D, previous };
}

Deno.test("decideLease() creates an absent Lease with us as holder and no transitions", () => {
  const { decision, sighting } = decideLease(undefined, input(1_000));
  assert.deepEqual(decision, {
    action: "create",
    record: {
      holderIdentity: "pg-1",
      leaseDurationSeconds: 6,
      acquireTime: microTime(1_000),
      renewTime: microTime(1_000),
      leaseTransitions: 0,
    },
  });
  assert.equal(sighting, undefined);
});

Deno.test("decideLease() takes a released Lease at once and counts a transition", () => {
  const { decision } = decideLease(heldBy(""), input(5));
  assert.deepEqual(decision, {
    action: "take",
    from: "",
    record: {
      holderIdentity: "pg-1",
      leaseDurationSeconds: 6,
      acquireTime: microTime(5),
      renewTime: microTime(5),
      leaseTransitions: 3,
    },
  });
  const absentHolder = lease("4", { leaseTransitions: 1 });
  assert.equal(decideLease(absentHolder, input(5)).decision.action, "take");
});

Deno.test("decideLease() renews our own Lease, keeping its acquireTime and transitions", () => {
  const { decision } = decideLease(heldBy("pg-1"), input(9_000));
  assert.deepEqual(decision, {
    action: "renew",
    record: {
      holderIdentity: "pg-1",
      leaseDurationSeconds: 6,
      acquireTime: microTime(0),
      renewTime: microTime(9_000),
      leaseTransitions: 2,
    },
  });
});

Deno.test("decideLease() waits a full duration from its own first sighting, whatever renewTime says", () => {
  // The holder's clock is an hour behind ours, then an hour ahead: neither counts.
  for (const renewTime of [microTime(-3_600_000), microTime(3_600_000 + 50_000)]) {
    const clock = new FakeClock(50_000);
    const record = heldBy("pg-0", "7", { renewTime });
    const first = decideLease(record, input(clock.now()));
    assert.deepEqual(first.decision, { action: "wait", holder: "pg-0", until: 56_000 });
    assert.deepEqual(first.sighting, {
      version: `7/pg-0/${renewTime}`,
      observedAt: 50_000,
      holder: "pg-0",
    });
    clock.advance(D - 1);
    const later = decideLease(record, input(clock.now(), first.sighting));
    assert.equal(later.decision.action, "wait");
    assert.equal(later.sighting, first.sighting, "the first sighting is kept");
    clock.advance(1);
    const expired = decideLease(record, input(clock.now(), later.sighting));
    assert.equal(expired.decision.action, "take");
    assert.equal(expired.decision.action === "take" && expired.decision.from, "pg-0");
    assert.equal(
      expired.decision.action === "take" && expired.decision.record.leaseTransitions,
      3,
    );
  }
});

Deno.test("decideLease() restarts the wait at any change: resourceVersion, holder or renewTime", () => {
  const first = decideLease(heldBy("pg-0", "7"), input(0)).sighting;
  const changes = [
    heldBy("pg-0", "8"),
    heldBy("pg-2", "7"),
    heldBy("pg-0", "7", { renewTime: microTime(1) }),
  ];
  for (const changed of changes) {
    const { decision, sighting } = decideLease(changed, input(5_999, first));
    assert.deepEqual(decision, {
      action: "wait",
      holder: changed.spec!.holderIdentity,
      until: 11_999,
    });
    assert.equal(sighting?.observedAt, 5_999);
  }
});

Deno.test("decideLease() waits for the longer of our duration and the record's", () => {
  const longer = heldBy("pg-0", "1", { leaseDurationSeconds: 15 });
  assert.deepEqual(decideLease(longer, input(0)).decision, {
    action: "wait",
    holder: "pg-0",
    until: 15_000,
  });
  const shorter = heldBy("pg-0", "1", { leaseDurationSeconds: 1 });
  assert.deepEqual(decideLease(shorter, input(0)).decision, {
    action: "wait",
    holder: "pg-0",
    until: D,
  });
  // A duration of 1.5 s is written as 2 s: rounding up never shortens a taker's wait.
  const { decision } = decideLease(undefined, { ...input(0), durationMs: 1_500 });
  assert.equal(decision.action === "create" && decision.record.leaseDurationSeconds, 2);
});

Deno.test("a taker never takes over before the holder's held() deadline of its last renew", () => {
  // A holder renews every R until it dies; a taker polls every R/4. A write lands half a
  // round trip after it is sent; a read sees the server half a round trip after it is
  // sent and answers a full one after.
  const [R, M, rtt] = [DEFAULT_RENEW_EVERY_MS, DEFAULT_FENCE_MARGIN_MS, 240];
  const clock = new FakeClock(0);
  let server = heldBy("pg-0", "1");
  let rv = 1;
  let lastRenewSent = -Infinity;
  const renew = () => {
    lastRenewSent = clock.now();
    clock.setTimeout(() => {
      server = heldBy("pg-0", String(++rv), { renewTime: microTime(clock.now()) });
    }, rtt / 2);
    if (clock.now() + R < 20_000) clock.setTimeout(renew, R);
  };
  let sighting: Sighting | undefined;
  let takenAt: number | undefined;
  const poll = () => {
    clock.setTimeout(() => {
      const seen = server;
      clock.setTimeout(() => {
        const { decision, sighting: next } = decideLease(seen, input(clock.now(), sighting));
        sighting = next;
        if (decision.action === "take") takenAt ??= clock.now();
      }, rtt / 2);
    }, rtt / 2);
    clock.setTimeout(poll, R / 4);
  };
  renew();
  poll();
  clock.advance(40_000);
  assert.ok(takenAt !== undefined, "the taker takes over once the holder is gone");
  assert.ok(takenAt >= lastRenewSent + D, `taken at ${takenAt}, last renew sent ${lastRenewSent}`);
  assert.ok(takenAt - (lastRenewSent + D - M) >= M, "at least the margin after the holder fenced");
  assert.ok(takenAt <= lastRenewSent + D + R / 4 + 2 * rtt, "and soon after the wait is over");
});

Deno.test("the default timing fits two renews per hold window; bad timings are named", () => {
  assert.equal(
    leaseTimingProblem(DEFAULT_LEASE_DURATION_MS, DEFAULT_RENEW_EVERY_MS, DEFAULT_FENCE_MARGIN_MS),
    undefined,
  );
  assert.equal(leaseTimingProblem(2_000, 250, 500), undefined);
  assert.match(leaseTimingProblem(6_000, 2_500, 2_000)!, /renewEveryMs "2500"/);
  assert.match(leaseTimingProblem(6_000, 0, 2_000)!, /need 0 < 2 x renewEveryMs/);
  assert.match(leaseTimingProblem(6_000, 1_000, -1)!, /marginMs "-1"/);
});
