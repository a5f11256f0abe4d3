/**
 * `deno task bench:instance`: the resident memory of dbop's instance manager,
 * which runs in every PostgreSQL pod. Starts a local control plane and one
 * instance (`deno run mod.ts instance run` as the server user, against real
 * PostgreSQL 15, with a real ServiceAccount token, as `tests/instance_test.ts`
 * does), waits until PostgreSQL accepts connections and the manager has
 * answered a few status requests, lets it idle, then samples the manager's
 * VmRSS from /proc, with its anonymous (heaps) and file-backed (mostly the
 * deno binary's code) parts. Prints a table with the command that produced it.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { parseDatabaseCluster } from "../lib/api/mod.ts";
import { ensureCrd, getJson } from "../tests/harness/clusters.ts";
import { startControlPlane } from "../tests/harness/control_plane.ts";
import { LocalInstances } from "../tests/harness/instances.ts";
import { createNamespace, eventually, makeTestCluster } from "../tests/harness/mod.ts";
import { Sandbox } from "../tests/harness/postgres.ts";
import { median } from "./stats.ts";

/** Resident memory in bytes from /proc/<pid>/status: all, anonymous and file-backed. */
export function parseResident(status: string): { rss: number; anon: number; file: number } {
  const field = (name: string) => {
    const match = new RegExp(`^${name}:\\s+(\\d+) kB$`, "m").exec(status);
    if (!match) throw new Error(`No ${name} line in /proc/<pid>/status`);
    return Number(match[1]) * 1024;
  };
  return { rss: field("VmRSS"), anon: field("RssAnon"), file: field("RssFile") };
}

const MIB = 1024 * 1024;
const mib = (bytes: number) => `${(bytes / MIB).toFixed(1)} MiB`;
const say = (line: string) => Deno.stderr.writeSync(new TextEncoder().encode(`[bench] ${line}\n`));

if (import.meta.main) {
  const args = parseArgs({
    args: Deno.args,
    options: { "idle-seconds": { type: "string" }, samples: { type: "string" } },
  });
  const idleSeconds = Number(args.values["idle-seconds"] ?? 20);
  const samples = Number(args.values.samples ?? 5);
  const controlPlane = await startControlPlane({ log: say });
  try {
    const test = makeTestCluster(controlPlane.kubeconfigPath, controlPlane.binDir);
    await ensureCrd(test);
    const namespace = await createNamespace(test, "bench-instance");
    await using sandbox = await Sandbox.create({ prefix: "dbop-bench-instance-" });
    await test.kubectlOk(["apply", "-f", "-"], {
      stdin: JSON.stringify({
        apiVersion: "database.example.com/v1",
        kind: "DatabaseCluster",
        metadata: { name: "pg", namespace },
        spec: { replicas: 1, version: String(sandbox.install.major), storage: { size: "1Gi" } },
      }),
    });
    const cluster = parseDatabaseCluster(
      await getJson(test, ["get", "dbc", "pg", "-n", namespace]),
    );
    await test.kubectlOk([
      "patch",
      "dbc",
      "pg",
      "-n",
      namespace,
      "--subresource=status",
      "--type=merge",
      "-p",
      JSON.stringify({ status: { targetPrimary: "pg-0" } }),
    ]);
    const instances = await LocalInstances.create(sandbox, test, cluster);
    const instance = await instances.start(0, { primaryHost: instances.ip(0) });
    await eventually(
      "the instance running",
      async () => (await instances.status(0))?.postgres === "running" ? true : undefined,
      {
        timeoutMs: 120_000,
      },
    );
    for (let i = 0; i < 5; i++) await instances.status(0);
    say(`idling ${idleSeconds} s`);
    await new Promise((resolve) => setTimeout(resolve, idleSeconds * 1000));
    const rss: number[] = [];
    const anon: number[] = [];
    const file: number[] = [];
    for (let i = 0; i < samples; i++) {
      const resident = parseResident(
        await Deno.readTextFile(`/proc/${instance.process.pid}/status`),
      );
      rss.push(resident.rss);
      anon.push(resident.anon);
      file.push(resident.file);
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    const command = `deno task bench:instance --idle-seconds ${idleSeconds} --samples ${samples}`;
    Deno.stdout.writeSync(new TextEncoder().encode(
      [
        `Instance manager memory (${sandbox.install.version}; ${Deno.build.target}; Deno ${Deno.version.deno})`,
        "",
        "| process | state | RSS median | RSS max | anonymous median | file-backed median |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
        `| \`deno run mod.ts instance run\` | primary running, idle ${idleSeconds} s | ${
          mib(median(rss))
        } | ${mib(Math.max(...rss))} | ${mib(median(anon))} | ${mib(median(file))} |`,
        "",
        `Command: \`${command}\``,
        "",
      ].join("\n"),
    ));
  } finally {
    await controlPlane.stop({ printLogs: false });
  }
}
