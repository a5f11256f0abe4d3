import assert from "node:assert/strict";
import type { V1Pod, V1StatefulSet } from "@kubernetes/client-node";
import type { InstanceStatus } from "../api/mod.ts";
import type { Polled } from "./instances.ts";
import {
  CAUGHT_UP_BYTES,
  nextRolloutStep,
  restartingPrimary,
  type RolloutInput,
  type RolloutStep,
} from "./rollout.ts";

const OLD = "pg-old";
const NEW = "pg-new";

function pod(
  name: string,
  revision: string,
  options: { ready?: boolean; deleting?: boolean; uid?: string } = {},
): V1Pod {
  return {
    metadata: {
      name,
      uid: options.uid ?? `${name}-${revision}`,
      labels: { "controller-revision-hash": revision },
      ...(options.deleting ? { deletionTimestamp: new Date("2026-01-01T00:00:00Z") } : {}),
    },
    status: {
      phase: "Running",
      containerStatuses: [{
        name: "postgres",
        ready: options.ready ?? true,
        image: "",
        imageID: "",
        restartCount: 0,
      }],
    },
  };
}

function statefulSet(generation = 2, observedGeneration = 2): V1StatefulSet {
  return {
    metadata: { name: "pg", generation },
    status: { replicas: 3, observedGeneration, currentRevision: OLD, updateRevision: NEW },
  };
}

function primary(pod: string, lsn = "0/5000000"): Polled {
  return { status: { pod, postgres: "running", role: "primary", timeline: 1, currentLsn: lsn } };
}

function standby(pod: string, lsn = "0/5000000", extra: Partial<InstanceStatus> = {}): Polled {
  return {
    status: {
      pod,
      postgres: "running",
      role: "standby",
      timeline: 1,
      receivedLsn: lsn,
      replayedLsn: lsn,
      walReceiverStreaming: true,
      ...extra,
    },
  };
}

/** Three instances of the old template, pg-0 the primary, all running and caught up. */
function input(overrides: Partial<RolloutInput> = {}): RolloutInput {
  return {
    statefulSet: statefulSet(),
    replicas: 3,
    pods: [pod("pg-0", OLD), pod("pg-1", OLD), pod("pg-2", OLD)],
    polled: new Map([
      ["pg-0", primary("pg-0")],
      ["pg-1", standby("pg-1")],
      ["pg-2", standby("pg-2")],
    ]),
    primary: { current: "pg-0", target: "pg-0" },
    method: "switchover",
    bootstrapped: true,
    ...overrides,
  };
}

function summary(step: RolloutStep): string {
  switch (step.action) {
    case "delete":
      return `delete ${step.role} ${step.pod.metadata?.name}`;
    case "switchover":
      return `switchover to ${step.to}`;
    case "wait":
      return `wait: ${step.reason}`;
    case "none":
      return "none";
  }
}

Deno.test("nextRolloutStep() does nothing when every pod runs the newest template", () => {
  const pods = [pod("pg-0", NEW), pod("pg-1", NEW), pod("pg-2", NEW)];
  assert.equal(summary(nextRolloutStep(input({ pods }))), "none");
  assert.equal(summary(nextRolloutStep(input({ statefulSet: undefined }))), "none");
  const unknown = statefulSet();
  delete unknown.status!.updateRevision;
  assert.equal(summary(nextRolloutStep(input({ statefulSet: unknown }))), "none");
});

Deno.test("nextRolloutStep() replaces the standbys one by one, switches over, then the old primary", () => {
  let state = input();
  const steps: string[] = [];
  // Each step's pod comes back from the new template, running and caught up; a switchover
  // makes its target the primary and the old primary a standby.
  for (let i = 0; i < 6; i++) {
    const step = nextRolloutStep(state);
    steps.push(summary(step));
    if (step.action === "delete") {
      const name = step.pod.metadata!.name!;
      state = {
        ...state,
        pods: state.pods.map((p) => p.metadata?.name === name ? pod(name, NEW) : p),
      };
    } else if (step.action === "switchover") {
      const polled = new Map(state.polled);
      polled.set(state.primary.current, standby(state.primary.current));
      polled.set(step.to, primary(step.to));
      state = { ...state, polled, primary: { current: step.to, target: step.to } };
    } else break;
  }
  assert.deepEqual(steps, [
    "delete standby pg-2",
    "delete standby pg-1",
    "switchover to pg-1",
    "delete standby pg-0",
    "none",
  ]);
});

Deno.test("nextRolloutStep() switches over to the most advanced replaced standby", () => {
  const step = nextRolloutStep(input({
    pods: [pod("pg-0", OLD), pod("pg-1", NEW), pod("pg-2", NEW)],
    polled: new Map([
      ["pg-0", primary("pg-0", "0/5000100")],
      ["pg-1", standby("pg-1", "0/5000000")],
      ["pg-2", standby("pg-2", "0/5000100")],
    ]),
  }));
  assert.equal(summary(step), "switchover to pg-2");
});

Deno.test("nextRolloutStep() resumes from the pods alone, as after an operator restart", () => {
  // pg-2 was replaced before the restart; nothing remembered says so.
  const resumed = input({ pods: [pod("pg-0", OLD), pod("pg-1", OLD), pod("pg-2", NEW)] });
  assert.equal(summary(nextRolloutStep(resumed)), "delete standby pg-1");
  // After a switchover to pg-2, pg-0 is an outdated standby; pg-1 is done.
  const after = input({
    pods: [pod("pg-0", OLD), pod("pg-1", NEW), pod("pg-2", NEW)],
    polled: new Map([
      ["pg-0", standby("pg-0")],
      ["pg-1", standby("pg-1")],
      ["pg-2", primary("pg-2")],
    ]),
    primary: { current: "pg-2", target: "pg-2" },
  });
  assert.equal(summary(nextRolloutStep(after)), "delete standby pg-0");
});

Deno.test("nextRolloutStep() never deletes while a pod is going, missing or extra, or the primary changes", () => {
  const pods = (p2: V1Pod) => [pod("pg-0", OLD), pod("pg-1", OLD), p2];
  const deleting = input({ pods: pods(pod("pg-2", OLD, { deleting: true })) });
  assert.equal(summary(nextRolloutStep(deleting)), 'wait: pod "pg-2" is being deleted');
  // The cache has not seen the deletion asked for yet.
  const asked = input({ deleted: new Set(["pg-2-pg-old"]) });
  assert.equal(summary(nextRolloutStep(asked)), 'wait: pod "pg-2" is being deleted');
  const missing = input({ pods: [pod("pg-0", OLD), pod("pg-1", OLD)] });
  assert.equal(summary(nextRolloutStep(missing)), "wait: the instance of ordinal 2 has no pod yet");
  const scalingDown = input({ replicas: 2 });
  assert.equal(summary(nextRolloutStep(scalingDown)), 'wait: the StatefulSet removes pod "pg-2"');
  const changing = input({ primary: { current: "pg-0", target: "pg-1" } });
  assert.equal(
    summary(nextRolloutStep(changing)),
    'wait: the primary changes from "pg-0" to "pg-1"',
  );
  const stale = input({ statefulSet: statefulSet(3, 2) });
  assert.equal(
    summary(nextRolloutStep(stale)),
    "wait: the StatefulSet controller has not seen the newest template yet",
  );
});

Deno.test("nextRolloutStep() waits until every instance runs in its role and answers", () => {
  const notReady = input({
    pods: [pod("pg-0", OLD), pod("pg-1", OLD, { ready: false }), pod("pg-2", NEW)],
  });
  assert.equal(summary(nextRolloutStep(notReady)), 'wait: pod "pg-1" is not ready');
  const polled = (name: string, answer: Polled) => new Map(input().polled).set(name, answer);
  const silent = input({ polled: polled("pg-1", { error: "no answer in time" }) });
  assert.equal(
    summary(nextRolloutStep(silent)),
    'wait: the manager of "pg-1" does not answer: no answer in time',
  );
  const starting = input({
    polled: polled("pg-1", { status: { pod: "pg-1", postgres: "starting", role: "standby" } }),
  });
  assert.equal(summary(nextRolloutStep(starting)), 'wait: PostgreSQL on "pg-1" is starting');
  const demoted = input({ polled: polled("pg-0", standby("pg-0")) });
  assert.equal(summary(nextRolloutStep(demoted)), 'wait: "pg-0" runs as standby, not primary');
  const step = nextRolloutStep(starting);
  assert.ok(step.action === "wait" && step.poll, "a poll, not a pod event, tells when to go on");
});

Deno.test("nextRolloutStep() waits until every standby streams and has caught up", () => {
  const polled = (answer: Polled) => new Map(input().polled).set("pg-1", answer);
  const pods = [pod("pg-0", OLD), pod("pg-1", NEW), pod("pg-2", OLD)];
  const broken = input({
    pods,
    polled: polled(standby("pg-1", "0/5000000", { walReceiverStreaming: false })),
  });
  assert.equal(summary(nextRolloutStep(broken)), 'wait: standby "pg-1" does not stream');
  // Within one WAL segment of the primary counts as caught up; one byte more does not.
  const at = (lag: bigint) => `0/${(0x5000000n - lag).toString(16).toUpperCase()}`;
  const behind = input({ pods, polled: polled(standby("pg-1", at(CAUGHT_UP_BYTES + 1n))) });
  assert.equal(
    summary(nextRolloutStep(behind)),
    `wait: standby "pg-1" has replayed ${CAUGHT_UP_BYTES + 1n} bytes behind`,
  );
  const close = input({ pods, polled: polled(standby("pg-1", at(CAUGHT_UP_BYTES))) });
  assert.equal(summary(nextRolloutStep(close)), "delete standby pg-2");
});

Deno.test("nextRolloutStep() restarts the primary with the restart method or a single instance", () => {
  const replaced = [pod("pg-0", OLD), pod("pg-1", NEW), pod("pg-2", NEW)];
  const restart = input({ pods: replaced, method: "restart" });
  assert.equal(summary(nextRolloutStep(restart)), "delete primary pg-0");
  const single = input({
    replicas: 1,
    pods: [pod("pg-0", OLD)],
    polled: new Map([["pg-0", primary("pg-0")]]),
  });
  const step = nextRolloutStep(single);
  assert.equal(summary(step), "delete primary pg-0");
  assert.match((step as { reason: string }).reason, /a single instance restarts/);
});

Deno.test("nextRolloutStep() replaces unanswering pods by readiness only before any instance reported", () => {
  const none = new Map<string, Polled>([
    ["pg-0", { error: "connection refused" }],
    ["pg-1", { error: "connection refused" }],
    ["pg-2", { error: "connection refused" }],
  ]);
  let state = input({
    polled: none,
    bootstrapped: false,
    primary: { current: "pg-1", target: "pg-1" },
  });
  const steps: string[] = [];
  for (let i = 0; i < 4; i++) {
    const step = nextRolloutStep(state);
    steps.push(summary(step));
    if (step.action !== "delete") break;
    const name = step.pod.metadata!.name!;
    state = {
      ...state,
      pods: state.pods.map((p) => p.metadata?.name === name ? pod(name, NEW) : p),
    };
  }
  assert.deepEqual(steps, [
    "delete standby pg-2",
    "delete standby pg-0",
    "delete primary pg-1",
    "none",
  ]);
  const notReady = input({
    polled: none,
    bootstrapped: false,
    pods: [pod("pg-0", OLD), pod("pg-1", OLD), pod("pg-2", NEW, { ready: false })],
  });
  assert.equal(summary(nextRolloutStep(notReady)), 'wait: pod "pg-2" is not ready');
  const bootstrapped = input({ polled: none, bootstrapped: true });
  assert.equal(
    summary(nextRolloutStep(bootstrapped)),
    "wait: no instance answers its status endpoint",
  );
});

Deno.test("restartingPrimary() holds from the primary's deletion until its new pod is seen running", () => {
  const base = input({ method: "restart" });
  const with0 = (p0?: V1Pod) => ({
    ...base,
    pods: [...(p0 ? [p0] : []), pod("pg-1", NEW), pod("pg-2", NEW)],
  });
  assert.equal(restartingPrimary(with0(pod("pg-0", OLD)), "pg-0-pg-old"), false, "not yet");
  assert.equal(restartingPrimary(with0(pod("pg-0", OLD, { deleting: true })), "pg-0-pg-old"), true);
  assert.equal(restartingPrimary(with0(), "pg-0-pg-old"), true, "gone");
  assert.equal(restartingPrimary(with0(pod("pg-0", NEW)), "pg-0-pg-old"), true, "made anew");
  assert.equal(restartingPrimary(with0(pod("pg-0", NEW)), "pg-0-pg-new"), false, "seen running");
  // A primary deleted by hand once the rollout is done fails over as before.
  assert.equal(
    restartingPrimary(with0(pod("pg-0", NEW, { deleting: true })), "pg-0-pg-new"),
    false,
  );
  assert.equal(restartingPrimary({ ...with0(), method: "switchover" }, "pg-0-pg-old"), false);
  const standbyLeft = {
    ...base,
    pods: [pod("pg-0", OLD, { deleting: true }), pod("pg-1", OLD), pod("pg-2", NEW)],
  };
  assert.equal(restartingPrimary(standbyLeft, "pg-0-pg-old"), false, "a standby first");
});
