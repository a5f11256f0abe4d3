import assert from "node:assert/strict";
import type { KubernetesObject } from "@kubernetes/client-node";
import {
  AlreadyExistsError,
  type CallOptions,
  ConflictError,
  NetworkError,
  type ResourceType,
} from "../kube/mod.ts";
import { FakeClock } from "./fake_clock.ts";
import {
  LeaderElector,
  type LeaderElectorOptions,
  LeaderWorkFailedError,
  processIdentity,
} from "./leader_election.ts";
import type { LeaseObject } from "./lease_decision.ts";
import { microTime } from "./micro_time.ts";

/** An in-memory Lease endpoint with resourceVersion semantics, shared by several electors. */
class FakeLeaseServer {
  lease?: LeaseObject;
  writes = 0;
  #rv = 0;

  store(obj: LeaseObject): LeaseObject {
    this.writes++;
    this.lease = {
      ...structuredClone(obj),
      metadata: { ...obj.metadata, resourceVersion: String(++this.#rv) },
    };
    return structuredClone(this.lease);
  }

  /** A client of this server; `mode` makes its calls fail or hang until aborted. */
  client(): FakeLeaseClient {
    return new FakeLeaseClient(this);
  }
}

class FakeLeaseClient {
  mode: "ok" | "error" | "hang" = "ok";
  readonly #server: FakeLeaseServer;
  constructor(server: FakeLeaseServer) {
    this.#server = server;
  }

  #call<R>(signal: AbortSignal | undefined, fn: () => R): Promise<R> {
    if (this.mode === "error") {
      return Promise.reject(
        new NetworkError("https://127.0.0.1:6443", new Error("Connection refused")),
      );
    }
    if (this.mode === "hang") {
      return new Promise((_, reject) =>
        signal?.addEventListener("abort", () => reject(signal.reason), { once: true })
      );
    }
    return Promise.resolve().then(fn);
  }

  getOrUndefined<T extends KubernetesObject>(
    _type: ResourceType<T>,
    _name: string,
    options: CallOptions = {},
  ): Promise<T | undefined> {
    const lease = this.#server.lease;
    return this.#call(options.signal, () => (lease ? structuredClone(lease) as T : undefined));
  }

  create<T extends KubernetesObject>(_type: ResourceType<T>, obj: T, options: CallOptions = {}) {
    return this.#call(options.signal, () => {
      if (this.#server.lease) throw new AlreadyExistsError(409, { reason: "AlreadyExists" }, false);
      return this.#server.store(obj as LeaseObject) as T;
    });
  }

  replace<T extends KubernetesObject>(_type: ResourceType<T>, obj: T, options: CallOptions = {}) {
    return this.#call(options.signal, () => {
      if (obj.metadata?.resourceVersion !== this.#server.lease?.metadata?.resourceVersion) {
        throw new ConflictError(409, { reason: "Conflict" }, true);
      }
      return this.#server.store(obj as LeaseObject) as T;
    });
  }
}

interface Run {
  elector: LeaderElector;
  client: FakeLeaseClient;
  log: string[];
  leaderSignals: AbortSignal[];
  controller: AbortController;
  done: Promise<void>;
}

function startElector(
  server: FakeLeaseServer,
  clock: FakeClock,
  identity: string,
  options: Partial<LeaderElectorOptions> = {},
): Run {
  const log: string[] = [];
  const leaderSignals: AbortSignal[] = [];
  const client = server.client();
  const elector = new LeaderElector(client, {
    namespace: "ns",
    name: "dbop",
    identity,
    clock,
    random: () => 0,
    logger: () => {},
    onStartedLeading: (signal) => {
      leaderSignals.push(signal);
      log.push(`started@${clock.now()}`);
    },
    onStoppedLeading: () => log.push(`stopped@${clock.now()}`),
    onLeaderStatus: (leading) => log.push(`status=${leading}`),
    ...options,
  });
  const controller = new AbortController();
  const done = elector.run(controller.signal);
  return { elector, client, log, leaderSignals, controller, done };
}

Deno.test("LeaderElector acquires an absent lease, leads and renews every retryPeriod", async () => {
  const clock = new FakeClock(1_000_000);
  const server = new FakeLeaseServer();
  const a = startElector(server, clock, "a");
  await clock.advanceAsync(0);
  assert.equal(a.elector.isLeader(), true);
  assert.deepEqual(a.log, ["status=false", "status=true", "started@1000000"]);
  assert.equal(server.lease?.spec?.holderIdentity, "a");
  await clock.advanceAsync(2000);
  assert.equal(server.lease?.spec?.renewTime, microTime(1_002_000));
  assert.equal(server.writes, 2);
  a.controller.abort();
  await a.done;
});

for (const mode of ["error", "hang"] as const) {
  Deno.test(`LeaderElector whose calls ${mode === "error" ? "fail" : "hang"} stops leading at renewDeadline, before a rival takes over`, async () => {
    const clock = new FakeClock(0);
    const server = new FakeLeaseServer();
    const a = startElector(server, clock, "a");
    await clock.advanceAsync(0);
    const b = startElector(server, clock, "b");
    await clock.advanceAsync(0);
    a.client.mode = mode;
    await clock.advanceAsync(9_999);
    assert.equal(a.elector.isLeader(), true);
    await clock.advanceAsync(1);
    assert.equal(a.elector.isLeader(), false);
    assert.equal(a.leaderSignals[0].aborted, true);
    await a.done;
    assert.deepEqual(a.log, [
      "status=false",
      "status=true",
      "started@0",
      "status=false",
      "stopped@10000",
    ]);
    await clock.advanceAsync(20_000);
    // b first saw a's record at 0, so it waits exactly one lease duration from then, and no longer.
    assert.ok(b.log.includes("started@15000"), `b should lead from 15000: ${b.log}`);
    assert.equal(server.lease?.spec?.holderIdentity, "b");
    assert.equal(server.lease?.spec?.leaseTransitions, 1);
    b.controller.abort();
    await b.done;
  });
}

Deno.test("LeaderElector on abort waits for the leader's work, then releases the lease", async () => {
  const clock = new FakeClock(0);
  const server = new FakeLeaseServer();
  let finishWork = () => {};
  const work = new Promise<void>((resolve) => finishWork = resolve);
  const a = startElector(server, clock, "a", { onStartedLeading: () => work });
  await clock.advanceAsync(0);
  assert.equal(a.elector.isLeader(), true);
  a.controller.abort();
  await clock.advanceAsync(0);
  assert.equal(a.elector.isLeader(), false);
  assert.equal(server.lease?.spec?.holderIdentity, "a", "not released while the work drains");
  finishWork();
  await a.done;
  assert.equal(server.lease?.spec?.holderIdentity, "");
  assert.equal(server.lease?.spec?.leaseDurationSeconds, 1);
});

Deno.test("LeaderElector releases after renewDeadline even if the leader's work never finishes", async () => {
  const clock = new FakeClock(0);
  const server = new FakeLeaseServer();
  const a = startElector(server, clock, "a", { onStartedLeading: () => new Promise(() => {}) });
  await clock.advanceAsync(0);
  a.controller.abort();
  await clock.advanceAsync(9_999);
  assert.equal(server.lease?.spec?.holderIdentity, "a");
  await clock.advanceAsync(1);
  await a.done;
  assert.equal(server.lease?.spec?.holderIdentity, "");
});

Deno.test("LeaderElector candidate takes a released lease at its next attempt", async () => {
  const clock = new FakeClock(0);
  const server = new FakeLeaseServer();
  const a = startElector(server, clock, "a");
  await clock.advanceAsync(0);
  const b = startElector(server, clock, "b");
  await clock.advanceAsync(500);
  a.controller.abort();
  await a.done;
  await clock.advanceAsync(1_499);
  assert.equal(b.elector.isLeader(), false);
  await clock.advanceAsync(1);
  assert.equal(b.elector.isLeader(), true);
  assert.equal(server.lease?.spec?.holderIdentity, "b");
  b.controller.abort();
  await b.done;
});

Deno.test("LeaderElector steps down as soon as it sees another holder", async () => {
  const clock = new FakeClock(0);
  const server = new FakeLeaseServer();
  const a = startElector(server, clock, "a");
  await clock.advanceAsync(0);
  server.store({ ...server.lease!, spec: { ...server.lease!.spec, holderIdentity: "intruder" } });
  await clock.advanceAsync(2000);
  assert.equal(a.elector.isLeader(), false);
  assert.deepEqual(a.log.slice(-2), ["status=false", "stopped@2000"]);
  await a.done;
  assert.equal(server.lease?.spec?.holderIdentity, "intruder");
});

Deno.test("LeaderElector aborted before it is elected resolves without leading", async () => {
  const clock = new FakeClock(0);
  const server = new FakeLeaseServer();
  server.store({
    metadata: { name: "dbop" },
    spec: { holderIdentity: "b", leaseDurationSeconds: 15 },
  });
  const a = startElector(server, clock, "a");
  await clock.advanceAsync(5000);
  a.controller.abort();
  await a.done;
  assert.deepEqual(a.log, ["status=false"]);
  assert.equal(server.lease?.spec?.holderIdentity, "b");
});

Deno.test("LeaderElector rejects timings that could let two leaders overlap", () => {
  const client = new FakeLeaseServer().client();
  const base = { namespace: "ns", name: "dbop", identity: "a" };
  assert.throws(
    () => new LeaderElector(client, { ...base, leaseDurationMs: 10_000, renewDeadlineMs: 10_000 }),
    /need leaseDuration > renewDeadline > 1.2 x retryPeriod > 0, got "10000", "10000" and "2000" ms/,
  );
  assert.throws(
    () => new LeaderElector(client, { ...base, renewDeadlineMs: 2_000, retryPeriodMs: 2_000 }),
    /got "15000", "2000" and "2000" ms/,
  );
});

Deno.test("LeaderElector.run() refuses to run twice at once", async () => {
  const clock = new FakeClock(0);
  const a = startElector(new FakeLeaseServer(), clock, "a");
  await assert.rejects(a.elector.run(new AbortController().signal), /already running/);
  a.controller.abort();
  await a.done;
});

Deno.test("LeaderElector survives callbacks that throw, even from its deadline timer", async () => {
  const clock = new FakeClock(0);
  const logs: string[] = [];
  const a = startElector(new FakeLeaseServer(), clock, "a", {
    onStoppedLeading: () => {
      throw new Error("Metrics exploded");
    },
    logger: (_level, message) => logs.push(message),
  });
  await clock.advanceAsync(0);
  a.client.mode = "error";
  await clock.advanceAsync(10_000);
  assert.equal(a.elector.isLeader(), false);
  await a.done;
  assert.ok(logs.includes("A leader election callback failed: {error}"), String(logs));
});

Deno.test("LeaderElector releases the lease and rejects when the leader's work fails", async () => {
  const clock = new FakeClock(0);
  const server = new FakeLeaseServer();
  let failWork = (_: Error) => {};
  const work = new Promise<void>((_, reject) => failWork = reject);
  const a = startElector(server, clock, "a", { onStartedLeading: () => work });
  const outcome = a.done.then(() => "resolved", (error) => error);
  await clock.advanceAsync(0);
  assert.equal(a.elector.isLeader(), true);
  failWork(new Error("informer broke"));
  await clock.advanceAsync(0);
  const error = await outcome;
  assert.ok(error instanceof LeaderWorkFailedError, `rejects, got ${error}`);
  assert.match(error.message, /informer broke/);
  assert.equal(a.elector.isLeader(), false);
  assert.equal(server.lease?.spec?.holderIdentity, "", "released at once, not left to expire");
  assert.equal(clock.now(), 0, "without waiting for a renew period");
});

Deno.test("processIdentity() is a host name with a random suffix, different per call", () => {
  const [first, second] = [processIdentity(), processIdentity()];
  assert.match(first, /^.+_[0-9a-f]{8}$/);
  assert.notEqual(first, second);
});
