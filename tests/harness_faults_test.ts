/**
 * The fault tools the failover tests stand on, proven on a cluster without
 * failover (`ha.enabled: false`, so the topology stays put): the writer (`harness/writer.ts`) commits through `-rw` and
 * records every id, the sampler (`harness/sampler.ts`) asks each instance
 * directly whether it takes writes, and the kubelet pauses a pod's processes
 * and kills a pod as a dying node would. Pausing the primary must show as a
 * writer outage as long as the pause; killing it must show as crash recovery
 * in the recreated pod on the same volume; after both, no acknowledged id
 * may be missing, and the sampler must have seen exactly one writable
 * instance, the primary, while it ran. Each tool is also shown to fail: a
 * row deleted behind the writer is missing, and a standby promoted by hand
 * is a second writable instance.
 *
 * @module
 */
import assert from "node:assert/strict";
import { compareLsn } from "../lib/api/mod.ts";
import { podName } from "../lib/databasecluster/names.ts";
import { PATHS } from "../lib/databasecluster/specs/common.ts";
import { SUPERUSER } from "../lib/databasecluster/specs/secrets.ts";
import { STATUS_PORT } from "../lib/databasecluster/specs/instance_pod.ts";
import { databasePods } from "./harness/database_pods.ts";
import { eventually, testCluster } from "./harness/mod.ts";
import { query } from "./harness/psql.ts";
import { startSampler } from "./harness/sampler.ts";
import { outageDuring } from "./harness/write_record.ts";
import { startWriter } from "./harness/writer.ts";

const test = testCluster();
const external = Deno.env.get("TEST_KUBECONFIG") !== undefined;

/**
 * Shorter than the readiness probe's 3 failures 5 s apart, so `-rw` keeps its endpoint, and
 * than the 4 s after which a primary that renewed nothing fences itself.
 */
const PAUSE_MS = 3_000;

function report(line: string): void {
  Deno.stderr.writeSync(new TextEncoder().encode(`[faults] ${line}\n`));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

Deno.test({
  name: "a paused and then killed primary: the writer loses no acknowledged id, " +
    "the sampler sees one writable instance",
  ignore: external,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using env = await databasePods(test, "faults", { major: 15 });
    const name = "pg";
    const tls = env.sandbox.install.ssl;
    await env.apply({
      apiVersion: "database.example.com/v1",
      kind: "DatabaseCluster",
      metadata: { name },
      spec: {
        replicas: 3,
        version: "15",
        storage: { size: "1Gi" },
        security: { tls: { enabled: tls } },
        ha: { enabled: false },
      },
    });
    const [primary, ...standbys] = [0, 1, 2].map((ordinal) => podName(name, ordinal));
    await env.running(name, 3);
    const rw = await env.readWrite(name, tls ? "require" : "disable");
    await using writer = await startWriter(rw);
    await using sampler = await startSampler(env, name);
    const commitsAfter = (at: number) =>
      eventually(`commits acknowledged after ${new Date(at).toISOString()}`, () => {
        const later = writer.attempts.filter((a) => a.outcome === "acknowledged" && a.sentAt > at);
        return Promise.resolve(later.length >= 20 ? true : undefined);
      }, { timeoutMs: 240_000 });
    await commitsAfter(writer.startedAt);

    // (a) A hung primary: every process stopped, then continued.
    const pausedAt = Date.now();
    await env.pausePod(primary);
    // Finding and stopping the whole tree takes a while on a busy machine: rounds from here on.
    const stoppedAt = Date.now();
    await sleep(PAUSE_MS);
    await env.resumePod(primary);
    const resumedAt = Date.now();
    await commitsAfter(resumedAt);
    const pause = outageDuring(writer.outages(), pausedAt, resumedAt);
    assert.ok(pause, "an outage during the pause");
    assert.ok(!pause.open, "the writer resumed");
    assert.ok(
      pause.ms >= PAUSE_MS - 200 && pause.ms <= PAUSE_MS + 3_000,
      `the outage (${pause.ms} ms) is about as long as the pause (${resumedAt - pausedAt} ms)`,
    );
    report(`pause of ${resumedAt - pausedAt} ms: the writer's outage ${pause.ms} ms`);

    // (b) A dead node: all of the primary's processes killed at once, its pod force-deleted.
    const oldUid = (await env.pod(primary))!.metadata!.uid;
    const killedAt = Date.now();
    const killed = await env.killPod(primary);
    const deletedAt = Date.now();
    // The instance manager, the postmaster, its auxiliary processes and the backends.
    assert.ok(killed >= 5, `${killed} processes killed`);
    await eventually("the primary's pod recreated", async () => {
      const pod = await env.pod(primary);
      return pod && pod.metadata!.uid !== oldUid ? true : undefined;
    }, { timeoutMs: 120_000 });
    const recreatedAt = Date.now();
    await env.running(name, 3, { timeoutMs: 240_000 });
    const runningAt = Date.now();
    await commitsAfter(runningAt);
    const recoveredIn = outageDuring(writer.outages(), killedAt, deletedAt);
    assert.ok(recoveredIn && !recoveredIn.open, "the writer resumed after the kill");
    assert.match(
      env.kubelet.logs(env.namespace, primary, "postgres"),
      /database system was interrupted|not properly shut down/,
      "PostgreSQL recovered from a crash on the same volume",
    );
    report(
      `kill (${killed} processes): the writer's outage ${recoveredIn.ms} ms; pod recreated ` +
        `after ${recreatedAt - killedAt} ms, all 3 running and streaming after ${
          runningAt - killedAt
        } ms`,
    );
    const servers = new Map<string, number[]>();
    for (const attempt of writer.attempts) {
      if (attempt.outcome !== "acknowledged") continue;
      servers.set(attempt.server!, [...servers.get(attempt.server!) ?? [], attempt.id]);
    }
    assert.equal(servers.size, 2, "acknowledged by the first primary, then by the recreated one");
    report(
      `acknowledged by: ${
        [...servers].map(([server, ids]) =>
          `${server} (${ids.length} ids, ${ids[0]} to ${ids.at(-1)})`
        )
          .join(", ")
      }`,
    );

    await writer.stop();
    const verification = await eventually(
      "the table read back through -rw",
      () => writer.verify(rw),
    );
    report(
      `writes: ${verification.acknowledged} acknowledged, ${verification.unknown} unknown ` +
        `(${verification.unknownPresent} committed), ` +
        `${writer.attempts.filter((a) => a.outcome === "failed").length} failed, ` +
        `${writer.connectFailures.count} failed connection attempts`,
    );
    assert.deepEqual(verification.missing, [], "no acknowledged id is missing");
    assert.deepEqual(verification.failedPresent, [], "no failed id committed");
    // verify() can fail: an acknowledged row removed behind the writer's back is missing.
    const removed = writer.acknowledged()[10];
    await query(env.sandbox, rw, `DELETE FROM ${writer.table} WHERE id = ${removed}`);
    assert.deepEqual((await writer.verify(rw)).missing, [removed]);

    const rounds = sampler.rounds.slice();
    assert.deepEqual(sampler.writableAtOnce(), [], "never two writable instances");
    const writableRounds = (uid?: string) =>
      rounds.filter((r) => r.instances.some((i) => i.uid === uid && i.writable));
    const newUid = (await env.pod(primary))!.metadata!.uid;
    assert.ok(writableRounds(oldUid).length > 0, "the first primary was seen writable");
    assert.ok(writableRounds(newUid).length > 0, "the recreated primary was seen writable");
    const duringPause = rounds.filter((r) => r.at > stoppedAt && r.at < resumedAt - 1_500);
    assert.ok(duringPause.length > 0);
    assert.deepEqual(writableRounds(oldUid).filter((r) => duringPause.includes(r)), []);
    for (const standby of standbys) {
      const samples = rounds.flatMap((r) => r.instances.filter((i) => i.pod === standby));
      assert.ok(samples.some((s) => s.inRecovery === true), `${standby} was seen in recovery`);
      assert.ok(samples.every((s) => !s.writable), `${standby} never took a write`);
    }
    report(
      `sampler: ${rounds.length} rounds, ${
        writableRounds(oldUid).length + writableRounds(newUid).length
      } with the primary writable, none with two`,
    );

    // The sampler can fail: a standby promoted by hand is a second writable instance.
    const promotedAt = Date.now();
    // On the standby's own socket: the superuser may not log in over the network.
    await query(env.sandbox, {
      host: env.kubelet.localPod(env.namespace, standbys[0]).hostPath(PATHS.socket),
      port: 5432,
      user: SUPERUSER,
      dbname: "postgres",
    }, "SELECT pg_promote()");
    const split = await eventually(
      "the sampler seeing two writable instances",
      () => Promise.resolve(sampler.writableAtOnce()[0]),
    );
    assert.deepEqual(split.instances.filter((i) => i.writable).map((i) => i.pod), [
      primary,
      standbys[0],
    ]);
    report(
      `a standby promoted by hand: seen writable with the primary ${
        split.at - promotedAt
      } ms later (round ${split.round})`,
    );
    await sampler.stop();
  },
});

Deno.test({
  name: "a partitioned primary is cut off the API server and its standby, still reached by " +
    "the test's clients, and fences itself; healed, it runs again and the standby catches up",
  ignore: external,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using env = await databasePods(test, "partition", { major: 15 });
    const name = "pg";
    await env.apply({
      apiVersion: "database.example.com/v1",
      kind: "DatabaseCluster",
      metadata: { name },
      spec: { replicas: 2, version: "15", storage: { size: "1Gi" }, ha: { enabled: false } },
    });
    const [primary, standby] = [0, 1].map((ordinal) => podName(name, ordinal));
    await env.running(name, 2);
    const rw = await env.readWrite(name, "disable");
    await using writer = await startWriter(rw);
    await using sampler = await startSampler(env, name);
    const ipOf = async (pod: string) => (await env.pod(pod))!.status!.podIP!;
    const [primaryIP, standbyIP] = [await ipOf(primary), await ipOf(standby)];
    const api = new URL(env.resources.client.server);
    // Whether a TCP connection opens from inside the pod's container within 2 s. The peers
    // are tried on the instance managers' port, open whether PostgreSQL runs or not.
    const reaches = async (pod: string, host: string, port: string | number) =>
      (await env.kubelet.localPod(env.namespace, pod).exec("postgres", [
        "timeout",
        "2",
        "bash",
        "-c",
        `</dev/tcp/${host}/${port}`,
      ], { timeoutMs: 10_000 })).code === 0;
    const paths = async () => {
      const [primaryToApi, primaryToStandby, standbyToPrimary, standbyToApi] = await Promise.all([
        reaches(primary, api.hostname, api.port),
        reaches(primary, standbyIP, STATUS_PORT),
        reaches(standby, primaryIP, STATUS_PORT),
        reaches(standby, api.hostname, api.port),
      ]);
      return { primaryToApi, primaryToStandby, standbyToPrimary, standbyToApi };
    };
    const open = {
      primaryToApi: true,
      primaryToStandby: true,
      standbyToPrimary: true,
      standbyToApi: true,
    };
    assert.deepEqual(await paths(), open);
    await eventually(
      "commits before the partition",
      () => Promise.resolve(writer.acknowledged().length >= 20 ? true : undefined),
    );

    await env.partitionPod(primary);
    const cutAt = Date.now();
    // Measured before the primary fences (its Lease lapses 3 to 4 s after the cut): the
    // standby streams through -rw, held, so it receives nothing while the writer commits on.
    const received = (await env.instanceStatus(name, standby))?.receivedLsn;
    await sleep(1_500);
    const primaryLsn = (await env.instanceStatus(name, primary))?.currentLsn;
    const during = (await env.instanceStatus(name, standby))?.receivedLsn;
    assert.ok(received && primaryLsn, "both instances answer the test process");
    assert.equal(during, received, "the standby received nothing");
    assert.ok(compareLsn(primaryLsn, received) > 0, "while the primary's WAL went on");
    assert.deepEqual(await paths(), {
      primaryToApi: false,
      primaryToStandby: false,
      standbyToPrimary: false,
      standbyToApi: true,
    });
    // Cut off the API server, it cannot renew the primary Lease: it stops taking writes.
    const fenced = await eventually("the primary fenced", () =>
      Promise.resolve(
        /Fenced/.test(env.kubelet.logs(env.namespace, primary, "postgres"))
          ? Date.now()
          : undefined,
      ), { timeoutMs: 60_000, intervalMs: 100 });
    const healedAt = Date.now();
    await env.healPod(primary);
    assert.deepEqual(await paths(), open);
    await eventually("the standby caught up", async () => {
      const lsn = (await env.instanceStatus(name, standby))?.receivedLsn;
      return lsn && compareLsn(lsn, primaryLsn) >= 0 ? true : undefined;
    }, { timeoutMs: 120_000 });
    await eventually("commits after healing", () =>
      Promise.resolve(
        writer.attempts.filter((a) => a.outcome === "acknowledged" && a.sentAt > healedAt)
            .length >= 20
          ? true
          : undefined,
      ), { timeoutMs: 120_000 });
    await writer.stop();
    await sampler.stop();

    const beforeFence = writer.attempts.filter((a) =>
      a.outcome === "acknowledged" && a.sentAt > cutAt && a.answeredAt < fenced
    );
    assert.ok(beforeFence.length >= 20, `${beforeFence.length} commits while partitioned`);
    const outage = outageDuring(writer.outages(), fenced - 1, healedAt);
    assert.ok(outage && !outage.open, "the writer resumed after healing");
    assert.deepEqual((await writer.verify(rw)).missing, [], "no acknowledged id is missing");
    assert.deepEqual(sampler.writableAtOnce(), []);
    const reached = sampler.rounds.filter((r) =>
      r.at > cutAt &&
      r.instances.some((i) => i.pod === primary && i.writable && i.answeredAt < fenced)
    );
    assert.ok(reached.length > 0, "the sampler reached the partitioned primary");
    report(
      `partition: ${beforeFence.length} commits in it until the primary fenced ` +
        `${fenced - cutAt} ms after the cut; healed after ${healedAt - cutAt} ms, ` +
        `the writer's outage ${outage.ms} ms`,
    );
  },
});
