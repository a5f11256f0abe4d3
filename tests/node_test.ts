/**
 * Node-aware high availability on real PostgreSQL through dbop's instance
 * managers, on the emulated kubelet, under write load (a writer through
 * `-rw`, a sampler asking every instance whether it takes writes): three
 * instances on the control plane's three nodes (required anti-affinity);
 * `kubectl cordon` of the primary's node switches over to a standby on
 * another node, and `kubectl drain` of it then evicts the old primary; a
 * `kubectl drain` of the primary's node straight away waits on the
 * `<c>-primary` budget until dbop has switched over, then evicts it; a
 * primary whose node turns NotReady fails over after `ha.failoverDelay`.
 *
 * kwok keeps the nodes Ready (its first stage sets Ready on any node that is
 * not); to make one NotReady the test takes it from kwok (removes the
 * annotation kwok selects its nodes by) and writes the Ready condition
 * `False` as a kubelet reporting trouble would, then gives it back.
 *
 * @module
 */
import assert from "node:assert/strict";
import { podName } from "../lib/databasecluster/names.ts";
import { type DatabasePods, databasePods } from "./harness/database_pods.ts";
import { getJson } from "./harness/clusters.ts";
import { eventually, testCluster } from "./harness/mod.ts";
import { startSampler } from "./harness/sampler.ts";
import { outageDuring } from "./harness/write_record.ts";
import { startWriter } from "./harness/writer.ts";

const test = testCluster();
const external = Deno.env.get("TEST_KUBECONFIG") !== undefined;
const KWOK_ANNOTATION = "kwok.x-k8s.io/node";

function report(line: string): void {
  Deno.stderr.writeSync(new TextEncoder().encode(`[node] ${line}\n`));
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** Waits until the primary is settled on another instance than `from`; returns it. */
async function movedFrom(env: DatabasePods, name: string, from: string): Promise<string> {
  return await eventually(`the primary moved off "${from}"`, async () => {
    const status = await env.clusterStatus(name);
    return status.currentPrimary !== from && status.currentPrimary === status.targetPrimary
      ? status.currentPrimary as string
      : undefined;
  }, { timeoutMs: 120_000, intervalMs: 200 });
}

async function nodeOf(env: DatabasePods, pod: string): Promise<string> {
  return (await env.pod(pod))!.spec!.nodeName!;
}

async function eventNotes(env: DatabasePods, reason: string): Promise<string[]> {
  const list = await getJson(test, ["get", "events.events.k8s.io", "-n", env.namespace]);
  return (list.items ?? [])
    .filter((e: { reason: string }) => e.reason === reason)
    .map((e: { note: string }) => e.note);
}

function drain(node: string) {
  return test.kubectl([
    "drain",
    node,
    "--ignore-daemonsets",
    "--delete-emptydir-data",
    "--force",
    "--timeout=180s",
  ]);
}

/** Takes `node` from kwok and reports it NotReady, as its kubelet would. */
async function makeNotReady(node: string): Promise<void> {
  await test.kubectlOk(["annotate", "node", node, `${KWOK_ANNOTATION}-`]);
  const now = new Date().toISOString();
  await test.kubectlOk([
    "patch",
    "node",
    node,
    "--subresource=status",
    "-p",
    JSON.stringify({
      status: {
        conditions: [{
          type: "Ready",
          status: "False",
          reason: "KubeletNotReady",
          message: "the test says so",
          lastHeartbeatTime: now,
          lastTransitionTime: now,
        }],
      },
    }),
  ]);
}

/** Gives `node` back to kwok, which reports it Ready again, and makes it schedulable. */
async function restore(node: string): Promise<void> {
  await test.kubectl(["annotate", "node", node, `${KWOK_ANNOTATION}=fake`, "--overwrite"]);
  await test.kubectl(["uncordon", node]);
  await test.kubectl(["wait", "--for=condition=Ready", `node/${node}`, "--timeout=60s"]);
}

Deno.test({
  name: "a cordoned primary node switches over, a drain waits for the switchover and then " +
    "evicts the old primary, and a primary node NotReady fails over, losing nothing",
  ignore: external,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using env = await databasePods(test, "node", { major: 15 });
    const name = "pg";
    await env.apply({
      apiVersion: "database.example.com/v1",
      kind: "DatabaseCluster",
      metadata: { name },
      spec: {
        replicas: 3,
        version: "15",
        storage: { size: "1Gi" },
        ha: { podAntiAffinity: "required" },
      },
    });
    const pods = [0, 1, 2].map((ordinal) => podName(name, ordinal));
    await env.running(name, pods.length);
    const nodes = await Promise.all(pods.map((pod) => nodeOf(env, pod)));
    assert.equal(new Set(nodes).size, 3, `one instance per node: ${nodes}`);
    const rw = await env.readWrite(name, "prefer");
    await using writer = await startWriter(rw);
    await using sampler = await startSampler(env, name);
    await eventually("writes acknowledged", () => {
      return Promise.resolve(writer.attempts.find((a) => a.outcome === "acknowledged"));
    });
    const touched = new Set<string>();
    try {
      // 1. Cordon the primary's node: dbop switches over to a standby on another node.
      const first = (await env.clusterStatus(name)).currentPrimary as string;
      const firstNode = await nodeOf(env, first);
      touched.add(firstNode);
      const cordonedAt = Date.now();
      await test.kubectlOk(["cordon", firstNode]);
      const second = await movedFrom(env, name, first);
      const movedAt = Date.now();
      assert.notEqual(await nodeOf(env, second), firstNode);
      const started = await eventNotes(env, "SwitchoverStarted");
      assert.ok(started.some((n) => n.includes("cordoned")), `SwitchoverStarted: ${started}`);
      const outage = outageDuring(writer.outages(), cordonedAt, Date.now());
      report(
        `cordon of ${firstNode}: "${second}" is the primary ${seconds(movedAt - cordonedAt)} ` +
          `after; the longest write outage ${outage?.ms ?? 0} ms`,
      );

      // 2. Drain it: the old primary, now a standby, is evicted. Its new pod has no node to
      // go to (required anti-affinity, two nodes left, both taken) until the node is back.
      const drainAt = Date.now();
      const drained = await drain(firstNode);
      assert.equal(drained.code, 0, `drain failed: ${drained.stderr}`);
      report(`drain of ${firstNode} after the switchover: ${seconds(Date.now() - drainAt)}`);
      await test.kubectlOk(["uncordon", firstNode]);
      await env.running(name, pods.length);
      assert.equal((await env.clusterStatus(name)).currentPrimary, second);

      // 3. Drain the primary's node straight away: its eviction is refused until dbop has
      // switched over, then it goes.
      const secondNode = await nodeOf(env, second);
      touched.add(secondNode);
      const drainStraightAt = Date.now();
      const straight = await drain(secondNode);
      const drainedAt = Date.now();
      assert.equal(straight.code, 0, `drain failed: ${straight.stderr}`);
      assert.match(straight.stderr + straight.stdout, /disruption budget/);
      const third = (await env.clusterStatus(name)).currentPrimary as string;
      assert.notEqual(third, second);
      assert.notEqual(await nodeOf(env, third), secondNode);
      const drainOutage = outageDuring(writer.outages(), drainStraightAt, drainedAt);
      report(
        `drain of the primary's node ${secondNode}: done in ${
          seconds(drainedAt - drainStraightAt)
        } (the primary's eviction refused until "${third}" took over); the longest write ` +
          `outage ${drainOutage?.ms ?? 0} ms`,
      );
      await test.kubectlOk(["uncordon", secondNode]);
      await env.running(name, pods.length);

      // 4. The primary's node turns NotReady while PostgreSQL on it still runs: a failover
      // after ha.failoverDelay (10 s), to a standby on a Ready node.
      const thirdNode = await nodeOf(env, third);
      touched.add(thirdNode);
      const notReadyAt = Date.now();
      await makeNotReady(thirdNode);
      const fourth = await movedFrom(env, name, third);
      const failedOverAt = Date.now();
      assert.notEqual(await nodeOf(env, fourth), thirdNode);
      const failovers = await eventNotes(env, "FailoverStarted");
      assert.ok(failovers.some((n) => n.includes("is not Ready")), `FailoverStarted: ${failovers}`);
      assert.ok(failedOverAt - notReadyAt >= 10_000, "the failover waited ha.failoverDelay");
      report(
        `node ${thirdNode} of the primary NotReady: "${fourth}" is the primary ` +
          `${seconds(failedOverAt - notReadyAt)} after`,
      );
      await restore(thirdNode);
      await env.running(name, pods.length);
    } finally {
      for (const node of touched) await restore(node);
    }
    await writer.stop();
    const final = await eventually("the table read back", () => writer.verify(rw));
    assert.deepEqual(final.missing, [], "no acknowledged write lost");
    assert.deepEqual(final.failedPresent, []);
    assert.deepEqual(sampler.writableAtOnce(), [], "never two writable instances");
    report(
      `writes: ${final.acknowledged} acknowledged, ${final.missing.length} lost; sampler ` +
        `rounds: ${sampler.rounds.length}, never two writable`,
    );
  },
});
