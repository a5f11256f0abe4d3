/**
 * Scenario 2, the floor, on its own fresh control plane (warmed up the same
 * way as dbop's): the floor client converges N clusters in namespaces
 * `floor-0`, `floor-1`, ... (see ../floor.ts). Counts its requests and everyone's CPU.
 *
 * @module
 */
import { floorClient, USERS } from "../cluster.ts";
import { cpuUsed } from "../cpu.ts";
import type { BenchContext } from "../context.ts";
import { clusterNames, createNamespace, fleetNamespaces } from "../fleet.ts";
import { runFloor } from "../floor.ts";
import { perCluster } from "../requests.ts";
import { summarize, type Summary } from "../stats.ts";
import { FleetView } from "../view.ts";

/** What the floor measured. */
export interface FloorFigures {
  /** From the first create to the last StatefulSet rolled out (ms). */
  totalMs: number;
  /** Per cluster, from its create to its StatefulSet rolled out (ms). */
  latencyMs: Summary;
  /** The floor client's requests per cluster, by verb (audit log). */
  requestsPerCluster: Record<string, number>;
  /** Every client's requests per cluster during the phase, by verb (`apiserver_request_total`). */
  apiserverPerCluster: Record<string, number>;
  childrenPerCluster: number;
  /** Building the children before the clock started (ms). */
  prepareMs: number;
  /** CPU seconds used during the phase, by process. */
  cpuSeconds: Record<string, number>;
}

const PREFIX = "floor";

/** Runs the floor. */
export async function floorScenario(ctx: BenchContext): Promise<FloorFigures> {
  const { admin } = ctx.cluster;
  const names = clusterNames(ctx.options.n);
  for (const namespace of fleetNamespaces(PREFIX, names.length)) {
    await createNamespace(admin, namespace);
  }
  const floor = floorClient(ctx.cluster);
  const view = new FleetView(admin, PREFIX);
  await view.start();
  try {
    const mark = await ctx.meter.begin();
    const cpu = ctx.cpu.snapshot();
    const result = await runFloor({
      admin,
      floor,
      view,
      names,
      workers: ctx.options.workers,
      timeoutMs: ctx.timeoutMs,
      log: ctx.log,
    });
    const lastReady = Math.max(...result.readyAt.values());
    const cpuSeconds = cpuUsed(cpu, ctx.cpu.snapshot());
    const requests = await ctx.meter.end(mark, USERS.floor, lastReady + 2000);
    const figures: FloorFigures = {
      totalMs: lastReady - result.startedAt,
      latencyMs: summarize(names.map((n) => result.readyAt.get(n)! - result.createdAt.get(n)!)),
      requestsPerCluster: perCluster(requests.user.byVerb, names.length),
      apiserverPerCluster: perCluster(requests.apiserverAllClients, names.length),
      childrenPerCluster: result.childrenPerCluster,
      prepareMs: result.prepareMs,
      cpuSeconds,
    };
    ctx.log(`floor: ${names.length} clusters ready in ${(figures.totalMs / 1000).toFixed(1)} s`);
    return figures;
  } finally {
    await view.stop();
    floor.client.close();
  }
}
