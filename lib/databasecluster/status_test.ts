import assert from "node:assert/strict";
import type { V1Job, V1Pod, V1StatefulSet } from "@kubernetes/client-node";
import type { DatabaseClusterStatus } from "../api/mod.ts";
import { statusEqual } from "./conditions.ts";
import { computeStatus, type ObservedState, podReady } from "./status.ts";
import { testCluster } from "./testdata/clusters.ts";

const NOW = new Date("2025-05-01T10:00:00.123Z");
const LATER = new Date("2025-05-01T11:00:00Z");

function pod(
  name: string,
  options: {
    ready?: boolean;
    role?: string;
    phase?: string;
    waiting?: string;
    revision?: string;
  } = {},
): V1Pod {
  const ready = options.ready ?? true;
  return {
    metadata: {
      name,
      labels: {
        "controller-revision-hash": options.revision ?? "pg-1",
        ...options.role ? { "database.example.com/role": options.role } : {},
      },
    },
    status: {
      phase: options.phase ?? "Running",
      containerStatuses: [{
        name: "postgres",
        image: "postgres:16",
        imageID: "",
        restartCount: 0,
        ready,
        state: options.waiting ? { waiting: { reason: options.waiting } } : { running: {} },
      }],
    },
  };
}

function statefulSet(options: { rolledOut?: boolean; replicas?: number } = {}): V1StatefulSet {
  const replicas = options.replicas ?? 3;
  const rolledOut = options.rolledOut ?? true;
  return {
    metadata: { name: "pg", generation: 2 },
    spec: { replicas, selector: {}, serviceName: "pg-headless", template: {} },
    status: {
      replicas,
      observedGeneration: 2,
      currentRevision: "pg-1",
      updateRevision: rolledOut ? "pg-1" : "pg-2",
      updatedReplicas: rolledOut ? replicas : 1,
    },
  };
}

function healthy(count = 3): V1Pod[] {
  return Array.from(
    { length: count },
    (_, i) => pod(`pg-${i}`, { role: i ? "replica" : "primary" }),
  );
}

function observe(partial: Partial<ObservedState> = {}): ObservedState {
  return { statefulSet: statefulSet(), pods: healthy(), ...partial };
}

/** A cluster of three whose stored status is `status`. */
function clusterWith(status?: DatabaseClusterStatus, spec = {}, metadata = {}) {
  const cluster = testCluster({ replicas: 3, ...spec }, metadata);
  if (status) cluster.status = status;
  return cluster;
}

function condition(status: DatabaseClusterStatus, type: string) {
  return status.conditions?.find((c) => c.type === type);
}

Deno.test("computeStatus() is Pending before the StatefulSet exists", () => {
  const status = computeStatus(clusterWith(), { pods: [] }, { now: NOW });
  assert.equal(status.phase, "Pending");
  assert.equal(condition(status, "Ready")?.status, "False");
  assert.equal(condition(status, "Progressing")?.status, "True");
  assert.equal(status.replicas, 0);
});

Deno.test("computeStatus() is Creating until every instance is ready, naming what waits", () => {
  const pods = [
    pod("pg-0", { role: "primary" }),
    pod("pg-1", { ready: false, waiting: "CrashLoopBackOff" }),
  ];
  const status = computeStatus(clusterWith(), observe({ pods }), { now: NOW });
  assert.equal(status.phase, "Creating");
  assert.equal(status.readyReplicas, 1);
  assert.equal(status.readyDisplay, "1/3");
  assert.match(status.message ?? "", /1\/3 instances ready/);
  assert.match(status.message ?? "", /pg-1: CrashLoopBackOff/);
  assert.equal(condition(status, "Degraded")?.status, "False");
});

Deno.test("computeStatus() is Running with Ready=True when all instances are ready", () => {
  const status = computeStatus(clusterWith(), observe(), { now: NOW });
  assert.equal(status.phase, "Running");
  assert.deepEqual(
    status.conditions?.map((c) => [c.type, c.status, c.reason]),
    [
      ["Ready", "True", "ClusterReady"],
      ["Progressing", "False", "Converged"],
      ["Degraded", "False", "InstancesReady"],
    ],
  );
  assert.equal(status.replicas, 3);
  assert.equal(status.readyReplicas, 3);
  assert.equal(status.currentPrimary, "pg-0");
  assert.equal(status.observedGeneration, 1);
  assert.equal(
    status.selector,
    "app.kubernetes.io/component=database,database.example.com/cluster=pg",
  );
  assert.deepEqual(status.endpoints, { rw: "pg-rw.shop.svc", ro: "pg-ro.shop.svc" });
  assert.equal(condition(status, "Ready")?.lastTransitionTime, "2025-05-01T10:00:00Z");
  assert.equal(condition(status, "Ready")?.observedGeneration, 1);
});

Deno.test("computeStatus() lists no read-only endpoint for a single instance", () => {
  const cluster = testCluster();
  const status = computeStatus(
    cluster,
    observe({ pods: healthy(1), statefulSet: statefulSet({ replicas: 1 }) }),
    {
      now: NOW,
    },
  );
  assert.equal(status.phase, "Running");
  assert.deepEqual(status.endpoints, { rw: "pg-rw.shop.svc" });
});

Deno.test("computeStatus() takes the primary from the role label, else ordinal 0", () => {
  const labelled = [
    pod("pg-0", { role: "replica" }),
    pod("pg-1", { role: "primary" }),
    pod("pg-2"),
  ];
  assert.equal(
    computeStatus(clusterWith(), observe({ pods: labelled }), { now: NOW }).currentPrimary,
    "pg-1",
  );
  const unlabelled = [pod("pg-0"), pod("pg-1"), pod("pg-2")];
  assert.equal(
    computeStatus(clusterWith(), observe({ pods: unlabelled }), { now: NOW }).currentPrimary,
    "pg-0",
  );
});

Deno.test("computeStatus() is Degraded once established when an instance is not ready", () => {
  const running = computeStatus(clusterWith(), observe(), { now: NOW });
  const pods = healthy();
  pods[2] = pod("pg-2", { role: "replica", ready: false });
  const status = computeStatus(clusterWith(running), observe({ pods }), { now: LATER });
  assert.equal(status.phase, "Degraded");
  assert.equal(condition(status, "Degraded")?.status, "True");
  assert.equal(condition(status, "Degraded")?.reason, "InstancesNotReady");
  assert.equal(condition(status, "Ready")?.status, "False");
  assert.equal(condition(status, "Ready")?.lastTransitionTime, "2025-05-01T11:00:00Z");
});

Deno.test("computeStatus() reports PrimaryNotReady when the primary is down", () => {
  const running = computeStatus(clusterWith(), observe(), { now: NOW });
  const pods = healthy();
  pods[0] = pod("pg-0", { role: "primary", ready: false });
  const status = computeStatus(clusterWith(running), observe({ pods }), { now: LATER });
  assert.equal(status.phase, "Degraded");
  assert.equal(condition(status, "Degraded")?.reason, "PrimaryNotReady");
});

Deno.test("computeStatus() is Updating during a rolling update, not Degraded", () => {
  const running = computeStatus(clusterWith(), observe(), { now: NOW });
  const pods = healthy();
  pods[2] = pod("pg-2", { role: "replica", ready: false });
  const status = computeStatus(
    clusterWith(running),
    observe({ pods, statefulSet: statefulSet({ rolledOut: false }) }),
    { now: LATER },
  );
  assert.equal(status.phase, "Updating");
  assert.equal(condition(status, "Progressing")?.status, "True");
  assert.equal(condition(status, "Progressing")?.reason, "RollingUpdate");
  assert.equal(condition(status, "Degraded")?.status, "False");
  assert.equal(condition(status, "Ready")?.status, "False");
});

Deno.test("computeStatus() reads the rollout from the pods' revisions, not currentRevision", () => {
  const running = computeStatus(clusterWith(), observe(), { now: NOW });
  // Updating on delete: the controller never moves currentRevision, so it stays behind.
  const updated = statefulSet();
  updated.status = { ...updated.status!, currentRevision: "pg-0" };
  const done = computeStatus(clusterWith(running), observe({ statefulSet: updated }), {
    now: LATER,
  });
  assert.equal(done.phase, "Running");
  const pods = healthy();
  pods[0] = pod("pg-0", { role: "primary", revision: "pg-0" });
  const outdated = computeStatus(clusterWith(running), observe({ statefulSet: updated, pods }), {
    now: LATER,
  });
  assert.equal(outdated.phase, "Updating", "a ready pod of the old template is still to replace");
  assert.equal(condition(outdated, "Progressing")?.reason, "RollingUpdate");
});

Deno.test("computeStatus() is Updating while scaling and while volumes grow", () => {
  const running = computeStatus(clusterWith(), observe(), { now: NOW });
  const scaling = computeStatus(clusterWith(running, { replicas: 4 }), observe(), { now: LATER });
  assert.equal(scaling.phase, "Updating");
  assert.equal(condition(scaling, "Progressing")?.reason, "Scaling");
  const claims = [{ status: { conditions: [{ type: "Resizing", status: "True" }] } }];
  const growing = computeStatus(clusterWith(running), observe({ claims }), { now: LATER });
  assert.equal(growing.phase, "Updating");
  assert.equal(condition(growing, "Progressing")?.reason, "ExpandingVolumes");
});

Deno.test("computeStatus() fails with the reconcile's problem as Ready's reason", () => {
  const running = computeStatus(clusterWith(), observe(), { now: NOW });
  const problems = [{
    reason: "UpgradeBlocked",
    message: 'Cannot upgrade from "16" to "17": not supported yet',
  }];
  const status = computeStatus(clusterWith(running), observe({ problems }), { now: LATER });
  assert.equal(status.phase, "Failed");
  assert.equal(condition(status, "Ready")?.reason, "UpgradeBlocked");
  assert.equal(status.message, problems[0].message);
  assert.equal(condition(status, "Degraded")?.status, "False");
});

Deno.test("computeStatus() is Deleting once deletion is requested", () => {
  const cluster = clusterWith(undefined, {}, { deletionTimestamp: "2025-05-01T09:00:00Z" });
  const status = computeStatus(cluster, observe(), { now: NOW });
  assert.equal(status.phase, "Deleting");
  assert.equal(condition(status, "Ready")?.reason, "Deleting");
});

Deno.test("computeStatus() keeps lastTransitionTime while a condition's status holds", () => {
  const first = computeStatus(clusterWith(), observe(), { now: NOW });
  const second = computeStatus(clusterWith(first), observe(), { now: LATER });
  assert.ok(statusEqual(first, second));
  const notices = ["PodMonitor not created: the monitoring.coreos.com CRD is not installed"];
  const third = computeStatus(clusterWith(second), observe({ notices }), { now: LATER });
  assert.equal(condition(third, "Ready")?.lastTransitionTime, "2025-05-01T10:00:00Z");
  assert.match(third.message ?? "", /PodMonitor not created/);
  assert.ok(!statusEqual(second, third));
});

Deno.test("computeStatus() does not count terminating pods", () => {
  const pods = healthy();
  pods[2] = { ...pods[2], metadata: { ...pods[2].metadata, deletionTimestamp: new Date(NOW) } };
  const status = computeStatus(clusterWith(), observe({ pods }), { now: NOW });
  assert.equal(status.replicas, 2);
  assert.equal(status.readyReplicas, 2);
  assert.equal(podReady(pods[2]), false);
});

function job(name: string, outcome: "Complete" | "Failed" | "Running", time: string): V1Job {
  const conditions = outcome === "Running" ? [] : [{
    type: outcome,
    status: "True",
    message: outcome === "Failed" ? "BackoffLimitExceeded" : "",
  }];
  return {
    metadata: { name, creationTimestamp: time as unknown as Date },
    status: {
      conditions,
      ...(outcome === "Complete" ? { completionTime: time as unknown as Date } : {}),
    },
  };
}

Deno.test("computeStatus() reflects the newest finished backup in BackupReady and lastBackup", () => {
  const backup = { backup: { enabled: true, schedule: "0 2 * * *", storage: { size: "5Gi" } } };
  const none = computeStatus(clusterWith(undefined, backup), observe(), { now: NOW });
  assert.equal(condition(none, "BackupReady")?.status, "Unknown");
  assert.equal(none.lastBackup, undefined);

  const ok = job("pg-backup-1", "Complete", "2025-05-01T02:00:30Z");
  const succeeded = computeStatus(clusterWith(none, backup), observe({ backupJobs: [ok] }), {
    now: NOW,
  });
  assert.equal(condition(succeeded, "BackupReady")?.reason, "BackupSucceeded");
  assert.deepEqual(succeeded.lastBackup, {
    name: "pg-backup-1",
    completionTime: "2025-05-01T02:00:30Z",
  });

  const running = job("pg-backup-2", "Running", "2025-05-02T02:00:00Z");
  const during = computeStatus(
    clusterWith(succeeded, backup),
    observe({ backupJobs: [ok, running] }),
    {
      now: LATER,
    },
  );
  assert.equal(condition(during, "BackupReady")?.status, "True");

  const failed = job("pg-backup-3", "Failed", "2025-05-03T02:00:00Z");
  const after = computeStatus(clusterWith(during, backup), observe({ backupJobs: [failed, ok] }), {
    now: LATER,
  });
  assert.equal(condition(after, "BackupReady")?.status, "False");
  assert.equal(condition(after, "BackupReady")?.reason, "BackupFailed");
  assert.match(condition(after, "BackupReady")?.message ?? "", /BackoffLimitExceeded/);
  assert.equal(after.lastBackup?.name, "pg-backup-1");
});

Deno.test("computeStatus() has no BackupReady condition when backups are disabled", () => {
  const status = computeStatus(clusterWith(), observe(), { now: NOW });
  assert.equal(condition(status, "BackupReady"), undefined);
});
