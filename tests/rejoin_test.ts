/**
 * A former primary whose data cannot be rewound rejoins by a fresh clone.
 * The primary hangs (every process stopped), dbop decides to fail over, and
 * while it is still stopped the WAL segments in its pg_wal are deleted, as a
 * lost or recycled WAL would leave it; then it dies, and its pod is made
 * again on the same volume. Its manager finds data last a primary's: the rewind (crash
 * recovery, which needs that WAL, then pg_rewind) fails, so it records
 * `RewindFailed`, removes the data and clones from the new primary. With
 * synchronous replication (any 1) the failover loses no acknowledged write,
 * so the clone must hold every one of them.
 *
 * @module
 */
import assert from "node:assert/strict";
import { podName } from "../lib/databasecluster/names.ts";
import { PATHS } from "../lib/databasecluster/specs/common.ts";
import { databasePods } from "./harness/database_pods.ts";
import { getJson } from "./harness/clusters.ts";
import { eventually, testCluster } from "./harness/mod.ts";
import { startSampler } from "./harness/sampler.ts";
import { startWriter } from "./harness/writer.ts";

const test = testCluster();
const external = Deno.env.get("TEST_KUBECONFIG") !== undefined;

function report(line: string): void {
  Deno.stderr.writeSync(new TextEncoder().encode(`[rejoin] ${line}\n`));
}

/** A WAL segment's file name: timeline, log and segment, 8 hex digits each. */
const WAL_SEGMENT = /^[0-9A-F]{24}$/;

Deno.test({
  name: "a former primary whose WAL is gone fails to rewind, clones afresh, and streams " +
    "from the new primary with every acknowledged write",
  ignore: external,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using env = await databasePods(test, "rejoin", { major: 15 });
    const name = "pg";
    await env.apply({
      apiVersion: "database.example.com/v1",
      kind: "DatabaseCluster",
      metadata: { name },
      spec: {
        replicas: 3,
        version: "15",
        storage: { size: "1Gi" },
        // Decided well within the 30 s after which the kubelet's liveness probe would
        // restart the paused container (on its intact WAL) after the pod's grace period.
        ha: { failoverDelay: 2, synchronous: { number: 1 } },
      },
    });
    const pods = [0, 1, 2].map((ordinal) => podName(name, ordinal));
    const before = await env.running(name, 3, { primary: pods[0] });
    const systemIdentifier = before[0].systemIdentifier!;
    const rw = await env.readWrite(name, "prefer");
    await using writer = await startWriter(rw);
    await using sampler = await startSampler(env, name);
    await eventually("writes acknowledged", () => {
      const acked = writer.attempts.filter((a) => a.outcome === "acknowledged").length;
      return Promise.resolve(acked >= 50 ? true : undefined);
    }, { timeoutMs: 60_000 });

    const pgdata = env.kubelet.localPod(env.namespace, pods[0]).hostPath(PATHS.pgdata, "postgres");
    const oldUid = (await env.pod(pods[0]))!.metadata!.uid;
    const pausedAt = Date.now();
    await env.pausePod(pods[0]);
    let killed = false;
    let removed: string[] = [];
    let promoted: string;
    try {
      // Only the decision is waited for: the target's WAL receiver still holds the hung
      // primary's connection, and promotes only once it ends, here when the kill closes it
      // (else after wal_receiver_timeout, 60 s).
      promoted = await eventually("a failover decided", async () => {
        const status = await env.clusterStatus(name);
        return status.targetPrimary !== pods[0] ? status.targetPrimary : undefined;
      }, { timeoutMs: 90_000, intervalMs: 200 }) as string;
      report(`primary paused: failover to "${promoted}" decided ${Date.now() - pausedAt} ms later`);
      // Still stopped, the old primary can neither write nor recycle WAL meanwhile.
      for await (const entry of Deno.readDir(`${pgdata}/pg_wal`)) {
        if (entry.isFile && WAL_SEGMENT.test(entry.name)) removed.push(entry.name);
      }
      removed = removed.sort();
      for (const segment of removed) await Deno.remove(`${pgdata}/pg_wal/${segment}`);
      assert.ok(removed.length > 0, "the old primary had WAL segments");
      await env.killPod(pods[0]);
      killed = true;
    } finally {
      if (!killed) await env.resumePod(pods[0]);
    }
    report(
      `removed ${removed.length} WAL segments (${removed[0]} to ${removed.at(-1)}) from ` +
        `${pods[0]}'s pg_wal, then killed it`,
    );
    await eventually("the old primary's pod made again", async () => {
      const pod = await env.pod(pods[0]);
      return pod && pod.metadata!.uid !== oldUid ? true : undefined;
    }, { timeoutMs: 120_000 });

    const rejoined = await env.running(name, 3, { primary: promoted, timeoutMs: 300_000 });
    const rejoinedAt = Date.now();
    const primary = rejoined.find((s) => s.pod === promoted)!;
    const old = rejoined.find((s) => s.pod === pods[0])!;
    assert.ok(primary.timeline! >= 2, `the new primary is on timeline ${primary.timeline}`);
    assert.equal(old.timeline, primary.timeline, "the clone follows the new timeline");
    assert.equal(old.systemIdentifier, systemIdentifier, "the same database");
    assert.equal(old.role, "standby");
    assert.equal(old.walReceiverStreaming, true);

    const log = env.kubelet.logs(env.namespace, pods[0], "postgres");
    const failed = log.indexOf("pg_rewind failed, cloning afresh");
    assert.ok(failed >= 0, "the rewind failed");
    assert.ok(log.indexOf("Cloned from", failed) > failed, "then it cloned");
    assert.doesNotMatch(log, /Rewound the former primary's data/);
    const events = await getJson(test, ["get", "events", "-n", env.namespace]);
    const rewindFailed = (events.items ?? []).filter((e: { reason: string }) =>
      e.reason === "RewindFailed"
    );
    assert.equal(rewindFailed.length, 1, "one RewindFailed event");
    assert.equal(rewindFailed[0].type, "Warning");
    report(`RewindFailed: ${rewindFailed[0].message ?? rewindFailed[0].note}`);
    report(
      `rejoined by a clone: all 3 streaming ${rejoinedAt - pausedAt} ms after the pause, ` +
        `on timeline ${old.timeline}, system identifier ${old.systemIdentifier}`,
    );

    await writer.stop();
    const final = await eventually("the table read back", () => writer.verify(rw));
    assert.deepEqual(final.missing, [], "the failover lost no acknowledged write");
    assert.deepEqual(final.failedPresent, []);
    // The clone, read directly: every acknowledged id once it replayed the last ones.
    const ip = (await env.pod(pods[0]))!.status!.podIP!;
    const onClone = await eventually("every acknowledged write on the clone", async () => {
      const verification = await writer.verify({ ...rw, host: ip }).catch(() => undefined);
      return verification?.missing.length === 0 ? verification : undefined;
    }, { timeoutMs: 60_000 });
    assert.equal(onClone.present, final.present, "the clone holds what the primary holds");
    assert.deepEqual(sampler.writableAtOnce(), [], "never two writable instances");
    report(
      `writes: ${final.acknowledged} acknowledged, none lost, all on the clone; ` +
        `${final.unknown} unknown (${final.unknownPresent} committed); ` +
        `sampler rounds: ${sampler.rounds.length}`,
    );
  },
});
