/**
 * The result of a run as JSON (for comparing runs) and as a Markdown table
 * (printed, and committed under bench/results/): machine facts, versions, N,
 * the exact commands, the notes on method, then one row per figure with dbop,
 * the floor and their ratio where there is one.
 *
 * @module
 */
import { CLUSTERS_PER_NAMESPACE } from "./fleet.ts";
import type { BenchOptions } from "./context.ts";
import type { Environment } from "./environment.ts";
import type { Figures } from "./run.ts";
import type { MemoryFigures } from "./scenarios/memory.ts";
import type { Summary } from "./stats.ts";

/** Everything a run produced. */
export interface BenchResult {
  environment: Environment;
  options: BenchOptions;
  /** How the run was started, as typed and as the task expands it. */
  command: { task: string; expanded: string };
  nodes: number;
  notes: string[];
  figures: Figures;
  durationMs: number;
}

const VERB_ORDER = ["get", "list", "watch", "create", "update", "patch", "delete"];

function s(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

function kib(bytes: number): string {
  return `${(bytes / 1024).toFixed(1)} KiB`;
}

function latency(summary: Summary, unit: (ms: number) => string = s): string {
  return `${unit(summary.p50)} / ${unit(summary.p95)} / ${unit(summary.max)}`;
}

/** `patch 15, create 2.5, ... (total 19)`, verbs in a fixed order. */
export function verbs(counts: Record<string, number> | undefined): string {
  if (!counts) return "-";
  const keys = Object.keys(counts).sort((a, b) => {
    const rank = (k: string) => {
      const i = VERB_ORDER.indexOf(k.toLowerCase());
      return i < 0 ? VERB_ORDER.length : i;
    };
    return rank(a) - rank(b) || a.localeCompare(b);
  });
  const total = Object.values(counts).reduce((sum, v) => sum + v, 0);
  const value = (v: number) => v > 0 && v < 0.005 ? "<0.01" : String(+v.toFixed(2));
  const parts = keys.map((k) => `${k} ${value(counts[k])}`);
  return `${parts.join(", ")} (total ${+total.toFixed(2)})`;
}

/** `kube-apiserver 120, dbop 60, ... (total 250)`, largest first. */
export function cpu(seconds: Record<string, number>): string {
  const entries = Object.entries(seconds).sort((a, b) => b[1] - a[1]);
  const total = entries.reduce((sum, [, v]) => sum + v, 0);
  return `${entries.map(([k, v]) => `${k} ${v.toFixed(1)}`).join(", ")} (total ${
    total.toFixed(1)
  })`;
}

function ratio(a: number, b: number | undefined): string {
  return b ? `**${(a / b).toFixed(2)}**` : "-";
}

function memory(m: MemoryFigures): string {
  return `RSS ${mib(m.rss)}, heap ${mib(m.heapUsed)}`;
}

function perCluster(a: number, b: number, n: number): string {
  return n > 0 ? kib((a - b) / n) : "-";
}

function rows(result: BenchResult): string[][] {
  const f = result.figures;
  const n = result.options.n;
  const c = f.convergence;
  const floor = f.floor;
  const empty = f.memoryEmpty;
  const growth = (key: "rss" | "heapUsed") => f.unrelated.after[key] - f.unrelated.before[key];
  return [
    [
      "1 Convergence",
      `all ${n} Ready (from first create)`,
      s(c.totalMs),
      floor ? s(floor.totalMs) : "-",
      ratio(c.totalMs, floor?.totalMs),
    ],
    [
      "",
      "per cluster create to Ready, p50 / p95 / max",
      latency(c.latencyMs),
      floor ? latency(floor.latencyMs) : "-",
      ratio(c.latencyMs.p50, floor?.latencyMs.p50) + " (p50)",
    ],
    [
      "",
      "API requests per cluster, by verb (audit log, own user)",
      verbs(c.requestsPerCluster),
      verbs(floor?.requestsPerCluster),
      "",
    ],
    ["", "writes per cluster", String(c.writesPerCluster), "", ""],
    [
      "",
      "all clients' requests per cluster (apiserver_request_total)",
      verbs(c.apiserverPerCluster),
      verbs(floor?.apiserverPerCluster),
      "",
    ],
    ["", "reconciles per cluster", String(c.reconcilesPerCluster), "", ""],
    [
      "",
      "CPU seconds during the phase, by process",
      cpu(c.cpuSeconds),
      floor ? cpu(floor.cpuSeconds) : "-",
      "",
    ],
    [
      "3 Steady state",
      `writes in ${f.steadyState.seconds} s (resync ${f.steadyState.resyncPeriod})`,
      `**${f.steadyState.writes}** (${f.steadyState.reconciles} reconciles)`,
      "",
      "",
    ],
    [
      "4 Fleet minor bump",
      `${f.fleetUpdate.from} to ${f.fleetUpdate.to}: every StatefulSet carries it`,
      s(f.fleetUpdate.allStatefulSetsMs),
      "",
      "",
    ],
    ["", "every cluster Ready again", s(f.fleetUpdate.allReadyMs), "", ""],
    ["", "requests per cluster", verbs(f.fleetUpdate.requestsPerCluster), "", ""],
    ["", "reconciles per cluster", String(f.fleetUpdate.reconcilesPerCluster), "", ""],
    [
      "",
      "clusters whose first status for the new spec said Ready (before the rollout)",
      String(f.fleetUpdate.readyBeforeRollout),
      "",
      "",
    ],
    ["", "CPU seconds during the phase, by process", cpu(f.fleetUpdate.cpuSeconds), "", ""],
    ["5 Memory", "N=0, started", memory(empty), "", ""],
    ["", `N=${n}, converged`, memory(f.memoryConverged), "", ""],
    [
      "",
      "per cluster (converged minus N=0)",
      `RSS ${perCluster(f.memoryConverged.rss, empty.rss, n)}, heap ${
        perCluster(f.memoryConverged.heapUsed, empty.heapUsed, n)
      }`,
      "",
      "",
    ],
    ["", `N=${n}, restarted, during the quiet window`, memory(f.memoryRestarted), "", ""],
    [
      "",
      `growth from ${f.unrelated.configMaps} ConfigMaps + ${f.unrelated.secrets} Secrets ` +
      `(${kib(f.unrelated.bytesEach)} each, unrelated)`,
      `RSS ${mib(growth("rss"))}, heap ${mib(growth("heapUsed"))}`,
      "",
      "",
    ],
    ["6 Start-up", "spawn to caches synced, N=0", s(f.startupEmpty.readyMs), "", ""],
    ["", `spawn to caches synced, N=${n}`, s(f.startup.readyMs), "", ""],
    ["", "spawn to first reconcile", s(f.startup.firstReconcileMs ?? NaN), "", ""],
    [
      "",
      `spawn to ${n} reconciles (every cluster)`,
      s(f.startup.allReconciledMs ?? NaN),
      "",
      "",
    ],
    [
      "",
      "writes during start-up",
      `**${f.startup.writes}** (+${f.startup.accessReviews} access reviews)`,
      "",
      "",
    ],
    [
      "7 Single change",
      `spec change to StatefulSet applied, p50 / p99 (${f.singleChange.count} samples)`,
      `${f.singleChange.p50} ms / ${f.singleChange.p99} ms`,
      "",
      "",
    ],
  ];
}

function table(header: string[], body: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [line(header), line(header.map(() => "---")), ...body.map(line)].join("\n");
}

/** The run as Markdown. */
export function renderMarkdown(result: BenchResult): string {
  const e = result.environment;
  const o = result.options;
  return [
    `# dbop benchmark, N=${o.n}`,
    "",
    `- date: ${e.date}, commit ${e.commit}${e.dirty ? " (with uncommitted changes)" : ""}`,
    `- machine: ${e.cores} cores (${e.cpuModel}), ${(e.memoryBytes / 2 ** 30).toFixed(1)} GiB, ` +
    `${e.os}; load average at start ${e.loadAverage.map((l) => l.toFixed(2)).join(" ")}`,
    `- versions: dbop ${e.dbop}, Deno ${e.deno} (V8 ${e.v8}), Kubernetes ${e.kubernetes ?? "?"}`,
    `- N=${o.n}, ${o.workers} workers, ${result.nodes} kwok nodes, run took ${
      s(result.durationMs)
    }`,
    `- command: \`${result.command.task}\` (runs \`${result.command.expanded}\`)`,
    `- dbop: \`${result.figures.operatorCommand}\``,
    "",
    table(["Scenario", "Figure", "dbop", "floor", "dbop / floor"], rows(result)),
    "",
    "Notes:",
    "",
    ...result.notes.map((note) => `- ${note}`),
    "",
  ].join("\n");
}

/** How the figures were taken, printed under the table. */
export function methodNotes(options: BenchOptions, figures: Figures): string[] {
  const self = figures.convergence.selfCounted;
  return [
    "dbop runs as a separate process started like `deno task start` (`deno run` of mod.ts with " +
    "the same permissions); the compiled binary (`deno task compile`) cannot be built on this " +
    "machine because `deno compile` downloads its runtime from the internet.",
    figures.floor
      ? "dbop and the floor are measured side by side in the same run, each on its own fresh " +
        "control plane started the same way and warmed up by converging one cluster (removed " +
        "again before dbop starts; floor " + s(figures.warmUpMs.floor ?? NaN) + ", dbop " +
        s(figures.warmUpMs.dbop) + "). " +
        "Floor: the same clusters created the same way, and as each is created, the " +
        `${figures.floor.childrenPerCluster} children of dbop's first reconcile (built ` +
        `beforehand, certificates included) server-side applied by ${options.workers} workers; ` +
        "done when its StatefulSet has rolled out. dbop is done when the cluster reports " +
        "Ready=True for its generation."
      : "The floor was skipped (--skip-floor): no ratio.",
    "Requests are attributed to dbop and to the floor client by the API server's audit log " +
    "(each runs as its own service account in dbop-system; apiserver_request_total has no user " +
    "label). The all-clients rows are apiserver_request_total deltas over the same window " +
    "(controller manager, scheduler, kwok and the benchmark's own creates and watches included). " +
    `Cross-check: dbop counted ${self.restClient} requests itself (rest_client_requests_total), ` +
    `the audit log ${self.audit}.`,
    `kube-controller-manager runs with --kube-api-qps=${options.controllerManagerQps} (its ` +
    "default of 20 would make the fake cluster's StatefulSet controller the bottleneck for both " +
    "dbop and the floor); pods become Ready through kwok.",
    `Each fleet (dbop's and the floor's) is spread over namespaces of ${CLUSTERS_PER_NAMESPACE} ` +
    "clusters, as when the controller manager's endpoint controllers (which match every pod " +
    "event against every Service of its namespace) were the limit at N=1000; the control " +
    "plane no longer runs them, since all its pod IPs are loopback.",
    `Steady state and the restart run with --resync-period=${options.resyncPeriod} so the ` +
    `${options.steadySeconds} s window includes resyncs (dbop's default is 10m); the other ` +
    "scenarios use the default.",
    "Memory: RSS from /proc/<pid>/status, JS heap from nodejs_heap_size_used_bytes, sampled " +
    "every second until V8's committed heap is stable for 8 s (15-60 s); the median RSS and " +
    "the smallest heap of the last 5 s. RSS follows the committed heap, which V8 shrinks only " +
    "some seconds after a burst, so it is the noisier figure; the heap is what the caches hold.",
  ];
}
