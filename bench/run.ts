/**
 * One run: the floor on a fresh control plane, then dbop on another fresh
 * one, both warmed up the same way, so each side starts from the same state
 * (and no cleanup between them can disturb the other). On dbop's plane the
 * scenarios run in an order where each starts from a known state: dbop
 * started with no clusters (start-up and memory at N=0), the fleet created
 * (convergence, memory at N), unrelated objects, single changes, the
 * fleet-wide version bump; then dbop restarted with the fleet in place and a
 * short resync period (start-up with N clusters, then the quiet window, with
 * the memory of the fresh process sampled during it). Every process and
 * control plane started here is stopped here.
 *
 * @module
 */
import { AuditLog } from "./audit.ts";
import { startBenchCluster, stopBenchCluster } from "./cluster.ts";
import type { BenchContext, BenchOptions } from "./context.ts";
import { CpuMeter, processName } from "./cpu.ts";
import { clusterNames, createNamespace, fleetNamespaces } from "./fleet.ts";
import type { OperatorProcess } from "./operator.ts";
import { clusterReady } from "./readiness.ts";
import { RequestMeter } from "./requests.ts";
import { type ConvergenceFigures, convergenceScenario } from "./scenarios/convergence.ts";
import { type FleetUpdateFigures, fleetUpdateScenario } from "./scenarios/fleet_update.ts";
import { type FloorFigures, floorScenario } from "./scenarios/floor.ts";
import {
  type MemoryFigures,
  sampleMemory,
  type UnrelatedFigures,
  unrelatedObjectsScenario,
} from "./scenarios/memory.ts";
import { type SingleChangeFigures, singleChangeScenario } from "./scenarios/single_change.ts";
import { type StartupFigures, startupScenario } from "./scenarios/startup.ts";
import { type SteadyStateFigures, steadyStateScenario } from "./scenarios/steady_state.ts";
import { FleetView } from "./view.ts";
import { warmUp } from "./warm_up.ts";

/** Every figure of dbop's control plane. */
export interface DbopFigures {
  startupEmpty: StartupFigures;
  memoryEmpty: MemoryFigures;
  convergence: ConvergenceFigures;
  memoryConverged: MemoryFigures;
  unrelated: UnrelatedFigures;
  singleChange: SingleChangeFigures;
  fleetUpdate: FleetUpdateFigures;
  startup: StartupFigures;
  memoryRestarted: MemoryFigures;
  steadyState: SteadyStateFigures;
  /** The exact dbop command line of the first start (kubeconfig and ports vary per run). */
  operatorCommand: string;
}

/** Every figure of a run. */
export interface Figures extends DbopFigures {
  floor?: FloorFigures;
  /** Warm-up of each control plane (ms). */
  warmUpMs: { floor?: number; dbop: number };
}

/** The prefix of the namespaces of dbop's fleet (see fleet.ts). */
export const FLEET_PREFIX = "fleet";

function componentName(pid: number): string {
  const name = processName(pid);
  // /proc truncates command names to 15 characters.
  return name.startsWith("kube-controller") ? "kube-controller-manager" : name;
}

/** Starts a control plane, warms it up, runs `fn` on it and stops it. */
async function withControlPlane<T>(
  options: BenchOptions,
  run: { log: (line: string) => void; keep: boolean; label: "floor" | "dbop" },
  fn: (ctx: BenchContext) => Promise<T>,
): Promise<{ result: T; warmUpMs: number; kubernetesVersion: string; nodes: number }> {
  const cluster = await startBenchCluster({
    clusters: options.n,
    controllerManagerQps: options.controllerManagerQps,
    log: (line) => run.log(`${run.label} control plane: ${line}`),
  });
  try {
    const audit = new AuditLog(cluster.controlPlane.auditLogPath);
    const cpu = new CpuMeter();
    for (const pid of cluster.controlPlane.pids()) cpu.watch(componentName(pid), pid);
    cpu.watch("bench", Deno.pid);
    const ctx: BenchContext = {
      options,
      cluster,
      audit,
      meter: new RequestMeter(audit, cluster.admin),
      cpu,
      runDir: `${cluster.controlPlane.dir}/logs`,
      log: run.log,
      timeoutMs: 120_000 + options.n * 600,
    };
    const warmUpMs = await warmUp(ctx, { remove: run.label === "dbop" });
    run.log(`${run.label}: warmed up in ${(warmUpMs / 1000).toFixed(1)} s`);
    const result = await fn(ctx);
    if (run.keep) run.log(`${run.label}: logs kept in ${ctx.runDir}`);
    return { result, warmUpMs, kubernetesVersion: cluster.kubernetesVersion, nodes: cluster.nodes };
  } finally {
    await stopBenchCluster(cluster, run.keep);
  }
}

async function waitAllReady(ctx: BenchContext, view: FleetView, names: readonly string[]) {
  const tracker = view.track((name) => clusterReady(view.cluster(name)));
  await tracker.waitFor(names, { what: "the fleet to be Ready again", timeoutMs: ctx.timeoutMs });
  tracker.close();
}

async function dbopScenarios(ctx: BenchContext): Promise<DbopFigures> {
  const names = clusterNames(ctx.options.n);
  const running = new Set<OperatorProcess>();
  const view = new FleetView(ctx.cluster.admin, FLEET_PREFIX);
  try {
    const first = await startupScenario(ctx, { clusters: 0, logName: "dbop-1.log" });
    running.add(first.operator);
    const memoryEmpty = await sampleMemory(first.operator);
    for (const namespace of fleetNamespaces(FLEET_PREFIX, names.length)) {
      await createNamespace(ctx.cluster.admin, namespace);
    }
    await view.start();
    const convergence = await convergenceScenario(ctx, first.operator, view, names);
    const memoryConverged = await sampleMemory(first.operator);
    const unrelated = await unrelatedObjectsScenario(ctx, first.operator, {
      count: ctx.options.unrelated,
      before: memoryConverged,
    });
    const singleChange = await singleChangeScenario(
      ctx,
      first.operator,
      view,
      names,
      ctx.options.samples,
    );
    await waitAllReady(ctx, view, names);
    const fleetUpdate = await fleetUpdateScenario(ctx, first.operator, view, names);
    await first.operator.stop();
    running.delete(first.operator);
    const second = await startupScenario(ctx, {
      clusters: names.length,
      resyncPeriod: ctx.options.resyncPeriod,
      logName: "dbop-2.log",
    });
    running.add(second.operator);
    // Sampling memory reads /proc and /metrics only, so it can share the quiet window.
    const [steadyState, memoryRestarted] = await Promise.all([
      steadyStateScenario(ctx, second.operator),
      sampleMemory(second.operator),
    ]);
    return {
      startupEmpty: first.figures,
      memoryEmpty,
      convergence,
      memoryConverged,
      unrelated,
      singleChange,
      fleetUpdate,
      startup: second.figures,
      memoryRestarted,
      steadyState,
      operatorCommand: first.operator.command,
    };
  } finally {
    for (const operator of running) await operator.stop();
    await view.stop();
  }
}

/** Runs the floor (unless skipped) and dbop's scenarios, each on its own control plane. */
export async function runBenchmark(
  options: BenchOptions,
  run: { log: (line: string) => void; keep: boolean },
): Promise<{ figures: Figures; kubernetesVersion: string; nodes: number }> {
  const floor = options.skipFloor
    ? undefined
    : await withControlPlane(options, { ...run, label: "floor" }, floorScenario);
  const dbop = await withControlPlane(options, { ...run, label: "dbop" }, dbopScenarios);
  return {
    figures: {
      ...dbop.result,
      floor: floor?.result,
      warmUpMs: { floor: floor?.warmUpMs, dbop: dbop.warmUpMs },
    },
    kubernetesVersion: dbop.kubernetesVersion,
    nodes: dbop.nodes,
  };
}
