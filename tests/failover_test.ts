/**
 * Failover and switchover on real PostgreSQL through dbop's instance
 * managers, on the emulated kubelet, under write load: an independent
 * writer commits through `-rw` and records every acknowledged id, a sampler
 * asks every instance directly whether it takes writes. The operator moves
 * `status.targetPrimary`, the old primary's manager stops PostgreSQL, the
 * target promotes in place once it holds the primary Lease, and the old
 * primary rejoins as a standby through pg_rewind.
 *
 * @module
 */
import assert from "node:assert/strict";
import { ANNOTATIONS, podName } from "../lib/databasecluster/names.ts";
import { type DatabasePods, databasePods } from "./harness/database_pods.ts";
import { getJson } from "./harness/clusters.ts";
import { eventually, testCluster } from "./harness/mod.ts";
import { query } from "./harness/psql.ts";
import { startSampler } from "./harness/sampler.ts";
import { outageDuring } from "./harness/write_record.ts";
import { startWriter, type Writer } from "./harness/writer.ts";

const test = testCluster();
const external = Deno.env.get("TEST_KUBECONFIG") !== undefined;

function report(line: string): void {
  Deno.stderr.writeSync(new TextEncoder().encode(`[failover] ${line}\n`));
}

/** The first acknowledged commit sent after `at`, by a server other than `not`. */
function firstAckAfter(writer: Writer, at: number, not?: string) {
  return writer.attempts.find((a) =>
    a.outcome === "acknowledged" && a.sentAt > at && a.server !== not
  );
}

/** When (ms after `since`) `pod`'s instance manager logged each step of a change of primary. */
function managerSteps(env: DatabasePods, pod: string, since: number): [number, string][] {
  const steps = /Stopped PostgreSQL|Released|Holds the primary Lease|Promoted to primary/;
  return env.kubelet.logs(env.namespace, pod, "postgres").split("\n")
    .filter((line) => line.startsWith('{"@timestamp"'))
    .map((line) => JSON.parse(line) as { "@timestamp": string; message: string })
    .map((entry): [number, string] => [
      Date.parse(entry["@timestamp"]) - since,
      `${pod}: ${entry.message.replace(/\s*\(.*$/, "")}`,
    ])
    .filter(([ms, step]) => ms >= 0 && steps.test(step));
}

async function eventReasons(env: DatabasePods): Promise<string[]> {
  const list = await getJson(test, ["get", "events", "-n", env.namespace]);
  return (list.items ?? []).map((e: { reason: string }) => e.reason);
}

Deno.test({
  name: "a killed primary fails over under write load, rejoins through pg_rewind, and a " +
    "switchover loses nothing",
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
    await env.running(name, 3, { primary: pods[0] });
    const rw = await env.readWrite(name, "prefer");
    await using writer = await startWriter(rw);
    await using sampler = await startSampler(env, name);
    await eventually("writes acknowledged", () => Promise.resolve(firstAckAfter(writer, 0)));
    const oldServer = firstAckAfter(writer, 0)!.server;
    const primaryLsn = (await env.instanceStatus(name, pods[0]))?.currentLsn;

    // A dying node: every process of the primary killed at once, its pod force-deleted.
    const killedAt = Date.now();
    await env.killPod(pods[0]);
    const resumed = await eventually(
      "a write acknowledged by another server",
      () => Promise.resolve(firstAckAfter(writer, killedAt, oldServer)),
      { timeoutMs: 120_000, intervalMs: 100 },
    );
    const promoted = (await env.clusterStatus(name)).currentPrimary as string;
    assert.notEqual(promoted, pods[0]);
    report(
      `primary killed: "${promoted}" acknowledged a write through -rw ${
        ((resumed.answeredAt - killedAt) / 1000).toFixed(1)
      } s after the kill (its primary was last polled at ${primaryLsn})`,
    );
    const reasons = await eventReasons(env);
    assert.ok(reasons.includes("FailoverStarted"), `FailoverStarted in ${reasons}`);
    assert.ok(reasons.includes("PrimaryPromoted"), `PrimaryPromoted in ${reasons}`);

    // The old primary comes back (the StatefulSet makes its pod again, on the same volume)
    // and streams from the new one, on the new timeline, without a clone.
    // A standby that streams may still be receiving the end of the old timeline: its
    // reported timeline (the one it receives) moves on once it reaches the switch point.
    const rejoined = await env.running(name, 3, { primary: promoted });
    const timeline = rejoined.find((s) => s.pod === promoted)!.timeline!;
    assert.ok(timeline >= 2, `the new primary is on timeline ${timeline}`);
    await eventually(`every instance on timeline ${timeline}`, async () => {
      const all = await env.running(name, 3, { primary: promoted });
      return all.every((s) => s.timeline === timeline) || undefined;
    }, { timeoutMs: 60_000 });
    const log = env.kubelet.logs(env.namespace, pods[0], "postgres");
    assert.match(log, /Rewound the former primary's data to rejoin/);
    assert.doesNotMatch(log, /Cloning from/, "the old primary did not clone");
    const other = pods.find((pod) => pod !== pods[0] && pod !== promoted)!;
    const clones = env.kubelet.logs(env.namespace, other, "postgres").match(/Cloning from/g);
    assert.equal(clones?.length, 1, `${other} followed the new timeline without a second clone`);
    const afterFailover = await eventually("the table read back", () => writer.verify(rw));
    // Asynchronous replication: what the old primary acknowledged and no standby received is
    // gone; the standby's received LSN against the primary's bounds it.
    report(
      `asynchronous failover: ${afterFailover.missing.length} of ${afterFailover.acknowledged} ` +
        `acknowledged ids lost (${afterFailover.missing.slice(0, 10).join(", ")})`,
    );

    // Switchover back to ordinal 0, asked declaratively with the annotation, under load.
    const askedAt = Date.now();
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
      const status = await env.clusterStatus(name);
      return status.currentPrimary === pods[0] && status.targetPrimary === pods[0]
        ? true
        : undefined;
    }, { timeoutMs: 120_000, intervalMs: 200 });
    const promotedServer = firstAckAfter(writer, killedAt, oldServer)!.server;
    await eventually(
      "a write acknowledged by ordinal 0 again",
      () => Promise.resolve(firstAckAfter(writer, askedAt, promotedServer)),
      { timeoutMs: 60_000, intervalMs: 100 },
    );
    const outage = outageDuring(writer.outages(), askedAt, Date.now());
    report(`switchover to ${pods[0]}: the longest write outage ${outage?.ms} ms`);
    report(
      `switchover timeline: ${
        [...managerSteps(env, promoted, askedAt), ...managerSteps(env, pods[0], askedAt)]
          .sort((a, b) => a[0] - b[0]).map(([ms, step]) => `+${ms} ms ${step}`).join("; ")
      }; the outage from +${(outage?.from ?? askedAt) - askedAt} to +${
        (outage?.to ?? askedAt) - askedAt
      } ms`,
    );
    await env.running(name, 3, { primary: pods[0] });
    assert.equal((await env.clusterStatus(name)).promoteRequest, pods[0]);
    await writer.stop();
    const final = await eventually("the table read back", () => writer.verify(rw));
    assert.deepEqual(final.missing, afterFailover.missing, "the switchover lost nothing");
    assert.deepEqual(final.failedPresent, []);
    assert.deepEqual(sampler.writableAtOnce(), [], "never two writable instances");
    report(
      `writes: ${final.acknowledged} acknowledged, sampler rounds: ${sampler.rounds.length}`,
    );
  },
});

Deno.test({
  name: "with required synchronous replication, commits wait for a standby, and a failover " +
    "waits for a quorum and loses no acknowledged write",
  ignore: external,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using env = await databasePods(test, "synchronous", { major: 15 });
    const name = "pg";
    await env.apply({
      apiVersion: "database.example.com/v1",
      kind: "DatabaseCluster",
      metadata: { name },
      spec: {
        replicas: 3,
        version: "15",
        storage: { size: "1Gi" },
        ha: { synchronous: { number: 1 } },
      },
    });
    const pods = [0, 1, 2].map((ordinal) => podName(name, ordinal));
    await env.running(name, 3, { primary: pods[0] });
    const rw = await env.readWrite(name, "prefer");
    await eventually("synchronous_standby_names in force", async () => {
      const names = await query(env.sandbox, rw, "SHOW synchronous_standby_names");
      return names === 'ANY 1 ("pg-0", "pg-1", "pg-2")' ? true : undefined;
    });
    await using writer = await startWriter(rw);
    await using sampler = await startSampler(env, name);
    await eventually("writes acknowledged", () => Promise.resolve(firstAckAfter(writer, 0)));

    // No standby to confirm: commits wait rather than succeed unreplicated.
    await env.pausePod(pods[1]);
    await env.pausePod(pods[2]);
    const pausedAt = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    assert.equal(firstAckAfter(writer, pausedAt + 500), undefined, "no commit without a standby");
    await env.resumePod(pods[2]);
    const resumedAt = Date.now();
    await eventually(
      "commits confirmed by the resumed standby",
      () => Promise.resolve(firstAckAfter(writer, resumedAt)),
      { timeoutMs: 30_000, intervalMs: 100 },
    );

    // The primary dies while one standby is still hung: the other one has every commit, but
    // dbop cannot know that the hung one has no later one, so it promotes neither.
    const killedAt = Date.now();
    await env.killPod(pods[0]);
    await eventually("NoFailoverQuorum", async () => {
      return (await eventReasons(env)).includes("NoFailoverQuorum") ? true : undefined;
    }, { timeoutMs: 60_000 });
    assert.equal((await env.clusterStatus(name)).targetPrimary, pods[0], "nothing promoted");
    await env.resumePod(pods[1]);
    // The StatefulSet made the primary's pod again on its volume: with no failover possible
    // when it came back, it is the primary again.
    const resumed = await eventually(
      "a write acknowledged after the kill",
      () => Promise.resolve(firstAckAfter(writer, killedAt)),
      { timeoutMs: 120_000, intervalMs: 100 },
    );
    const status = await env.clusterStatus(name);
    report(
      `primary killed with a standby hung: no promotion without a quorum; "${status.currentPrimary}" ` +
        `acknowledged a write ${
          ((resumed.answeredAt - killedAt) / 1000).toFixed(1)
        } s after the kill`,
    );
    await writer.stop();
    const final = await eventually("the table read back", () => writer.verify(rw));
    assert.deepEqual(final.missing, [], "every acknowledged write is present");
    assert.deepEqual(final.failedPresent, []);
    assert.deepEqual(sampler.writableAtOnce(), [], "never two writable instances");
    report(`writes: ${final.acknowledged} acknowledged, none lost`);
  },
});
