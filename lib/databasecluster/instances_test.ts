import assert from "node:assert/strict";
import type { V1Pod } from "@kubernetes/client-node";
import type { InstanceStatus } from "../api/mod.ts";
import { instancesSettled, type Polled, summarizeInstances } from "./instances.ts";

function pod(name: string, options: { ready?: boolean; deleting?: boolean } = {}): V1Pod {
  return {
    metadata: {
      name,
      ...(options.deleting ? { deletionTimestamp: new Date("2026-01-01T00:00:00Z") } : {}),
    },
    status: {
      phase: "Running",
      podIP: "127.244.0.9",
      containerStatuses: [{
        name: "postgres",
        ready: options.ready ?? true,
        image: "postgres",
        imageID: "",
        restartCount: 0,
      }],
    },
  };
}

const primary: InstanceStatus = {
  pod: "pg-0",
  postgres: "running",
  role: "primary",
  timeline: 1,
  currentLsn: "0/3000100",
};

const standby: InstanceStatus = {
  pod: "pg-1",
  postgres: "running",
  role: "standby",
  timeline: 1,
  receivedLsn: "0/3000100",
  replayedLsn: "0/3000000",
  walReceiverStreaming: true,
};

Deno.test("summarizeInstances() lists each live pod with its role, LSN and lag behind the primary", () => {
  const polled = new Map<string, Polled>([
    ["pg-1", { status: standby }],
    ["pg-0", { status: primary }],
    ["pg-2", { error: "tcp connect error: Connection refused (os error 111)" }],
  ]);
  const pods = [
    pod("pg-1"),
    pod("pg-0"),
    pod("pg-2", { ready: false }),
    pod("pg-3", { deleting: true }),
  ];
  assert.deepEqual(summarizeInstances(pods, polled), [
    { name: "pg-0", ready: true, role: "primary", timeline: 1, lsn: "0/3000100" },
    {
      name: "pg-1",
      ready: true,
      role: "standby",
      timeline: 1,
      lsn: "0/3000000",
      receivedLsn: "0/3000100",
      lagBytes: "256",
      streaming: true,
    },
    {
      name: "pg-2",
      ready: false,
      error: "tcp connect error: Connection refused (os error 111)",
    },
  ]);
});

Deno.test("summarizeInstances() reports what a manager waits for, and a pod not polled bare", () => {
  const waiting: InstanceStatus = {
    pod: "pg-0",
    postgres: "stopped",
    waiting: { reason: "PrimaryDataLost", message: "the data directory is empty" },
    lastError: "ignored while waiting",
  };
  assert.deepEqual(
    summarizeInstances(
      [pod("pg-0", { ready: false }), pod("pg-1")],
      new Map([["pg-0", { status: waiting }]]),
    ),
    [
      { name: "pg-0", ready: false, error: "PrimaryDataLost: the data directory is empty" },
      { name: "pg-1", ready: true },
    ],
  );
});

Deno.test("instancesSettled() is false while an answering instance starts, waits, lags, needs a restart or refuses the token", () => {
  const settled = (...answers: Polled[]) =>
    instancesSettled(new Map(answers.map((answer, i) => [`pg-${i}`, answer])));
  assert.equal(settled({ status: primary }, { status: standby }), true);
  assert.equal(settled({ status: primary }, { error: "no answer in time" }), true);
  assert.equal(
    settled({ status: primary }, { error: "status endpoint answered 401", unauthorized: true }),
    false,
    "a refused token is polled again soon",
  );
  assert.equal(settled({ status: { ...primary, postgres: "starting" } }), false);
  assert.equal(settled({ status: { ...primary, pendingRestart: true } }), false);
  assert.equal(
    settled({ status: primary }, { status: { ...standby, walReceiverStreaming: false } }),
    false,
  );
  assert.equal(
    settled({
      status: { pod: "pg-0", postgres: "stopped", waiting: { reason: "NoCluster", message: "" } },
    }),
    false,
  );
});
