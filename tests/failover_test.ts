/**
 * Failover and switchover on real PostgreSQL through dbop's instance
 * managers, on the emulated kubelet: the operator moves
 * `status.targetPrimary`, the old primary's manager stops PostgreSQL, the
 * target promotes in place, and the old primary rejoins as a standby
 * through pg_rewind.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { InstanceStatus } from "../lib/api/mod.ts";
import { ANNOTATIONS, podName } from "../lib/databasecluster/names.ts";
import { type DatabasePods, databasePods } from "./harness/database_pods.ts";
import { getJson } from "./harness/clusters.ts";
import { eventually, testCluster } from "./harness/mod.ts";
import { psql, query } from "./harness/psql.ts";

const test = testCluster();
const external = Deno.env.get("TEST_KUBECONFIG") !== undefined;

function report(line: string): void {
  Deno.stderr.writeSync(new TextEncoder().encode(`[failover] ${line}\n`));
}

/** Waits until `primary` runs as the primary and every other instance streams from it. */
async function settled(
  env: DatabasePods,
  name: string,
  replicas: number,
  primary: string,
  timeoutMs = 180_000,
): Promise<InstanceStatus[]> {
  const pods = Array.from({ length: replicas }, (_, i) => podName(name, i));
  try {
    return await eventually(`"${primary}" primary, the others streaming`, async () => {
      const all = await Promise.all(pods.map((pod) => env.instanceStatus(name, pod)));
      const ok = all.every((s, i) =>
        s?.postgres === "running" &&
        (pods[i] === primary
          ? s.role === "primary"
          : s.role === "standby" && s.walReceiverStreaming === true)
      );
      return ok ? all as InstanceStatus[] : undefined;
    }, { timeoutMs, intervalMs: 500 });
  } catch (error) {
    const managers = pods.map((pod) => {
      const lines = env.kubelet.logs(env.namespace, pod, "postgres").split("\n");
      const own = lines.filter((line) => line.startsWith('{"@timestamp"')).slice(-25);
      return `--- ${pod}: the instance manager's last lines\n${own.join("\n")}`;
    });
    throw new Error(
      `${(error as Error).message}\n${env.logTails(pods, 30)}\n${managers.join("\n")}`,
    );
  }
}

async function clusterStatus(env: DatabasePods, name: string) {
  return (await getJson(test, ["get", "databasecluster", name, "-n", env.namespace])).status ?? {};
}

async function eventReasons(env: DatabasePods): Promise<string[]> {
  const list = await getJson(test, ["get", "events", "-n", env.namespace]);
  return (list.items ?? []).map((e: { reason: string }) => e.reason);
}

Deno.test({
  name: "a lost primary fails over to a standby, and the old one rejoins through pg_rewind",
  ignore: external,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using env = await databasePods(test, "failover", { major: 15 });
    const name = "pg";
    await env.apply({
      apiVersion: "database.example.com/v1",
      kind: "DatabaseCluster",
      metadata: { name },
      spec: { replicas: 3, version: "15", storage: { size: "1Gi" } },
    });
    const pods = [0, 1, 2].map((ordinal) => podName(name, ordinal));
    await settled(env, name, 3, pods[0]);
    const rw = await env.readWrite(name, "prefer");
    await query(env.sandbox, rw, "CREATE TABLE t (id int PRIMARY KEY)");
    await query(env.sandbox, rw, "INSERT INTO t SELECT generate_series(1, 100)");
    // Both standbys have the rows, so whichever is promoted must hold them.
    await eventually("every instance at the primary's LSN", async () => {
      const lsn = await query(env.sandbox, rw, "SELECT pg_current_wal_lsn()");
      const all = await Promise.all(pods.map((pod) => env.instanceStatus(name, pod)));
      return all.slice(1).every((s) => s?.replayedLsn === lsn) ? true : undefined;
    });

    const lostAt = performance.now();
    await test.kubectlOk([
      "delete",
      "pod",
      pods[0],
      "-n",
      env.namespace,
      "--grace-period=0",
      "--force",
    ]);
    const promoted = await eventually("a standby promoted", async () => {
      const status = await clusterStatus(env, name);
      return status.currentPrimary && status.currentPrimary !== pods[0] &&
          status.targetPrimary === status.currentPrimary
        ? status.currentPrimary as string
        : undefined;
    }, { timeoutMs: 120_000, intervalMs: 200 });
    await eventually("a write through -rw", async () => {
      const result = await psql(env.sandbox, rw, "INSERT INTO t VALUES (101)");
      return result.code === 0 ? true : undefined;
    }, { timeoutMs: 60_000, intervalMs: 100 });
    report(
      `pod ${pods[0]} deleted: "${promoted}" accepted a write through -rw after ${
        ((performance.now() - lostAt) / 1000).toFixed(1)
      } s`,
    );
    assert.equal(await query(env.sandbox, rw, "SELECT count(*) FROM t"), "101");
    const reasons = await eventReasons(env);
    assert.ok(reasons.includes("FailoverStarted"), `FailoverStarted in ${reasons}`);
    assert.ok(reasons.includes("PrimaryPromoted"), `PrimaryPromoted in ${reasons}`);

    // The old primary comes back (the StatefulSet makes its pod again, on the same volume)
    // and streams from the new one, on the new timeline, without a clone.
    const rejoined = await settled(env, name, 3, promoted);
    const timeline = rejoined.find((s) => s.pod === promoted)!.timeline!;
    assert.ok(timeline >= 2, `the new primary is on timeline ${timeline}`);
    assert.ok(rejoined.every((s) => s.timeline === timeline), "every instance on that timeline");
    const log = env.kubelet.logs(env.namespace, pods[0], "postgres");
    assert.doesNotMatch(log, /Cloning from/, `the old primary did not clone:\n${log}`);

    // Switchover back to ordinal 0, asked declaratively with the annotation.
    const askedAt = performance.now();
    await test.kubectlOk([
      "annotate",
      "databasecluster",
      name,
      "-n",
      env.namespace,
      `${ANNOTATIONS.promote}=${pods[0]}`,
      "--overwrite",
    ]);
    await eventually("the switchover done", async () => {
      const status = await clusterStatus(env, name);
      return status.currentPrimary === pods[0] && status.targetPrimary === pods[0]
        ? true
        : undefined;
    }, { timeoutMs: 120_000, intervalMs: 200 });
    await eventually("a write through -rw after the switchover", async () => {
      const result = await psql(env.sandbox, rw, "INSERT INTO t VALUES (102)");
      return result.code === 0 ? true : undefined;
    }, { timeoutMs: 60_000, intervalMs: 100 });
    report(
      `switchover to ${pods[0]}: a write through -rw after ${
        ((performance.now() - askedAt) / 1000).toFixed(1)
      } s`,
    );
    assert.equal(await query(env.sandbox, rw, "SELECT count(*) FROM t"), "102");
    await settled(env, name, 3, pods[0]);
    assert.equal((await clusterStatus(env, name)).promoteRequest, pods[0]);
  },
});
