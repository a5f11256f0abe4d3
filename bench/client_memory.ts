/**
 * `deno task bench:client`: what loading the Kubernetes client costs a process,
 * the budget of the instance manager in every PostgreSQL pod. Runs each probe
 * in `client_memory/` (a baseline, the lean in-cluster client, the same client
 * over client-node's KubeConfig) as its own `deno run`, a few times, against a
 * fake service-account directory, and prints the median RSS and JS heap of
 * each with the command that produced them. Needs no cluster.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { median } from "./stats.ts";

/** A module that loads one client, settles and prints its memory. */
export interface Probe {
  name: string;
  /** What it loads, for the table. */
  loads: string;
  /** Path from the repository root. */
  file: string;
}

/** The probes, cheapest first. */
export const PROBES: readonly Probe[] = [
  { name: "baseline", loads: "nothing", file: "bench/client_memory/baseline.ts" },
  {
    name: "lean",
    loads: "lib/kube/client.ts, lib/kube/in_cluster.ts",
    file: "bench/client_memory/lean.ts",
  },
  {
    name: "client-node",
    loads: "lib/kube/client.ts, lib/kube/kubeconfig.ts, client-node's KubeConfig",
    file: "bench/client_memory/client_node.ts",
  },
];

/** The environment a kubelet gives a pod, as the probes see it. */
const POD_ENV = { KUBERNETES_SERVICE_HOST: "10.96.0.1", KUBERNETES_SERVICE_PORT: "443" };

/** One probe's medians over its runs, in bytes. */
export interface ProbeResult {
  probe: Probe;
  rss: number;
  heapUsed: number;
}

/** The arguments of `deno` for one run of `probe`. */
function probeArgs(probe: Probe, serviceAccountDir: string): string[] {
  return [
    "run",
    "--v8-flags=--expose-gc",
    "--allow-read",
    "--allow-env",
    probe.file,
    serviceAccountDir,
  ];
}

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** The command line of one run of `probe`, as a shell would take it. */
function probeCommand(probe: Probe, serviceAccountDir: string): string {
  const env = Object.entries(POD_ENV).map(([k, v]) => `${k}=${v}`);
  return [...env, "deno", ...probeArgs(probe, serviceAccountDir)].join(" ");
}

/** The Markdown table of the results, with the commands that produced them. */
export function renderTable(results: readonly ProbeResult[], runs: number): string {
  return [
    "| Probe | Loads | RSS | JS heap used |",
    "| --- | --- | ---: | ---: |",
    ...results.map((r) =>
      `| ${r.probe.name} | ${r.probe.loads} | ${mib(r.rss)} | ${mib(r.heapUsed)} |`
    ),
    "",
    `Medians of ${runs} runs of each command (from the repository root; \`<dir>\` holds a`,
    "service account's token, ca.crt and namespace). Each probe authenticates once (it sends no",
    "request), collects garbage, idles 1 s, collects again and reports `Deno.memoryUsage()`.",
    `Deno ${Deno.version.deno}, V8 ${Deno.version.v8}.`,
    "",
    ...results.map((r) => `    ${probeCommand(r.probe, "<dir>")}`),
    "",
  ].join("\n");
}

async function runProbe(probe: Probe, dir: string, root: string): Promise<Deno.MemoryUsage> {
  const out = await new Deno.Command("deno", {
    args: probeArgs(probe, dir),
    cwd: root,
    env: POD_ENV,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  if (!out.success) {
    throw new Error(`Probe "${probe.name}" failed: ${decoder.decode(out.stderr).trim()}`);
  }
  return JSON.parse(decoder.decode(out.stdout));
}

async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { runs: { type: "string" } }, strict: true });
  const runs = Number(values.runs ?? 3);
  if (!Number.isInteger(runs) || runs < 1) {
    throw new Error(`Invalid value "${values.runs}" for --runs: expected a whole number from 1`);
  }
  const root = new URL("../", import.meta.url).pathname;
  const dir = await Deno.makeTempDir({ prefix: "dbop-sa-" });
  try {
    await Deno.writeTextFile(`${dir}/token`, "not-a-real-token");
    await Deno.writeTextFile(
      `${dir}/ca.crt`,
      "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n",
    );
    await Deno.writeTextFile(`${dir}/namespace`, "default");
    const results: ProbeResult[] = [];
    for (const probe of PROBES) {
      const samples: Deno.MemoryUsage[] = [];
      // One after another: parallel runs would compete for the CPU, not change the memory.
      for (let i = 0; i < runs; i++) samples.push(await runProbe(probe, dir, root));
      results.push({
        probe,
        rss: median(samples.map((s) => s.rss)),
        heapUsed: median(samples.map((s) => s.heapUsed)),
      });
    }
    Deno.stdout.writeSync(new TextEncoder().encode(renderTable(results, runs)));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) {
  try {
    await main(Deno.args);
  } catch (error) {
    Deno.stderr.writeSync(new TextEncoder().encode(`bench: ${(error as Error).message}\n`));
    Deno.exit(1);
  }
}
