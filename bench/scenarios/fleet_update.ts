/**
 * Scenario 4, a spec change across the fleet: every cluster's
 * `spec.version` goes up one minor at once. Two times: until every
 * StatefulSet carries the new version, and until every cluster is Ready again
 * (its StatefulSet rolled out with the new version and `Ready=True` for the
 * new generation). dbop's requests and reconciles of the phase are counted,
 * and so are clusters that reported Ready for the new spec before rolling it
 * out.
 *
 * @module
 */
import { USERS } from "../cluster.ts";
import { cpuUsed } from "../cpu.ts";
import type { BenchContext } from "../context.ts";
import { CREATE_CONCURRENCY, patchClusterSpec, VERSIONS } from "../fleet.ts";
import type { OperatorProcess } from "../operator.ts";
import { forEachConcurrently } from "../pool.ts";
import { clusterReady, statefulSetRolledOut, statefulSetVersion } from "../readiness.ts";
import { perCluster } from "../requests.ts";
import type { FleetView } from "../view.ts";

/** What the fleet-wide change measured. */
export interface FleetUpdateFigures {
  from: string;
  to: string;
  /** From the first patch until every StatefulSet carries the version (ms). */
  allStatefulSetsMs: number;
  /** From the first patch until every cluster is Ready again (ms). */
  allReadyMs: number;
  /** dbop's requests per cluster by verb during the phase (audit log). */
  requestsPerCluster: Record<string, number>;
  reconcilesPerCluster: number;
  /**
   * Clusters whose first status for the new generation already said Ready=True, before their
   * pods were replaced: a rollout takes seconds, so that status was computed from a stale
   * StatefulSet (a premature Ready that flips to Updating and back).
   */
  readyBeforeRollout: number;
  /** CPU seconds used during the phase, by process. */
  cpuSeconds: Record<string, number>;
}

/** Bumps every cluster's minor version and waits for the fleet to be Ready again. */
export async function fleetUpdateScenario(
  ctx: BenchContext,
  operator: OperatorProcess,
  view: FleetView,
  names: readonly string[],
): Promise<FleetUpdateFigures> {
  const to = VERSIONS.bumped;
  const carries = view.track((name) => statefulSetVersion(view.statefulSet(name)) === to);
  const ready = view.track((name) => {
    const sts = view.statefulSet(name);
    return view.cluster(name)?.spec?.version === to && statefulSetVersion(sts) === to &&
      statefulSetRolledOut(sts) && clusterReady(view.cluster(name));
  });
  // Records, per cluster, whether the first status written for the bumped spec said Ready.
  const firstStatusReady = new Map<string, boolean>();
  const firstStatus = view.track((name) => {
    const cluster = view.cluster(name);
    const generation = (cluster?.metadata as { generation?: number } | undefined)?.generation;
    if (
      !firstStatusReady.has(name) && cluster?.spec?.version === to &&
      cluster.status?.observedGeneration === generation
    ) {
      firstStatusReady.set(name, clusterReady(cluster));
    }
    return false;
  });
  const reconcilesBefore = await operator.reconciles();
  const mark = await ctx.meter.begin();
  const cpu = ctx.cpu.snapshot();
  await forEachConcurrently(names, CREATE_CONCURRENCY, async (name) => {
    await patchClusterSpec(ctx.cluster.admin, view.namespaceOf(name), name, { version: to });
  });
  const progress = (what: string) => (done: number) =>
    ctx.log(`fleet update: ${done}/${names.length} ${what}`);
  await carries.waitFor(names, {
    what: `every StatefulSet to carry version ${to}`,
    timeoutMs: ctx.timeoutMs,
    progress: progress("StatefulSets updated"),
    abortIf: () => operator.assertRunning(),
  });
  await ready.waitFor(names, {
    what: "every cluster to be Ready again",
    timeoutMs: ctx.timeoutMs,
    progress: progress("Ready again"),
    abortIf: () => operator.assertRunning(),
  });
  const cpuSeconds = cpuUsed(cpu, ctx.cpu.snapshot());
  carries.close();
  ready.close();
  firstStatus.close();
  const lastReady = Math.max(...ready.times.values());
  const requests = await ctx.meter.end(mark, USERS.operator, lastReady + 2000);
  const figures: FleetUpdateFigures = {
    from: VERSIONS.base,
    to,
    allStatefulSetsMs: Math.max(...carries.times.values()) - mark.at,
    allReadyMs: lastReady - mark.at,
    requestsPerCluster: perCluster(requests.user.byVerb, names.length),
    reconcilesPerCluster:
      Math.round(((await operator.reconciles()) - reconcilesBefore) / names.length * 100) / 100,
    readyBeforeRollout: [...firstStatusReady.values()].filter((ready) => ready).length,
    cpuSeconds,
  };
  ctx.log(
    `fleet update: StatefulSets in ${(figures.allStatefulSetsMs / 1000).toFixed(1)} s, ` +
      `Ready in ${(figures.allReadyMs / 1000).toFixed(1)} s`,
  );
  return figures;
}
