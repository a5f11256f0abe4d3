/**
 * Scenario 6, start-up: dbop is started as a new process and timed from the
 * spawn to caches synced (`/readyz`), to its first reconcile and to N
 * reconciles (every existing cluster once, from
 * `controller_runtime_reconcile_total`), polled every 100 ms. A converged
 * fleet should cost no writes: dbop's state-changing requests during start-up
 * are counted from the audit log (its access reviews at start are reported
 * apart, they store nothing).
 *
 * @module
 */
import type { AuditRequest } from "../audit.ts";
import { summarizeRequests } from "../requests.ts";
import { USERS } from "../cluster.ts";
import type { BenchContext } from "../context.ts";
import { OperatorProcess } from "../operator.ts";

/** What a start measured (ms from the spawn). */
export interface StartupFigures {
  clusters: number;
  readyMs: number;
  firstReconcileMs?: number;
  allReconciledMs?: number;
  /** State-changing requests from the spawn to all reconciled plus 5 s. */
  writes: number;
  writesByResource: Record<string, number>;
  /** Access reviews of the permission preflight. */
  accessReviews: number;
}

function isReview(request: AuditRequest): boolean {
  return request.resource.endsWith("accessreviews");
}

/** Starts dbop with `clusters` clusters existing; returns it running and what the start took. */
export async function startupScenario(
  ctx: BenchContext,
  options: { clusters: number; resyncPeriod?: string; logName: string },
): Promise<{ operator: OperatorProcess; figures: StartupFigures }> {
  const operator = await OperatorProcess.start({
    kubeconfig: ctx.cluster.operatorKubeconfig,
    workers: ctx.options.workers,
    resyncPeriod: options.resyncPeriod,
    logPath: `${ctx.runDir}/${options.logName}`,
  });
  ctx.cpu.watch("dbop", operator.pid);
  try {
    const readyAt = await operator.waitReady();
    let firstAt: number | undefined;
    let allAt: number | undefined;
    if (options.clusters > 0) {
      const timeoutMs = ctx.timeoutMs;
      firstAt = await operator.waitUntil(
        "a first reconcile",
        async () => (await operator.reconciles()) >= 1,
        { timeoutMs },
      );
      allAt = await operator.waitUntil(
        `${options.clusters} reconciles`,
        async () => (await operator.reconciles()) >= options.clusters,
        { timeoutMs },
      );
    }
    const until = (allAt ?? readyAt) + 5000;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, until + 1000 - Date.now())));
    const requests = await ctx.audit.requests({
      user: USERS.operator,
      from: operator.startedAt,
      to: until,
    });
    const summary = summarizeRequests(requests);
    const figures: StartupFigures = {
      clusters: options.clusters,
      readyMs: readyAt - operator.startedAt,
      firstReconcileMs: firstAt === undefined ? undefined : firstAt - operator.startedAt,
      allReconciledMs: allAt === undefined ? undefined : allAt - operator.startedAt,
      writes: summary.writes,
      writesByResource: summary.writesByResource,
      accessReviews: requests.filter(isReview).length,
    };
    ctx.log(
      `start-up with ${options.clusters} clusters: ready ${figures.readyMs} ms, ` +
        `all reconciled ${figures.allReconciledMs ?? "-"} ms, ${figures.writes} writes`,
    );
    return { operator, figures };
  } catch (error) {
    await operator.stop();
    throw error;
  }
}
