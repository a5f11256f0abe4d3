/**
 * A former primary whose data cannot be rewound rejoins by a fresh clone.
 * Its WAL is made to lack what the rewind needs, as lost or recycled WAL
 * would leave it, while dbop fails over; then it dies, and its pod is made
 * again on the same volume. Its manager finds data last a primary's: the
 * rewind (crash recovery, then pg_rewind) fails, so it records
 * `RewindFailed`, removes the data and clones from the new primary. Two
 * ways: every WAL segment gone (crash recovery fails), or only those before
 * a checkpoint the old primary wrote after its standbys were cut off (crash
 * recovery starts from that checkpoint and succeeds, pg_rewind must read
 * back from the fork, before it, and fails). With synchronous replication
 * (any 1) the failover loses no acknowledged write, so the clone must hold
 * every one of them.
 *
 * @module
 */
import assert from "node:assert/strict";
import { podName, superuserSecretName } from "../lib/databasecluster/names.ts";
import { PATHS } from "../lib/databasecluster/specs/common.ts";
import { type DatabasePods, databasePods } from "./harness/database_pods.ts";
import { getJson } from "./harness/clusters.ts";
import { eventually, testCluster } from "./harness/mod.ts";
import { close, connect } from "./harness/pg_client.ts";
import { startSampler } from "./harness/sampler.ts";
import { startWriter } from "./harness/writer.ts";

const test = testCluster();
const external = Deno.env.get("TEST_KUBECONFIG") !== undefined;

function report(line: string): void {
  Deno.stderr.writeSync(new TextEncoder().encode(`[rejoin] ${line}\n`));
}

/** A WAL segment's file name: timeline, log and segment, 8 hex digits each. */
const WAL_SEGMENT = /^[0-9A-F]{24}$/;

/** The WAL segments in `pgdata`'s pg_wal, in order. */
async function walSegments(pgdata: string): Promise<string[]> {
  const segments: string[] = [];
  for await (const entry of Deno.readDir(`${pgdata}/pg_wal`)) {
    if (entry.isFile && WAL_SEGMENT.test(entry.name)) segments.push(entry.name);
  }
  return segments.sort();
}

/** Removes `segments` from `pgdata`'s pg_wal and says so. */
async function removeSegments(pgdata: string, segments: string[], pod: string): Promise<void> {
  assert.ok(segments.length > 0, "WAL segments to remove");
  for (const segment of segments) await Deno.remove(`${pgdata}/pg_wal/${segment}`);
  report(
    `removed ${segments.length} WAL segments (${segments[0]} to ${segments.at(-1)}) ` +
      `from ${pod}'s pg_wal`,
  );
}

function failoverDecided(env: DatabasePods, name: string, from: string): Promise<string> {
  return eventually("a failover decided", async () => {
    const status = await env.clusterStatus(name);
    return status.targetPrimary !== from ? status.targetPrimary : undefined;
  }, { timeoutMs: 90_000, intervalMs: 200 }) as Promise<string>;
}

interface Fault {
  env: DatabasePods;
  name: string;
  /** The primary, ordinal 0. */
  pod: string;
  /** Its PGDATA on the host. */
  pgdata: string;
}

/**
 * Runs 3 instances under write load, lets `breakPrimary` break the primary's WAL and
 * have a failover decided (resolving with the new target), kills the old primary and
 * checks that it rejoins by a clone; `rewindError` must match why the rewind failed.
 */
async function rejoinsByClone(
  prefix: string,
  breakPrimary: (fault: Fault) => Promise<string>,
  rewindError: RegExp,
): Promise<void> {
  await using env = await databasePods(test, prefix, { major: 15 });
  const name = "pg";
  await env.apply({
    apiVersion: "database.example.com/v1",
    kind: "DatabaseCluster",
    metadata: { name },
    spec: {
      replicas: 3,
      version: "15",
      storage: { size: "1Gi" },
      ha: { failoverDelay: 2, synchronous: { number: 1 } },
      // The second case switches WAL and checkpoints on the old primary as the superuser.
      security: { enableSuperuserAccess: true },
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
  const faultAt = Date.now();
  const promoted = await breakPrimary({ env, name, pod: pods[0], pgdata });
  await env.killPod(pods[0]);
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
  assert.match(rewindFailed[0].message, rewindError);
  report(`RewindFailed: ${rewindFailed[0].message.replace(/\s+/g, " ")}`);
  report(
    `rejoined by a clone: all 3 streaming ${rejoinedAt - faultAt} ms after the fault, ` +
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
}

Deno.test({
  name: "a former primary whose WAL is all gone fails its crash recovery before pg_rewind, " +
    "clones afresh, and streams from the new primary with every acknowledged write",
  ignore: external,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await rejoinsByClone("rejoin", async ({ env, name, pod, pgdata }) => {
      const pausedAt = Date.now();
      await env.pausePod(pod);
      let broken = false;
      try {
        // Decided well within the 30 s after which the kubelet's liveness probe would
        // restart the paused container (on its intact WAL) after the pod's grace period.
        // Only the decision is waited for: the target's WAL receiver still holds the hung
        // primary's connection, and promotes only once it ends, here when the kill closes
        // it (else after wal_receiver_timeout, 60 s).
        const promoted = await failoverDecided(env, name, pod);
        report(
          `primary paused: failover to "${promoted}" decided ${Date.now() - pausedAt} ms later`,
        );
        // Still stopped, the old primary can neither write nor recycle WAL meanwhile.
        await removeSegments(pgdata, await walSegments(pgdata), pod);
        broken = true;
        return promoted;
      } finally {
        // The caller kills it; only a failure here must not leave it stopped.
        if (!broken) await env.resumePod(pod);
      }
    }, /"postgres" failed with code 1 completing the crash recovery/);
  },
});

Deno.test({
  name: "a former primary that lacks only the WAL before its last checkpoint recovers, then " +
    "pg_rewind fails, it clones afresh, and streams with every acknowledged write",
  ignore: external,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await rejoinsByClone("rejoin-wal", async ({ env, name, pod, pgdata }) => {
      const superuser = await env.secret(superuserSecretName(name));
      const direct = {
        host: (await env.pod(pod))!.status!.podIP!,
        port: 5432,
        user: superuser.username,
        password: superuser.password,
        dbname: "postgres",
        sslmode: "prefer",
      };
      const client = connect(direct, { applicationName: "dbop-rejoin", connectTimeoutMs: 5_000 });
      // Connected before the cut, so the seconds until it fences go to the SQL alone.
      await client.unsafe("SELECT 1");
      await env.partitionPod(pod);
      const cutAt = Date.now();
      let broken = false;
      try {
        // Cut off from its standbys, the primary still takes the test's SQL until it fences
        // itself (its Lease unrenewed, 3 to 4 s): a new WAL segment and a checkpoint in it,
        // after the fork, which no standby receives. Its crash recovery starts there.
        let redoSegment: string;
        try {
          await client.unsafe("SELECT pg_switch_wal()");
          await client.unsafe("CHECKPOINT");
          const [row] = await client.unsafe(
            "SELECT pg_walfile_name(redo_lsn) AS segment FROM pg_control_checkpoint()",
          );
          redoSegment = row.segment;
        } finally {
          await close(client);
        }
        report(
          `primary partitioned: a checkpoint in ${redoSegment} ${Date.now() - cutAt} ms later`,
        );
        await eventually("the primary fenced", () =>
          Promise.resolve(
            /Fenced/.test(env.kubelet.logs(env.namespace, pod, "postgres")) ? true : undefined,
          ), { timeoutMs: 60_000, intervalMs: 100 });
        // The target then promotes only once its WAL receiver gives up on the cut connection
        // (wal_receiver_timeout, 60 s after the cut): the kill does not end it here.
        const promoted = await failoverDecided(env, name, pod);
        // PostgreSQL is down (fenced) and its manager cannot reach the Lease to start it again.
        const segments = await walSegments(pgdata);
        assert.ok(segments.includes(redoSegment), `${redoSegment} kept`);
        await removeSegments(pgdata, segments.filter((s) => s < redoSegment), pod);
        broken = true;
        return promoted;
      } finally {
        // The caller kills it; only a failure here must not leave its kubelet cut off.
        if (!broken) await env.healPod(pod);
      }
    }, /"pg_rewind" failed with code 1/);
  },
});
