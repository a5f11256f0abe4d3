/**
 * Scenario 1, convergence at scale: with dbop running (and idle), N
 * DatabaseClusters are created at once; done when every one reports
 * `Ready=True` for its generation. Counts dbop's requests by verb (audit
 * log), every client's (`apiserver_request_total`), dbop's own
 * `rest_client_requests_total` as a cross-check, and reconciles.
 *
 * @module
 */
import { USERS } from "../cluster.ts";
import { cpuUsed } from "../cpu.ts";
import type { BenchContext } from "../context.ts";
import { createClusters } from "../fleet.ts";
import { sumOf } from "../metrics.ts";
import type { OperatorProcess } from "../operator.ts";
import { clusterReady } from "../readiness.ts";
import { perCluster } from "../requests.ts";
import { summarize, type Summary } from "../stats.ts";
import type { FleetView } from "../view.ts";

/** What convergence measured. */
export interface ConvergenceFigures {
  /** From the first create to the last cluster Ready (ms). */
  totalMs: number;
  /** Per cluster, from its create to Ready (ms). */
  latencyMs: Summary;
  /** dbop's requests per cluster by verb (audit log). */
  requestsPerCluster: Record<string, number>;
  /** dbop's requests per cluster by verb and resource (audit log). */
  requestsPerClusterByResource: Record<string, number>;
  /** dbop's state-changing requests per cluster. */
  writesPerCluster: number;
  /** Every client's requests per cluster during the phase, by verb (`apiserver_request_total`). */
  apiserverPerCluster: Record<string, number>;
  /** Requests dbop counted itself (`rest_client_requests_total`) vs the audit log, in total. */
  selfCounted: { restClient: number; audit: number };
  reconcilesPerCluster: number;
  /** CPU seconds used during the phase, by process. */
  cpuSeconds: Record<string, number>;
}

async function restClientTotal(operator: OperatorProcess): Promise<number> {
  return sumOf(await operator.metrics(), "rest_client_requests_total");
}

/** Creates the fleet and waits for it to be Ready. */
export async function convergenceScenario(
  ctx: BenchContext,
  operator: OperatorProcess,
  view: FleetView,
  names: readonly string[],
): Promise<ConvergenceFigures> {
  const tracker = view.track((name) => clusterReady(view.cluster(name)));
  const createdAt = new Map<string, number>();
  const reconcilesBefore = await operator.reconciles();
  const restBefore = await restClientTotal(operator);
  const mark = await ctx.meter.begin();
  const cpu = ctx.cpu.snapshot();
  await createClusters(
    ctx.cluster.admin,
    (name) => view.namespaceOf(name),
    names,
    (created, at) => {
      createdAt.set(created.metadata!.name!, at);
    },
  );
  await tracker.waitFor(names, {
    what: "every DatabaseCluster to be Ready",
    timeoutMs: ctx.timeoutMs,
    progress: (done) => ctx.log(`dbop: ${done}/${names.length} Ready`),
    abortIf: () => operator.assertRunning(),
  });
  const cpuSeconds = cpuUsed(cpu, ctx.cpu.snapshot());
  tracker.close();
  const lastReady = Math.max(...tracker.times.values());
  // Let the last status writes and events land before counting.
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, lastReady + 2000 - Date.now())));
  const requests = await ctx.meter.end(mark, USERS.operator, lastReady + 2000);
  const n = names.length;
  const figures: ConvergenceFigures = {
    totalMs: lastReady - mark.at,
    latencyMs: summarize(names.map((name) => tracker.times.get(name)! - createdAt.get(name)!)),
    requestsPerCluster: perCluster(requests.user.byVerb, n),
    requestsPerClusterByResource: perCluster(requests.user.byVerbResource, n),
    writesPerCluster: Math.round((requests.user.writes / n) * 100) / 100,
    apiserverPerCluster: perCluster(requests.apiserverAllClients, n),
    selfCounted: {
      restClient: (await restClientTotal(operator)) - restBefore,
      audit: requests.user.total,
    },
    reconcilesPerCluster: Math.round(((await operator.reconciles()) - reconcilesBefore) / n * 100) /
      100,
    cpuSeconds,
  };
  ctx.log(`dbop: ${n} clusters Ready in ${(figures.totalMs / 1000).toFixed(1)} s`);
  return figures;
}
