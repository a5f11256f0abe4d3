/**
 * Rolling updates on real PostgreSQL through dbop's instance managers, on the
 * emulated kubelet: a change of the pod template replaces the standbys' pods
 * one at a time, then switches over to a replaced standby and replaces the
 * old primary's pod (or, with `primaryUpdateMethod: restart`, restarts the
 * primary's pod without a failover), while a client writes through `-rw`; the
 * longest gap between its acknowledged writes is the write outage the rollout
 * cost.
 *
 * @module
 */
import assert from "node:assert/strict";
import { DatabaseClusters } from "../lib/databasecluster/cache.ts";
import { podName } from "../lib/databasecluster/names.ts";
import { type DatabasePods, databasePods } from "./harness/database_pods.ts";
import { getJson } from "./harness/clusters.ts";
import { eventually, testCluster } from "./harness/mod.ts";
import { psql, query } from "./harness/psql.ts";

const test = testCluster();
const external = Deno.env.get("TEST_KUBECONFIG") !== undefined;

function report(line: string): void {
  Deno.stderr.writeSync(new TextEncoder().encode(`[rollout] ${line}\n`));
}

interface ClusterEvent {
  reason: string;
  note: string;
  eventTime?: string;
  series?: { count: number };
}

async function clusterEvents(env: DatabasePods, name: string): Promise<ClusterEvent[]> {
  const list = await getJson(test, ["get", "events.events.k8s.io", "-n", env.namespace]);
  return (list.items ?? [])
    .filter((e: { regarding: { kind: string; name: string } }) =>
      e.regarding.kind === "DatabaseCluster" && e.regarding.name === name
    )
    .sort((a: ClusterEvent, b: ClusterEvent) =>
      (a.eventTime ?? "").localeCompare(b.eventTime ?? "")
    );
}

/** A client writing one row at a time through `-rw`, every `periodMs`, until stopped. */
function startWriter(env: DatabasePods, rw: Parameters<typeof psql>[1], periodMs: number) {
  const writes: { id: number; at: number; ok: boolean }[] = [];
  let stopped = false;
  const done = (async () => {
    // Bounded: the test stops it; past 15 minutes it stops by itself.
    const deadline = performance.now() + 15 * 60_000;
    for (let id = 1; !stopped && performance.now() < deadline; id++) {
      const started = performance.now();
      const result = await psql(env.sandbox, rw, `INSERT INTO t VALUES (${id})`);
      writes.push({ id, at: performance.now(), ok: result.code === 0 });
      const rest = Math.max(0, periodMs - (performance.now() - started));
      await new Promise((resolve) => setTimeout(resolve, rest));
    }
  })();
  return {
    writes,
    async stop() {
      stopped = true;
      await done;
    },
  };
}

interface RolledOut {
  /** The pods in the order their UIDs changed. */
  replaced: string[];
  /** The phases the cluster was seen in meanwhile. */
  phases: Set<string>;
  status: Record<string, string>;
  events: ClusterEvent[];
}

/**
 * Creates `name` with `replicas` instances, writes through `-rw` every 150 ms while its pod
 * template changes (the CPU request), waits until every pod is replaced and the cluster is
 * Running again, checks that no acknowledged write is lost and reports the longest gap between
 * acknowledged writes. `midway` runs once, when the first pod has been replaced.
 */
async function rollOutWhileWriting(
  env: DatabasePods,
  name: string,
  options: { replicas: number; ha?: Record<string, unknown>; midway?: () => Promise<void> },
): Promise<RolledOut> {
  const manifest = (cpu: string) => ({
    apiVersion: "database.example.com/v1",
    kind: "DatabaseCluster",
    metadata: { name },
    spec: {
      replicas: options.replicas,
      version: "15",
      storage: { size: "1Gi" },
      resources: { requests: { cpu } },
      ...(options.ha ? { ha: options.ha } : {}),
    },
  });
  await env.apply(manifest("100m"));
  const pods = Array.from({ length: options.replicas }, (_, i) => podName(name, i));
  await env.running(name, options.replicas, { primary: pods[0] });
  // Until it has been Running once, a cluster being rolled out is still Creating.
  await eventually("the cluster Running", async () => {
    const cluster = await env.resources.getOrUndefined(DatabaseClusters, name, {
      namespace: env.namespace,
    });
    return cluster?.status?.phase === "Running" ? true : undefined;
  }, { timeoutMs: 60_000, intervalMs: 250 });
  const rw = await env.readWrite(name, "require");
  await query(env.sandbox, rw, "CREATE TABLE t (id int PRIMARY KEY)");
  const uids = new Map<string, string>();
  for (const pod of pods) uids.set(pod, (await env.pod(pod))!.metadata!.uid!);

  const writer = startWriter(env, rw, 150);
  await eventually("the writer's first row", () => {
    return Promise.resolve(writer.writes.some((w) => w.ok) ? true : undefined);
  });
  const replaced: string[] = [];
  const phases = new Set<string>();
  const changedAt = performance.now();
  await env.apply(manifest("200m"));
  let status: Record<string, string> = {};
  let midway = options.midway;
  try {
    await eventually("every pod replaced and the cluster Running", async () => {
      for (const pod of pods) {
        const uid = (await env.pod(pod))?.metadata?.uid;
        if (uid && uid !== uids.get(pod) && !replaced.includes(pod)) replaced.push(pod);
      }
      if (replaced.length > 0 && midway) {
        await midway();
        midway = undefined;
      }
      const cluster = await env.resources.getOrUndefined(DatabaseClusters, name, {
        namespace: env.namespace,
      });
      status = (cluster?.status ?? {}) as Record<string, string>;
      phases.add(status.phase);
      return replaced.length === pods.length && status.phase === "Running" &&
          status.currentPrimary === status.targetPrimary
        ? true
        : undefined;
    }, { timeoutMs: 900_000, intervalMs: 250 });
    await env.running(name, options.replicas, { primary: status.currentPrimary });
  } finally {
    await writer.stop();
  }
  const rolledOutS = (performance.now() - changedAt) / 1000;
  const template = (await env.pod(status.currentPrimary))!.spec!.containers[0].resources;
  assert.equal(template?.requests?.cpu, "200m");

  // Every acknowledged write is there, and -rw takes writes again.
  await query(env.sandbox, rw, "INSERT INTO t VALUES (0)");
  const ok = writer.writes.filter((w) => w.ok);
  const stored = new Set(
    (await query(env.sandbox, rw, "SELECT id FROM t")).split("\n").map(Number),
  );
  const lost = ok.filter((w) => !stored.has(w.id)).map((w) => w.id);
  assert.deepEqual(lost, [], "no acknowledged write lost");
  let longest = 0;
  let from = 0;
  for (let i = 1; i < ok.length; i++) {
    const gap = ok[i].at - ok[i - 1].at;
    if (gap > longest) [longest, from] = [gap, ok[i - 1].at];
  }
  const failed = writer.writes.filter((w) => !w.ok).length;
  report(
    `${name}: rolled out in ${rolledOutS.toFixed(1)} s (order ${replaced.join(", ")}, primary ` +
      `now ${status.currentPrimary}); ${ok.length} writes acknowledged, ${failed} failed; ` +
      `longest gap between acknowledged writes ${(longest / 1000).toFixed(2)} s, from ` +
      `${((from - changedAt) / 1000).toFixed(1)} s after the change`,
  );
  assert.ok(ok.at(-1)!.at > from, "writes went on after the longest gap");
  return { replaced, phases, status, events: await clusterEvents(env, name) };
}

function count(events: ClusterEvent[], reason: string): number {
  return events.filter((e) => e.reason === reason).reduce((n, e) => n + (e.series?.count ?? 1), 0);
}

function notes(events: ClusterEvent[], reason: string): string[] {
  return events.filter((e) => e.reason === reason).map((e) => e.note);
}

Deno.test({
  name:
    "a pod template change replaces the standbys first, switches over once, then the old primary, with no write lost, across an operator restart",
  ignore: external,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using env = await databasePods(test, "rollout", { major: 15 });
    const pods = [0, 1, 2].map((ordinal) => podName("pg", ordinal));
    // A new operator resumes from the pods alone: it neither starts over nor deletes a second
    // pod while the first is replaced.
    const { replaced, phases, status, events } = await rollOutWhileWriting(env, "pg", {
      replicas: 3,
      midway: () => env.restartOperator(),
    });
    assert.deepEqual(replaced, [pods[2], pods[1], pods[0]], "standbys first, then the old primary");
    const deletions = notes(events, "RollingUpdate");
    assert.equal(deletions.length, 3, `one RollingUpdate event per pod:\n${deletions.join("\n")}`);
    // The old primary's pod went as a standby, after the switchover.
    for (const [i, pod] of [pods[2], pods[1], pods[0]].entries()) {
      assert.match(deletions[i], new RegExp(`^Deleted the pod of standby "${pod}"`));
    }
    const switchovers = notes(events, "SwitchoverStarted");
    assert.equal(count(events, "SwitchoverStarted"), 1, `one switchover: ${switchovers}`);
    assert.match(switchovers[0], /the rolling update replaces the primary's pod/);
    assert.equal(count(events, "FailoverStarted"), 0, "no failover");
    assert.notEqual(status.currentPrimary, pods[0], "the primary moved to a replaced standby");
    assert.ok(phases.has("Updating"), `Updating while pods were outdated: ${[...phases]}`);
  },
});

Deno.test({
  name:
    "with primaryUpdateMethod restart the primary's pod is replaced last and stays the primary, without a failover",
  ignore: external,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using env = await databasePods(test, "restart", { major: 15 });
    const pods = [0, 1].map((ordinal) => podName("pg", ordinal));
    // A failover delay far above a pod's restart here, so only an immediate failover (the
    // primary's deletion taken for its loss) could move the primary.
    const { replaced, status, events } = await rollOutWhileWriting(env, "pg", {
      replicas: 2,
      ha: { primaryUpdateMethod: "restart", failoverDelay: 120 },
    });
    assert.deepEqual(replaced, [pods[1], pods[0]], "the standby first");
    const deletions = notes(events, "RollingUpdate");
    assert.equal(deletions.length, 2, deletions.join("\n"));
    assert.match(deletions[1], /^Deleted the pod of primary "pg-0".*primaryUpdateMethod restart/);
    assert.equal(count(events, "SwitchoverStarted"), 0, "no switchover");
    assert.equal(count(events, "FailoverStarted"), 0, "no failover");
    assert.equal(status.currentPrimary, pods[0]);
  },
});
