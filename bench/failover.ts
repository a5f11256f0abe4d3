/**
 * `deno task bench:failover`: how long writes stop when the primary dies and
 * when it is switched over, on this harness (real control plane, the
 * emulated kubelet, real PostgreSQL 15, dbop's instance managers under
 * `deno run`). One three-instance cluster; a writer commits through `-rw`
 * every 20 ms. Each failover run SIGKILLs every process of the primary's pod
 * and force-deletes it (a dying node), and measures from the kill to the
 * first commit acknowledged by another server; each switchover run asks for
 * the most advanced standby with the promote annotation and measures the
 * longest gap between acknowledged commits; each rolling-update run changes
 * the pod template (the CPU request), so dbop replaces the standbys and then,
 * after a switchover, the old primary, and measures the longest gap between
 * acknowledged commits until every pod is replaced. Between runs the cluster
 * settles (every instance running, the standbys streaming). Prints a Markdown
 * table with the command.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { ANNOTATIONS, podName } from "../lib/databasecluster/names.ts";
import { startControlPlane } from "../tests/harness/control_plane.ts";
import { databasePods } from "../tests/harness/database_pods.ts";
import { eventually, makeTestCluster } from "../tests/harness/mod.ts";
import { outageDuring } from "../tests/harness/write_record.ts";
import { startWriter, type Writer } from "../tests/harness/writer.ts";
import { summarize } from "./stats.ts";

const say = (line: string) => Deno.stderr.writeSync(new TextEncoder().encode(`[bench] ${line}\n`));

function firstAckAfter(writer: Writer, at: number, not?: string) {
  return writer.attempts.find((a) =>
    a.outcome === "acknowledged" && a.sentAt > at && a.server !== not
  );
}

if (import.meta.main) {
  const args = parseArgs({ args: Deno.args, options: { runs: { type: "string" } } });
  const runs = Number(args.values.runs ?? 5);
  const controlPlane = await startControlPlane({ log: say });
  try {
    const test = makeTestCluster(controlPlane.kubeconfigPath, controlPlane.binDir);
    await using env = await databasePods(test, "bench-failover", { major: 15 });
    const name = "pg";
    const pods = [0, 1, 2].map((ordinal) => podName(name, ordinal));
    const apply = (cpu: string) =>
      env.apply({
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
    await apply("100m");
    const status = () => env.clusterStatus(name);
    const settled = async () => {
      const primary = await eventually("one primary, confirmed", async () => {
        const { currentPrimary, targetPrimary } = await status();
        return currentPrimary && currentPrimary === targetPrimary ? currentPrimary : undefined;
      }, { timeoutMs: 300_000, intervalMs: 500 });
      await env.running(name, pods.length, { primary, timeoutMs: 300_000 });
      return primary;
    };
    await settled();
    const rw = await env.readWrite(name, "prefer");
    await using writer = await startWriter(rw);
    await eventually("writes acknowledged", () => Promise.resolve(firstAckAfter(writer, 0)));

    const failovers: number[] = [];
    for (let run = 1; run <= runs; run++) {
      const primary = await settled();
      const server = firstAckAfter(writer, Date.now() - 5_000)?.server;
      const killedAt = Date.now();
      await env.killPod(primary);
      const ack = await eventually(
        "a write on the new primary",
        () => Promise.resolve(firstAckAfter(writer, killedAt, server)),
        { timeoutMs: 120_000, intervalMs: 50 },
      );
      failovers.push(ack.answeredAt - killedAt);
      say(`failover ${run}: ${failovers.at(-1)} ms from the kill of ${primary}`);
    }
    const switchovers: number[] = [];
    for (let run = 1; run <= runs; run++) {
      const primary = await settled();
      const target = pods.find((pod) => pod !== primary)!;
      const askedAt = Date.now();
      await test.kubectlOk([
        "annotate",
        "dbc",
        name,
        "-n",
        env.namespace,
        `${ANNOTATIONS.promote}=${target}`,
        "--overwrite",
      ]);
      await eventually("the switchover done", async () => {
        const { currentPrimary } = await status();
        return currentPrimary === target ? true : undefined;
      }, { timeoutMs: 120_000, intervalMs: 100 });
      await eventually(
        "a write after the switchover",
        () => Promise.resolve(firstAckAfter(writer, Date.now() - 100)),
        { timeoutMs: 60_000, intervalMs: 50 },
      );
      const outage = outageDuring(writer.outages(), askedAt, Date.now());
      switchovers.push(outage?.ms ?? 0);
      say(
        `switchover ${run}: longest write gap ${switchovers.at(-1)} ms (${primary} -> ${target})`,
      );
    }
    const rollouts: number[] = [];
    for (let run = 1; run <= runs; run++) {
      await settled();
      const uids = new Map<string, string | undefined>();
      for (const pod of pods) uids.set(pod, (await env.pod(pod))?.metadata?.uid);
      const changedAt = Date.now();
      await apply(`${100 + run}m`);
      await eventually("every pod replaced, the cluster Running", async () => {
        const replaced = await Promise.all(pods.map(async (pod) => {
          const uid = (await env.pod(pod))?.metadata?.uid;
          return uid !== undefined && uid !== uids.get(pod);
        }));
        const { phase, currentPrimary, targetPrimary } = await status();
        return replaced.every(Boolean) && phase === "Running" && currentPrimary === targetPrimary
          ? true
          : undefined;
      }, { timeoutMs: 600_000, intervalMs: 250 });
      await settled();
      await eventually(
        "a write after the rolling update",
        () => Promise.resolve(firstAckAfter(writer, Date.now() - 100)),
        { timeoutMs: 60_000, intervalMs: 50 },
      );
      const doneAt = Date.now();
      rollouts.push(outageDuring(writer.outages(), changedAt, doneAt)?.ms ?? 0);
      say(
        `rolling update ${run}: ${doneAt - changedAt} ms, longest write gap ${rollouts.at(-1)} ms`,
      );
    }
    await writer.stop();
    const verification = await eventually("the table read back", () => writer.verify(rw));
    const row = (what: string, values: number[]) => {
      const s = summarize(values);
      return `| ${what} | ${values.length} | ${s.p50} ms | ${s.max} ms |`;
    };
    const lines = [
      "Failover and switchover on the harness (3 instances, PostgreSQL 15, asynchronous " +
      "replication, dbop defaults: ha.failoverDelay 10 s, primary Lease 6 s)",
      "",
      "| what | runs | p50 | max |",
      "| --- | ---: | ---: | ---: |",
      row("failover: SIGKILL of the primary's pod to the first acknowledged write", failovers),
      row("switchover: longest gap between acknowledged writes", switchovers),
      row(
        "rolling update of 3 instances (switchover): longest gap between acknowledged writes",
        rollouts,
      ),
      "",
      `Writes: ${verification.acknowledged} acknowledged, ${verification.missing.length} lost ` +
      "(asynchronous: what the killed primaries acknowledged and no standby had received).",
      "",
      `Command: \`deno task bench:failover --runs ${runs}\``,
    ];
    Deno.stdout.writeSync(new TextEncoder().encode(lines.join("\n") + "\n"));
  } finally {
    await controlPlane.stop();
  }
}
