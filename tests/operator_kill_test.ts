/**
 * The operator SIGKILLed mid-change, as a crash or the OOM killer would: it
 * runs as a `dbop run` child process, so nothing of it survives but what it
 * wrote to the API server. Once during a failover (`status.targetPrimary`
 * moved, `currentPrimary` not yet); twice during a rolling update (the first
 * pod replaced, then mid-switchover). A new process started a few seconds
 * later, once the managers acted on what the killed one wrote, must finish the
 * change from the cluster alone, doing nothing twice: one promotion, each
 * pod replaced once. An independent writer commits through `-rw` and a
 * sampler asks every instance directly whether it takes writes.
 *
 * @module
 */
import assert from "node:assert/strict";
import { podName } from "../lib/databasecluster/names.ts";
import { type DatabasePods, databasePods } from "./harness/database_pods.ts";
import { getJson } from "./harness/clusters.ts";
import { eventually, testCluster } from "./harness/mod.ts";
import { query } from "./harness/psql.ts";
import { startSampler } from "./harness/sampler.ts";
import { outageDuring } from "./harness/write_record.ts";
import { startWriter, type Writer } from "./harness/writer.ts";

const test = testCluster();
const external = Deno.env.get("TEST_KUBECONFIG") !== undefined;

/** How long no operator runs after the kill. */
const DEAD_MS = 5_000;

function report(line: string): void {
  Deno.stderr.writeSync(new TextEncoder().encode(`[operator-kill] ${line}\n`));
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
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

/** Occurrences of `reason`, a series counted by its count. */
function count(events: ClusterEvent[], reason: string): number {
  return events.filter((e) => e.reason === reason).reduce((n, e) => n + (e.series?.count ?? 1), 0);
}

function notes(events: ClusterEvent[], reason: string): string[] {
  return events.filter((e) => e.reason === reason).map((e) => e.note);
}

function firstAckAfter(writer: Writer, at: number) {
  return writer.attempts.find((a) => a.outcome === "acknowledged" && a.sentAt > at);
}

/** The last lines the operator process logged, for a failure's message. */
function operatorTail(env: DatabasePods): string {
  return env.operatorProcess?.stderr.trimEnd().split("\n").slice(-30).join("\n") ?? "";
}

Deno.test({
  name: "the operator SIGKILLed mid-failover: a new one completes it with one promotion, the " +
    "old primary rejoins, no acknowledged write lost, never two writable",
  ignore: external,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using env = await databasePods(test, "kill-failover", {
      major: 15,
      operatorProcess: true,
    });
    const name = "pg";
    // Required synchronous replication: a failover then loses no acknowledged commit, so
    // any loss would be the restart's.
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
    const before = await env.running(name, 3, { primary: pods[0] });
    const timeline = before.find((s) => s.role === "primary")!.timeline!;
    assert.ok(before.every((s) => s.timeline === timeline), "one timeline before the kill");
    const rw = await env.readWrite(name, "prefer");
    await eventually("synchronous_standby_names in force", async () => {
      const names = await query(env.sandbox, rw, "SHOW synchronous_standby_names");
      return names.startsWith("ANY 1") ? true : undefined;
    });
    await using writer = await startWriter(rw);
    await using sampler = await startSampler(env, name);
    await eventually("50 writes acknowledged", () => {
      return Promise.resolve(writer.acknowledged().length >= 50 ? true : undefined);
    });

    const podKilledAt = Date.now();
    await env.killPod(pods[0]);
    // The operator's part of a failover ends with status.targetPrimary moved: the managers
    // promote on that alone, and the operator completes it (currentPrimary) once the
    // target runs as the primary. Killed in between, it has not seen the promotion.
    const moving = await eventually("the failover under way", async () => {
      const status = await env.clusterStatus(name);
      return status.targetPrimary !== status.currentPrimary ? status : undefined;
    }, { timeoutMs: 120_000, intervalMs: 50 });
    await env.killOperator();
    const operatorKilledAt = Date.now();
    const left = await env.clusterStatus(name);
    const promoted = moving.targetPrimary!;
    assert.equal(left.currentPrimary, pods[0], "killed before it completed the failover");
    assert.equal(left.targetPrimary, promoted);
    report(
      `failover: operator SIGKILLed ${seconds(operatorKilledAt - podKilledAt)} after the ` +
        `primary's pod, with targetPrimary "${promoted}", currentPrimary "${left.currentPrimary}"`,
    );

    // The managers act on status.targetPrimary alone: the target takes the primary Lease once
    // the killed primary's expires and promotes, with no operator running.
    await new Promise((resolve) => setTimeout(resolve, DEAD_MS));
    await eventually(`"${promoted}" promoted with no operator running`, async () => {
      return (await env.instanceStatus(name, promoted))?.role === "primary" ? true : undefined;
    }, { timeoutMs: 60_000, intervalMs: 200 });
    const restartedAt = Date.now();
    env.startOperator();
    try {
      await eventually("the failover completed", async () => {
        const status = await env.clusterStatus(name);
        return status.currentPrimary === promoted && status.targetPrimary === promoted
          ? true
          : undefined;
      }, { timeoutMs: 120_000, intervalMs: 200 });
    } catch (error) {
      throw new Error(`${(error as Error).message}\n${operatorTail(env)}`);
    }
    const completedMs = Date.now() - restartedAt;
    const after = await env.running(name, 3, { primary: promoted });
    const convergedMs = Date.now() - restartedAt;
    report(
      `failover: "${promoted}" promoted with no operator; a new one started ` +
        `${seconds(restartedAt - operatorKilledAt)} after the kill completed the failover in ` +
        `${seconds(completedMs)}, all three running and streaming in ${seconds(convergedMs)}`,
    );

    // One promotion: every instance one timeline further, the old primary too.
    assert.deepEqual(
      after.map((s) => [s.pod, s.timeline]),
      pods.map((pod) => [pod, timeline + 1]),
      `every instance on timeline ${timeline + 1}`,
    );
    const promotions = env.kubelet.logs(env.namespace, promoted, "postgres")
      .match(/Promoted to primary/g);
    assert.equal(promotions?.length, 1, `"${promoted}" promoted once`);
    assert.doesNotMatch(
      env.kubelet.logs(env.namespace, pods[0], "postgres"),
      /Cloning from/,
      "the old primary rejoined on its data",
    );
    const events = await clusterEvents(env, name);
    assert.equal(count(events, "FailoverStarted"), 1, notes(events, "FailoverStarted").join("\n"));
    assert.equal(count(events, "PrimaryPromoted"), 1, notes(events, "PrimaryPromoted").join("\n"));
    assert.equal(count(events, "SwitchoverStarted"), 0, "no switchover");
    const status = await env.clusterStatus(name);
    assert.equal(status.currentPrimary, status.targetPrimary);

    await writer.stop();
    const final = await eventually("the table read back", () => writer.verify(rw));
    assert.deepEqual(final.missing, [], "every acknowledged write is present");
    assert.deepEqual(final.failedPresent, []);
    assert.deepEqual(sampler.writableAtOnce(), [], "never two writable instances");
    const outage = outageDuring(writer.outages(), podKilledAt, Date.now());
    report(
      `failover: writes ${final.acknowledged} acknowledged, ${final.missing.length} lost; the ` +
        `write outage ${seconds(outage?.ms ?? 0)} (from ${
          seconds((outage?.from ?? podKilledAt) - podKilledAt)
        } to ${seconds((outage?.to ?? podKilledAt) - podKilledAt)} after the pod's kill, ` +
        `-rw selecting no pod until an operator labels the new primary); ` +
        `sampler rounds ${sampler.rounds.length}, never two writable`,
    );
  },
});

Deno.test({
  name: "the operator SIGKILLed mid-rollout, once a pod was replaced and again mid-switchover: " +
    "a new one finishes it, each pod replaced once, one switchover, no acknowledged write " +
    "lost, never two writable",
  ignore: external,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using env = await databasePods(test, "kill-rollout", {
      major: 15,
      operatorProcess: true,
    });
    const name = "pg";
    const manifest = (cpu: string) => ({
      apiVersion: "database.example.com/v1",
      kind: "DatabaseCluster",
      metadata: { name },
      spec: {
        replicas: 3,
        version: "15",
        storage: { size: "1Gi" },
        resources: { requests: { cpu } },
      },
    });
    await env.apply(manifest("100m"));
    const pods = [0, 1, 2].map((ordinal) => podName(name, ordinal));
    await env.running(name, 3, { primary: pods[0] });
    // Until it has been Running once, a cluster being rolled out is still Creating.
    await eventually("the cluster Running", async () => {
      return (await env.clusterStatus(name)).phase === "Running" ? true : undefined;
    }, { timeoutMs: 60_000 });
    const rw = await env.readWrite(name, "prefer");
    await using writer = await startWriter(rw);
    await using sampler = await startSampler(env, name);
    await eventually("writes acknowledged", () => Promise.resolve(firstAckAfter(writer, 0)));
    // Every UID each pod name had, in order: a pod replaced twice shows three.
    const uids = new Map<string, string[]>();
    for (const pod of pods) uids.set(pod, [(await env.pod(pod))!.metadata!.uid!]);

    const changedAt = Date.now();
    await env.apply(manifest("200m"));
    // The pods in the order their UIDs first changed.
    const replaced: string[] = [];
    const waitFor = async (what: string, done: () => Promise<boolean>) => {
      try {
        await eventually(what, async () => {
          for (const pod of pods) {
            const uid = (await env.pod(pod))?.metadata?.uid;
            const seen = uids.get(pod)!;
            if (uid && uid !== seen.at(-1)) seen.push(uid);
            if (seen.length > 1 && !replaced.includes(pod)) replaced.push(pod);
          }
          return await done() ? true : undefined;
        }, { timeoutMs: 900_000, intervalMs: 250 });
      } catch (error) {
        throw new Error(
          `${(error as Error).message}; replaced ${replaced.join(", ")}\n${operatorTail(env)}`,
        );
      }
    };
    // The killed operator remembered that it deleted the first pod; a new one must tell from
    // the pods alone that it is the new pod, and wait for it to catch up before the next.
    await waitFor("the first pod replaced", () => Promise.resolve(replaced.length > 0));
    await env.killOperator();
    const killedAt = Date.now();
    report(
      `rollout: operator SIGKILLed ${seconds(killedAt - changedAt)} after the change, once ` +
        `"${replaced[0]}" was made anew`,
    );
    await new Promise((resolve) => setTimeout(resolve, DEAD_MS));
    env.startOperator();
    // Killed again while the switchover to a replaced standby is under way: a new operator
    // must complete that one, not ask for another, before it replaces the old primary's pod.
    await waitFor("both standbys replaced", () => Promise.resolve(replaced.length >= 2));
    const switching = await eventually("the rolling update's switchover under way", async () => {
      const status = await env.clusterStatus(name);
      return status.targetPrimary !== status.currentPrimary ? status : undefined;
    }, { timeoutMs: 300_000, intervalMs: 50 });
    await env.killOperator();
    const killedAgainAt = Date.now();
    const left = await env.clusterStatus(name);
    assert.equal(left.currentPrimary, pods[0], "killed before it completed the switchover");
    assert.equal(left.targetPrimary, switching.targetPrimary);
    await new Promise((resolve) => setTimeout(resolve, DEAD_MS));
    await eventually(`"${left.targetPrimary}" promoted with no operator running`, async () => {
      const role = (await env.instanceStatus(name, left.targetPrimary!))?.role;
      return role === "primary" ? true : undefined;
    }, { timeoutMs: 60_000, intervalMs: 200 });
    report(
      `rollout: operator SIGKILLed again ${seconds(killedAgainAt - changedAt)} after the ` +
        `change, mid-switchover from "${left.currentPrimary}" to "${left.targetPrimary}", ` +
        "which the managers completed with no operator",
    );
    const restartedAt = Date.now();
    env.startOperator();
    await waitFor("every pod replaced and the cluster Running", async () => {
      const status = await env.clusterStatus(name);
      return replaced.length === pods.length && status.phase === "Running" &&
        status.currentPrimary === status.targetPrimary;
    });
    const status = await env.clusterStatus(name);
    await env.running(name, 3, { primary: status.currentPrimary });
    const convergedMs = Date.now() - restartedAt;
    // A pod replaced twice would have shown its second UID: each lives for seconds at least.
    assert.deepEqual(
      pods.map((pod) => [pod, uids.get(pod)!.length]),
      pods.map((pod) => [pod, 2]),
      "each pod replaced exactly once",
    );
    for (const pod of pods) {
      assert.equal((await env.pod(pod))!.spec!.containers[0].resources?.requests?.cpu, "200m");
    }
    const events = await clusterEvents(env, name);
    const deletions = notes(events, "RollingUpdate");
    assert.equal(count(events, "RollingUpdate"), 3, `one per pod:\n${deletions.join("\n")}`);
    for (const pod of pods) {
      const of = deletions.filter((note) => note.includes(`"${pod}"`));
      assert.equal(of.length, 1, `one RollingUpdate event of "${pod}":\n${deletions.join("\n")}`);
    }
    const switchovers = notes(events, "SwitchoverStarted");
    assert.equal(count(events, "SwitchoverStarted"), 1, `one switchover: ${switchovers}`);
    assert.match(switchovers[0], /the rolling update replaces the primary's pod/);
    assert.equal(count(events, "PrimaryPromoted"), 1, notes(events, "PrimaryPromoted").join("\n"));
    assert.equal(count(events, "FailoverStarted"), 0, "no failover");
    assert.deepEqual(replaced, [pods[2], pods[1], pods[0]], "standbys first, then the old primary");
    assert.notEqual(status.currentPrimary, pods[0], "the primary moved to a replaced standby");
    report(
      `rollout: order ${replaced.join(", ")}; done ${
        seconds(Date.now() - changedAt)
      } after the change, ${
        seconds(convergedMs)
      } after the last operator started; primary now "${status.currentPrimary}"`,
    );

    await writer.stop();
    const final = await eventually("the table read back", () => writer.verify(rw));
    assert.deepEqual(final.missing, [], "every acknowledged write is present");
    assert.deepEqual(final.failedPresent, []);
    assert.deepEqual(sampler.writableAtOnce(), [], "never two writable instances");
    const longest = outageDuring(writer.outages(), changedAt, Date.now());
    report(
      `rollout: writes ${final.acknowledged} acknowledged, ${final.missing.length} lost; the ` +
        `longest write gap ${seconds(longest?.ms ?? 0)}, from ${
          seconds((longest?.from ?? changedAt) - changedAt)
        } after the change; sampler rounds ${sampler.rounds.length}, never two writable`,
    );
  },
});
