/**
 * Warming a fresh control plane up before anything is timed: one cluster is
 * converged by the floor client (its CRD storage, token checks, each kind's
 * apply path, the controller manager and kwok all used once). On dbop's
 * control plane its namespace is then deleted and waited for, so dbop starts
 * with no cluster at all; the floor's runs in another namespace and keeps it.
 * Both control planes get the same warm-up, so neither side pays first-use
 * costs.
 *
 * @module
 */
import { StatefulSets } from "../lib/databasecluster/kinds.ts";
import { floorClient } from "./cluster.ts";
import type { BenchContext } from "./context.ts";
import { createClusters, createNamespace, deleteNamespace } from "./fleet.ts";
import { applyOwned, firstReconcileChildren } from "./floor.ts";
import { statefulSetRolledOut } from "./readiness.ts";

const NAMESPACE = "bench-warm-up";
const NAME = "pg-warm-up";

/** Converges one cluster, and removes it if asked; returns how long it took (ms). */
export async function warmUp(ctx: BenchContext, options: { remove: boolean }): Promise<number> {
  const started = Date.now();
  const { admin } = ctx.cluster;
  const floor = floorClient(ctx.cluster);
  try {
    await createNamespace(admin, NAMESPACE);
    await createClusters(admin, () => NAMESPACE, [NAME], async (created) => {
      await applyOwned(floor, created, await firstReconcileChildren(created));
    });
    const deadline = Date.now() + 120_000;
    for (;;) {
      const sts = await admin.getOrUndefined(StatefulSets, NAME, { namespace: NAMESPACE });
      if (statefulSetRolledOut(sts)) break;
      if (Date.now() > deadline) throw new Error("The warm-up cluster did not roll out in 120 s");
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    if (options.remove) await deleteNamespace(admin, NAMESPACE, 120_000);
  } finally {
    floor.client.close();
  }
  return Date.now() - started;
}
