import assert from "node:assert/strict";
import type { V1Pod } from "@kubernetes/client-node";
import type { InstanceStatus } from "../api/mod.ts";
import type { Polled } from "./instances.ts";
import { nextRestart } from "./restarts.ts";

function pod(name: string, ready = true): V1Pod {
  return {
    metadata: { name, uid: `uid-${name}` },
    status: {
      phase: "Running",
      podIP: "127.244.0.1",
      containerStatuses: [{ name: "postgres", ready, image: "", imageID: "", restartCount: 0 }],
    },
  };
}

function running(name: string, role: "primary" | "standby", pendingRestart: boolean): Polled {
  const status: InstanceStatus = {
    pod: name,
    postgres: "running",
    role,
    pendingRestart,
    postmasterStartTime: `2026-12-03 10:00:00+00 ${name}`,
  };
  return { status };
}

const pods = [pod("pg-0"), pod("pg-1"), pod("pg-2")];
const name = (next: ReturnType<typeof nextRestart>) => next?.pod.metadata?.name;

Deno.test("nextRestart() restarts the pending standbys one by one, then the primary", () => {
  const all = new Map([
    ["pg-0", running("pg-0", "primary", true)],
    ["pg-1", running("pg-1", "standby", true)],
    ["pg-2", running("pg-2", "standby", true)],
  ]);
  assert.equal(name(nextRestart(pods, all)), "pg-1");
  all.set("pg-1", running("pg-1", "standby", false));
  assert.equal(name(nextRestart(pods, all)), "pg-2");
  all.set("pg-2", running("pg-2", "standby", false));
  const primary = nextRestart(pods, all);
  assert.deepEqual([name(primary), primary?.role], ["pg-0", "primary"]);
  all.set("pg-0", running("pg-0", "primary", false));
  assert.equal(nextRestart(pods, all), undefined, "nothing pending");
});

Deno.test("nextRestart() waits while any instance is down, unanswered, or still restarting", () => {
  const pending = new Map([
    ["pg-0", running("pg-0", "primary", true)],
    ["pg-1", running("pg-1", "standby", true)],
    ["pg-2", running("pg-2", "standby", false)],
  ]);
  assert.equal(nextRestart([pods[0], pods[1], pod("pg-2", false)], pending), undefined);
  const unanswered = new Map(pending).set("pg-2", { error: "no answer in time" });
  assert.equal(nextRestart(pods, unanswered), undefined);
  const starting = new Map(pending).set("pg-2", {
    status: { pod: "pg-2", postgres: "starting", role: "standby" },
  });
  assert.equal(nextRestart(pods, starting), undefined);
  const asked = new Map([["uid-pg-1", "2026-12-03 10:00:00+00 pg-1"]]);
  assert.equal(nextRestart(pods, pending, asked), undefined, "pg-1's restart is under way");
  const done = new Map([["uid-pg-1", "an older start time"]]);
  assert.equal(name(nextRestart(pods, pending, done)), "pg-1", "asked before, pending again");
});
