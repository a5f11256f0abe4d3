/**
 * Scenario 3, steady state: with the fleet converged, dbop's requests are
 * counted over a quiet window (2 minutes by default) run with a shortened
 * `--resync-period`, so at least one resync of every cluster falls inside it;
 * the reconcile count proves it did. The target is zero writes.
 *
 * @module
 */
import { USERS } from "../cluster.ts";
import type { BenchContext } from "../context.ts";
import type { OperatorProcess } from "../operator.ts";

/** What the quiet window measured. */
export interface SteadyStateFigures {
  seconds: number;
  resyncPeriod: string;
  /** State-changing requests by dbop in the window (audit log). */
  writes: number;
  writesByResource: Record<string, number>;
  /** Every request by dbop in the window, by verb (reads included). */
  requestsByVerb: Record<string, number>;
  reconciles: number;
}

/** Counts dbop's requests and reconciles over a quiet window. */
export async function steadyStateScenario(
  ctx: BenchContext,
  operator: OperatorProcess,
): Promise<SteadyStateFigures> {
  const seconds = ctx.options.steadySeconds;
  const reconcilesBefore = await operator.reconciles();
  const mark = await ctx.meter.begin();
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  const until = Date.now();
  const reconciles = (await operator.reconciles()) - reconcilesBefore;
  const requests = await ctx.meter.end(mark, USERS.operator, until);
  const figures: SteadyStateFigures = {
    seconds,
    resyncPeriod: ctx.options.resyncPeriod,
    writes: requests.user.writes,
    writesByResource: requests.user.writesByResource,
    requestsByVerb: requests.user.byVerb,
    reconciles,
  };
  ctx.log(`steady state: ${figures.writes} writes, ${reconciles} reconciles in ${seconds} s`);
  return figures;
}
