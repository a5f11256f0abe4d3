/**
 * Builder of the PodDisruptionBudget `<c>`, wanted when `ha.pdb` says so (by
 * default when there is more than one instance).
 *
 * One budget over all instances with `maxUnavailable: 1`: a drain or any other
 * voluntary eviction takes at most one instance at a time, so it never takes
 * the primary and a standby together, and with three or more instances a
 * majority always stays up. A separate budget that forbids evicting the
 * primary (as operators with switchover do) would block every node drain
 * forever here, since dbop does not move the primary yet. With one instance
 * the budget does not stop that instance's eviction: blocking drains outright
 * would be worse than the restart.
 *
 * @module
 */
import type { V1PodDisruptionBudget } from "@kubernetes/client-node";
import { type DatabaseCluster, pdbEnabled } from "../../api/mod.ts";
import { instanceSelector, podDisruptionBudgetName } from "../names.ts";
import { childMetadata, clusterName } from "./common.ts";

/** PodDisruptionBudget `<c>`, or undefined when none is wanted. */
export function buildPodDisruptionBudget(
  cluster: DatabaseCluster,
): V1PodDisruptionBudget | undefined {
  if (!pdbEnabled(cluster.spec)) return undefined;
  const name = clusterName(cluster);
  return {
    apiVersion: "policy/v1",
    kind: "PodDisruptionBudget",
    metadata: childMetadata(cluster, {
      name: podDisruptionBudgetName(name),
      component: "database",
    }),
    spec: {
      maxUnavailable: 1,
      selector: { matchLabels: instanceSelector(name) },
      // A pod that is not ready (crash-looping, say) may be evicted even when the budget
      // is spent: keeping it does not protect availability and would block drains.
      unhealthyPodEvictionPolicy: "AlwaysAllow",
    },
  };
}
