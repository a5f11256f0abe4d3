/**
 * Scenario 7, single-change latency: with the whole fleet converged in the
 * background, one cluster at a time gets a new CPU request; the latency runs
 * from just before the patch is sent to the moment the benchmark's watch sees
 * dbop's StatefulSet carry it. Samples go round the fleet, one after another.
 *
 * @module
 */
import type { BenchContext } from "../context.ts";
import type { OperatorProcess } from "../operator.ts";
import { patchClusterSpec } from "../fleet.ts";
import { statefulSetRequestsCpu } from "../readiness.ts";
import { summarize, type Summary } from "../stats.ts";
import type { FleetView } from "../view.ts";

/** Latency from a spec change to the applied StatefulSet (ms). */
export type SingleChangeFigures = Summary;

/** Changes `samples` clusters one by one and times each. */
export async function singleChangeScenario(
  ctx: BenchContext,
  operator: OperatorProcess,
  view: FleetView,
  names: readonly string[],
  samples: number,
): Promise<SingleChangeFigures> {
  const latencies: number[] = [];
  for (let i = 0; i < samples; i++) {
    const name = names[i % names.length];
    const cpu = `${200 + i}m`;
    const tracker = view.track((n) =>
      n === name && statefulSetRequestsCpu(view.statefulSet(n), cpu)
    );
    const sent = Date.now();
    await patchClusterSpec(ctx.cluster.admin, view.namespaceOf(name), name, {
      resources: { requests: { cpu } },
    });
    await tracker.waitFor([name], {
      what: `the StatefulSet of "${name}" to request ${cpu}`,
      timeoutMs: 60_000,
      abortIf: () => operator.assertRunning(),
    });
    tracker.close();
    latencies.push(tracker.times.get(name)! - sent);
  }
  const figures = summarize(latencies);
  ctx.log(`single change: p50 ${figures.p50} ms, p99 ${figures.p99} ms over ${samples} samples`);
  return figures;
}
