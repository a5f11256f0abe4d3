import assert from "node:assert/strict";
import type { V1Pod } from "@kubernetes/client-node";
import type { InstanceStatus } from "../api/mod.ts";
import type { Polled } from "./instances.ts";
import type { NodeState } from "./nodes.ts";
import { decidePrimary, primaryEvents, type PrimaryInput } from "./primary.ts";

function pod(name: string, deleting = false, uid = `${name}-uid`): V1Pod {
  return {
    metadata: {
      name,
      uid,
      ...(deleting ? { deletionTimestamp: new Date("2026-01-01T00:00:00Z") } : {}),
    },
  };
}

function primary(pod: string, lsn = "0/5000000"): Polled {
  return {
    status: {
      pod,
      postgres: "running",
      role: "primary",
      timeline: 1,
      currentLsn: lsn,
      systemIdentifier: "1",
    },
  };
}

function standby(pod: string, received: string, extra: Partial<InstanceStatus> = {}): Polled {
  return {
    status: {
      pod,
      postgres: "running",
      role: "standby",
      timeline: 1,
      receivedLsn: received,
      replayedLsn: received,
      walReceiverStreaming: true,
      systemIdentifier: "1",
      ...extra,
    },
  };
}

function input(overrides: Partial<PrimaryInput> = {}): PrimaryInput {
  return {
    cluster: "pg",
    replicas: 3,
    ha: { enabled: true, failoverDelaySeconds: 10 },
    status: {
      currentPrimary: "pg-0",
      targetPrimary: "pg-0",
      primaryTimeline: 1,
      systemIdentifier: "1",
    },
    pods: [pod("pg-0"), pod("pg-1"), pod("pg-2")],
    polled: new Map([
      ["pg-0", primary("pg-0")],
      ["pg-1", standby("pg-1", "0/4000000")],
      ["pg-2", standby("pg-2", "0/5000000")],
    ]),
    now: 100_000,
    ...overrides,
  };
}

Deno.test("decidePrimary() keeps a primary that runs, and starts with ordinal 0", () => {
  const steady = decidePrimary(input());
  assert.deepEqual(steady, {
    currentPrimary: "pg-0",
    targetPrimary: "pg-0",
    primaryPodUid: "pg-0-uid",
  });
  const fresh = decidePrimary(input({ status: {}, polled: new Map() }));
  assert.equal(fresh.targetPrimary, "pg-0");
  assert.equal(fresh.currentPrimary, "pg-0");
});

Deno.test("decidePrimary() fails over at once to the most advanced standby when the pod is gone", () => {
  const decision = decidePrimary(input({ pods: [pod("pg-0", true), pod("pg-1"), pod("pg-2")] }));
  assert.equal(decision.currentPrimary, "pg-0");
  assert.equal(decision.targetPrimary, "pg-2");
  assert.equal(decision.change?.kind, "failover");
  assert.equal(decision.change?.receivedLsn, "0/5000000");
});

Deno.test("decidePrimary() fails over at once when the primary's pod was made anew", () => {
  const steady = decidePrimary(input());
  assert.equal(steady.primaryPodUid, "pg-0-uid");
  const replaced = [pod("pg-0", false, "new-uid"), pod("pg-1"), pod("pg-2")];
  const starting = new Map(input().polled);
  starting.set("pg-0", { status: { pod: "pg-0", postgres: "starting" } });
  const decision = decidePrimary(input({
    pods: replaced,
    primaryPodUid: "pg-0-uid",
    polled: starting,
  }));
  assert.equal(decision.targetPrimary, "pg-2");
  assert.match(decision.change!.reason, /deleted and made anew/);
  const single = decidePrimary(input({
    replicas: 1,
    pods: [pod("pg-0", false, "new-uid")],
    primaryPodUid: "pg-0-uid",
  }));
  assert.equal(single.targetPrimary, "pg-0");
  assert.equal(single.primaryPodUid, "new-uid", "without a failover, the new pod is the primary");
  const back = decidePrimary(input({
    pods: replaced,
    primaryPodUid: "pg-0-uid",
    polled: new Map([...input().polled, ["pg-0", primary("pg-0")]]),
  }));
  assert.equal(back.targetPrimary, "pg-0", "a new pod already running as the primary stays");
  assert.equal(back.primaryPodUid, "new-uid");
});

Deno.test("decidePrimary() waits the failover delay for a primary whose PostgreSQL is down", () => {
  const polled = new Map(input().polled);
  polled.set("pg-0", { status: { pod: "pg-0", postgres: "starting" } });
  const first = decidePrimary(input({ polled }));
  assert.equal(first.targetPrimary, "pg-0");
  assert.equal(first.downSince, 100_000);
  assert.equal(first.recheckInMs, 10_000);
  const later = decidePrimary(input({ polled, downSince: 100_000, now: 109_999 }));
  assert.equal(later.targetPrimary, "pg-0");
  const due = decidePrimary(input({ polled, downSince: 100_000, now: 110_000 }));
  assert.equal(due.targetPrimary, "pg-2");
  const recovered = decidePrimary(input({ downSince: 100_000, now: 105_000 }));
  assert.equal(recovered.downSince, undefined);
});

Deno.test("decidePrimary() fails over at once when the primary's data is gone", () => {
  const polled = new Map(input().polled);
  polled.set("pg-0", {
    status: {
      pod: "pg-0",
      postgres: "stopped",
      waiting: { reason: "PrimaryDataLost", message: "empty" },
    },
  });
  assert.equal(decidePrimary(input({ polled })).targetPrimary, "pg-2");
});

Deno.test("decidePrimary() picks by received LSN, then replayed LSN, then name", () => {
  const polled = new Map<string, Polled>([
    ["pg-1", standby("pg-1", "0/5000000", { replayedLsn: "0/4000000" })],
    ["pg-2", standby("pg-2", "0/5000000", { replayedLsn: "0/4800000" })],
    ["pg-3", standby("pg-3", "0/5000000", { replayedLsn: "0/4800000" })],
  ]);
  const decision = decidePrimary(input({
    replicas: 4,
    pods: [pod("pg-1"), pod("pg-2"), pod("pg-3")],
    polled,
  }));
  assert.equal(decision.targetPrimary, "pg-2");
});

Deno.test("decidePrimary() never promotes a standby on another timeline, of another database or too far behind", () => {
  const polled = new Map<string, Polled>([
    ["pg-1", standby("pg-1", "0/9000000", { timeline: 2 })],
    ["pg-2", standby("pg-2", "0/9000000", { systemIdentifier: "2" })],
    ["pg-3", standby("pg-3", "0/1000000")],
  ]);
  const decision = decidePrimary(input({
    replicas: 4,
    ha: { enabled: true, failoverDelaySeconds: 0, maxLagOnFailover: 1024n },
    status: {
      currentPrimary: "pg-0",
      targetPrimary: "pg-0",
      systemIdentifier: "1",
      primaryLsn: "0/5000000",
      primaryTimeline: 1,
    },
    pods: [pod("pg-1"), pod("pg-2"), pod("pg-3")],
    polled: new Map([...polled].map(([k, v]) => {
      if ("status" in v && k !== "pg-2") v.status.systemIdentifier = "1";
      return [k, v];
    })),
  }));
  assert.equal(decision.targetPrimary, "pg-0");
  assert.equal(decision.blocked?.reason, "NoFailoverCandidate");
  assert.match(decision.blocked!.message, /"pg-1" is on timeline 2/);
  assert.match(decision.blocked!.message, /"pg-2" holds another database/);
  assert.match(decision.blocked!.message, /"pg-3" lags \d+ bytes/);
});

Deno.test("decidePrimary() counts a standby that waits for the primary Lease as a candidate", () => {
  const polled = new Map(input().polled);
  polled.set(
    "pg-2",
    standby("pg-2", "0/5000000", {
      waiting: { reason: "WaitingForPrimaryLease", message: "held by pg-0" },
    }),
  );
  const decision = decidePrimary(input({
    pods: [pod("pg-0", true), pod("pg-1"), pod("pg-2")],
    polled,
  }));
  assert.equal(decision.targetPrimary, "pg-2");
});

Deno.test("decidePrimary() does not fail over with ha disabled or a single instance", () => {
  const gone = [pod("pg-0", true), pod("pg-1"), pod("pg-2")];
  const disabled = decidePrimary(input({
    pods: gone,
    ha: { enabled: false, failoverDelaySeconds: 10 },
  }));
  assert.equal(disabled.targetPrimary, "pg-0");
  assert.equal(disabled.change, undefined);
  const single = decidePrimary(input({ replicas: 1, pods: [pod("pg-0", true)] }));
  assert.equal(single.targetPrimary, "pg-0");
});

Deno.test("decidePrimary() does not fail over before any instance reported a system identifier", () => {
  const fresh = { currentPrimary: "pg-0", targetPrimary: "pg-0" };
  const silent = decidePrimary(input({ status: fresh, polled: new Map(), now: 1_000_000 }));
  assert.equal(silent.targetPrimary, "pg-0");
  assert.equal(silent.change, undefined);
  assert.equal(silent.blocked, undefined);
  const gone = decidePrimary(input({ status: fresh, pods: [pod("pg-0", true), pod("pg-1")] }));
  assert.equal(gone.targetPrimary, "pg-0");
  assert.equal(gone.blocked, undefined);
});

Deno.test("decidePrimary() completes a change once the target runs as the primary", () => {
  const waiting = decidePrimary(input({
    status: { currentPrimary: "pg-0", targetPrimary: "pg-2" },
  }));
  assert.deepEqual(waiting, { currentPrimary: "pg-0", targetPrimary: "pg-2" });
  const polled = new Map(input().polled);
  polled.set("pg-2", primary("pg-2", "0/6000000"));
  const done = decidePrimary(input({
    status: { currentPrimary: "pg-0", targetPrimary: "pg-2" },
    polled,
  }));
  assert.equal(done.currentPrimary, "pg-2");
  assert.deepEqual(done.completed, { primary: "pg-2", timeline: 1, lsn: "0/6000000" });
});

Deno.test("decidePrimary() switches over once per annotation value, to a streaming standby", () => {
  const asked = decidePrimary(input({ promoteRequest: "pg-1" }));
  assert.equal(asked.targetPrimary, "pg-1");
  assert.equal(asked.change?.kind, "switchover");
  assert.equal(asked.promoteRequest, "pg-1");
  const done = decidePrimary(input({
    promoteRequest: "pg-1",
    status: { currentPrimary: "pg-0", targetPrimary: "pg-0", promoteRequest: "pg-1" },
  }));
  assert.equal(done.targetPrimary, "pg-0");
  const polled = new Map(input().polled);
  polled.set("pg-1", standby("pg-1", "0/4000000", { walReceiverStreaming: false }));
  const notYet = decidePrimary(input({ promoteRequest: "pg-1", polled }));
  assert.equal(notYet.targetPrimary, "pg-0");
  assert.equal(notYet.blocked?.reason, "PromoteWaiting");
  assert.equal(notYet.promoteRequest, undefined);
  const again = decidePrimary(input({
    promoteRequest: "pg-1@2026-12-03T17:00:00Z",
    status: { currentPrimary: "pg-0", targetPrimary: "pg-0", promoteRequest: "pg-1" },
  }));
  assert.equal(again.targetPrimary, "pg-1", "the same instance asked again at another time");
  assert.equal(again.promoteRequest, "pg-1@2026-12-03T17:00:00Z");
  const stranger = decidePrimary(input({ promoteRequest: "other-1" }));
  assert.equal(stranger.blocked?.reason, "PromoteRefused");
  assert.equal(stranger.promoteRequest, "other-1");
});

Deno.test("decidePrimary() switches over to the rolling update's standby, recording no request", () => {
  const rolling = decidePrimary(input({ switchoverTo: "pg-1" }));
  assert.equal(rolling.targetPrimary, "pg-1");
  assert.equal(rolling.change?.kind, "switchover");
  assert.match(rolling.change!.reason, /rolling update/);
  assert.equal(rolling.promoteRequest, undefined, "status.promoteRequest stays the annotation's");
  const annotated = decidePrimary(input({ switchoverTo: "pg-1", promoteRequest: "pg-2" }));
  assert.equal(annotated.targetPrimary, "pg-2", "a new annotation value goes first");
  assert.equal(annotated.promoteRequest, "pg-2");
  const there = decidePrimary(input({ switchoverTo: "pg-0" }));
  assert.equal(there.change, undefined);
  const polled = new Map(input().polled);
  polled.set("pg-0", { status: { pod: "pg-0", postgres: "stopped" } });
  const down = decidePrimary(input({ switchoverTo: "pg-1", polled }));
  assert.equal(down.targetPrimary, "pg-0", "a primary in trouble waits for failover, not this");
});

Deno.test("decidePrimary() waits the failover delay for a primary the rolling update restarts", () => {
  const gone = decidePrimary(input({ pods: [pod("pg-1"), pod("pg-2")], restartingPrimary: true }));
  assert.deepEqual([gone.targetPrimary, gone.downSince], ["pg-0", 100_000]);
  const late = decidePrimary(input({
    pods: [pod("pg-1"), pod("pg-2")],
    restartingPrimary: true,
    downSince: 100_000,
    now: 110_000,
  }));
  assert.equal(late.change?.kind, "failover", "not back within the delay: a failover");
  const anew = decidePrimary(input({
    pods: [pod("pg-0", false, "new-uid"), pod("pg-1"), pod("pg-2")],
    primaryPodUid: "pg-0-uid",
    restartingPrimary: true,
  }));
  assert.deepEqual([anew.targetPrimary, anew.primaryPodUid], ["pg-0", "new-uid"]);
});

Deno.test("primaryEvents() tells a change with its LSNs, a completion, and a new block once", () => {
  const change = decidePrimary(input({ pods: [pod("pg-0", true), pod("pg-1"), pod("pg-2")] }));
  const [started] = primaryEvents(change);
  assert.equal(started.reason, "FailoverStarted");
  assert.match(started.note, /"pg-2" has received 0\/5000000/);
  const blocked = {
    currentPrimary: "pg-0",
    targetPrimary: "pg-0",
    blocked: { reason: "NoFailoverCandidate", message: "none" },
  };
  assert.equal(primaryEvents(blocked).length, 1);
  assert.equal(primaryEvents(blocked, "NoFailoverCandidate").length, 0);
});

Deno.test("decidePrimary() with required synchronous replication promotes only with a quorum in sight", () => {
  const ha = { enabled: true, failoverDelaySeconds: 0, synchronousRequired: 1 };
  const gone = [pod("pg-0", true), pod("pg-1"), pod("pg-2")];
  const oneSeen = new Map(input().polled);
  oneSeen.set("pg-2", { error: "no answer in time" });
  const blocked = decidePrimary(input({ ha, pods: gone, polled: oneSeen }));
  assert.equal(blocked.targetPrimary, "pg-0");
  assert.equal(blocked.blocked?.reason, "NoFailoverQuorum");
  assert.match(blocked.blocked!.message, /only 1 of 2 standbys/);
  const bothSeen = decidePrimary(input({ ha, pods: gone }));
  assert.equal(bothSeen.targetPrimary, "pg-2");
  const any2 = decidePrimary(input({
    ha: { ...ha, synchronousRequired: 2 },
    pods: gone,
    polled: oneSeen,
  }));
  assert.equal(any2.targetPrimary, "pg-1", "with 2 of 2 synchronous, either has every commit");
});

/** The three instances on nodes n0, n1, n2, and those nodes' states. */
function onNodes(
  states: Record<string, Partial<NodeState>> = {},
): Pick<PrimaryInput, "pods" | "nodes"> {
  const pods = ["pg-0", "pg-1", "pg-2"].map((name, i) => ({
    ...pod(name),
    spec: { nodeName: `n${i}`, containers: [] },
  }));
  const nodes = new Map(["n0", "n1", "n2"].map((name) => [name, {
    ready: true,
    unschedulable: false,
    condition: "True",
    ...states[name],
  }]));
  return { pods, nodes };
}

const NOT_READY = { ready: false, condition: "Unknown (NodeStatusUnknown)" };

Deno.test("decidePrimary() waits the failover delay for a primary whose node is not Ready, then fails over", () => {
  const nodes = onNodes({ n0: NOT_READY });
  const first = decidePrimary(input(nodes));
  assert.equal(first.targetPrimary, "pg-0", "PostgreSQL on it still runs: not at once");
  assert.equal(first.downSince, 100_000);
  const due = decidePrimary(input({ ...nodes, downSince: 100_000, now: 110_000 }));
  assert.equal(due.targetPrimary, "pg-2");
  assert.equal(due.change?.kind, "failover");
  assert.match(
    due.change!.reason,
    /node "n0" of "pg-0" is not Ready: Unknown \(NodeStatusUnknown\)/,
  );
});

Deno.test("decidePrimary() never fails over to a standby whose node is not Ready", () => {
  const decision = decidePrimary(input({
    ...onNodes({ n2: NOT_READY }),
    pods: [pod("pg-0", true), ...onNodes().pods.slice(1)],
  }));
  assert.equal(decision.targetPrimary, "pg-1", "pg-2 is further ahead, on a node not Ready");
  const none = decidePrimary(input({
    ...onNodes({ n1: NOT_READY, n2: NOT_READY }),
    pods: [pod("pg-0", true), ...onNodes().pods.slice(1)],
  }));
  assert.equal(none.targetPrimary, "pg-0");
  assert.equal(none.blocked?.reason, "NoFailoverCandidate");
  assert.match(none.blocked!.message, /"pg-2" is on node "n2", which is not Ready/);
});

Deno.test("decidePrimary() switches over from a cordoned node to the most advanced standby on a schedulable one", () => {
  const decision = decidePrimary(input(onNodes({ n0: { unschedulable: true } })));
  assert.equal(decision.targetPrimary, "pg-2");
  assert.equal(decision.change?.kind, "switchover");
  assert.match(decision.change!.reason, /node "n0" of the primary is cordoned/);
  assert.equal(decision.promoteRequest, undefined, "nothing recorded");
  const [event] = primaryEvents(decision);
  assert.equal(event.reason, "SwitchoverStarted");
  assert.match(event.note, /cordoned/);

  // Past a standby on a cordoned node, or one that does not stream.
  const past = decidePrimary(
    input(onNodes({ n0: { unschedulable: true }, n2: { unschedulable: true } })),
  );
  assert.equal(past.targetPrimary, "pg-1");
  const polled = new Map(input().polled);
  polled.set("pg-2", standby("pg-2", "0/5000000", { walReceiverStreaming: false }));
  assert.equal(
    decidePrimary(input({ ...onNodes({ n0: { unschedulable: true } }), polled })).targetPrimary,
    "pg-1",
  );
  // The annotation still goes first.
  const asked = decidePrimary(
    input({ ...onNodes({ n0: { unschedulable: true } }), promoteRequest: "pg-1" }),
  );
  assert.equal(asked.targetPrimary, "pg-1");
  assert.equal(asked.promoteRequest, "pg-1");
});

Deno.test("decidePrimary() keeps a cordoned primary when no standby can take over, and says so once", () => {
  const stuck = decidePrimary(input(onNodes({
    n0: { unschedulable: true },
    n1: { unschedulable: true },
    n2: NOT_READY,
  })));
  assert.equal(stuck.targetPrimary, "pg-0");
  assert.equal(stuck.change, undefined);
  assert.equal(stuck.blocked?.reason, "SwitchoverWaiting");
  assert.match(stuck.blocked!.message, /"pg-1" is on cordoned node "n1"/);
  assert.match(stuck.blocked!.message, /"pg-2" is on node "n2", which is not Ready/);
  assert.equal(primaryEvents(stuck)[0].type, "Warning");
  assert.deepEqual(primaryEvents(stuck, "SwitchoverWaiting"), []);
  for (const other of [{ ha: { enabled: false, failoverDelaySeconds: 10 } }, { replicas: 1 }]) {
    const kept = decidePrimary(input({ ...onNodes({ n0: { unschedulable: true } }), ...other }));
    assert.equal(kept.targetPrimary, "pg-0");
    assert.equal(kept.blocked, undefined, "nothing to wait for without failover");
  }
});
